package oauth

import (
	"context"
	"crypto/sha256"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v3"
	josejwt "github.com/go-jose/go-jose/v3/jwt"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/herald-dev/herald/api/v1alpha1"
)

// Caller is who is calling /mcp: the user, through which client and grant,
// with what the grant allows right now.
type Caller struct {
	Subject    string
	ClientID   string
	ClientName string
	Grant      string
	Scopes     []v1alpha1.Scope
	Workspaces []string
}

// HasScope reports whether the caller was granted s.
func (c *Caller) HasScope(s v1alpha1.Scope) bool { return c != nil && slices.Contains(c.Scopes, s) }

type callerKey struct{}

// CallerFrom returns the caller RequireToken put in the context.
func CallerFrom(ctx context.Context) (*Caller, bool) {
	c, ok := ctx.Value(callerKey{}).(*Caller)
	return c, ok
}

// WithCaller returns a context carrying c, for tests of handlers behind RequireToken.
func WithCaller(ctx context.Context, c *Caller) context.Context {
	return context.WithValue(ctx, callerKey{}, c)
}

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
		g, err := s.liveGrant(r.Context(), claims.Grant, false)
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
		caller.ClientName = s.clientName(r.Context(), claims.ClientID)
		s.recordUse(g)
		next.ServeHTTP(cw, r.WithContext(WithCaller(r.Context(), caller)))
	})
}

func (s *Server) clientName(ctx context.Context, id string) string {
	var c v1alpha1.MCPClient
	if err := s.c.Get(ctx, client.ObjectKey{Name: id}, &c); err != nil {
		return id
	}
	return c.Spec.ClientName
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
	if code == "" {
		code = "unauthorized"
	}
	writeJSON(w.ResponseWriter, http.StatusUnauthorized, map[string]string{"error": code, "error_description": desc})
}

// challengeWriter carries the metadata URL to WriteInsufficientScope, which
// handlers call with only the ResponseWriter in hand.
type challengeWriter struct {
	http.ResponseWriter
	metadataURL string
}

// Unwrap lets http.ResponseController reach the original writer (Flush for streaming).
func (c *challengeWriter) Unwrap() http.ResponseWriter { return c.ResponseWriter }

// Flush keeps streaming responses working for handlers that type-assert http.Flusher.
func (c *challengeWriter) Flush() {
	if f, ok := c.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// WriteInsufficientScope answers 403 naming the scopes the call needs, so the
// client can ask the user for them (RFC 6750 §3.1).
func WriteInsufficientScope(w http.ResponseWriter, needed ...v1alpha1.Scope) {
	meta := ""
	for ww := w; ww != nil; {
		if cw, ok := ww.(*challengeWriter); ok {
			meta = cw.metadataURL
			break
		}
		u, ok := ww.(interface{ Unwrap() http.ResponseWriter })
		if !ok {
			break
		}
		ww = u.Unwrap()
	}
	desc := "This call needs the scope " + scopeString(needed) + "; connect again and approve it (a workspace role may cap it)."
	v := fmt.Sprintf(`Bearer error="insufficient_scope", scope=%q, error_description=%q`, scopeString(needed), desc)
	if meta != "" {
		v += fmt.Sprintf(`, resource_metadata=%q`, meta)
	}
	w.Header().Set("WWW-Authenticate", v)
	writeJSON(w, http.StatusForbidden, map[string]string{"error": "insufficient_scope", "error_description": desc})
}

// tokenCache remembers verified tokens so each request costs a map lookup
// and a grant read from the informer cache, not a signature check.
type tokenCache struct {
	mu sync.RWMutex
	m  map[[32]byte]cachedToken
}

type cachedToken struct {
	claims  *tokenClaims
	expires time.Time
}

const maxCachedTokens = 10000

func newTokenCache() *tokenCache { return &tokenCache{m: map[[32]byte]cachedToken{}} }

func (t *tokenCache) get(k [32]byte, now time.Time) (*tokenClaims, bool) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	c, ok := t.m[k]
	if !ok || !now.Before(c.expires) {
		return nil, false
	}
	return c.claims, true
}

func (t *tokenCache) put(k [32]byte, c *tokenClaims, exp time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.m) >= maxCachedTokens { // crude bound; entries are cheap to recompute
		clear(t.m)
	}
	t.m[k] = cachedToken{claims: c, expires: exp}
}

func (t *tokenCache) sweep(now time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for k, c := range t.m {
		if !now.Before(c.expires) {
			delete(t.m, k)
		}
	}
}

// useRecorder writes a grant's status.lastUsedAt at most once a minute.
type useRecorder struct {
	mu   sync.Mutex
	last map[string]time.Time
}

func newUseRecorder() *useRecorder { return &useRecorder{last: map[string]time.Time{}} }

func (s *Server) recordUse(g *v1alpha1.MCPGrant) {
	now := s.clock.Now()
	s.lastUse.mu.Lock()
	due := now.Sub(s.lastUse.last[g.Name]) >= time.Minute
	if due {
		s.lastUse.last[g.Name] = now
	}
	s.lastUse.mu.Unlock()
	if !due || (g.Status.LastUsedAt != nil && now.Sub(g.Status.LastUsedAt.Time) < time.Minute) {
		return
	}
	patched := g.DeepCopy()
	t := metav1.NewTime(now)
	patched.Status.LastUsedAt = &t
	go func() { // off the request path: a slow API server must not slow tool calls
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := s.c.Status().Patch(ctx, patched, client.MergeFrom(g)); client.IgnoreNotFound(err) != nil {
			log.Error(err, "recording grant use failed", "grant", g.Name)
		}
	}()
}
