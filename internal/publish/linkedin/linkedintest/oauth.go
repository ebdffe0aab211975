package linkedintest

import (
	"fmt"
	"net/http"
	"net/url"
	"sync"

	"github.com/herald-dev/herald/internal/publish/platformtest"
)

// The OAuth side of the fake, as LinkedIn documents its 3-legged flow: the
// authorization page, and POST /oauth/v2/accessToken with the app's
// client_id and client_secret in the form, for an authorization code or a
// refresh token (which LinkedIn does not rotate). It issues Token.

// ClientID and ClientSecret are the app the fake knows; RefreshToken is
// the refresh token it issues.
const (
	ClientID     = "linkedin-app-client"
	ClientSecret = "linkedin-app-secret"
	RefreshToken = "linkedin-refresh-token-xyz"
)

type oauthState struct {
	mu       sync.Mutex
	codes    map[string]string // code → redirect URI
	n        int
	revoked  bool
	renewals int
}

func (f *Fake) handleOAuth() {
	f.oauth = &oauthState{codes: map[string]string{}}
	f.Handle("GET /oauth/v2/authorization", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("client_id") != ClientID {
			http.Error(w, "The passed in client_id is invalid", http.StatusBadRequest)
			return
		}
		platformtest.AuthorizationPage(w, "Herald would like to access your LinkedIn account", "/oauth/v2/authorization", r.URL.Query(), "allow", "cancel")
	})
	f.Handle("POST /oauth/v2/authorization", func(w http.ResponseWriter, r *http.Request) {
		q, decision := platformtest.Decision(r)
		answer := url.Values{"error": {"user_cancelled_authorize"}, "error_description": {"The user cancelled the authorization"}}
		if decision == "allow" {
			o := f.oauth
			o.mu.Lock()
			o.n++
			code := fmt.Sprintf("li-code-%d", o.n)
			o.codes[code] = q.Get("redirect_uri")
			o.mu.Unlock()
			answer = url.Values{"code": {code}}
		}
		platformtest.RedirectBack(w, r, q.Get("redirect_uri"), q, answer)
	})
	f.Handle("POST /oauth/v2/accessToken", func(w http.ResponseWriter, r *http.Request) {
		o := f.oauth
		o.mu.Lock()
		defer o.mu.Unlock()
		if r.FormValue("client_id") != ClientID || r.FormValue("client_secret") != ClientSecret {
			platformtest.WriteJSON(w, 401, map[string]any{"error": "invalid_client", "error_description": "Client authentication failed"})
			return
		}
		switch r.FormValue("grant_type") {
		case "authorization_code":
			redirect, ok := o.codes[r.FormValue("code")]
			delete(o.codes, r.FormValue("code"))
			if !ok || redirect != r.FormValue("redirect_uri") {
				platformtest.WriteJSON(w, 400, map[string]any{"error": "invalid_request",
					"error_description": "Unable to retrieve access token: appid/redirect uri/code verifier does not match authorization code. Or authorization code expired."})
				return
			}
		case "refresh_token":
			if o.revoked || r.FormValue("refresh_token") != RefreshToken {
				platformtest.WriteJSON(w, 400, map[string]any{"error": "invalid_request", "error_description": "The provided refresh token is invalid"})
				return
			}
			o.renewals++
		default:
			platformtest.WriteJSON(w, 400, map[string]any{"error": "unsupported_grant_type", "error_description": "grant_type is not supported"})
			return
		}
		platformtest.WriteJSON(w, 200, map[string]any{"access_token": Token, "expires_in": 5184000, "refresh_token": RefreshToken,
			"refresh_token_expires_in": 31536000, "scope": "openid,profile,w_member_social"})
	})
}

// RevokeRefresh makes the refresh token stop working.
func (f *Fake) RevokeRefresh() {
	f.oauth.mu.Lock()
	defer f.oauth.mu.Unlock()
	f.oauth.revoked = true
}

// Renewals is how many refreshes were granted.
func (f *Fake) Renewals() int {
	f.oauth.mu.Lock()
	defer f.oauth.mu.Unlock()
	return f.oauth.renewals
}
