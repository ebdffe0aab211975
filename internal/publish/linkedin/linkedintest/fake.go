// Package linkedintest is a fake LinkedIn for tests of the adapter, the
// reconcilers, the soak and the benchmarks: one fake, following the Posts,
// Images and userinfo APIs Herald uses.
package linkedintest

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/herald-dev/herald/internal/publish/platformtest"
)

// Token is the access token the fake accepts.
const Token = "linkedin-access-token-abc"

// Fake follows the Posts, Images and userinfo APIs: versioned
// /rest calls need LinkedIn-Version and X-Restli-Protocol-Version, a
// created post answers 201 with its URN in x-restli-id, a deletion names
// the post by its URL-encoded URN and answers 204, again for a post
// already deleted and 404 for one it never had, errors are
// {"status","serviceErrorCode","message"}.
type Fake struct {
	*platformtest.Server

	mu     sync.Mutex
	posts  map[string]bool // URN → still online
	nextID int
	oauth  *oauthState
}

// New starts a fake that accepts Token; it closes when the test ends.

func New(t testing.TB) *Fake {
	f := &Fake{Server: platformtest.NewServer(t), posts: map[string]bool{}, nextID: 7001}
	f.handleOAuth()
	authed := func(rest bool, h http.HandlerFunc) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			switch {
			case r.Header.Get("Authorization") != "Bearer "+Token:
				platformtest.WriteJSON(w, 401, map[string]any{"status": 401, "serviceErrorCode": 65600, "code": "INVALID_ACCESS_TOKEN", "message": "Invalid access token"})
			case rest && (r.Header.Get("LinkedIn-Version") == "" || r.Header.Get("X-Restli-Protocol-Version") != "2.0.0"):
				platformtest.WriteJSON(w, 426, map[string]any{"status": 426, "message": "A version must be present"})
			default:
				h(w, r)
			}
		}
	}
	f.Handle("GET /v2/userinfo", authed(false, func(w http.ResponseWriter, r *http.Request) {
		platformtest.WriteJSON(w, 200, map[string]any{"sub": "abc123", "name": "Ada Lovelace", "email_verified": true})
	}))
	f.Handle("POST /rest/images", authed(true, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("action") != "initializeUpload" {
			platformtest.WriteJSON(w, 400, map[string]any{"status": 400, "message": "unknown action"})
			return
		}
		n := len(f.Find("POST /rest/images"))
		platformtest.WriteJSON(w, 200, map[string]any{"value": map[string]any{
			"uploadUrl": fmt.Sprintf("%s/dms-uploads/%d", f.URL, n), "image": fmt.Sprintf("urn:li:image:IMG%d", n)}})
	}))
	f.Handle("PUT /dms-uploads/{n}", authed(false, func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(201) }))
	f.Handle("GET /files/{name}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "image/png")
		fmt.Fprintf(w, "png:%s", r.PathValue("name"))
	})
	f.Handle("POST /rest/posts", authed(true, func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		defer f.mu.Unlock()
		urn := fmt.Sprintf("urn:li:share:%d", f.nextID)
		f.posts[urn] = true
		f.nextID++
		w.Header().Set("X-RestLi-Id", urn)
		w.WriteHeader(http.StatusCreated)
	}))
	f.Handle("DELETE /rest/posts/{urn}", authed(true, func(w http.ResponseWriter, r *http.Request) {
		if strings.Contains(strings.TrimPrefix(r.URL.EscapedPath(), "/rest/posts/"), ":") {
			platformtest.WriteJSON(w, 400, map[string]any{"status": 400, "message": "Syntax exception in path variables"})
			return
		}
		f.mu.Lock()
		defer f.mu.Unlock()
		if _, ok := f.posts[r.PathValue("urn")]; !ok {
			platformtest.WriteJSON(w, 404, map[string]any{"status": 404, "code": "NOT_FOUND", "message": "Not Found"})
			return
		}
		f.posts[r.PathValue("urn")] = false
		w.WriteHeader(http.StatusNoContent)
	}))
	return f
}

// Online reports whether LinkedIn still shows the post.
func (f *Fake) Online(urn string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.posts[urn]
}

// Published counts the posts LinkedIn ever created.
func (f *Fake) Published() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.posts)
}
