package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// PostVariant replaces the post's text for one profile or one platform.
// +kubebuilder:validation:XValidation:rule="has(self.profile) != has(self.platform)",message="a variant names exactly one of profile or platform"
type PostVariant struct {
	// profile is the SocialProfile this text is for.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Profile string `json:"profile,omitempty"`

	// platform this text is for, on every profile of that platform without a
	// profile variant of its own.
	// +optional
	Platform Platform `json:"platform,omitempty"`

	// text replaces the post's text; the brand kit's signature and hashtags are
	// still added.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=40000
	Text string `json:"text"`
}

// PostVariants are the variants of a post, at most one for each profile and
// one for each platform. A profile's variant wins over its platform's.
// +listType=atomic
// +kubebuilder:validation:MaxItems=50
// +kubebuilder:validation:XValidation:rule="self.map(v, has(v.profile) ? 'profile ' + v.profile : 'platform ' + v.platform).distinct().size() == size(self)",message="variants name each profile and each platform at most once"
type PostVariants []PostVariant

// PostMedia is an image or video attached to a post.
type PostMedia struct {
	// url is where Herald fetches the file when publishing (http or https).
	// +required
	// +kubebuilder:validation:MaxLength=2048
	// +kubebuilder:validation:XValidation:rule="isURL(self) && url(self).getScheme() in ['http', 'https']",message="url must be an http or https URL"
	URL string `json:"url"`

	// altText describes the media for people who cannot see it.
	// +optional
	// +kubebuilder:validation:MaxLength=1500
	AltText string `json:"altText,omitempty"`

	// type is image, video or gif; inferred from the file when unset.
	// +optional
	// +kubebuilder:validation:Enum=image;video;gif
	Type string `json:"type,omitempty"`
}

// DeletionPolicy says what deleting a post does to what was published.
// +kubebuilder:validation:Enum=Keep;DeleteRemote
type DeletionPolicy string

// Deletion policies.
const (
	// DeletionKeep leaves published posts on the platforms.
	DeletionKeep DeletionPolicy = "Keep"
	// DeletionDeleteRemote deletes published posts from the platforms that allow it.
	DeletionDeleteRemote DeletionPolicy = "DeleteRemote"
)

// ScheduledPostSpec is what to publish, where and when.
// +kubebuilder:validation:XValidation:rule="self.draft || self.canceled || has(self.scheduledAt)",message="scheduledAt is required unless the post is a draft (draft: true) or canceled"
// +kubebuilder:validation:XValidation:rule="self.draft || self.canceled || size(self.profiles) > 0",message="profiles must name at least one SocialProfile unless the post is a draft"
// +kubebuilder:validation:XValidation:rule="!has(self.variants) || self.variants.all(v, !has(v.profile) || v.profile in self.profiles)",message="every variant's profile must be one of the post's profiles"
// +kubebuilder:validation:XValidation:rule="!has(oldSelf.idempotencyKey) || (has(self.idempotencyKey) && self.idempotencyKey == oldSelf.idempotencyKey)",message="idempotencyKey cannot be changed"
// +kubebuilder:validation:XValidation:rule="size(self.text) + (has(self.variants) ? self.variants.map(v, size(v.text)).sum() : 0) <= 100000",message="text and variants together may hold at most 100,000 characters"
type ScheduledPostSpec struct {
	// text is the post's body. Per-platform limits apply after the brand kit's
	// signature and hashtags are added (X 280 weighted characters, Bluesky 300
	// graphemes, Mastodon 500, LinkedIn 3000, Telegram 4096).
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=40000
	Text string `json:"text"`

	// profiles are the SocialProfiles, in the same namespace, to publish to.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=50
	// +kubebuilder:validation:items:MinLength=1
	// +kubebuilder:validation:items:MaxLength=253
	Profiles []string `json:"profiles,omitempty"`

	// variants replace the text for one profile or platform, at most one
	// each; text and variants together hold at most 100,000 characters.
	// +optional
	Variants PostVariants `json:"variants,omitempty"`

	// media are images or videos to attach.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=10
	Media []PostMedia `json:"media,omitempty"`

	// brandKit names a BrandKit in the same namespace whose signature, hashtags
	// and banned words apply.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	BrandKit string `json:"brandKit,omitempty"`

	// scheduledAt is when to publish, as an RFC 3339 time with a time-zone
	// offset, such as 2026-07-01T09:00:00Z or 2026-07-01T11:00:00+02:00.
	// A time in the past publishes at once (within maxLateness).
	// +optional
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:XValidation:rule="self.matches('^[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}([.][0-9]+)?([Zz]|[+-][0-9]{2}:[0-9]{2})$')",message="scheduledAt must be an RFC 3339 time with a time-zone offset, such as 2026-07-01T09:00:00Z"
	ScheduledAt string `json:"scheduledAt,omitempty"`

	// draft keeps the post from being published until it is set to false.
	// +optional
	// +kubebuilder:default=false
	Draft bool `json:"draft"`

	// canceled stops a post that has not been published yet; deliveries already
	// made stay as they are.
	// +optional
	// +kubebuilder:default=false
	Canceled bool `json:"canceled"`

	// maxLateness is how late a post may still be published, for example after
	// the controller was down. Later than that it becomes Missed instead of
	// publishing stale content. Defaults to 15m.
	// +optional
	// +kubebuilder:default="15m"
	MaxLateness *metav1.Duration `json:"maxLateness,omitempty"`

	// deletionPolicy says whether deleting this object deletes what was
	// published: Keep (default) or DeleteRemote. DeleteRemote deletes each
	// published copy through its platform's API where the platform allows
	// it (all but Slack and generic webhooks), retrying failures for up to
	// ten minutes, and names what stays online in an event.
	// +optional
	// +kubebuilder:default=Keep
	DeletionPolicy DeletionPolicy `json:"deletionPolicy,omitempty"`

	// idempotencyKey is the key a client sent to create this post; a second
	// request with the same key returns this post instead of a duplicate. Immutable.
	// +optional
	// +kubebuilder:validation:MaxLength=128
	IdempotencyKey string `json:"idempotencyKey,omitempty"`

	// approval records that a person approved this post for publishing,
	// where its workspace requires approval (spec.approval of the
	// Workspace). Through MCP only an owner or approver can set it
	// (ocoya_approve_post); in Git, the review that merges it is the
	// approval.
	// +optional
	Approval *PostApproval `json:"approval,omitempty"`
}

