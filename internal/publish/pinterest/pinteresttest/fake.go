// Package pinteresttest is a fake Pinterest API v5 for tests of the
// adapter and the reconcilers: the user account, one board, and Pins
// created, listed newest first with their private notes, and deleted; and a
// media host serving the images Pins are made from (/files/).
package pinteresttest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/herald-dev/herald/internal/publish/platformtest"
)

// The token, account and board the fake knows.
const (
	Token     = "pina_fake-token-5e1f"
	Username  = "heraldcoffee"
	BoardID   = "549755885175"
	BoardName = "Autumn roasts"
)

// Pin is a Pin as the fake holds it.
type Pin struct {
	ID, BoardID, Title, Description, Link, Note, AltText, ImageURL string
	CreatedAt                                                      time.Time
	Deleted                                                        bool
}

// Fake follows the API: Bearer tokens, errors as {"code", "message"} (401
// code 2 for a bad token, 404 code 3 for an unknown board), 201 with the
// Pin for a create, 204 for a delete.
type Fake struct {
	*platformtest.Server

	mu   sync.Mutex
	pins []*Pin
	next int
}

// New starts a fake; it closes when the test ends.
func New(t testing.TB) *Fake {
	f := &Fake{Server: platformtest.NewServer(t), next: 1125899906842600}
	authed := func(h http.HandlerFunc) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			if r.Header.Get("Authorization") != "Bearer "+Token {
				platformtest.WriteJSON(w, 401, map[string]any{"code": 2, "message": "Authentication failed."})
				return
			}
			h(w, r)
		}
	}
	board := func(w http.ResponseWriter, id string) bool {
		if id != BoardID {
			platformtest.WriteJSON(w, 404, map[string]any{"code": 3, "message": "Board not found."})
			return false
		}
		return true
	}
	f.Handle("GET /files/{name}", platformtest.ServeMedia)
	f.Handle("GET /v5/user_account", authed(func(w http.ResponseWriter, r *http.Request) {
		platformtest.WriteJSON(w, 200, map[string]any{"username": Username, "account_type": "BUSINESS"})
	}))
	f.Handle("GET /v5/boards/{id}", authed(func(w http.ResponseWriter, r *http.Request) {
		if board(w, r.PathValue("id")) {
			platformtest.WriteJSON(w, 200, map[string]any{"id": BoardID, "name": BoardName, "owner": map[string]any{"username": Username}})
		}
	}))
	f.Handle("GET /v5/boards/{id}/pins", authed(func(w http.ResponseWriter, r *http.Request) {
		if !board(w, r.PathValue("id")) {
			return
		}
		size, _ := strconv.Atoi(r.URL.Query().Get("page_size"))
		if size <= 0 || size > 250 {
			size = 25
		}
		f.mu.Lock()
		defer f.mu.Unlock()
		items := []any{}
		for _, p := range slices.Backward(f.pins) {
			if !p.Deleted && len(items) < size {
				items = append(items, f.view(p))
			}
		}
		platformtest.WriteJSON(w, 200, map[string]any{"items": items, "bookmark": nil})
	}))
	f.Handle("POST /v5/pins", authed(func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			BoardID     string `json:"board_id"`
			Title       string `json:"title"`
			Description string `json:"description"`
			Link        string `json:"link"`
			Note        string `json:"note"`
			AltText     string `json:"alt_text"`
			Media       struct {
				SourceType string `json:"source_type"`
				URL        string `json:"url"`
			} `json:"media_source"`
		}
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			platformtest.WriteJSON(w, 400, map[string]any{"code": 1, "message": "Invalid request body: " + err.Error()})
			return
		}
		if !board(w, body.BoardID) {
			return
		}
		switch {
		case body.Media.SourceType != "image_url" || body.Media.URL == "":
			platformtest.WriteJSON(w, 400, map[string]any{"code": 1, "message": "Invalid parameters: media_source is required"})
			return
		case len([]rune(body.Title)) > 100, len([]rune(body.Description)) > 800:
			platformtest.WriteJSON(w, 400, map[string]any{"code": 1, "message": "Invalid parameters: title or description too long"})
			return
		}
		f.mu.Lock()
		defer f.mu.Unlock()
		f.next++
		p := &Pin{ID: strconv.Itoa(f.next), BoardID: body.BoardID, Title: body.Title, Description: body.Description, Link: body.Link,
			Note: body.Note, AltText: body.AltText, ImageURL: body.Media.URL, CreatedAt: time.Now().UTC().Truncate(time.Second)}
		f.pins = append(f.pins, p)
		platformtest.WriteJSON(w, 201, f.view(p))
	}))
	f.Handle("DELETE /v5/pins/{id}", authed(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		defer f.mu.Unlock()
		for _, p := range f.pins {
			if p.ID == r.PathValue("id") && !p.Deleted {
				p.Deleted = true
				w.WriteHeader(http.StatusNoContent)
				return
			}
		}
		platformtest.WriteJSON(w, 404, map[string]any{"code": 50, "message": fmt.Sprintf("Pin not found: %s", r.PathValue("id"))})
	}))
	return f
}

func (f *Fake) view(p *Pin) map[string]any {
	return map[string]any{"id": p.ID, "board_id": p.BoardID, "title": p.Title, "description": p.Description, "link": p.Link,
		"note": p.Note, "alt_text": p.AltText, "created_at": p.CreatedAt.Format("2006-01-02T15:04:05")}
}

// Pins returns the Pins online, oldest first.
func (f *Fake) Pins() []Pin {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []Pin
	for _, p := range f.pins {
		if !p.Deleted {
			out = append(out, *p)
		}
	}
	return out
}
