// Package xtest is a fake of X for tests of the adapter, the reconcilers
// and the connect flow, following X's documentation: its OAuth 2.0 server
// (the authorization page, POST /2/oauth2/token for authorization codes
// with PKCE and refresh tokens, which are single-use) here, and the API v2
// requests Herald sends with the tokens it issues in api.go.
package xtest

import (
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"sync"
	"testing"

	"github.com/herald-dev/herald/internal/publish/platformtest"
)

// Fake is X for one app: its OAuth server and its API.
type Fake struct {
	*platformtest.Server
	// ClientID and ClientSecret are the app's.
	ClientID, ClientSecret string
	// Lifetime is the access tokens' expires_in, in seconds.
	Lifetime int

	mu       sync.Mutex
	n        int
	access   map[string]bool   // working access tokens
	refresh  map[string]bool   // unused refresh tokens
	codes    map[string]string // code → PKCE challenge
	redirect string
	renewals int
	posts    map[string]string // text by id
	nextID   int64
}

const invalidToken = "Value passed for the token was invalid."

// New starts the fake; it closes when the test ends.
func New(t testing.TB, clientID, clientSecret string) *Fake {
	f := &Fake{Server: platformtest.NewServer(t), ClientID: clientID, ClientSecret: clientSecret, Lifetime: 7200,
		access: map[string]bool{}, refresh: map[string]bool{}, codes: map[string]string{},
		posts: map[string]string{}, nextID: 1445880548472328192}
	f.Handle("GET /i/oauth2/authorize", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		if q.Get("client_id") != f.ClientID || q.Get("code_challenge_method") != "S256" || q.Get("code_challenge") == "" {
			http.Error(w, "Something went wrong: the app's request is invalid.", http.StatusBadRequest)
			return
		}
		platformtest.AuthorizationPage(w, "Herald wants to access your X account", "/i/oauth2/authorize", q, "authorize", "cancel")
	})
	f.Handle("POST /i/oauth2/authorize", func(w http.ResponseWriter, r *http.Request) {
		q, decision := platformtest.Decision(r)
		answer := url.Values{"error": {"access_denied"}}
		if decision == "authorize" {
			f.mu.Lock()
			f.n++
			code := fmt.Sprintf("x-code-%d", f.n)
			f.codes[code], f.redirect = q.Get("code_challenge"), q.Get("redirect_uri")
			f.mu.Unlock()
			answer = url.Values{"code": {code}}
		}
		platformtest.RedirectBack(w, r, q.Get("redirect_uri"), q, answer)
	})
	f.Handle("POST /2/oauth2/token", f.token)
	f.handleAPI()
	return f
}

func (f *Fake) token(w http.ResponseWriter, r *http.Request) {
	id, secret, ok := r.BasicAuth()
	if !ok || id != f.ClientID || secret != f.ClientSecret {
		platformtest.WriteJSON(w, 401, map[string]any{"error": "unauthorized_client", "error_description": "Missing valid authorization header"})
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	switch r.FormValue("grant_type") {
	case "authorization_code":
		challenge, ok := f.codes[r.FormValue("code")]
		delete(f.codes, r.FormValue("code"))
		sum := sha256.Sum256([]byte(r.FormValue("code_verifier")))
		if !ok || r.FormValue("redirect_uri") != f.redirect || base64.RawURLEncoding.EncodeToString(sum[:]) != challenge {
			platformtest.WriteJSON(w, 400, map[string]any{"error": "invalid_request", "error_description": invalidToken})
			return
		}
	case "refresh_token":
		rt := r.FormValue("refresh_token")
		if !f.refresh[rt] {
			platformtest.WriteJSON(w, 400, map[string]any{"error": "invalid_request", "error_description": invalidToken})
			return
		}
		delete(f.refresh, rt) // single-use
		f.renewals++
	default:
		platformtest.WriteJSON(w, 400, map[string]any{"error": "unsupported_grant_type", "error_description": "grant_type is not supported"})
		return
	}
	access, refresh := f.issue()
	platformtest.WriteJSON(w, 200, map[string]any{"token_type": "bearer", "expires_in": f.Lifetime, "access_token": access,
		"refresh_token": refresh, "scope": "tweet.read tweet.write users.read media.write offline.access"})
}

func (f *Fake) issue() (string, string) {
	f.n++
	access, refresh := fmt.Sprintf("x-access-%d", f.n), fmt.Sprintf("x-refresh-%d", f.n)
	f.access[access], f.refresh[refresh] = true, true
	return access, refresh
}

// Issue makes a working pair of tokens, as if an account had connected.
func (f *Fake) Issue() (access, refresh string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.issue()
}

// Accept makes access a working access token, as if an account had
// connected and the test kept the token it was given.
func (f *Fake) Accept(access string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.access[access] = true
}

// Expire stops an access token working.
func (f *Fake) Expire(access string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.access, access)
}

// Revoke stops a refresh token working, as revoking the app's access does.
func (f *Fake) Revoke(refresh string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.refresh, refresh)
}

// Renewals is how many refresh tokens were exchanged.
func (f *Fake) Renewals() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.renewals
}
