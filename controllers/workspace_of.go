package controllers

import (
	"context"

	"sigs.k8s.io/controller-runtime/pkg/client"

	socialv1alpha1 "github.com/herald-dev/herald/api/v1alpha1"
)

// workspaceOf is the Workspace whose objects live in namespace, or nil
// when none does (such objects have no limits and no workspace time zone).
func workspaceOf(ctx context.Context, c client.Reader, namespace string) (*socialv1alpha1.Workspace, error) {
	list := &socialv1alpha1.WorkspaceList{}
	if err := c.List(ctx, list); err != nil {
		return nil, err
	}
	for i := range list.Items {
		if list.Items[i].NamespaceName() == namespace {
			return &list.Items[i], nil
		}
	}
	return nil, nil
}
