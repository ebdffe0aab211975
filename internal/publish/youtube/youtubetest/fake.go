// Package youtubetest is a fake of the YouTube Data API v3 for tests of
// the adapter and the reconcilers: the channel, resumable upload sessions
// that keep what arrived and answer 308 Resume Incomplete with its Range,
// videos, and deletes; plus a media host serving test videos.
package youtubetest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"sync"
	"testing"

	"github.com/herald-dev/herald/internal/publish/platformtest"
)

// The token and channel the fake knows.
const (
	Token     = "ya29.fake-youtube-token-d41c"
	ChannelID = "UCheraldcoffee000000001"
	Handle    = "@heraldcoffee"
)

// Video is an uploaded video.
type Video struct {
	ID, Title, Description, Privacy string
	Notify                          bool
	Bytes                           []byte
	Deleted                         bool
}

type upload struct {
	meta     Video
	total    int64
	received []byte
	video    string
}

// Fake follows the API: errors are {"error": {"code", "message",
// "errors": [{"reason"}]}}, a 401 for a bad token; an upload session
// lives at the Location the session's POST answers.
type Fake struct {
	*platformtest.Server
	// StopAfter, when set, makes the next upload keep only its first
	// StopAfter bytes and answer 503, as a connection cut mid-upload
	// leaves a session.
	StopAfter int

	mu      sync.Mutex
	uploads map[string]*upload
	videos  []*Video
	next    int
}

// New starts a fake; it closes when the test ends.
func New(t testing.TB) *Fake {
	f := &Fake{Server: platformtest.NewServer(t), uploads: map[string]*upload{}}
	authed := func(h http.HandlerFunc) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			if r.Header.Get("Authorization") != "Bearer "+Token {
				googleError(w, 401, "authError", "Request had invalid authentication credentials.")
				return
			}
			h(w, r)
		}
	}
	f.Handle("GET /youtube/v3/channels", authed(func(w http.ResponseWriter, r *http.Request) {
		platformtest.WriteJSON(w, 200, map[string]any{"items": []any{map[string]any{"id": ChannelID, "snippet": map[string]any{"title": "Herald Coffee", "customUrl": Handle}}}})
	}))
	f.Handle("POST /upload/youtube/v3/videos", authed(f.startUpload))
	f.Handle("PUT /upload/youtube/v3/videos", authed(f.put))
	f.Handle("DELETE /youtube/v3/videos", authed(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		defer f.mu.Unlock()
		for _, v := range f.videos {
			if v.ID == r.URL.Query().Get("id") && !v.Deleted {
				v.Deleted = true
				w.WriteHeader(http.StatusNoContent)
				return
			}
		}
		googleError(w, 404, "videoNotFound", "The video that you are trying to delete cannot be found.")
	}))
	f.Handle("GET /files/{name}", func(w http.ResponseWriter, r *http.Request) {
		data := VideoBytes(r.PathValue("name"))
		w.Header().Set("Content-Type", "video/mp4")
		w.Header().Set("Content-Length", strconv.Itoa(len(data)))
		_, _ = w.Write(data)
	})
	return f
}

// VideoBytes is the content the media host serves for name: 64 KiB that
// differ by name.
func VideoBytes(name string) []byte {
	return bytes.Repeat([]byte(name+"|"), 64<<10/(len(name)+1)+1)[:64<<10]
}

func googleError(w http.ResponseWriter, status int, reason, msg string) {
	platformtest.WriteJSON(w, status, map[string]any{"error": map[string]any{"code": status, "message": msg, "errors": []any{map[string]any{"reason": reason, "message": msg}}}})
}

func (f *Fake) startUpload(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if q.Get("uploadType") != "resumable" || q.Get("part") != "snippet,status" {
		googleError(w, 400, "invalidParameter", "uploadType=resumable and part=snippet,status are required")
		return
	}
	var body struct {
		Snippet struct {
			Title       string `json:"title"`
			Description string `json:"description"`
		} `json:"snippet"`
		Status struct {
			Privacy string `json:"privacyStatus"`
		} `json:"status"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil || body.Snippet.Title == "" {
		googleError(w, 400, "invalidTitle", "The request metadata specifies an invalid or empty video title.")
		return
	}
	total, _ := strconv.ParseInt(r.Header.Get("X-Upload-Content-Length"), 10, 64)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.next++
	id := fmt.Sprintf("up%04d", f.next)
	f.uploads[id] = &upload{total: total, meta: Video{Title: body.Snippet.Title, Description: body.Snippet.Description, Privacy: body.Status.Privacy, Notify: q.Get("notifySubscribers") != "false"}}
	w.Header().Set("Location", f.URL+"/upload/youtube/v3/videos?uploadType=resumable&upload_id="+id)
	w.WriteHeader(200)
}

var contentRange = regexp.MustCompile(`^bytes (?:\*|([0-9]+)-([0-9]+))/([0-9]+|\*)$`)

func (f *Fake) put(w http.ResponseWriter, r *http.Request) {
	data, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	defer f.mu.Unlock()
	u := f.uploads[r.URL.Query().Get("upload_id")]
	if u == nil {
		googleError(w, 404, "notFound", "The upload session does not exist or has expired.")
		return
	}
	if u.video != "" {
		f.answerVideo(w, u.video, http.StatusOK)
		return
	}
	if cr := r.Header.Get("Content-Range"); cr != "" {
		m := contentRange.FindStringSubmatch(cr)
		if m == nil {
			googleError(w, 400, "badContentRange", "Content-Range is malformed")
			return
		}
		if m[1] == "" { // a status query
			f.incomplete(w, u)
			return
		}
		if start, _ := strconv.ParseInt(m[1], 10, 64); start != int64(len(u.received)) {
			googleError(w, 400, "badContentRange", "the upload does not continue where the session stands")
			return
		}
	} else if len(u.received) > 0 {
		u.received = nil // a whole upload again replaces what arrived
	}
	if f.StopAfter > 0 && len(data) > f.StopAfter {
		u.received = append(u.received, data[:f.StopAfter]...)
		f.StopAfter = 0
		googleError(w, 503, "backendError", "Backend Error")
		return
	}
	u.received = append(u.received, data...)
	if u.total > 0 && int64(len(u.received)) < u.total {
		f.incomplete(w, u)
		return
	}
	f.next++
	v := u.meta
	v.ID, v.Bytes = fmt.Sprintf("vid%08d", f.next), u.received
	f.videos = append(f.videos, &v)
	u.video = v.ID
	f.answerVideo(w, v.ID, http.StatusCreated)
}

func (f *Fake) incomplete(w http.ResponseWriter, u *upload) {
	if len(u.received) > 0 {
		w.Header().Set("Range", fmt.Sprintf("bytes=0-%d", len(u.received)-1))
	}
	w.WriteHeader(http.StatusPermanentRedirect)
}

func (f *Fake) answerVideo(w http.ResponseWriter, id string, status int) {
	platformtest.WriteJSON(w, status, map[string]any{"kind": "youtube#video", "id": id, "snippet": map[string]any{"publishedAt": "2026-07-01T09:00:00Z"}})
}

// Videos returns the videos online, in order.
func (f *Fake) Videos() []Video {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []Video
	for _, v := range f.videos {
		if !v.Deleted {
			out = append(out, *v)
		}
	}
	return out
}

// Sessions counts the upload sessions opened.
func (f *Fake) Sessions() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.uploads)
}
