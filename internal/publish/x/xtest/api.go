package xtest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/herald-dev/herald/internal/publish/platformtest"
)

// handleAPI serves X API v2 as Herald uses it: Bearer user tokens,
// problem-details errors ({"title","detail","type","status"}), GET
// /2/users/me, POST /2/tweets answering 201 {"data":{"id","text"}}, DELETE
// /2/tweets/:id answering {"data":{"deleted":true}} or 404 for a post it
// does not hold, POST /2/media/upload taking multipart "media" and POST
// /2/media/metadata. GET /img/{name} stands in for the image host a post
// links to. Posts are numbered from 1445880548472328192.
func (f *Fake) handleAPI() {
	f.Handle("GET /2/users/me", f.authed(func(w http.ResponseWriter, r *http.Request) {
		platformtest.WriteJSON(w, 200, map[string]any{"data": map[string]any{"id": "2244994945", "name": "Herald", "username": "herald"}})
	}))
	f.Handle("POST /2/media/upload", f.authed(func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseMultipartForm(1 << 20); err != nil || r.MultipartForm.File["media"] == nil {
			platformtest.WriteJSON(w, 400, map[string]any{"title": "Invalid Request", "detail": "media is required", "status": 400})
			return
		}
		platformtest.WriteJSON(w, 200, map[string]any{"data": map[string]any{"id": "1880028106020515840", "media_key": "3_1880028106020515840"}})
	}))
	f.Handle("POST /2/media/metadata", f.authed(func(w http.ResponseWriter, r *http.Request) {
		platformtest.WriteJSON(w, 200, map[string]any{"data": map[string]any{"associated_metadata": true}})
	}))
	f.Handle("GET /img/{name}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "image/png")
		fmt.Fprint(w, "png")
	})
	f.Handle("POST /2/tweets", f.authed(func(w http.ResponseWriter, r *http.Request) {
		var body struct{ Text string }
		_ = json.NewDecoder(r.Body).Decode(&body)
		f.mu.Lock()
		defer f.mu.Unlock()
		id := strconv.FormatInt(f.nextID, 10)
		f.posts[id] = body.Text
		f.nextID++
		platformtest.WriteJSON(w, 201, map[string]any{"data": map[string]any{"id": id, "text": body.Text}})
	}))
	f.Handle("DELETE /2/tweets/{id}", f.authed(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		defer f.mu.Unlock()
		id := r.PathValue("id")
		if _, ok := f.posts[id]; !ok {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(404)
			fmt.Fprint(w, Problem(404, "Could not find tweet with id: ["+id+"]."))
			return
		}
		delete(f.posts, id)
		platformtest.WriteJSON(w, 200, map[string]any{"data": map[string]any{"deleted": true}})
	}))
}

// authed answers 401 as X does unless the request carries a working
// access token.
func (f *Fake) authed(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		access, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		f.mu.Lock()
		ok = ok && f.access[access]
		f.mu.Unlock()
		if !ok {
			platformtest.WriteJSON(w, 401, map[string]any{"title": "Unauthorized", "type": "about:blank", "status": 401, "detail": "Unauthorized"})
			return
		}
		h(w, r)
	}
}

// Problem is X's problem-details error answer carrying message.
func Problem(status int, message string) string {
	return fmt.Sprintf(`{"title":"Error","type":"about:blank","status":%d,"detail":%q}`, status, message)
}

// Holds reports whether X still has the post.
func (f *Fake) Holds(id string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	_, ok := f.posts[id]
	return ok
}
