// Package youtube uploads videos with the YouTube Data API v3: a resumable
// upload session (POST /upload/youtube/v3/videos?uploadType=resumable, the
// title, description and privacy in its body), then the video's bytes,
// streamed from its URL to the session URI. YouTube makes a Short of a
// square or vertical video of up to three minutes by itself. Delete takes
// a video down with DELETE /youtube/v3/videos?id=.
//
// At most once: the session URI is recorded in the delivery before any
// byte is sent. A later try of the attempt asks the session how much it
// has: a finished session names its video, an unfinished one takes the
// rest of the bytes, and only a session YouTube has forgotten starts over.
// One session holds at most one video.
package youtube

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/herald-dev/herald/internal/publish"
	"github.com/herald-dev/herald/internal/publish/rules"
)

// Info declares YouTube.
var Info = publish.Info{
	Checkpoints: true,
	Platform:    "youtube",
	Rules: rules.Rules{Name: "YouTube", Limit: 5000, MaxHashtags: 60, MaxBytes: 5000, Media: rules.MediaLimits{
		Max: 1, Videos: 1, VideoAlone: true, VideoBytes: 256 * rules.GB, Required: []string{rules.MediaVideo}}},
	CredentialKeys: []string{"accessToken"},
	OptionalKeys:   []string{"privacyStatus", "notifySubscribers"},
	Resend: publish.Resend{
		By: "the upload session recorded before the first byte, which holds at most one video",
	},
	Deletes: true,
}

// Info declares the platform.
func (p *Publisher) Info() publish.Info { return Info }

// UseAPI sends every call to baseURL instead of the platform's host.
func (p *Publisher) UseAPI(baseURL string) { p.BaseURL = baseURL }

// DefaultBaseURL is YouTube's API host.
const DefaultBaseURL = "https://www.googleapis.com"

// TitleLimit is the most characters a video's title holds.
const TitleLimit = 100

// Publisher uploads to YouTube.
type Publisher struct {
	// Client sends every request, the video's download included; nil
	// means http.DefaultClient.
	Client *http.Client
	// BaseURL replaces DefaultBaseURL (tests point it at a fake).
	BaseURL string
	// Now is the clock for PublishedAt when YouTube reports none; nil
	// means time.Now.
	Now func() time.Time
}

var _ publish.Deleter = (*Publisher)(nil)

// New returns a YouTube publisher using client.
func New(client *http.Client) *Publisher { return &Publisher{Client: client} }

type session struct {
	api    publish.API
	base   string
	header http.Header
	creds  publish.Credentials
}

func (p *Publisher) session(prof publish.Profile) (*session, error) {
	header, err := prof.Credentials.Bearer()
	if err != nil {
		return nil, err
	}
	base := strings.TrimRight(p.BaseURL, "/")
	if base == "" {
		base = DefaultBaseURL
	}
	return &session{api: publish.API{Platform: Info.Platform, Client: p.Client, Secrets: prof.Credentials, Decode: decodeError},
		base: base, header: header, creds: prof.Credentials}, nil
}

// decodeError reads Google's error body: a quota or rate limit is worth
// waiting for, whatever the status says.
func decodeError(status int, body []byte) publish.Failure {
	var e struct {
		Error struct {
			Message string `json:"message"`
			Errors  []struct {
				Reason string `json:"reason"`
			} `json:"errors"`
		} `json:"error"`
	}
	if json.Unmarshal(body, &e) != nil || e.Error.Message == "" {
		return publish.Failure{}
	}
	f := publish.Failure{Message: e.Error.Message}
	if len(e.Error.Errors) == 0 {
		return f
	}
	reason := e.Error.Errors[0].Reason
	f.Message += " (" + reason + ")"
	switch reason {
	case "quotaExceeded", "dailyLimitExceeded", "uploadLimitExceeded":
		f.Kind, f.RetryAfter = publish.Retryable, time.Hour
	case "rateLimitExceeded", "userRateLimitExceeded":
		f.Kind, f.RetryAfter = publish.Retryable, time.Minute
	case "invalidTitle", "invalidDescription", "invalidCategoryId", "invalidPrivacyStatus", "mediaBodyRequired", "invalidFilename":
		f.Kind = publish.Permanent
	}
	return f
}

