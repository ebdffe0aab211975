package oauth

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/url"
	"time"

	"github.com/ory/fosite"
	"github.com/ory/fosite/handler/oauth2"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Labels and annotations on the Secrets the store writes.
const (
	labelManagedBy  = "app.kubernetes.io/managed-by"
	managedByValue  = "herald-oauth"
	labelKind       = "oauth.herald.dev/kind"
	labelRequestID  = "oauth.herald.dev/request-id"
	labelGrant      = "oauth.herald.dev/grant"
	labelActive     = "oauth.herald.dev/active"
	annoExpiresAt   = "oauth.herald.dev/expires-at"
	annoRotatedAt   = "oauth.herald.dev/rotated-at"
	dataRequest     = "request"
	secretTypeOAuth = corev1.SecretType("oauth.herald.dev/state")

	kindCode    = "code"
	kindPKCE    = "pkce"
	kindRefresh = "refresh"
)

// storedForm is the part of a request's form that is kept: what fosite
// re-reads later (redirect_uri for the token request, the PKCE challenge).
// Anything else a request carried, passwords included, is dropped.
var storedForm = []string{"redirect_uri", "code_challenge", "code_challenge_method", "scope", "resource", "response_type", "client_id"}

// storedRequest is a fosite.Requester as JSON.
type storedRequest struct {
	ID                string             `json:"id"`
	RequestedAt       time.Time          `json:"requestedAt"`
	ClientID          string             `json:"clientID"`
	RequestedScopes   []string           `json:"requestedScopes,omitempty"`
	GrantedScopes     []string           `json:"grantedScopes,omitempty"`
	RequestedAudience []string           `json:"requestedAudience,omitempty"`
	GrantedAudience   []string           `json:"grantedAudience,omitempty"`
	Form              url.Values         `json:"form,omitempty"`
	Session           *oauth2.JWTSession `json:"session"`
}

// store implements fosite's storage interfaces on Secrets in one namespace.
// Reads go to the API server (apiReader), not a cache: a code minted by
// another replica a moment ago must be found.
type store struct {
	c       client.Client
	r       client.Reader
	ns      string
	clock   clock.PassiveClock
	mcpURL  string
	onReuse func(ctx context.Context, grant string) error
	// onGrace is told of a refresh token used again within the grace period.
	onGrace func(ctx context.Context, grant string)
	// userRemoved says whether a token's subject can no longer act.
	userRemoved func(ctx context.Context, subject string) (bool, error)
	clients     *clientDirectory
}

// secretName derives an object name from fosite's signature of a token; the
// extra SHA-256 keeps even the signature out of the API server.
func secretName(kind, signature string) string {
	sum := sha256.Sum256([]byte(signature))
	return fmt.Sprintf("herald-%s-%s", kind, hex.EncodeToString(sum[:20]))
}

func grantOf(req fosite.Requester) string {
	if sess, ok := req.GetSession().(*oauth2.JWTSession); ok && sess.JWTClaims != nil {
		if g, ok := sess.JWTClaims.Extra[claimGrant].(string); ok {
			return g
		}
	}
	return ""
}

func (s *store) create(ctx context.Context, kind, signature string, req fosite.Requester, expires time.Time) error {
	sess, ok := req.GetSession().(*oauth2.JWTSession)
	if !ok {
		return fmt.Errorf("oauth: unexpected session type %T", req.GetSession())
	}
	form := url.Values{}
	for _, k := range storedForm {
		if v, ok := req.GetRequestForm()[k]; ok {
			form[k] = v
		}
	}
	body, err := json.Marshal(storedRequest{
		ID: req.GetID(), RequestedAt: req.GetRequestedAt(), ClientID: req.GetClient().GetID(),
		RequestedScopes: req.GetRequestedScopes(), GrantedScopes: req.GetGrantedScopes(),
		RequestedAudience: req.GetRequestedAudience(), GrantedAudience: req.GetGrantedAudience(),
		Form: form, Session: sess,
	})
	if err != nil {
		return err
	}
	if expires.IsZero() {
		expires = s.clock.Now().Add(RefreshTokenLifetime)
	}
	sec := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{
			Namespace: s.ns, Name: secretName(kind, signature),
			Labels: map[string]string{
				labelManagedBy: managedByValue, labelKind: kind, labelRequestID: req.GetID(),
				labelGrant: grantOf(req), labelActive: "true",
			},
			Annotations: map[string]string{annoExpiresAt: expires.UTC().Format(time.RFC3339)},
		},
		Type: secretTypeOAuth,
		Data: map[string][]byte{dataRequest: body},
	}
	return s.c.Create(ctx, sec)
}

