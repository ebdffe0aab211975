// Package mastodontest is a fake Mastodon instance for tests of the adapter,
// the reconcilers, the soak and the benchmarks: one fake, following the
// REST API Herald uses.
package mastodontest

import (
	"fmt"
	"net/http"
	"sync"
	"testing"

	"github.com/herald-dev/herald/internal/publish/platformtest"
)

// Fake follows the Mastodon REST API: Bearer tokens, v2 media uploads that
// may be processed asynchronously (202, then 206 until ready), statuses
// that honour Idempotency-Key by returning the status created first for as
// long as the instance remembers the key, and deletion answering 404 for a
// status it does not hold. Statuses are numbered from 1000, media from 1.
// Its OAuth side (oauth.go) registers apps and issues Token.
type Fake struct {
	*platformtest.Server
	// Token is the access token the fake accepts.
	Token string

	mu         sync.Mutex
	statuses   map[string]map[string]any // held, by id
	order      []string                  // ids held, oldest first
	keys       map[string]string         // Idempotency-Key → status id
	created    int                       // statuses ever created
	media      int                       // attachments ever uploaded
	processing map[string]int            // media id → polls left before ready
	apps       int                       // OAuth apps ever registered
	codes      int                       // authorization codes ever issued
	registered map[string]*app           // OAuth apps, by client_id
	grants     map[string]grant          // authorization codes not yet used
}

// New starts a fake instance that accepts token; it closes when the test ends.
func New(t testing.TB, token string) *Fake {
	f := &Fake{Server: platformtest.NewServer(t), Token: token, statuses: map[string]map[string]any{},
		keys: map[string]string{}, processing: map[string]int{}, registered: map[string]*app{}, grants: map[string]grant{}}
	f.handleOAuth()
	f.Handle("GET /api/v1/accounts/verify_credentials", f.authed(func(w http.ResponseWriter, r *http.Request) {
		platformtest.WriteJSON(w, 200, map[string]any{"id": "109", "username": "herald", "acct": "herald", "url": f.URL + "/@herald"})
	}))
	f.Handle("GET /api/v2/instance", func(w http.ResponseWriter, r *http.Request) {
		platformtest.WriteJSON(w, 200, map[string]any{"domain": "fake.example",
			"configuration": map[string]any{"statuses": map[string]any{"max_characters": 1000}}})
	})
	f.Handle("GET /files/{name}", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "bytes of %s", r.PathValue("name"))
	})
	f.Handle("POST /api/v2/media", f.authed(f.upload))
	f.Handle("GET /api/v1/media/{id}", f.authed(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		defer f.mu.Unlock()
		id := r.PathValue("id")
		if f.processing[id] > 0 {
			f.processing[id]--
			platformtest.WriteJSON(w, 206, map[string]any{"id": id, "url": nil})
			return
		}
		platformtest.WriteJSON(w, 200, map[string]any{"id": id, "url": f.URL + "/media/" + id})
	}))
	f.Handle("POST /api/v1/statuses", f.authed(f.postStatus))
	f.Handle("DELETE /api/v1/statuses/{id}", f.authed(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		defer f.mu.Unlock()
		id := r.PathValue("id")
		st, ok := f.statuses[id]
		if !ok {
			platformtest.WriteJSON(w, 404, map[string]any{"error": "Record not found"})
			return
		}
		delete(f.statuses, id)
		for i, held := range f.order {
			if held == id {
				f.order = append(f.order[:i], f.order[i+1:]...)
				break
			}
		}
		// Mastodon answers with the deleted status and its source text,
		// for delete-and-redraft.
		platformtest.WriteJSON(w, 200, map[string]any{"id": st["id"], "text": st["content"]})
	}))
	return f
}

func (f *Fake) upload(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseMultipartForm(1 << 20); err != nil || r.MultipartForm.File["file"] == nil {
		platformtest.WriteJSON(w, 422, map[string]any{"error": "Validation failed: File can't be blank"})
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.media++
	id := fmt.Sprint(f.media)
	if r.MultipartForm.File["file"][0].Header.Get("Content-Type") == "video/mp4" {
		f.processing[id] = 1
		platformtest.WriteJSON(w, 202, map[string]any{"id": id, "type": "video", "url": nil})
		return
	}
	platformtest.WriteJSON(w, 200, map[string]any{"id": id, "type": "image", "url": f.URL + "/media/" + id})
}

func (f *Fake) postStatus(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	key := r.Header.Get("Idempotency-Key")
	if st, ok := f.statuses[f.keys[key]]; ok && key != "" {
		platformtest.WriteJSON(w, 200, st)
		return
	}
	_ = r.ParseForm()
	for _, id := range r.PostForm["media_ids[]"] {
		if f.processing[id] > 0 {
			platformtest.WriteJSON(w, 422, map[string]any{"error": "Cannot attach files that have not finished processing. Try again in a moment!"})
			return
		}
	}
	id := fmt.Sprint(1000 + f.created)
	f.created++
	st := map[string]any{"id": id, "url": f.URL + "/@herald/" + id, "created_at": "2026-07-01T09:00:00.000Z", "content": r.PostForm.Get("status")}
	f.statuses[id], f.order = st, append(f.order, id)
	if key != "" {
		f.keys[key] = id
	}
	platformtest.WriteJSON(w, 200, st)
}

func (f *Fake) authed(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+f.Token {
			platformtest.WriteJSON(w, 401, map[string]any{"error": "The access token is invalid"})
			return
		}
		h(w, r)
	}
}

// Statuses returns the text of every status the instance holds, oldest first.
func (f *Fake) Statuses() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := []string{}
	for _, id := range f.order {
		out = append(out, fmt.Sprint(f.statuses[id]["content"]))
	}
	return out
}

// Holds reports whether the instance still has the status.
func (f *Fake) Holds(id string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	_, ok := f.statuses[id]
	return ok
}

// StatusPosts returns the POST /api/v1/statuses requests received.
func (f *Fake) StatusPosts() []platformtest.Request { return f.Find("POST /api/v1/statuses") }

// Forget makes the instance forget every Idempotency-Key it holds, as
// Mastodon does an hour after a key was first used.
func (f *Fake) Forget() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.keys = map[string]string{}
}
