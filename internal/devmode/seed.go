// Package devmode prepares a fresh control plane for a person trying Herald:
// demo workspaces and the objects the README walks through.
package devmode

import (
	"context"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	socialv1alpha1 "github.com/herald-dev/herald/api/v1alpha1"
)

// DevUser is the local user dev mode creates; it is a member of both workspaces.
const DevUser = "dev"

// Seed creates the demo objects that are missing. Objects a person already
// changed are left as they are, so a restart never undoes their edits.
func Seed(ctx context.Context, c client.Client) error {
	objects := []client.Object{
		&socialv1alpha1.Workspace{
			ObjectMeta: metav1.ObjectMeta{Name: "demo"},
			Spec: socialv1alpha1.WorkspaceSpec{
				DisplayName: "Demo",
				TimeZone:    "UTC",
				Members:     []socialv1alpha1.WorkspaceMember{{Subject: DevUser, Role: socialv1alpha1.RoleOwner}},
			},
		},
		&socialv1alpha1.Workspace{
			ObjectMeta: metav1.ObjectMeta{Name: "team"},
			Spec: socialv1alpha1.WorkspaceSpec{
				DisplayName: "Team",
				TimeZone:    "Europe/Berlin",
				Members:     []socialv1alpha1.WorkspaceMember{{Subject: DevUser, Role: socialv1alpha1.RoleEditor}},
			},
		},
	}
	for _, obj := range objects {
		if err := c.Create(ctx, obj); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("creating %T %s: %w", obj, obj.GetName(), err)
		}
	}
	return nil
}
