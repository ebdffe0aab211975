package oauth

import (
	"slices"
	"strings"

	"github.com/herald-dev/herald/api/v1alpha1"
)

// AllScopes lists every scope Herald grants, in the order metadata, the 401
// challenge and the consent page show them.
var AllScopes = []v1alpha1.Scope{
	v1alpha1.ScopeWorkspaceRead,
	v1alpha1.ScopeSocialProfilesRead,
	v1alpha1.ScopePostsRead,
	v1alpha1.ScopeWorkflowsRead,
	v1alpha1.ScopePostsWrite,
	v1alpha1.ScopePostsPublish,
	v1alpha1.ScopePostsApprove,
	v1alpha1.ScopeWorkflowsRun,
	v1alpha1.ScopeSocialProfilesWrite,
	v1alpha1.ScopeBrandKitsWrite,
}

// scopeWords is what the consent page tells a person each scope allows.
var scopeWords = map[v1alpha1.Scope]string{
	v1alpha1.ScopeWorkspaceRead:       "See your workspaces and their brand kits",
	v1alpha1.ScopeSocialProfilesRead:  "See the social profiles connected to your workspaces",
	v1alpha1.ScopePostsRead:           "See posts, drafts and their delivery status",
	v1alpha1.ScopeWorkflowsRead:       "See workflows and their runs",
	v1alpha1.ScopePostsWrite:          "Create, edit and delete posts, and schedule them at least 10 minutes ahead",
	v1alpha1.ScopePostsPublish:        "Publish posts now or within 10 minutes, and retry failed deliveries",
	v1alpha1.ScopePostsApprove:        "Approve or reject posts waiting for approval, in workspaces that require it",
	v1alpha1.ScopeWorkflowsRun:        "Turn workflows on or off and run them; a run publishes the posts its workflow describes",
	v1alpha1.ScopeBrandKitsWrite:      "Create, change and delete brand kits",
	v1alpha1.ScopeSocialProfilesWrite: "Give you links to connect social accounts to your workspaces; you sign in to each platform yourself",
}

func isKnownScope(s string) bool {
	return slices.Contains(AllScopes, v1alpha1.Scope(s))
}

// scopeString renders scopes space-separated, as OAuth parameters carry them.
func scopeString(scopes []v1alpha1.Scope) string {
	parts := make([]string, len(scopes))
	for i, s := range scopes {
		parts[i] = string(s)
	}
	return strings.Join(parts, " ")
}

// sortScopes orders scopes as AllScopes does, so grants and claims are stable.
func sortScopes(in []v1alpha1.Scope) []v1alpha1.Scope {
	out := make([]v1alpha1.Scope, 0, len(in))
	for _, s := range AllScopes {
		if slices.Contains(in, s) {
			out = append(out, s)
		}
	}
	return out
}
