package mastodon_test

import (
	"fmt"
	"net/http"
	"sync"
	"testing"

	"github.com/herald-dev/herald/internal/publish/platformtest"
)

// fakeMastodon follows the Mastodon REST API: Bearer tokens, v2 media
// uploads that may be processed asynchronously (202, then 206 until ready),
// statuses that honour Idempotency-Key by returning the status created
// first, and deletion answering 404 for a status it does not hold.
type fakeMastodon struct {
	*platformtest.Server
	token string

	mu         sync.Mutex
	statuses   map[string]map[string]any // by id
	keys       map[string]string         // Idempotency-Key → status id
	nextID     int
	processing map[string]int // media id → polls left before ready
}

func newFakeMastodon(t *testing.T, token string) *fakeMastodon {
	f := &fakeMastodon{Server: platformtest.NewServer(t), token: token, statuses: map[string]map[string]any{}, keys: map[string]string{}, processing: map[string]int{}}
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
	f.Handle("POST /api/v2/media", f.authed(func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseMultipartForm(1 << 20); err != nil || r.MultipartForm.File["file"] == nil {
			platformtest.WriteJSON(w, 422, map[string]any{"error": "Validation failed: File can't be blank"})
			return
		}
		f.mu.Lock()
		defer f.mu.Unlock()
		f.nextID++
		id := fmt.Sprint(f.nextID)
		if r.MultipartForm.File["file"][0].Header.Get("Content-Type") == "video/mp4" {
			f.processing[id] = 1
			platformtest.WriteJSON(w, 202, map[string]any{"id": id, "type": "video", "url": nil})
			return
		}
		platformtest.WriteJSON(w, 200, map[string]any{"id": id, "type": "image", "url": f.URL + "/media/" + id})
	}))
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
	f.Handle("POST /api/v1/statuses", f.authed(func(w http.ResponseWriter, r *http.Request) {
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
		f.nextID++
		id := fmt.Sprint(1000 + f.nextID)
		st := map[string]any{"id": id, "url": f.URL + "/@herald/" + id, "created_at": "2026-07-01T09:00:00.000Z", "content": r.PostForm.Get("status")}
		f.statuses[id], f.keys[key] = st, id
		platformtest.WriteJSON(w, 200, st)
	}))
	f.Handle("DELETE /api/v1/statuses/{id}", f.authed(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		defer f.mu.Unlock()
		st, ok := f.statuses[r.PathValue("id")]
		if !ok {
			platformtest.WriteJSON(w, 404, map[string]any{"error": "Record not found"})
			return
		}
		delete(f.statuses, r.PathValue("id"))
		// Mastodon answers with the deleted status and its source text,
		// for delete-and-redraft.
		platformtest.WriteJSON(w, 200, map[string]any{"id": st["id"], "text": st["content"]})
	}))
	return f
}

// holds reports whether the instance still has the status.
func (f *fakeMastodon) holds(id string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	_, ok := f.statuses[id]
	return ok
}

func (f *fakeMastodon) authed(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+f.token {
			platformtest.WriteJSON(w, 401, map[string]any{"error": "The access token is invalid"})
			return
		}
		h(w, r)
	}
}
