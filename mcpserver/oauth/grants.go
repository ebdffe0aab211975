package oauth

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	corev1 "k8s.io/api/core/v1"

	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/herald-dev/herald/api/v1alpha1"
)

// Labels on MCPGrants that find a client's grant for a user. Values are
// hashes because client ids and subjects need not be valid label values.
const (
	labelGrantClient  = "oauth.herald.dev/client-hash"
	labelGrantSubject = "oauth.herald.dev/subject-hash"
)

func labelHash(v string) string {
	sum := sha256.Sum256([]byte(v))
	return hex.EncodeToString(sum[:20])
}

// upsertGrant records an approval: the user's live grant for the client is
// updated to what was just approved, or a new one is created (a revoked grant
// cannot be restored).
func (s *Server) upsertGrant(ctx context.Context, clientID, subject string, workspaces []string, scopes []v1alpha1.Scope) (string, error) {
	labels := map[string]string{labelGrantClient: labelHash(clientID), labelGrantSubject: labelHash(subject)}
	var name string
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		var list v1alpha1.MCPGrantList
		if err := s.apiReader.List(ctx, &list, client.MatchingLabels(labels)); err != nil {
			return err
		}
		for i := range list.Items {
			g := &list.Items[i]
			if g.Spec.Revoked || g.Spec.ClientID != clientID || g.Spec.Subject != subject || !g.DeletionTimestamp.IsZero() {
				continue
			}
			g.Spec.Workspaces, g.Spec.Scopes = workspaces, scopes
			name = g.Name
			err := s.c.Update(ctx, g)
			if apierrors.IsInvalid(err) {
				// Created without spec.revoked (kubectl, GitOps): the CRD's
				// rule cannot evaluate, so record the approval in a new grant.
				break
			}
			return err
		}
		var err error
		name, err = s.createGrant(ctx, labels, v1alpha1.MCPGrantSpec{ClientID: clientID, Subject: subject, Workspaces: workspaces, Scopes: scopes})
		return err
	})
	return name, err
}

// createGrant creates a grant with spec.revoked stored explicitly as false.
// The CRD's transition rule (!oldSelf.revoked || self.revoked) cannot
// evaluate on an object that lacks the field, so a grant created without it
// could never be updated except to revoke it; the typed client would drop a
// false value (omitempty), hence the unstructured object.
func (s *Server) createGrant(ctx context.Context, labels map[string]string, spec v1alpha1.MCPGrantSpec) (string, error) {
	g := &v1alpha1.MCPGrant{ObjectMeta: metav1.ObjectMeta{GenerateName: "grant-", Labels: labels}, Spec: spec}
	raw, err := runtime.DefaultUnstructuredConverter.ToUnstructured(g)
	if err != nil {
		return "", err
	}
	u := &unstructured.Unstructured{Object: raw}
	u.SetGroupVersionKind(v1alpha1.GroupVersion.WithKind("MCPGrant"))
	if err := unstructured.SetNestedField(u.Object, false, "spec", "revoked"); err != nil {
		return "", err
	}
	if err := s.c.Create(ctx, u); err != nil {
		return "", err
	}
	return u.GetName(), nil
}

// revokeGrantByName marks a grant revoked; its tokens stop at the next request.
func (s *Server) revokeGrantByName(ctx context.Context, name string) error {
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		var g v1alpha1.MCPGrant
		if err := s.apiReader.Get(ctx, client.ObjectKey{Name: name}, &g); err != nil {
			return err
		}
		if g.Spec.Revoked {
			return nil
		}
		g.Spec.Revoked = true
		return s.c.Update(ctx, &g)
	})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("oauth: revoking grant %s: %w", name, err)
	}
	log.Info("grant revoked: a used code or rotated refresh token came back, or the client revoked its token", "grant", name)
	return nil
}

// ReasonRefreshGraceUsed is the event on a grant whose refresh token was
// used a second time within RefreshGracePeriod.
const ReasonRefreshGraceUsed = "RefreshTokenReused"

