package mastodontest

import (
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/herald-dev/herald/internal/publish/platformtest"
)

// The OAuth side of the fake, as Mastodon documents it: apps registered
// with POST /api/v1/apps, an authorization page the person answers (a form
// with Authorize and Deny, as a browser sees it), and POST /oauth/token
// for the authorization code with PKCE. The token it issues is f.Token.

type app struct {
	clientID, secret, redirect string
	scopes                     []string
}

type grant struct {
	clientID, redirect, challenge string
}

var knownScopes = []string{"read", "write", "follow", "push", "profile", "read:accounts", "write:statuses", "write:media"}

const (
	errInvalidClient = "Client authentication failed due to unknown client, no client authentication included, or unsupported authentication method."
	errInvalidGrant  = "The provided authorization grant is invalid, expired, revoked, does not match the redirection URI used in the authorization request, or was issued to another client."
)

func (f *Fake) handleOAuth() {
	f.Handle("POST /api/v1/apps", func(w http.ResponseWriter, r *http.Request) {
		name, redirect, scopes := r.FormValue("client_name"), r.FormValue("redirect_uris"), strings.Fields(r.FormValue("scopes"))
		switch {
		case name == "":
			platformtest.WriteJSON(w, 422, map[string]any{"error": "Validation failed: Application name can't be blank"})
			return
		case !absolute(redirect):
			platformtest.WriteJSON(w, 422, map[string]any{"error": "Validation failed: Redirect URI must be an absolute URI."})
			return
		}
		for _, s := range scopes {
			if !slices.Contains(knownScopes, s) {
				platformtest.WriteJSON(w, 422, map[string]any{"error": "Validation failed: Scopes are invalid"})
				return
			}
		}
		f.mu.Lock()
		f.apps++
		a := &app{clientID: fmt.Sprintf("client-%d", f.apps), secret: fmt.Sprintf("secret-%d", f.apps), redirect: redirect, scopes: scopes}
		f.registered[a.clientID] = a
		f.mu.Unlock()
		platformtest.WriteJSON(w, 200, map[string]any{"id": fmt.Sprint(f.apps), "name": name, "website": r.FormValue("website"),
			"redirect_uri": redirect, "client_id": a.clientID, "client_secret": a.secret, "vapid_key": "BCk-QqERU0q-CfYZjcuB6lnyyOYfJ2AifKqfeGIm7Z-HiTU5T9eTG5GxVA0_OH5mMlI4UkkDTpaZwozy0TzdZ2M="})
	})
	f.Handle("GET /oauth/authorize", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		a, problem := f.checkAuthorize(q)
		if problem != "" {
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprintf(w, "<!doctype html><title>Error</title><h1>An error has occurred</h1><p id=error>%s</p>", template.HTMLEscapeString(problem))
			return
		}
		platformtest.AuthorizationPage(w, "Authorization required: "+a.clientID+" would like permission to access your account", "/oauth/authorize", q, "authorize", "deny")
	})
	f.Handle("POST /oauth/authorize", func(w http.ResponseWriter, r *http.Request) {
		q, decision := platformtest.Decision(r)
		a, problem := f.checkAuthorize(q)
		if problem != "" {
			http.Error(w, problem, http.StatusBadRequest)
			return
		}
		answer := url.Values{"error": {"access_denied"}, "error_description": {"The resource owner or authorization server denied the request."}}
		if decision == "authorize" {
			f.mu.Lock()
			f.codes++
			code := fmt.Sprintf("code-%d", f.codes)
			f.grants[code] = grant{clientID: a.clientID, redirect: a.redirect, challenge: q.Get("code_challenge")}
			f.mu.Unlock()
			answer = url.Values{"code": {code}}
		}
		platformtest.RedirectBack(w, r, a.redirect, q, answer)
	})
	f.Handle("POST /oauth/token", func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		defer f.mu.Unlock()
		a := f.registered[r.FormValue("client_id")]
		if a == nil || a.secret != r.FormValue("client_secret") {
			platformtest.WriteJSON(w, 401, map[string]any{"error": "invalid_client", "error_description": errInvalidClient})
			return
		}
		if r.FormValue("grant_type") != "authorization_code" {
			platformtest.WriteJSON(w, 400, map[string]any{"error": "unsupported_grant_type", "error_description": "The authorization grant type is not supported by the authorization server."})
			return
		}
		code := r.FormValue("code")
		g, ok := f.grants[code]
		delete(f.grants, code) // a code is good once
		sum := sha256.Sum256([]byte(r.FormValue("code_verifier")))
		if !ok || g.clientID != a.clientID || g.redirect != r.FormValue("redirect_uri") ||
			(g.challenge != "" && base64.RawURLEncoding.EncodeToString(sum[:]) != g.challenge) {
			platformtest.WriteJSON(w, 400, map[string]any{"error": "invalid_grant", "error_description": errInvalidGrant})
			return
		}
		platformtest.WriteJSON(w, 200, map[string]any{"access_token": f.Token, "token_type": "Bearer", "scope": strings.Join(a.scopes, " "), "created_at": 1733000000})
	})
}

// checkAuthorize applies Mastodon's rules to an authorization request.
func (f *Fake) checkAuthorize(q url.Values) (*app, string) {
	f.mu.Lock()
	a := f.registered[q.Get("client_id")]
	f.mu.Unlock()
	switch {
	case a == nil:
		return nil, "Client authentication failed due to unknown client."
	case q.Get("redirect_uri") != a.redirect:
		return nil, "The redirect uri included is not valid."
	case q.Get("response_type") != "code":
		return nil, "The authorization server does not support this response type."
	case q.Get("code_challenge") != "" && q.Get("code_challenge_method") != "S256":
		return nil, "The code challenge method must be S256."
	}
	for _, s := range strings.Fields(q.Get("scope")) {
		if !slices.Contains(a.scopes, s) {
			return nil, "The requested scope is invalid, unknown, or malformed."
		}
	}
	return a, ""
}

// Apps is how many apps were registered.
func (f *Fake) Apps() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.apps
}

func absolute(raw string) bool {
	u, err := url.Parse(raw)
	return err == nil && u.IsAbs() && u.Host != ""
}
