package oauth

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"github.com/ory/fosite"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v3"
	josejwt "github.com/go-jose/go-jose/v3/jwt"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/herald-dev/herald/api/v1alpha1"
	"github.com/herald-dev/herald/internal/metrics"
)

// tokenClaims are the access-token claims Herald issues and reads.
type tokenClaims struct {
	josejwt.Claims
	ClientID   string   `json:"client_id"`
	Grant      string   `json:"grant"`
	Scope      string   `json:"scope"`
	Workspaces []string `json:"workspaces"`
}

// RequireToken guards next (the /mcp handler): only a valid access token of
// a live grant, sent in the Authorization header, from an allowed Origin,
// gets through, with its Caller in the request context.
func (s *Server) RequireToken(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cw := &challengeWriter{ResponseWriter: w, metadataURL: s.baseFor(r) + "/.well-known/oauth-protected-resource/mcp"}
		if origin := r.Header.Get("Origin"); origin != "" && !s.originAllowed(origin) {
			writeJSON(w, http.StatusForbidden, map[string]string{"error": "forbidden_origin",
				"error_description": fmt.Sprintf("requests from origin %s are not allowed; the operator can add it with --allowed-origins", origin)})
			return
		}
		if q := r.URL.Query(); q.Has("access_token") || q.Has("token") {
			s.challenge(cw, "invalid_request", "Tokens in the query string are refused; send it in the Authorization header as Bearer <token>.")
			return
		}
		h := r.Header.Get("Authorization")
		if h == "" {
			s.challenge(cw, "", "Authorization required: connect with OAuth; the metadata URL in this header says where.")
			return
		}
		scheme, tok, _ := strings.Cut(h, " ")
		tok = strings.TrimSpace(tok)
		if !strings.EqualFold(scheme, "Bearer") || strings.Count(tok, ".") != 2 {
			s.challenge(cw, "invalid_token", "API keys are not accepted: Herald requires OAuth. Remove the key from your client's configuration and connect with OAuth (the client discovers the rest from this response).")
			return
		}
		claims, err := s.verify(tok)
		if err != nil {
			s.challenge(cw, "invalid_token", err.Error())
			return
		}
		g, err := s.liveGrant(r.Context(), claims.Grant, false, client.UnsafeDisableDeepCopy)
		if err != nil || g.Spec.ClientID != claims.ClientID || g.Spec.Subject != claims.Subject {
			s.challenge(cw, "invalid_token", "This connection was revoked or removed; connect again to approve it anew.")
			return
		}
		caller := &Caller{Subject: claims.Subject, ClientID: claims.ClientID, Grant: g.Name}
		for _, sc := range strings.Fields(claims.Scope) {
			if slices.Contains(g.Spec.Scopes, v1alpha1.Scope(sc)) {
				caller.Scopes = append(caller.Scopes, v1alpha1.Scope(sc))
			}
		}
		for _, ws := range claims.Workspaces {
			if slices.Contains(g.Spec.Workspaces, ws) {
				caller.Workspaces = append(caller.Workspaces, ws)
			}
		}
		name, known := s.clientName(r.Context(), claims.ClientID)
		if !known {
			// The client was deleted: its tokens end with it, not when they expire.
			s.challenge(cw, "invalid_token", "The app this token was issued to was removed from Herald; connect again to register and approve it anew.")
			return
		}
		caller.ClientName = name
		s.recordUse(g)
		next.ServeHTTP(cw, r.WithContext(WithCaller(r.Context(), caller)))
	})
}

// clientName returns the registered client's name, and false once the
// client is deleted. A client the cache lacks is looked up on the API server
// (as token requests look it up), so a deletion is seen at once and a cache
// that lags is not taken for one. A metadata-document client is known by its
// record: deleting the record ends its tokens.
func (s *Server) clientName(ctx context.Context, id string) (string, bool) {
	name := id
	if isMetadataURL(id) {
		name = metadataRecordName(id)
	}
	var c v1alpha1.MCPClient
	err := s.c.Get(ctx, client.ObjectKey{Name: name}, &c, client.UnsafeDisableDeepCopy) // read only
	if err == nil {
		return c.Spec.ClientName, c.DeletionTimestamp.IsZero()
	}
	if !apierrors.IsNotFound(err) {
		return id, true // cannot tell: the grant check above already passed
	}
	obj, err := s.clients.record(ctx, name)
	if errors.Is(err, fosite.ErrNotFound) {
		return id, false
	}
	if err != nil {
		return id, true
	}
	return obj.Spec.ClientName, true
}

func (s *Server) originAllowed(origin string) bool {
	u, err := url.Parse(origin)
	if err != nil {
		return false
	}
	if origin == s.public.Scheme+"://"+s.public.Host {
		return true
	}
	if s.devLoopback() && u.Scheme == s.public.Scheme && u.Port() == s.public.Port() && isLoopbackHost(u.Hostname()) {
		return true
	}
	return slices.Contains(s.cfg.AllowedOrigins, origin)
}

// verify checks signature, expiry, issuer and audience, caching the result
// by a hash of the token until the token expires. The grant is not cached.
func (s *Server) verify(tok string) (*tokenClaims, error) {
	key := sha256.Sum256([]byte(tok))
	now := s.clock.Now()
	if c, ok := s.tokens.get(key, now); ok {
		return c, nil
	}
	invalid := fmt.Errorf("the access token is invalid, expired or meant for another server; let your client refresh it or connect again")
	parsed, err := josejwt.ParseSigned(tok)
	if err != nil || len(parsed.Headers) != 1 || parsed.Headers[0].Algorithm != string(jose.ES256) {
		return nil, invalid
	}
	pub, ok := s.keys.publicKey(parsed.Headers[0].KeyID)
	if !ok {
		return nil, invalid
	}
	var c tokenClaims
	if err := parsed.Claims(pub, &c); err != nil {
		return nil, invalid
	}
	if c.Expiry == nil || !now.Before(c.Expiry.Time()) {
		return nil, fmt.Errorf("the access token expired; let your client refresh it")
	}
	if c.NotBefore != nil && now.Add(time.Minute).Before(c.NotBefore.Time()) {
		return nil, invalid
	}
	if !s.isOurIssuer(c.Issuer) || !slices.ContainsFunc(c.Audience, s.isOurResource) {
		return nil, fmt.Errorf("the access token was issued for another resource; connect to %s with OAuth", s.mcpURL())
	}
	if c.Grant == "" || c.Subject == "" || c.ClientID == "" {
		return nil, invalid
	}
	s.tokens.put(key, &c, c.Expiry.Time())
	return &c, nil
}

func (s *Server) challenge(w *challengeWriter, code, desc string) {
	v := fmt.Sprintf(`Bearer resource_metadata=%q, scope=%q`, w.metadataURL, scopeString(AllScopes))
	if code != "" {
		v += fmt.Sprintf(`, error=%q, error_description=%q`, code, strings.ReplaceAll(desc, `"`, "'"))
	}
	w.Header().Set("WWW-Authenticate", v)
	if code != "" {
		metrics.OAuthRefused.WithLabelValues("bearer_token").Inc()
	}
	if code == "" {
		code = "unauthorized"
	}
	writeJSON(w.ResponseWriter, http.StatusUnauthorized, map[string]string{"error": code, "error_description": desc})
}