// PostApproval is a person's approval of a post as it stood.
type PostApproval struct {
	// approvedBy is who approved it.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=256
	ApprovedBy string `json:"approvedBy"`

	// approvedAt is when, RFC 3339.
	// +optional
	// +kubebuilder:validation:MaxLength=64
	ApprovedAt string `json:"approvedAt,omitempty"`

	// contentDigest is the digest of what was approved: text, variants,
	// media, profiles, brand kit and scheduledAt. An edit that changes any of
	// them withdraws the approval. Unset (as an approval written in Git or
	// with kubectl usually is), the approval covers the content as Herald
	// first sees it with this approval, recorded in status.approval: a later
	// edit withdraws it just the same. To approve an edit, change approvedAt
	// (or approvedBy) in the same change, or set contentDigest.
	// +optional
	// +kubebuilder:validation:MaxLength=128
	ContentDigest string `json:"contentDigest,omitempty"`
}

// PostPhase is where a post is in its life.
// +kubebuilder:validation:Enum=Draft;AwaitingApproval;Scheduled;Publishing;Published;PartiallyPublished;Failed;Missed;Canceled;Unknown
type PostPhase string

// Post phases.
const (
	PostDraft              PostPhase = "Draft"
	PostAwaitingApproval   PostPhase = "AwaitingApproval"
	PostScheduled          PostPhase = "Scheduled"
	PostPublishing         PostPhase = "Publishing"
	PostPublished          PostPhase = "Published"
	PostPartiallyPublished PostPhase = "PartiallyPublished"
	PostFailed             PostPhase = "Failed"
	PostMissed             PostPhase = "Missed"
	PostCanceled           PostPhase = "Canceled"
	PostUnknown            PostPhase = "Unknown"
)

// DeliveryPhase is where one profile's delivery is.
// +kubebuilder:validation:Enum=Pending;Publishing;Retrying;Published;Failed;Unknown;Missed;Canceled
type DeliveryPhase string

// Delivery phases.
const (
	// DeliveryPending waits for the due time.
	DeliveryPending DeliveryPhase = "Pending"
	// DeliveryPublishing was claimed: an attempt is recorded and the platform may have been called.
	DeliveryPublishing DeliveryPhase = "Publishing"
	// DeliveryRetrying failed with a retryable error and waits for its next attempt.
	DeliveryRetrying DeliveryPhase = "Retrying"
	// DeliveryPublished is on the platform.
	DeliveryPublished DeliveryPhase = "Published"
	// DeliveryFailed was refused by the platform or ran out of attempts.
	DeliveryFailed DeliveryPhase = "Failed"
	// DeliveryUnknown was interrupted where a retry could duplicate it; a person
	// checks the platform and retries or leaves it.
	DeliveryUnknown DeliveryPhase = "Unknown"
	// DeliveryMissed was due longer ago than maxLateness.
	DeliveryMissed DeliveryPhase = "Missed"
	// DeliveryCanceled was canceled before it was published.
	DeliveryCanceled DeliveryPhase = "Canceled"
)

