package v1alpha1

import (
	"slices"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// WorkspaceRole is what a member may do in a workspace.
// +kubebuilder:validation:Enum=owner;editor;approver;viewer
type WorkspaceRole string

// The roles a workspace member can hold.
const (
	// RoleOwner may do everything, including managing brand kits and
	// workflows and approving posts.
	RoleOwner WorkspaceRole = "owner"
	// RoleEditor may draft, schedule and publish posts and run workflows.
	RoleEditor WorkspaceRole = "editor"
	// RoleApprover may read, and approve or reject posts awaiting approval.
	RoleApprover WorkspaceRole = "approver"
	// RoleViewer may only read.
	RoleViewer WorkspaceRole = "viewer"
)

// readScopes are what every member may read.
var readScopes = []Scope{ScopeWorkspaceRead, ScopeSocialProfilesRead, ScopePostsRead, ScopeWorkflowsRead}

// Allows reports whether a member with this role may use scope, which caps
// the scopes an MCP client may be granted (and use) on the member's
// behalf: owners everything; editors all but brand_kits:write and
// posts:approve, so the person who writes a post is not the one who
// approves it; approvers and viewers read, approvers also approve. The
// empty scope (a tool any token may call) is allowed to every member.
func (r WorkspaceRole) Allows(scope Scope) bool {
	if scope == "" || slices.Contains(readScopes, scope) {
		return r == RoleOwner || r == RoleEditor || r == RoleApprover || r == RoleViewer
	}
	switch r {
	case RoleOwner:
		return true
	case RoleEditor:
		return scope != ScopeBrandKitsWrite && scope != ScopePostsApprove
	case RoleApprover:
		return scope == ScopePostsApprove
	}
	return false
}

// ApprovalScope says which posts of a workspace need approval.
// +kubebuilder:validation:Enum=All;ThroughMCP;Profiles
type ApprovalScope string

// The approval scopes.
const (
	// ApproveAll: every post.
	ApproveAll ApprovalScope = "All"
	// ApproveThroughMCP: posts created or last changed through MCP (those
	// carrying social.herald.dev/requested-via).
	ApproveThroughMCP ApprovalScope = "ThroughMCP"
	// ApproveProfiles: posts to any of the listed profiles.
	ApproveProfiles ApprovalScope = "Profiles"
)

// ApprovalPolicy says which posts wait for a person's approval before they
// are published. Owners and members with the approver role approve them.
// +kubebuilder:validation:XValidation:rule="self.required != 'Profiles' || (has(self.profiles) && size(self.profiles) > 0)",message="required: Profiles needs profiles, the SocialProfiles whose posts need approval"
// +kubebuilder:validation:XValidation:rule="self.required == 'Profiles' || !has(self.profiles)",message="profiles is only used with required: Profiles"
type ApprovalPolicy struct {
	// required is All (every post), ThroughMCP (posts created or last
	// changed through MCP) or Profiles (posts to any of profiles).
	// +required
	Required ApprovalScope `json:"required"`

	// profiles, with required: Profiles, are the SocialProfiles whose posts
	// need approval.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=50
	// +kubebuilder:validation:items:MaxLength=253
	Profiles []string `json:"profiles,omitempty"`
}

// WorkspaceMember grants one user a role in a workspace.
type WorkspaceMember struct {
	// subject is the user's login name (a local user, or the subject an OpenID
	// Connect provider asserts, such as an email address).
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=256
	Subject string `json:"subject"`

	// role is what the member may do: owner, editor, approver or viewer.
	// It caps the scopes an MCP client may be granted for this workspace on
	// the member's behalf (a viewer can only grant read scopes, an approver
	// read scopes and posts:approve).
	// +required
	Role WorkspaceRole `json:"role"`
}

// WorkspaceLimits bounds what a workspace may hold, so one tenant cannot
// exhaust the cluster. The MCP tools and workflows refuse to create posts
// past them, and Herald does not publish a post that would pass them,
// saying which limit in the post's status. People who write
// ScheduledPosts with kubectl are bounded by a ResourceQuota on the
// namespace (see docs/security.md).
type WorkspaceLimits struct {
	// maxScheduledPosts is how many posts may wait for publishing at once
	// (scheduled, not yet started). Defaults to 1000.
	// +optional
	// +kubebuilder:default=1000
	// +kubebuilder:validation:Minimum=0
	MaxScheduledPosts *int32 `json:"maxScheduledPosts,omitempty"`

	// maxDrafts is how many draft posts the workspace may hold. Defaults
	// to 1000.
	// +optional
	// +kubebuilder:default=1000
	// +kubebuilder:validation:Minimum=0
	MaxDrafts *int32 `json:"maxDrafts,omitempty"`

	// maxPostsPerDay is how many posts may be published per calendar day in
	// the workspace's time zone. Unset means no limit.
	// +optional
	// +kubebuilder:validation:Minimum=0
	MaxPostsPerDay *int32 `json:"maxPostsPerDay,omitempty"`
}

// WorkspaceSpec describes a tenant: who may use it, where its objects live and
// which time zone its people think in.
// +kubebuilder:validation:XValidation:rule="!has(oldSelf.__namespace__) || (has(self.__namespace__) && self.__namespace__ == oldSelf.__namespace__)",message="namespace cannot be changed once set; create a new Workspace instead"
type WorkspaceSpec struct {
	// displayName is the name people see in MCP clients and on the consent page.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=100
	DisplayName string `json:"displayName"`

	// namespace holds the workspace's profiles, brand kits, posts and workflows.
	// Defaults to the Workspace's own name. Herald creates it when missing and
	// deletes it with the Workspace only if Herald created it. Immutable.
	// +optional
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
	Namespace string `json:"namespace,omitempty"`

	// timeZone is the IANA time zone (such as Europe/Berlin) used when a person
	// or a workflow gives a local time. Defaults to UTC.
	// +optional
	// +kubebuilder:default=UTC
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=64
	TimeZone string `json:"timeZone,omitempty"`

	// members are the users who may approve MCP clients for this workspace,
	// each with a role.
	// +optional
	// +listType=map
	// +listMapKey=subject
	// +kubebuilder:validation:MaxItems=256
	Members []WorkspaceMember `json:"members,omitempty"`

	// approval, when set, makes posts wait for an owner or approver to
	// approve them before they are published.
	// +optional
	Approval *ApprovalPolicy `json:"approval,omitempty"`

	// limits bound what the workspace may hold; their defaults apply when
	// it is unset.
	// +optional
	// +kubebuilder:default={}
	Limits *WorkspaceLimits `json:"limits,omitempty"`
}

// WorkspaceStatus is what Herald observed about a workspace.
type WorkspaceStatus struct {
	// observedGeneration is the spec generation this status describes.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// namespace is the namespace the workspace resolved to.
	// +optional
	Namespace string `json:"namespace,omitempty"`

	// namespaceCreated is true when Herald created the namespace, and so will
	// delete it with the workspace.
	// +optional
	NamespaceCreated bool `json:"namespaceCreated,omitempty"`

	// conditions: Ready says whether the namespace exists and the time zone is valid.
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// Workspace is a tenant of Herald: the unit an MCP client is granted access to.
// Its name is the workspace id MCP tools take.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:scope=Cluster,shortName=ws,categories=herald
// +kubebuilder:printcolumn:name="Display Name",type=string,JSONPath=`.spec.displayName`
// +kubebuilder:printcolumn:name="Namespace",type=string,JSONPath=`.status.namespace`
// +kubebuilder:printcolumn:name="Time Zone",type=string,JSONPath=`.spec.timeZone`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
// +kubebuilder:validation:XValidation:rule="!(has(self.spec.__namespace__) ? self.spec.__namespace__ : self.metadata.name).startsWith('kube-')",message="a workspace cannot use a kube- namespace, which the cluster keeps for itself; set spec.namespace to another"
type Workspace struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec describes the workspace.
	// +required
	Spec WorkspaceSpec `json:"spec"`

	// status is what Herald observed. Its observedGeneration is 0 until Herald
	// first reconciles the object, so tools that wait for it see it in progress.
	// +optional
	// +kubebuilder:default={observedGeneration: 0}
	Status WorkspaceStatus `json:"status,omitempty"`
}

// NamespaceName is the namespace holding the workspace's objects.
func (w *Workspace) NamespaceName() string {
	if w.Spec.Namespace != "" {
		return w.Spec.Namespace
	}
	return w.Name
}

// RoleOf returns the role of subject, or "" when subject is not a member.
func (w *Workspace) RoleOf(subject string) WorkspaceRole {
	for _, m := range w.Spec.Members {
		if m.Subject == subject {
			return m.Role
		}
	}
	return ""
}

// WorkspaceList is a list of Workspaces.
// +kubebuilder:object:root=true
type WorkspaceList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Workspace `json:"items"`
}
