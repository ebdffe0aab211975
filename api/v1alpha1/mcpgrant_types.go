package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// MCPGrantSpec is what a person approved for one client.
// +kubebuilder:validation:XValidation:rule="self.clientID == oldSelf.clientID && self.subject == oldSelf.subject",message="clientID and subject cannot be changed; approve the client again instead"
// +kubebuilder:validation:XValidation:rule="!has(oldSelf.revoked) || !oldSelf.revoked || (has(self.revoked) && self.revoked)",message="a revoked grant cannot be restored; approve the client again instead"
type MCPGrantSpec struct {
	// clientID is the MCPClient the grant is for.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	ClientID string `json:"clientID"`

	// subject is the user who approved it.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=256
	Subject string `json:"subject"`

	// workspaces the client may use, by Workspace name. Workspaces not listed
	// do not exist for the client.
	// +required
	// +listType=set
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=100
	Workspaces []string `json:"workspaces"`

	// scopes the client was granted.
	// +required
	// +listType=set
	// +kubebuilder:validation:MinItems=1
	Scopes []Scope `json:"scopes"`

	// revoked stops every token issued under this grant within seconds, as
	// deleting the grant does. Once true it stays true.
	// +optional
	// +kubebuilder:default=false
	Revoked bool `json:"revoked,omitempty"`
}

// MCPGrantStatus records the grant's use.
type MCPGrantStatus struct {
	// observedGeneration is not set: nothing reconciles a grant.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// lastUsedAt is when a token of this grant was last used (updated at most once a minute).
	// +optional
	LastUsedAt *metav1.Time `json:"lastUsedAt,omitempty"`

	// conditions are not set: spec.revoked says whether the grant still
	// works.
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// MCPGrant is one approved connection of an MCP client on behalf of a user.
// Deleting it revokes every token it issued. It is a record the
// authorization server reads, with no reconciler: health checks (kstatus)
// read it Current as soon as it exists and once revoked (a person's
// decision, not a failure), and the API server refuses a spec that cannot
// work.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:scope=Cluster,shortName=grant;grants,categories=herald
// +kubebuilder:printcolumn:name="Client",type=string,JSONPath=`.spec.clientID`
// +kubebuilder:printcolumn:name="User",type=string,JSONPath=`.spec.subject`
// +kubebuilder:printcolumn:name="Workspaces",type=string,JSONPath=`.spec.workspaces`
// +kubebuilder:printcolumn:name="Revoked",type=boolean,JSONPath=`.spec.revoked`,priority=1
// +kubebuilder:printcolumn:name="Last Used",type=date,JSONPath=`.status.lastUsedAt`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type MCPGrant struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec is what was approved.
	// +required
	Spec MCPGrantSpec `json:"spec"`

	// status records the grant's use.
	// +optional
	Status MCPGrantStatus `json:"status,omitempty"`
}

// MCPGrantList is a list of MCPGrants.
// +kubebuilder:object:root=true
type MCPGrantList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []MCPGrant `json:"items"`
}
