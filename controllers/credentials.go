package controllers

import (
	"context"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	socialv1alpha1 "github.com/herald-dev/herald/api/v1alpha1"
	"github.com/herald-dev/herald/internal/publish"
)

// Reasons for a profile's credentials, shared by the SocialProfile and
// ScheduledPost reconcilers (a post that cannot load them fails with the
// same reason the profile shows).
const (
	ReasonSecretNotFound      = "SecretNotFound"
	ReasonSecretKeyMissing    = "SecretKeyMissing"
	ReasonCredentialsRejected = "CredentialsRejected"
	ReasonPlatformUnavailable = "PlatformUnavailable"
	ReasonVerificationFailed  = "VerificationFailed"
	ReasonVerified            = "Verified"
	ReasonSecretNotReadable   = "SecretNotReadable"
	// ReasonReconnectRequired: the platform refused to renew the access
	// token; only connecting the account again helps.
	ReasonReconnectRequired = "ReconnectRequired"
	// ReasonTokenRenewed: the access token was renewed and kept.
	ReasonTokenRenewed = "TokenRenewed"
)

// credentialsError is why a profile's credentials could not be loaded: a
// reason for conditions and a message saying what to do. It never holds a
// secret value, only names.
type credentialsError struct {
	Reason, Message string
}

func (e *credentialsError) Error() string { return e.Message }

// loadProfile builds the publisher's view of a profile, reading its Secret
// with reader and checking it holds the keys its platform declares (info).
// Secrets are read one at a time from the API server, never listed or
// watched: Herald may read Secrets only in workspace namespaces, by the
// RoleBinding each Workspace creates, and caching them would keep them all
// in its memory. A missing or unreadable Secret or key is a
// *credentialsError; other errors are the API server's.
func loadProfile(ctx context.Context, reader client.Reader, p *socialv1alpha1.SocialProfile, info publish.Info) (publish.Profile, error) {
	prof, _, err := loadProfileVersion(ctx, reader, p, info)
	return prof, err
}

// loadProfileVersion is loadProfile that also returns the Secret's
// resourceVersion, which changes whenever the Secret does.
func loadProfileVersion(ctx context.Context, reader client.Reader, p *socialv1alpha1.SocialProfile, info publish.Info) (publish.Profile, string, error) {
	prof := publish.Profile{
		Platform: publish.Platform(p.Spec.Platform),
		Handle:   p.Spec.Handle,
		Endpoint: p.Spec.Endpoint,
	}
	if p.Spec.CredentialsSecretRef == nil {
		if keys := info.CredentialKeys; len(keys) > 0 {
			return prof, "", &credentialsError{Reason: ReasonSecretNotFound, Message: fmt.Sprintf(
				"SocialProfile %s/%s names no Secret; set spec.credentialsSecretRef.name to a Secret with key(s) %s",
				p.Namespace, p.Name, strings.Join(keys, ", "))}
		}
		return prof, "", nil
	}
	name := p.Spec.CredentialsSecretRef.Name
	secret := &corev1.Secret{}
	if err := reader.Get(ctx, client.ObjectKey{Namespace: p.Namespace, Name: name}, secret); err != nil {
		if apierrors.IsNotFound(err) {
			return prof, "", &credentialsError{Reason: ReasonSecretNotFound, Message: fmt.Sprintf(
				"Secret %s/%s named by SocialProfile %s does not exist; create it with key(s) %s",
				p.Namespace, name, p.Name, strings.Join(info.CredentialKeys, ", "))}
		}
		if apierrors.IsForbidden(err) {
			return prof, "", &credentialsError{Reason: ReasonSecretNotReadable, Message: fmt.Sprintf(
				"Herald may not read Secret %s/%s: it reads Secrets only in the namespaces of Workspaces, through the RoleBinding %s the Workspace creates there; "+
					"check that a Ready Workspace uses namespace %s", p.Namespace, name, WorkspaceSecretsBinding, p.Namespace)}
		}
		return prof, "", fmt.Errorf("reading Secret %s/%s: %w", p.Namespace, name, err)
	}
	var missing []string
	for _, k := range info.CredentialKeys {
		if len(strings.TrimSpace(string(secret.Data[k]))) == 0 {
			missing = append(missing, k)
		}
	}
	if len(missing) > 0 {
		return prof, "", &credentialsError{Reason: ReasonSecretKeyMissing, Message: fmt.Sprintf(
			"Secret %s/%s has no value for key(s) %s, which %s needs; add them to the Secret",
			p.Namespace, name, strings.Join(missing, ", "), p.Spec.Platform)}
	}
	prof.Credentials = publish.Credentials(secret.Data)
	return prof, secret.ResourceVersion, nil
}
