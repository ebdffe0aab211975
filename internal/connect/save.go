// Package connect turns an account a person connected on Herald's
// connection pages into a SocialProfile and its credentials Secret, and
// holds what each platform's connection needs: the fields of a form, or
// the OAuth exchange with the platform.
package connect

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/herald-dev/herald/api/v1alpha1"
)

// Labels and annotations on what a connection writes.
const (
	// LabelProfile names, on a credentials Secret, the profile it belongs to.
	LabelProfile = "social.herald.dev/profile"
	// AnnotationConnectedBy and AnnotationConnectedAt say who connected a
	// profile last, and when; the change makes the profile reconciler
	// verify the new credentials at once.
	AnnotationConnectedBy = "social.herald.dev/connected-by"
	AnnotationConnectedAt = "social.herald.dev/connected-at"
	labelManagedBy        = "app.kubernetes.io/managed-by"
	managedBy             = "herald"
)

// Connection is a verified account to save in a workspace.
type Connection struct {
	// Namespace is the workspace's namespace; Profile the SocialProfile's name.
	Namespace, Profile string
	Platform           v1alpha1.Platform
	// Handle, DisplayName and Endpoint become the profile's spec.
	Handle, DisplayName, Endpoint string
	// Credentials become the Secret's data, replacing what it held.
	Credentials map[string][]byte
	// By is who connected the account; At is when.
	By string
	At time.Time
}

// Save writes the credentials Secret and the SocialProfile: new ones, or,
// for a profile that exists, its Secret's credentials replaced in place
// and its spec pointed at them. It returns the profile as written and
// whether it existed. r must read the API server, not a cache: a profile
// made a moment ago must be found.
func Save(ctx context.Context, c client.Client, r client.Reader, conn Connection) (*v1alpha1.SocialProfile, bool, error) {
	prof := &v1alpha1.SocialProfile{}
	err := r.Get(ctx, client.ObjectKey{Namespace: conn.Namespace, Name: conn.Profile}, prof)
	existed := err == nil
	switch {
	case apierrors.IsNotFound(err):
	case err != nil:
		return nil, false, err
	case prof.Spec.Platform != conn.Platform:
		return nil, true, fmt.Errorf("profile %q is a %s profile; connect the %s account under another name", conn.Profile, prof.Spec.Platform, conn.Platform)
	case v1alpha1.GitOpsOwner(prof) != "":
		return nil, true, fmt.Errorf("profile %q is read-only here because %s: change its Secret there", conn.Profile, v1alpha1.GitOpsOwner(prof))
	}
	secretName := conn.Profile + "-credentials"
	if existed && prof.Spec.CredentialsSecretRef != nil {
		secretName = prof.Spec.CredentialsSecretRef.Name
	}
	// The profile's own Secret may be rewritten; any other only when an
	// earlier connection of this profile made it.
	theirs := existed && prof.Spec.CredentialsSecretRef != nil
	sec, err := saveSecret(ctx, c, r, conn, secretName, theirs)
	if err != nil {
		return nil, existed, err
	}
	if err := saveProfile(ctx, c, r, conn, secretName, prof, existed); err != nil {
		return nil, existed, err
	}
	if err := own(ctx, c, sec, prof); err != nil {
		return nil, existed, err
	}
	return prof, existed, nil
}

func saveSecret(ctx context.Context, c client.Client, r client.Reader, conn Connection, name string, profiles bool) (*corev1.Secret, error) {
	sec := &corev1.Secret{}
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		err := r.Get(ctx, client.ObjectKey{Namespace: conn.Namespace, Name: name}, sec)
		if apierrors.IsNotFound(err) {
			sec = &corev1.Secret{
				ObjectMeta: metav1.ObjectMeta{Namespace: conn.Namespace, Name: name,
					Labels: map[string]string{LabelProfile: conn.Profile, labelManagedBy: managedBy}},
				Type: corev1.SecretTypeOpaque, Data: conn.Credentials,
			}
			return c.Create(ctx, sec)
		}
		if err != nil {
			return err
		}
		if !profiles && sec.Labels[LabelProfile] != conn.Profile {
			return fmt.Errorf("Secret %s/%s exists and is not this profile's; choose another profile name, or delete that Secret if it is unused", conn.Namespace, name)
		}
		if sec.Labels == nil {
			sec.Labels = map[string]string{}
		}
		sec.Labels[LabelProfile] = conn.Profile
		sec.Data, sec.StringData = conn.Credentials, nil
		return c.Update(ctx, sec)
	})
	if err != nil {
		return nil, fmt.Errorf("saving the credentials in Secret %s/%s: %w", conn.Namespace, name, err)
	}
	return sec, nil
}

