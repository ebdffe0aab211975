package metatest

import (
	"fmt"
	"net/http"
	"net/url"

	"github.com/herald-dev/herald/internal/publish/platformtest"
)

// The OAuth side of the fake, as Meta documents it: Facebook Login's
// dialog (/{version}/dialog/oauth), the code exchanged at
// /{version}/oauth/access_token for a short-lived user token, traded for
// a long-lived one (grant_type=fb_exchange_token), and /me/accounts
// listing the person's Pages with their tokens and linked Instagram
// accounts; and Threads' own (threads.net/oauth/authorize,
// graph.threads.net/oauth/access_token, th_exchange_token at
// /access_token).

// The operator's apps the fake knows, and the short-lived tokens it
// issues before they are traded for UserToken and ThreadsToken.
const (
	AppID              = "meta-app-1234"
	AppSecret          = "meta-app-secret-5678"
	ThreadsAppID       = "threads-app-4321"
	ThreadsAppSecret   = "threads-app-secret-8765"
	ShortUserToken     = "meta-short-lived-user-token"
	ShortThreadsToken  = "threads-short-lived-token"
	SecondPageID       = "1002"
	SecondPageName     = "Herald Tea"
	secondPageToken    = "meta-page-token-tea-9f1c"
	longLivedLifetime  = 5184000
	shortLivedLifetime = 3600
)

func (f *Fake) handleOAuth() {
	codes := map[string]string{} // code → the token it is exchanged for
	authorize := func(app, page string, token string) (http.HandlerFunc, http.HandlerFunc) {
		show := func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Query().Get("client_id") != app {
				GraphError(w, 400, 101, 0, "Error validating application. Invalid application ID.")
				return
			}
			platformtest.AuthorizationPage(w, "Herald is requesting access to your account", r.URL.Path, r.URL.Query(), "allow", "cancel")
		}
		decide := func(w http.ResponseWriter, r *http.Request) {
			q, decision := platformtest.Decision(r)
			answer := url.Values{"error": {"access_denied"}, "error_reason": {"user_denied"}, "error_description": {"Permissions error"}}
			if decision == "allow" {
				f.mu.Lock()
				f.next++
				code := fmt.Sprintf("%s-code-%d", page, f.next)
				codes[code] = token
				f.mu.Unlock()
				answer = url.Values{"code": {code}}
			}
			platformtest.RedirectBack(w, r, q.Get("redirect_uri"), q, answer)
		}
		return show, decide
	}
	show, decide := authorize(AppID, "fb", ShortUserToken)
	f.Handle("GET /{v}/dialog/oauth", show)
	f.Handle("POST /{v}/dialog/oauth", decide)
	show, decide = authorize(ThreadsAppID, "th", ShortThreadsToken)
	f.Handle("GET /oauth/authorize", show)
	f.Handle("POST /oauth/authorize", decide)

	exchange := func(app, secret string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			if r.FormValue("client_id") != app || r.FormValue("client_secret") != secret {
				GraphError(w, 400, 1, 0, "Error validating client secret.")
				return
			}
			f.mu.Lock()
			token, ok := codes[r.FormValue("code")]
			delete(codes, r.FormValue("code"))
			f.mu.Unlock()
			if !ok {
				GraphError(w, 400, 100, 36009, "This authorization code has been used.")
				return
			}
			platformtest.WriteJSON(w, 200, map[string]any{"access_token": token, "token_type": "bearer", "expires_in": shortLivedLifetime})
		}
	}
	f.Handle("POST /{v}/oauth/access_token", exchange(AppID, AppSecret))
	f.Handle("POST /oauth/access_token", exchange(ThreadsAppID, ThreadsAppSecret))
	f.Handle("GET /{v}/oauth/access_token", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		if q.Get("grant_type") != "fb_exchange_token" || q.Get("client_id") != AppID || q.Get("client_secret") != AppSecret || q.Get("fb_exchange_token") != ShortUserToken {
			GraphError(w, 400, 190, 0, "Invalid OAuth access token.")
			return
		}
		platformtest.WriteJSON(w, 200, map[string]any{"access_token": UserToken, "token_type": "bearer", "expires_in": longLivedLifetime})
	})
	f.Handle("GET /access_token", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		if q.Get("grant_type") != "th_exchange_token" || q.Get("client_secret") != ThreadsAppSecret || q.Get("access_token") != ShortThreadsToken {
			GraphError(w, 400, 190, 0, "Invalid OAuth access token.")
			return
		}
		platformtest.WriteJSON(w, 200, map[string]any{"access_token": ThreadsToken, "token_type": "bearer", "expires_in": longLivedLifetime})
	})
	f.Handle("GET /{v}/me/accounts", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("access_token") != UserToken {
			GraphError(w, 400, 190, 0, "Invalid OAuth access token: only the long-lived user token lists Pages here.")
			return
		}
		platformtest.WriteJSON(w, 200, map[string]any{"data": []any{
			map[string]any{"id": PageID, "name": PageName, "access_token": PageToken,
				"instagram_business_account": map[string]any{"id": IGUserID, "username": Username}},
			map[string]any{"id": SecondPageID, "name": SecondPageName, "access_token": secondPageToken},
		}})
	})
}