// Verify reads the channel the token belongs to.
func (p *Publisher) Verify(ctx context.Context, prof publish.Profile) (publish.Account, error) {
	s, err := p.session(prof)
	if err != nil {
		return publish.Account{}, err
	}
	if _, err := options(prof.Credentials); err != nil {
		return publish.Account{}, err
	}
	var out struct {
		Items []struct {
			ID      string `json:"id"`
			Snippet struct {
				Title     string `json:"title"`
				CustomURL string `json:"customUrl"`
			} `json:"snippet"`
		} `json:"items"`
	}
	if _, err := s.api.Do(ctx, publish.Request{Op: "GET /youtube/v3/channels", Method: http.MethodGet,
		URL: s.base + "/youtube/v3/channels?part=snippet&mine=true", Header: s.header, Out: &out}); err != nil {
		return publish.Account{}, err
	}
	if len(out.Items) == 0 {
		return publish.Account{}, publish.Errorf(publish.Permanent, "youtube: the account the token belongs to has no YouTube channel; create one, then connect it again")
	}
	ch := out.Items[0]
	handle := ch.Snippet.CustomURL
	if handle == "" {
		handle = ch.Snippet.Title
	}
	return publish.Account{ID: ch.ID, Handle: handle, URL: "https://www.youtube.com/channel/" + ch.ID, CharacterLimit: Info.Rules.Limit}, nil
}

// settings are the Secret's optional keys.
type settings struct {
	privacy string
	notify  bool
}

func options(c publish.Credentials) (settings, error) {
	s := settings{privacy: "public", notify: true}
	if v := strings.TrimSpace(string(c["privacyStatus"])); v != "" {
		if v != "public" && v != "unlisted" && v != "private" {
			return s, publish.Errorf(publish.Permanent, "youtube: privacyStatus %q in the profile's Secret is not public, unlisted or private", v)
		}
		s.privacy = v
	}
	if v := strings.TrimSpace(string(c["notifySubscribers"])); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return s, publish.Errorf(publish.Permanent, "youtube: notifySubscribers %q in the profile's Secret is not true or false", v)
		}
		s.notify = b
	}
	return s, nil
}

// Publish uploads the video through one session: the recorded one when an
// earlier try of the attempt made it.
func (p *Publisher) Publish(ctx context.Context, prof publish.Profile, post publish.Post) (publish.Result, error) {
	if err := Info.Refuse(post); err != nil {
		return publish.Result{}, err
	}
	s, err := p.session(prof)
	if err != nil {
		return publish.Result{}, err
	}
	opts, err := options(prof.Credentials)
	if err != nil {
		return publish.Result{}, err
	}
	file, err := s.api.FetchMedia(ctx, post.Media[0], Info.Rules.Media.VideoBytes)
	if err != nil {
		return publish.Result{}, err
	}
	defer file.Close()

	uri, offset := post.Progress, int64(0)
	if uri != "" {
		st, err := s.status(ctx, uri, file.Size)
		switch {
		case err != nil:
			return publish.Result{}, err
		case st.video != nil:
			return p.result(*st.video), nil
		case st.gone:
			uri = "" // YouTube forgot the session, and with it any bytes: no video came of it
		default:
			offset = st.received
		}
	}
	if uri == "" {
		if uri, err = s.start(ctx, post, opts, file); err != nil {
			return publish.Result{}, err
		}
		if err := post.Checkpoint(ctx, uri); err != nil {
			return publish.Result{}, err
		}
	}
	v, err := s.upload(ctx, uri, file, offset)
	if err != nil {
		return publish.Result{}, err
	}
	return p.result(v), nil
}

// video is the resource YouTube answers for an upload.
type video struct {
	ID      string `json:"id"`
	Snippet struct {
		PublishedAt string `json:"publishedAt"`
	} `json:"snippet"`
}

func (p *Publisher) result(v video) publish.Result {
	res := publish.Result{ExternalID: v.ID, URL: "https://www.youtube.com/watch?v=" + url.QueryEscape(v.ID)}
	if t, err := time.Parse(time.RFC3339, v.Snippet.PublishedAt); err == nil {
		res.PublishedAt = t.UTC()
	} else if p.Now != nil {
		res.PublishedAt = p.Now().UTC()
	} else {
		res.PublishedAt = time.Now().UTC()
	}
	return res
}

// start opens an upload session; a session holds nothing until bytes
// arrive, so opening one again is harmless.
func (s *session) start(ctx context.Context, post publish.Post, opts settings, file *publish.Download) (string, error) {
	q := url.Values{"uploadType": {"resumable"}, "part": {"snippet,status"}, "notifySubscribers": {strconv.FormatBool(opts.notify)}}
	header := s.header.Clone()
	header.Set("X-Upload-Content-Type", file.ContentType)
	if file.Size >= 0 {
		header.Set("X-Upload-Content-Length", strconv.FormatInt(file.Size, 10))
	}
	body := map[string]any{
		"snippet": map[string]any{"title": Title(post.Text), "description": post.Text, "categoryId": "22"},
		"status":  map[string]any{"privacyStatus": opts.privacy, "selfDeclaredMadeForKids": false},
	}
	res, err := s.api.Do(ctx, publish.Request{Op: "POST /upload/youtube/v3/videos", Method: http.MethodPost,
		URL: s.base + "/upload/youtube/v3/videos?" + q.Encode(), Header: header, JSON: body, Idempotent: true})
	if err != nil {
		return "", err
	}
	uri := res.Header.Get("Location")
	if uri == "" {
		return "", publish.Errorf(publish.Retryable, "youtube POST /upload/youtube/v3/videos: the answer named no upload session; nothing was uploaded")
	}
	if u, err := url.Parse(uri); err != nil || (u.Scheme != "https" && u.Scheme != "http") {
		return "", publish.Errorf(publish.Retryable, "youtube POST /upload/youtube/v3/videos: the upload session is not an http URL; nothing was uploaded")
	}
	return uri, nil
}