// Delivery is the state of publishing a post to one profile.
type Delivery struct {
	// profile is the SocialProfile delivered to.
	// +required
	Profile string `json:"profile"`

	// platform of the profile when the delivery was made.
	// +optional
	Platform Platform `json:"platform,omitempty"`

	// phase of this delivery.
	// +required
	Phase DeliveryPhase `json:"phase"`

	// attemptID identifies the current attempt; it is recorded before the
	// platform is called and is part of the idempotency key sent to it.
	// +optional
	AttemptID string `json:"attemptID,omitempty"`

	// attempts counts the calls made to the platform.
	// +optional
	Attempts int32 `json:"attempts,omitempty"`

	// attemptStartedAt is when the current attempt was first sent. A
	// platform that recognises a repeated attempt (Mastodon's
	// Idempotency-Key) does so only for a limited time after it, and a
	// retrying delivery honours maxLateness counted from it.
	// +optional
	AttemptStartedAt *metav1.Time `json:"attemptStartedAt,omitempty"`

	// lastAttemptAt is when the platform was last called.
	// +optional
	LastAttemptAt *metav1.Time `json:"lastAttemptAt,omitempty"`

	// claimedBy names the Herald process holding the claim of a Publishing
	// delivery: only it calls the platform, and only while it leads.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	ClaimedBy string `json:"claimedBy,omitempty"`

	// claimExpiresAt is when the claim lapses: the holder finishes its call
	// and writes the outcome before then, and another process takes a
	// Publishing delivery over only after it (resending where the platform
	// recognises a repeat, Unknown otherwise).
	// +optional
	ClaimExpiresAt *metav1.Time `json:"claimExpiresAt,omitempty"`

	// ambiguous is true once an attempt got no clear answer (a timeout or a
	// server error after the request was sent), so the post may be on the
	// platform. Such a delivery ends Published or Unknown, never Failed.
	// +optional
	Ambiguous bool `json:"ambiguous,omitempty"`

	// progress is what the platform holds for the current attempt,
	// recorded before the call that publishes it: an Instagram or Threads
	// media container id, for example. A resumed attempt continues from it
	// and asks the platform whether it was published, instead of starting
	// over.
	// +optional
	// +kubebuilder:validation:MaxLength=2048
	Progress string `json:"progress,omitempty"`

	// nextAttemptAt is when a retrying delivery is tried again.
	// +optional
	NextAttemptAt *metav1.Time `json:"nextAttemptAt,omitempty"`

	// externalID is the platform's id of the published post; a post the
	// platform splits into several messages (a Telegram album) lists every
	// id, comma-separated.
	// +optional
	ExternalID string `json:"externalID,omitempty"`

	// url of the published post.
	// +optional
	URL string `json:"url,omitempty"`

	// publishedAt is when the platform accepted the post.
	// +optional
	PublishedAt *metav1.Time `json:"publishedAt,omitempty"`

	// lastError is the platform's last error, or why the delivery did not happen.
	// +optional
	LastError string `json:"lastError,omitempty"`
}

// ScheduledPostStatus is the state of a post and of each delivery.
type ScheduledPostStatus struct {
	// observedGeneration is the spec generation this status describes.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// phase sums up the deliveries: Draft, Scheduled, Publishing, Published,
	// PartiallyPublished, Failed, Missed, Canceled or Unknown.
	// +optional
	Phase PostPhase `json:"phase,omitempty"`

	// deliveries holds one entry per profile.
	// +optional
	// +listType=map
	// +listMapKey=profile
	Deliveries []Delivery `json:"deliveries,omitempty"`

	// lastHandledRetry is the value of the retry-requested-at annotation last acted on.
	// +optional
	LastHandledRetry string `json:"lastHandledRetry,omitempty"`

	// approval is spec.approval, when it carries no contentDigest, as Herald
	// first saw it, with the digest of the content it then approved. While
	// spec.approval stays the same, an edit of that content withdraws the
	// approval; a new approvedAt or approvedBy approves the content as it
	// then stands.
	// +optional
	Approval *PostApproval `json:"approval,omitempty"`

	// conditions: Ready (the post is where it should be), Published, Reconciling,
	// Stalled, SpecChangeIgnored and, while a DeleteRemote post is deleted,
	// RemoteDeleted.
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// ScheduledPost is a post to publish to one or more social profiles at a time.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=post;posts,categories=herald
// +kubebuilder:printcolumn:name="Phase",type=string,JSONPath=`.status.phase`
// +kubebuilder:printcolumn:name="Scheduled",type=string,JSONPath=`.spec.scheduledAt`
// +kubebuilder:printcolumn:name="Profiles",type=string,JSONPath=`.spec.profiles`
// +kubebuilder:printcolumn:name="Approved By",type=string,JSONPath=`.spec.approval.approvedBy`
// +kubebuilder:printcolumn:name="Text",type=string,JSONPath=`.spec.text`,priority=1
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type ScheduledPost struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec is what to publish, where and when.
	// +required
	Spec ScheduledPostSpec `json:"spec"`

	// status is the state of each delivery. Its observedGeneration is 0 until Herald
	// first reconciles the object, so tools that wait for it see it in progress.
	// +optional
	// +kubebuilder:default={observedGeneration: 0}
	Status ScheduledPostStatus `json:"status,omitempty"`
}

// ScheduledPostList is a list of ScheduledPosts.
// +kubebuilder:object:root=true
type ScheduledPostList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []ScheduledPost `json:"items"`
}
