// Package tiktoktest is a fake of TikTok's Content Posting API (Direct
// Post) for tests of the adapter and the reconcilers: creator info, video
// init from a URL, and a publish that is processed over a few status
// fetches before it is complete.
package tiktoktest

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"regexp"
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
	// Uploaded holds what a FILE_UPLOAD received; Size is what init
	// announced for it.
	Uploaded []byte
	Size     int64
	// Status is PROCESSING_UPLOAD, PROCESSING_DOWNLOAD, PUBLISH_COMPLETE
	// or FAILED.
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
				Source     string `json:"source"`
				VideoURL   string `json:"video_url"`
				VideoSize  int64  `json:"video_size"`
				ChunkSize  int64  `json:"chunk_size"`
				ChunkCount int64  `json:"total_chunk_count"`
			} `json:"source_info"`
		}
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil || body.PostInfo.Privacy == "" ||
			(body.Source.Source != "PULL_FROM_URL" && body.Source.Source != "FILE_UPLOAD") {
			answer(w, 400, "invalid_params", "source_info.source and post_info.privacy_level are required", map[string]any{})
			return
		}
		if body.Source.Source == "FILE_UPLOAD" {
			f.initUpload(w, body.PostInfo.Title, body.PostInfo.Privacy, body.Source.VideoSize, body.Source.ChunkSize, body.Source.ChunkCount)
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
	f.Handle("PUT /upload/", f.putChunk)
	f.Handle("GET /files/{name}", func(w http.ResponseWriter, r *http.Request) {
		data := VideoBytes(r.PathValue("name"))
		w.Header().Set("Content-Type", "video/mp4")
		w.Header().Set("Content-Length", strconv.Itoa(len(data)))
		_, _ = w.Write(data)
	})
	return f
}

// VideoBytes is the video the fake's media host serves as name: 96 KiB
// that differ by name.
func VideoBytes(name string) []byte {
	return bytes.Repeat([]byte(name+"#"), 96<<10/(len(name)+1)+1)[:96<<10]
}

func (f *Fake) initUpload(w http.ResponseWriter, title, privacy string, size, chunk, count int64) {
	if size <= 0 || chunk <= 0 || count <= 0 || size/chunk != count || size-(count-1)*chunk > 128*1000*1000 {
		answer(w, 400, "invalid_params", "video_size, chunk_size and total_chunk_count do not agree", map[string]any{})
		return
	}
	if !f.Audited && privacy != "SELF_ONLY" {
		answer(w, 403, "unaudited_client_can_only_post_to_private_accounts", "Unaudited clients can only post to private accounts.", map[string]any{})
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.next++
	p := &Publish{ID: "v_inbox_file~v2." + strconv.Itoa(f.next), Title: title, Privacy: privacy, Size: size, Status: "PROCESSING_UPLOAD"}
	f.publishes = append(f.publishes, p)
	answer(w, 200, "ok", "", map[string]any{"publish_id": p.ID, "upload_url": f.URL + "/upload/?upload_id=" + p.ID})
}

var contentRange = regexp.MustCompile(`^bytes ([0-9]+)-([0-9]+)/([0-9]+)$`)

// putChunk takes one chunk of a FILE_UPLOAD: 206 until the last, 201 then.
func (f *Fake) putChunk(w http.ResponseWriter, r *http.Request) {
	data, _ := io.ReadAll(r.Body)
	m := contentRange.FindStringSubmatch(r.Header.Get("Content-Range"))
	f.mu.Lock()
	defer f.mu.Unlock()
	var p *Publish
	for _, c := range f.publishes {
		if c.ID == r.URL.Query().Get("upload_id") {
			p = c
		}
	}
	switch {
	case p == nil:
		w.WriteHeader(http.StatusNotFound)
		return
	case m == nil:
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	first, _ := strconv.ParseInt(m[1], 10, 64)
	last, _ := strconv.ParseInt(m[2], 10, 64)
	if first != int64(len(p.Uploaded)) && first != 0 || last-first+1 != int64(len(data)) {
		w.WriteHeader(http.StatusRequestedRangeNotSatisfiable)
		return
	}
	p.Uploaded = append(p.Uploaded[:first], data...)
	if int64(len(p.Uploaded)) < p.Size {
		w.WriteHeader(http.StatusPartialContent)
		return
	}
	p.Status = "PROCESSING_DOWNLOAD" // processed like a pulled video from here on
	w.WriteHeader(http.StatusCreated)
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
