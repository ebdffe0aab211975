// Package devmode prepares a fresh control plane for a person trying Herald:
// demo workspaces and the objects the README walks through.
package devmode

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
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
		// The demo workspace's namespace is created here rather than left to
		// the Workspace reconciler: seeding runs before the manager starts,
		// and the objects below live in it. The workspace adopts it.
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{
			Name:   "demo",
			Labels: map[string]string{socialv1alpha1.LabelWorkspace: "demo"},
		}},
		&socialv1alpha1.SocialProfile{
			ObjectMeta: metav1.ObjectMeta{Namespace: "demo", Name: "sandbox"},
			Spec: socialv1alpha1.SocialProfileSpec{
				Platform:    socialv1alpha1.Platform("sandbox"),
				Handle:      "@demo",
				DisplayName: "Sandbox (posts stay on this machine)",
			},
		},
		&socialv1alpha1.BrandKit{
			ObjectMeta: metav1.ObjectMeta{Namespace: "demo", Name: "demo-brand"},
			Spec: socialv1alpha1.BrandKitSpec{
				DisplayName: "Demo Coffee",
				Voice:       "Warm, plain English, short sentences.",
				Tone:        []string{"warm", "confident"},
				Colors:      []socialv1alpha1.BrandColor{{Name: "primary", Hex: "#6F4E37"}},
				Signature:   "— Demo Coffee",
				Hashtags:    []string{"DemoCoffee"},
				BannedWords: []string{"guaranteed"},
			},
		},
		&socialv1alpha1.Workflow{
			ObjectMeta: metav1.ObjectMeta{Namespace: "demo", Name: "announce"},
			Spec: socialv1alpha1.WorkflowSpec{
				Description: "Announces something on the sandbox profile, run by hand.",
				Enabled:     true,
				Trigger:     socialv1alpha1.WorkflowTrigger{Type: socialv1alpha1.TriggerManual},
				Inputs: []socialv1alpha1.WorkflowInput{{
					Name: "news", Description: "What to announce, such as \"Our autumn roast is here\".",
					Type: "string", Required: true,
				}},
				Posts: []socialv1alpha1.PostTemplate{{
					Text:     "{{ .Inputs.news }}",
					Profiles: []string{"sandbox"},
					BrandKit: "demo-brand",
				}},
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

// EnsureNamespace creates Herald's own namespace, which holds the users
// Secret and the OAuth Secrets, when it is missing.
func EnsureNamespace(ctx context.Context, c client.Client, name string) error {
	ns := &corev1.Namespace{}
	if err := c.Get(ctx, client.ObjectKey{Name: name}, ns); err == nil || !apierrors.IsNotFound(err) {
		return err
	}
	ns.Name = name
	if err := c.Create(ctx, ns); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("creating namespace %s: %w", name, err)
	}
	return nil
}
