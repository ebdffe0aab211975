// Package v1alpha1 contains the social.herald.dev/v1alpha1 API: the workspaces,
// social profiles, brand kits, posts, workflows and OAuth grants Herald manages.
//
// +kubebuilder:object:generate=true
// +groupName=social.herald.dev
package v1alpha1

import (
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/scheme"
)

var (
	// GroupVersion is the group and version of every Herald kind.
	GroupVersion = schema.GroupVersion{Group: "social.herald.dev", Version: "v1alpha1"}

	// SchemeBuilder registers the Herald kinds with a runtime.Scheme.
	SchemeBuilder = &scheme.Builder{GroupVersion: GroupVersion}

	// AddToScheme adds the Herald kinds to a runtime.Scheme.
	AddToScheme = SchemeBuilder.AddToScheme
)

func init() {
	SchemeBuilder.Register(
		&Workspace{}, &WorkspaceList{},
		&SocialProfile{}, &SocialProfileList{},
		&BrandKit{}, &BrandKitList{},
		&ScheduledPost{}, &ScheduledPostList{},
		&RecurringPost{}, &RecurringPostList{},
		&Workflow{}, &WorkflowList{},
		&WorkflowRun{}, &WorkflowRunList{},
		&MCPClient{}, &MCPClientList{},
		&MCPGrant{}, &MCPGrantList{},
	)
}