func (s *store) get(ctx context.Context, kind, signature string) (*corev1.Secret, fosite.Requester, error) {
	var sec corev1.Secret
	if err := s.r.Get(ctx, client.ObjectKey{Namespace: s.ns, Name: secretName(kind, signature)}, &sec); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, nil, fosite.ErrNotFound
		}
		return nil, nil, err
	}
	var sr storedRequest
	if err := json.Unmarshal(sec.Data[dataRequest], &sr); err != nil || sr.Session == nil {
		return nil, nil, fmt.Errorf("oauth: Secret %s/%s is corrupt; delete it", sec.Namespace, sec.Name)
	}
	cl, err := s.clients.get(ctx, sr.ClientID)
	if err != nil {
		return nil, nil, err
	}
	req := &fosite.Request{
		ID: sr.ID, RequestedAt: sr.RequestedAt, Client: cl,
		RequestedScope: sr.RequestedScopes, GrantedScope: sr.GrantedScopes,
		RequestedAudience: sr.RequestedAudience, GrantedAudience: sr.GrantedAudience,
		Form: sr.Form, Session: sr.Session,
	}
	return &sec, req, nil
}

func (s *store) delete(ctx context.Context, kind, signature string) error {
	sec := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: s.ns, Name: secretName(kind, signature)}}
	return client.IgnoreNotFound(s.c.Delete(ctx, sec))
}

// --- fosite.ClientManager

func (s *store) GetClient(ctx context.Context, id string) (fosite.Client, error) {
	return s.clients.get(ctx, id)
}

// ClientAssertionJWTValid and SetClientAssertionJWT serve private_key_jwt,
// which Herald does not offer.
func (s *store) ClientAssertionJWTValid(context.Context, string) error { return nil }
func (s *store) SetClientAssertionJWT(context.Context, string, time.Time) error {
	return nil
}

// --- authorization codes

func (s *store) CreateAuthorizeCodeSession(ctx context.Context, sig string, req fosite.Requester) error {
	return s.create(ctx, kindCode, sig, req, req.GetSession().GetExpiresAt(fosite.AuthorizeCode))
}

func (s *store) GetAuthorizeCodeSession(ctx context.Context, sig string, _ fosite.Session) (fosite.Requester, error) {
	sec, req, err := s.get(ctx, kindCode, sig)
	if err != nil {
		return nil, err
	}
	if sec.Labels[labelActive] != "true" {
		return req, fosite.ErrInvalidatedAuthorizeCode
	}
	return req, nil
}

// InvalidateAuthorizeCodeSession marks a code used. The update carries the
// resourceVersion just read, so of two replicas redeeming one code at the
// same moment exactly one succeeds.
func (s *store) InvalidateAuthorizeCodeSession(ctx context.Context, sig string) error {
	var sec corev1.Secret
	if err := s.r.Get(ctx, client.ObjectKey{Namespace: s.ns, Name: secretName(kindCode, sig)}, &sec); err != nil {
		return err
	}
	if sec.Labels[labelActive] != "true" {
		return fosite.ErrInvalidatedAuthorizeCode
	}
	sec.Labels[labelActive] = "false"
	return s.c.Update(ctx, &sec)
}

// --- PKCE

func (s *store) CreatePKCERequestSession(ctx context.Context, sig string, req fosite.Requester) error {
	return s.create(ctx, kindPKCE, sig, req, req.GetSession().GetExpiresAt(fosite.AuthorizeCode))
}

func (s *store) GetPKCERequestSession(ctx context.Context, sig string, _ fosite.Session) (fosite.Requester, error) {
	_, req, err := s.get(ctx, kindPKCE, sig)
	return req, err
}

func (s *store) DeletePKCERequestSession(ctx context.Context, sig string) error {
	return s.delete(ctx, kindPKCE, sig)
}

// --- access tokens: self-contained JWTs, checked against their MCPGrant
// on every request, so nothing is stored.

