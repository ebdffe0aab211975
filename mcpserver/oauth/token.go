package oauth

import (
	"fmt"
	"net/http"
	"time"

	"github.com/ory/fosite"
	"github.com/ory/fosite/handler/oauth2"

	"github.com/herald-dev/herald/internal/metrics"
)

// handleToken serves the authorization_code and refresh_token grants.
func (s *Server) handleToken(rw http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	w := &statusRecorder{ResponseWriter: rw}
	defer w.countRefusal()
	// Each request may cost API-server reads and writes: bound them per
	// client address. A client refreshes a few times an hour.
	if ok, wait := s.tokenRequests.take(s.clientAddr(r), maxTokenRequestsPerAddr); !ok {
		w.Header().Set("Retry-After", fmt.Sprint(int(wait.Seconds())+1))
		writeOAuthError(w, http.StatusTooManyRequests, "temporarily_unavailable", fmt.Sprintf(
			"this address sent %d token requests within a minute, the limit; try again in %s", maxTokenRequestsPerAddr, wait.Round(time.Second)))
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBody)
	if err := r.ParseForm(); err != nil {
		writeOAuthError(w, http.StatusBadRequest, "invalid_request", "the body must be application/x-www-form-urlencoded and under 64 KiB")
		return
	}
	if r.URL.Query().Has("code") || r.URL.Query().Has("refresh_token") {
		writeOAuthError(w, http.StatusBadRequest, "invalid_request", "send code and refresh_token in the POST body, never in the URL")
		return
	}
	for _, res := range r.PostForm["resource"] {
		if !s.isOurResource(res) {
			writeOAuthError(w, http.StatusBadRequest, "invalid_target", "resource must be "+s.mcpURL()+", the MCP URL this server issues tokens for")
			return
		}
	}
	ar, err := s.provider.NewAccessRequest(ctx, r, &oauth2.JWTSession{})
	if err != nil {
		s.provider.WriteAccessError(ctx, w, ar, err)
		return
	}
	sess, ok := ar.GetSession().(*oauth2.JWTSession)
	if !ok || sess.JWTClaims == nil {
		s.provider.WriteAccessError(ctx, w, ar, fosite.ErrServerError.WithHint("The stored session is unusable; connect again."))
		return
	}
	// A refreshed token is a new token: fosite would keep the first token's iat.
	sess.JWTClaims.IssuedAt = time.Time{}
	if grant := grantOf(ar); grant == "" {
		s.provider.WriteAccessError(ctx, w, ar, fosite.ErrInvalidGrant.WithHint("The token was issued without a grant; connect again."))
		return
	} else if _, err := s.liveGrant(ctx, grant, true); err != nil {
		s.provider.WriteAccessError(ctx, w, ar, fosite.ErrInvalidGrant.WithHint("This connection was revoked or removed; connect again to approve it anew."))
		return
	}
	resp, err := s.provider.NewAccessResponse(ctx, ar)
	if err != nil {
		s.provider.WriteAccessError(ctx, w, ar, err)
		return
	}
	logFor(r.Context()).Info("token issued", "client", ar.GetClient().GetID(), "grant", grantOf(ar), "grantType", ar.GetGrantTypes())
	for _, gt := range ar.GetGrantTypes() {
		metrics.OAuthTokensIssued.WithLabelValues(gt).Inc()
	}
	s.provider.WriteAccessResponse(ctx, w, ar, resp)
}

// handleRevoke implements RFC 7009. Revoking a refresh token revokes its
// whole grant; access tokens are short-lived JWTs and are not individually
// revocable (revoke the refresh token or delete the MCPGrant instead).
func (s *Server) handleRevoke(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBody)
	err := s.provider.NewRevocationRequest(ctx, r)
	s.provider.WriteRevocationResponse(ctx, w, err)
}

// statusRecorder remembers the status a token request was answered with,
// so every refusal is counted, whichever path wrote it.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (w *statusRecorder) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusRecorder) countRefusal() {
	switch {
	case w.status == http.StatusTooManyRequests:
		metrics.OAuthRefused.WithLabelValues("rate_limited").Inc()
	case w.status >= 400:
		metrics.OAuthRefused.WithLabelValues("token_request").Inc()
	}
}
