package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// SocialProfileSpec describes a connected account and how to reach it.
// +kubebuilder:validation:XValidation:rule="self.platform == 'sandbox' || has(self.credentialsSecretRef)",message="credentialsSecretRef is required for every platform except sandbox"
// +kubebuilder:validation:XValidation:rule="!(self.platform in ['webhook', 'mastodon']) || has(self.endpoint)",message="endpoint is required for webhook (the receiver URL) and mastodon (the instance URL)"
// +kubebuilder:validation:XValidation:rule="self.platform == oldSelf.platform",message="platform cannot be changed; create a new SocialProfile instead"
type SocialProfileSpec struct {
	// platform is where posts go: sandbox (built in, no account needed), webhook,
	// mastodon, bluesky, discord, slack, telegram, linkedin or x. Immutable.
	// +required
	Platform Platform `json:"platform"`

	// handle is the account as people know it, such as @herald@mastodon.social
	// or herald.bsky.social. Once credentials are verified, status.handle holds
	// what the platform reports.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=256
	Handle string `json:"handle"`

	// displayName is a friendly name shown in MCP clients. Defaults to the handle.
	// +optional
	// +kubebuilder:validation:MaxLength=100
	DisplayName string `json:"displayName,omitempty"`

	// endpoint is the instance URL (mastodon, or a bluesky PDS; defaults to
	// https://bsky.social) or the receiver URL (webhook). Platforms that post
	// through a webhook URL (discord, slack) read it from the Secret instead,
	// because the URL itself is a credential.
	// +optional
	// +kubebuilder:validation:MaxLength=2048
	// +kubebuilder:validation:XValidation:rule="isURL(self) && url(self).getScheme() in ['http', 'https']",message="endpoint must be an http or https URL, such as https://mastodon.social"
	Endpoint string `json:"endpoint,omitempty"`

	// credentialsSecretRef names the Secret, in the profile's namespace, holding
	// the account's credentials. Keys by platform: webhook signingSecret;
	// mastodon accessToken; bluesky identifier and appPassword; discord and
	// slack webhookURL; telegram botToken and chatID; linkedin accessToken and
	// authorURN; x accessToken; facebook accessToken (a Page manager's or the
	// Page's own) and pageId; instagram accessToken and igUserId; threads
	// accessToken; pinterest accessToken and boardId; tiktok accessToken (and
	// optionally privacyLevel); youtube accessToken (and optionally
	// privacyStatus, notifySubscribers). Herald never copies them into status, events or logs.
	// +optional
	CredentialsSecretRef *LocalObjectReference `json:"credentialsSecretRef,omitempty"`

	// characterLimit overrides the platform's post length limit, for instances
	// that allow more (a Mastodon server with a higher limit). Unset means the
	// limit the platform reports, or its documented default.
	// +optional
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=100000
	CharacterLimit *int32 `json:"characterLimit,omitempty"`

	// postsPerHour caps how fast Herald publishes to this account, so a burst of
	// posts respects the platform's limits without delaying other accounts.
	// Unset means the platform's documented default.
	// +optional
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=100000
	PostsPerHour *int32 `json:"postsPerHour,omitempty"`

	// verifyInterval is how often the credentials are checked again, at
	// least every minute. Defaults to 1h.
	// +optional
	// +kubebuilder:default="1h"
	// +kubebuilder:validation:XValidation:rule="duration(self) >= duration('1m')",message="verifyInterval must be at least 1m: each check calls the platform"
	VerifyInterval *metav1.Duration `json:"verifyInterval,omitempty"`
}

// SocialProfileStatus is what Herald learned from the platform.
type SocialProfileStatus struct {
	// observedGeneration is the spec generation this status describes.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// accountID is the platform's id of the account.
	// +optional
	AccountID string `json:"accountID,omitempty"`

	// handle is the account's handle as the platform reports it.
	// +optional
	Handle string `json:"handle,omitempty"`

	// url is the account's public page.
	// +optional
	URL string `json:"url,omitempty"`

	// characterLimit is the post length limit in force for this account.
	// +optional
	CharacterLimit int32 `json:"characterLimit,omitempty"`

	// lastVerifiedAt is when the credentials were last checked successfully.
	// +optional
	LastVerifiedAt *metav1.Time `json:"lastVerifiedAt,omitempty"`

	// conditions: Ready is True when the credentials were verified, with a reason
	// such as CredentialsRejected or SecretNotFound when not.
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// SocialProfile is a connected social account a workspace publishes to.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=profile;profiles,categories=herald
// +kubebuilder:printcolumn:name="Platform",type=string,JSONPath=`.spec.platform`
// +kubebuilder:printcolumn:name="Handle",type=string,JSONPath=`.spec.handle`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Reason",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].reason`,priority=1
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type SocialProfile struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec describes the account.
	// +required
	Spec SocialProfileSpec `json:"spec"`

	// status is what Herald learned from the platform. Its observedGeneration is 0 until Herald
	// first reconciles the object, so tools that wait for it see it in progress.
	// +optional
	// +kubebuilder:default={observedGeneration: 0}
	Status SocialProfileStatus `json:"status,omitempty"`
}

// SocialProfileList is a list of SocialProfiles.
// +kubebuilder:object:root=true
type SocialProfileList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []SocialProfile `json:"items"`
}