// sessionStatus is what a session says it holds.
type sessionStatus struct {
	video    *video
	received int64
	gone     bool
}

// rangeEnd reads the last byte of a 308's "Range: bytes=0-N".
var rangeEnd = regexp.MustCompile(`^bytes=0-([0-9]+)$`)

// status asks the session how much it holds (an empty PUT with
// Content-Range bytes */total).
func (s *session) status(ctx context.Context, uri string, total int64) (sessionStatus, error) {
	size := "*"
	if total >= 0 {
		size = strconv.FormatInt(total, 10)
	}
	header := http.Header{"Authorization": s.header["Authorization"], "Content-Range": {"bytes */" + size}}
	var v video
	res, err := s.api.Do(ctx, publish.Request{Op: "PUT upload session (status)", Method: http.MethodPut, URL: uri, Header: header,
		Body: []byte{}, Idempotent: true, Out: &v, ResumeIncomplete: true})
	switch {
	case publish.IsNotFound(err) || statusOf(err) == http.StatusGone:
		return sessionStatus{gone: true}, nil
	case err != nil:
		return sessionStatus{}, err
	case res.StatusCode == http.StatusPermanentRedirect:
		st := sessionStatus{}
		if m := rangeEnd.FindStringSubmatch(res.Header.Get("Range")); m != nil {
			n, _ := strconv.ParseInt(m[1], 10, 64)
			st.received = n + 1
		}
		return st, nil
	}
	if v.ID == "" {
		return sessionStatus{}, publish.Errorf(publish.Retryable, "youtube: the upload session says it is complete but names no video")
	}
	return sessionStatus{video: &v}, nil
}

func statusOf(err error) int {
	var pe *publish.Error
	if errors.As(err, &pe) {
		return pe.StatusCode
	}
	return 0
}

// upload sends the file's bytes from offset on. Sending them again to the
// same session cannot make a second video, so the call counts as
// idempotent: a lost answer is tried again, and that try asks the session.
func (s *session) upload(ctx context.Context, uri string, file *publish.Download, offset int64) (video, error) {
	header := http.Header{"Authorization": s.header["Authorization"]}
	body := &publish.Upload{File: file}
	if offset > 0 {
		if _, err := io.CopyN(io.Discard, file, offset); err != nil {
			return video{}, publish.Errorf(publish.Retryable, "youtube: the video is shorter than the %d bytes YouTube already has: %v", offset, err)
		}
		if file.Size >= 0 {
			header.Set("Content-Range", "bytes "+strconv.FormatInt(offset, 10)+"-"+strconv.FormatInt(file.Size-1, 10)+"/"+strconv.FormatInt(file.Size, 10))
			body.Length = file.Size - offset
		}
	}
	var v video
	res, err := s.api.Do(ctx, publish.Request{Op: "PUT upload session", Method: http.MethodPut, URL: uri, Header: header,
		Upload: body, Idempotent: true, Out: &v, ResumeIncomplete: true})
	switch {
	case err != nil:
		return video{}, err
	case res.StatusCode == http.StatusPermanentRedirect || v.ID == "":
		return video{}, publish.Errorf(publish.Retryable, "youtube: the upload stopped before the whole video arrived; the next try sends the rest to the same session")
	}
	return v, nil
}

// Title is a video's title for text: its first line, without < and >
// (which YouTube refuses), cut at a word to fit TitleLimit.
func Title(text string) string {
	if t := rules.Headline(strings.NewReplacer("<", "", ">", "").Replace(text), TitleLimit); t != "" {
		return t
	}
	return "Video"
}

// videoID matches YouTube's video ids.
var videoID = regexp.MustCompile(`^[A-Za-z0-9_-]{11}$`)

// Delete deletes the video; one already gone is deleted.
func (p *Publisher) Delete(ctx context.Context, prof publish.Profile, externalID string) error {
	if !videoID.MatchString(externalID) {
		return publish.Errorf(publish.Permanent, "youtube: cannot delete %q: a video is named by its 11-character id", externalID)
	}
	s, err := p.session(prof)
	if err != nil {
		return err
	}
	_, err = s.api.Do(ctx, publish.Request{Op: "DELETE /youtube/v3/videos", Method: http.MethodDelete,
		URL: s.base + "/youtube/v3/videos?id=" + externalID, Header: s.header, Idempotent: true})
	if publish.IsNotFound(err) {
		return nil
	}
	return err
}