// noteGraceUse records that a grant's refresh token was used twice within
// the grace period: usually a client retrying, possibly a copy of the token
// in other hands. Both holders now have working tokens; deleting the grant
// ends both.
func (s *Server) noteGraceUse(ctx context.Context, name string) {
	log.Info("a refresh token was used again within the grace period; both uses got tokens", "grant", name)
	if s.cfg.Recorder == nil || name == "" {
		return
	}
	var g v1alpha1.MCPGrant
	if err := s.apiReader.Get(ctx, client.ObjectKey{Name: name}, &g); err != nil {
		return
	}
	s.cfg.Recorder.Eventf(&g, nil, corev1.EventTypeWarning, ReasonRefreshGraceUsed, "Refresh",
		"a refresh token was used a second time within %s of its first use; both uses got working tokens. If the client did not retry, delete this grant to end both", RefreshGracePeriod)
}

// liveGrant returns the grant if it exists and is not revoked. It reads the
// cache: that is what makes the per-request check cheap, and deletions reach
// the informer within seconds. With client.UnsafeDisableDeepCopy the grant
// is the cache's own copy, for callers that only read it.
func (s *Server) liveGrant(ctx context.Context, name string, fresh bool, opts ...client.GetOption) (*v1alpha1.MCPGrant, error) {
	var g v1alpha1.MCPGrant
	var r client.Reader = s.c
	if fresh {
		r = s.apiReader
	}
	if err := r.Get(ctx, client.ObjectKey{Name: name}, &g, opts...); err != nil {
		return nil, err
	}
	if g.Spec.Revoked || !g.DeletionTimestamp.IsZero() {
		return nil, apierrors.NewGone("grant " + name + " was revoked")
	}
	return &g, nil
}

// recordApproval notes on the client that a person approved it. A client
// identified by a metadata document gets its MCPClient record now, so that
// kubectl shows it and deleting the record revokes its grants; a later
// approval brings the record's name and redirect URIs up to date.
func (s *Server) recordApproval(ctx context.Context, cl *mcpClient) error {
	if cl.obj.Spec.MetadataDocumentURL == "" {
		s.markClientAuthorized(ctx, cl.obj)
		return nil
	}
	var rec v1alpha1.MCPClient
	err := s.apiReader.Get(ctx, client.ObjectKey{Name: cl.obj.Name}, &rec)
	switch {
	case apierrors.IsNotFound(err):
		rec = v1alpha1.MCPClient{
			ObjectMeta: metav1.ObjectMeta{Name: cl.obj.Name, Labels: map[string]string{labelManagedBy: managedByValue}},
			Spec:       cl.obj.Spec,
		}
		if err := s.c.Create(ctx, &rec); err != nil && !apierrors.IsAlreadyExists(err) {
			return err
		}
		log.Info("client identified by a metadata document recorded", "client", cl.obj.Name, "document", cl.obj.Spec.MetadataDocumentURL, "name", cl.obj.Spec.ClientName)
	case err != nil:
		return err
	case !rec.DeletionTimestamp.IsZero():
		return fmt.Errorf("the record of client %s is being deleted; connect again in a moment", rec.Name)
	case !equality.Semantic.DeepEqual(rec.Spec, cl.obj.Spec):
		rec.Spec = cl.obj.Spec
		if err := s.c.Update(ctx, &rec); err != nil {
			return err
		}
	}
	s.markClientAuthorized(ctx, &rec)
	return nil
}

// markClientAuthorized records the approval on the client, which keeps the
// garbage collector away from it.
func (s *Server) markClientAuthorized(ctx context.Context, obj *v1alpha1.MCPClient) {
	base := obj.DeepCopy()
	now := metav1.NewTime(s.clock.Now())
	obj.Status.LastAuthorizedAt = &now
	if err := s.c.Status().Patch(ctx, obj, client.MergeFrom(base)); err != nil {
		log.Error(err, "recording client approval failed", "client", obj.Name)
	}
}