func saveProfile(ctx context.Context, c client.Client, r client.Reader, conn Connection, secretName string, prof *v1alpha1.SocialProfile, existed bool) error {
	annotate := func(p *v1alpha1.SocialProfile) {
		if p.Annotations == nil {
			p.Annotations = map[string]string{}
		}
		p.Annotations[AnnotationConnectedBy] = conn.By
		p.Annotations[AnnotationConnectedAt] = conn.At.UTC().Format(time.RFC3339Nano)
	}
	if !existed {
		*prof = v1alpha1.SocialProfile{
			ObjectMeta: metav1.ObjectMeta{Namespace: conn.Namespace, Name: conn.Profile},
			Spec: v1alpha1.SocialProfileSpec{
				Platform: conn.Platform, Handle: conn.Handle, DisplayName: conn.DisplayName, Endpoint: conn.Endpoint,
				CredentialsSecretRef: &v1alpha1.LocalObjectReference{Name: secretName},
			},
		}
		annotate(prof)
		if err := c.Create(ctx, prof); err != nil {
			return fmt.Errorf("creating SocialProfile %s/%s: %w", conn.Namespace, conn.Profile, err)
		}
		return nil
	}
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		if err := r.Get(ctx, client.ObjectKeyFromObject(prof), prof); err != nil {
			return err
		}
		prof.Spec.Handle, prof.Spec.Endpoint = conn.Handle, conn.Endpoint
		if conn.DisplayName != "" {
			prof.Spec.DisplayName = conn.DisplayName
		}
		prof.Spec.CredentialsSecretRef = &v1alpha1.LocalObjectReference{Name: secretName}
		annotate(prof)
		return c.Update(ctx, prof)
	})
	if err != nil {
		return fmt.Errorf("updating SocialProfile %s/%s: %w", conn.Namespace, conn.Profile, err)
	}
	return nil
}

// own makes the profile the Secret's owner, so deleting the profile
// deletes its credentials.
func own(ctx context.Context, c client.Client, sec *corev1.Secret, prof *v1alpha1.SocialProfile) error {
	for _, ref := range sec.OwnerReferences {
		if ref.UID == prof.UID {
			return nil
		}
	}
	base := sec.DeepCopy()
	sec.OwnerReferences = append(sec.OwnerReferences, metav1.OwnerReference{
		APIVersion: v1alpha1.GroupVersion.String(), Kind: "SocialProfile", Name: prof.Name, UID: prof.UID,
	})
	if err := c.Patch(ctx, sec, client.MergeFrom(base)); err != nil {
		return fmt.Errorf("making SocialProfile %s the owner of Secret %s: %w", prof.Name, sec.Name, err)
	}
	return nil
}

var notName = regexp.MustCompile(`[^a-z0-9-]+`)

// ProfileName derives a profile's name from its platform and handle, such
// as mastodon-herald-mastodon-social for @herald@mastodon.social.
func ProfileName(platform v1alpha1.Platform, handle string) string {
	n := notName.ReplaceAllString(strings.ToLower(handle), "-")
	n = strings.Trim(regexp.MustCompile(`-+`).ReplaceAllString(n, "-"), "-")
	name := string(platform)
	if n != "" {
		name += "-" + n
	}
	if len(name) > 63 {
		name = strings.TrimRight(name[:63], "-")
	}
	return name
}

var nameRE = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$`)

// CheckProfileName explains what is wrong with a profile name a person chose.
func CheckProfileName(name string) error {
	if !nameRE.MatchString(name) {
		return fmt.Errorf("profile name %q is not usable: use 1 to 63 lower-case letters, digits and dashes, starting and ending with a letter or digit, such as mastodon-brand", name)
	}
	return nil
}