func (s *store) CreateAccessTokenSession(context.Context, string, fosite.Requester) error { return nil }
func (s *store) GetAccessTokenSession(context.Context, string, fosite.Session) (fosite.Requester, error) {
	return nil, fosite.ErrNotFound
}
func (s *store) DeleteAccessTokenSession(context.Context, string) error { return nil }
func (s *store) RevokeAccessToken(context.Context, string) error        { return nil }

// --- refresh tokens

func (s *store) CreateRefreshTokenSession(ctx context.Context, sig, _ string, req fosite.Requester) error {
	return s.create(ctx, kindRefresh, sig, req, req.GetSession().GetExpiresAt(fosite.RefreshToken))
}

func (s *store) GetRefreshTokenSession(ctx context.Context, sig string, _ fosite.Session) (fosite.Requester, error) {
	sec, req, err := s.get(ctx, kindRefresh, sig)
	if err != nil {
		return nil, err
	}
	if sec.Labels[labelActive] != "true" && !s.inGrace(sec) {
		return req, fosite.ErrInactiveToken
	}
	if s.userRemoved != nil && req.GetSession() != nil {
		removed, err := s.userRemoved(ctx, req.GetSession().GetSubject())
		if err != nil {
			return nil, err
		}
		if removed {
			// Inactive, as a reused token is: fosite then revokes the grant.
			return req, fosite.ErrInactiveToken.WithHint("The user this token was issued to was removed, or is no longer a member of any workspace.")
		}
	}
	return req, nil
}

func (s *store) inGrace(sec *corev1.Secret) bool {
	at, err := time.Parse(time.RFC3339Nano, sec.Annotations[annoRotatedAt])
	return err == nil && s.clock.Since(at) <= RefreshGracePeriod
}

func (s *store) DeleteRefreshTokenSession(ctx context.Context, sig string) error {
	return s.delete(ctx, kindRefresh, sig)
}

// RotateRefreshToken retires the refresh token just used. A second use within
// the grace period (a client retrying a refresh whose answer it lost) gets a
// pair of its own, and the first use's pair keeps working: retiring it
// would let whoever used the token second (a thief, perhaps) lock out the
// one who used it first. Either way the second use is recorded as an
// event on the grant, for a person to judge.
func (s *store) RotateRefreshToken(ctx context.Context, requestID, sig string) error {
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		var sec corev1.Secret
		if err := s.r.Get(ctx, client.ObjectKey{Namespace: s.ns, Name: secretName(kindRefresh, sig)}, &sec); err != nil {
			return err
		}
		if sec.Labels[labelActive] == "true" {
			now := s.clock.Now().UTC()
			sec.Labels[labelActive] = "false"
			sec.Annotations[annoRotatedAt] = now.Format(time.RFC3339Nano)
			// A rotated token is kept only to detect its reuse; a week of that
			// bounds the Secrets a busy client leaves behind.
			if exp, err := time.Parse(time.RFC3339, sec.Annotations[annoExpiresAt]); err != nil || exp.After(now.Add(RotatedRefreshRetention)) {
				sec.Annotations[annoExpiresAt] = now.Add(RotatedRefreshRetention).Format(time.RFC3339)
			}
			return s.c.Update(ctx, &sec)
		}
		if !s.inGrace(&sec) {
			return fosite.ErrInactiveToken
		}
		if s.onGrace != nil {
			s.onGrace(ctx, sec.Labels[labelGrant])
		}
		return nil
	})
}

// RevokeRefreshToken is fosite's answer to a reused code or refresh token and
// to /oauth/revoke: every refresh token of the request goes, and so does the
// grant, which stops its access tokens too.
func (s *store) RevokeRefreshToken(ctx context.Context, requestID string) error {
	var list corev1.SecretList
	if err := s.r.List(ctx, &list, client.InNamespace(s.ns), client.MatchingLabels{labelRequestID: requestID}); err != nil {
		return err
	}
	grants := map[string]bool{}
	for i := range list.Items {
		if g := list.Items[i].Labels[labelGrant]; g != "" {
			grants[g] = true
		}
		if list.Items[i].Labels[labelKind] == kindRefresh {
			if err := client.IgnoreNotFound(s.c.Delete(ctx, &list.Items[i])); err != nil {
				return err
			}
		}
	}
	for g := range grants {
		if err := s.onReuse(ctx, g); err != nil {
			return err
		}
	}
	return nil
}
