// Package tiktoktest is a fake of TikTok's Content Posting API (Direct
// Post) for tests of the adapter and the reconcilers: creator info, video
// init from a URL, and a publish that is processed over a few status
// fetches before it is complete.
package tiktoktest

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/herald-dev/herald/internal/publish/platformtest"
)

// The token and creator the fake knows, and the URL prefix verified for
// pulling videos.
const (
	Token          = "act.fake-tiktok-token-91b2"
	Username       = "heraldcoffee"
	VerifiedPrefix = "https://cdn.herald.example/"
)

// Publish is one init the fake accepted.
type Publish struct {
	ID, Title, Privacy, VideoURL string
	// Status is PROCESSING_DOWNLOAD, PUBLISH_COMPLETE or FAILED.
	Status string
	PostID string
	polls  int
}

// Fake follows the API: every answer is {"data", "error": {"code",
// "message", "log_id"}}, errors carry their HTTP status and code
// (access_token_invalid 401, rate_limit_exceeded 429,
// unaudited_client_can_only_post_to_private_accounts 403,
// url_ownership_unverified 403, invalid_params 400).
type Fake struct {
	*platformtest.Server
	// Audited is whether the app passed TikTok's audit; an unaudited app
	// may post only with SELF_ONLY.
	Audited bool
	// Polls is how many status fetches a publish stays processing.
	Polls int

	mu        sync.Mutex
	publishes []*Publish
	next      int
}

func answer(w http.ResponseWriter, status int, code, msg string, data any) {
	platformtest.WriteJSON(w, status, map[string]any{"data": data, "error": map[string]any{"code": code, "message": msg, "log_id": "202612010000"}})
}

// New starts a fake of an audited app; it closes when the test ends.
func New(t testing.TB) *Fake {
	f := &Fake{Server: platformtest.NewServer(t), Audited: true, Polls: 1, next: 7300000000000000000}
	authed := func(h http.HandlerFunc) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			if r.Header.Get("Authorization") != "Bearer "+Token {
				answer(w, 401, "access_token_invalid", "The access token is invalid or not found in the request.", map[string]any{})
				return
			}
			h(w, r)
		}
	}
	f.Handle("POST /v2/post/publish/creator_info/query/", authed(func(w http.ResponseWriter, r *http.Request) {
		answer(w, 200, "ok", "", map[string]any{"creator_username": Username, "creator_nickname": "Herald Coffee",
			"privacy_level_options": []string{"PUBLIC_TO_EVERYONE", "MUTUAL_FOLLOW_FRIENDS", "SELF_ONLY"}, "max_video_post_duration_sec": 600})
	}))
	f.Handle("POST /v2/post/publish/video/init/", authed(func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			PostInfo struct {
				Title   string `json:"title"`
				Privacy string `json:"privacy_level"`
			} `json:"post_info"`
			Source struct {
				Source   string `json:"source"`
				VideoURL string `json:"video_url"`
			} `json:"source_info"`
		}
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil || body.Source.Source != "PULL_FROM_URL" || body.PostInfo.Privacy == "" {
			answer(w, 400, "invalid_params", "source_info.source and post_info.privacy_level are required", map[string]any{})
			return
		}
		switch {
		case !strings.HasPrefix(body.Source.VideoURL, VerifiedPrefix):
			answer(w, 403, "url_ownership_unverified", "Please review our URL ownership verification rules.", map[string]any{})
			return
		case !f.Audited && body.PostInfo.Privacy != "SELF_ONLY":
			answer(w, 403, "unaudited_client_can_only_post_to_private_accounts", "Unaudited clients can only post to private accounts.", map[string]any{})
			return
		}
		f.mu.Lock()
		defer f.mu.Unlock()
		f.next++
		p := &Publish{ID: "v_pub_url~v2." + strconv.Itoa(f.next), Title: body.PostInfo.Title, Privacy: body.PostInfo.Privacy, VideoURL: body.Source.VideoURL, Status: "PROCESSING_DOWNLOAD"}
		if strings.Contains(p.VideoURL, "broken") {
			p.Status = "FAILED"
		}
		f.publishes = append(f.publishes, p)
		answer(w, 200, "ok", "", map[string]any{"publish_id": p.ID})
	}))
	f.Handle("POST /v2/post/publish/status/fetch/", authed(func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			PublishID string `json:"publish_id"`
		}
		_ = json.NewDecoder(r.Body).Decode(&body)
		f.mu.Lock()
		defer f.mu.Unlock()
		for _, p := range f.publishes {
			if p.ID != body.PublishID {
				continue
			}
			out := map[string]any{"status": p.Status}
			switch p.Status {
			case "FAILED":
				out["fail_reason"] = "file_format_check_failed"
			case "PROCESSING_DOWNLOAD":
				if p.polls++; p.polls > f.Polls {
					f.next++
					p.Status, p.PostID = "PUBLISH_COMPLETE", strconv.Itoa(f.next)
				}
			}
			if p.Status == "PUBLISH_COMPLETE" {
				out["status"], out["publicaly_available_post_id"] = p.Status, []string{p.PostID}
			}
			answer(w, 200, "ok", "", out)
			return
		}
		answer(w, 400, "invalid_params", "publish_id not found", map[string]any{})
	}))
	return f
}

// Publishes returns every init the fake accepted, in order.
func (f *Fake) Publishes() []Publish {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]Publish, 0, len(f.publishes))
	for _, p := range f.publishes {
		out = append(out, *p)
	}
	return out
}
