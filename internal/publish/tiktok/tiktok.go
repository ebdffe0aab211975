// Package tiktok publishes videos with TikTok's Content Posting API
// (Direct Post): POST /v2/post/publish/creator_info/query/ for what the
// creator may post, POST /v2/post/publish/video/init/ with the video's URL
// (PULL_FROM_URL: TikTok fetches it, from a domain verified for the app)
// or, for a video elsewhere, its size (FILE_UPLOAD: Herald streams it to
// the upload URL init answers, in chunks), then POST
// /v2/post/publish/status/fetch/ until TikTok has published it.
//
// At most once: Herald records that it is about to call init before it
// does, and the publish_id init answers (with the upload URL) as soon as
// it has it. A later try of the attempt follows that publish_id, sends an
// unfinished upload again to the same URL, and never calls init again;
// one whose init may have been sent without its publish_id being recorded
// is Unknown. An app TikTok has not audited may post only privately
// (privacyLevel SELF_ONLY), which the profile's Ready condition says.
package tiktok

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/herald-dev/herald/internal/publish"
	"github.com/herald-dev/herald/internal/publish/rules"
)

// Info declares TikTok.
var Info = publish.Info{
	Checkpoints: true,
	Platform:    "tiktok",
	Rules: rules.Rules{Name: "TikTok", Limit: 2200, Counter: rules.UTF16Length, Media: rules.MediaLimits{
		Max: 1, Videos: 1, VideoAlone: true, Required: []string{rules.MediaVideo},
		// The video restrictions of the Content Posting API.
		VideoBytes: 4 * rules.GB, VideoFormats: []string{"mp4", "webm", "mov"}}},
	CredentialKeys: []string{"accessToken"},
	OptionalKeys:   []string{"privacyLevel"},
	MediaByURL:     true,
	Resend: publish.Resend{
		By: "the publish_id recorded after init, whose status says whether it was published (init is never called twice)",
	},
}

// Info declares the platform.
func (p *Publisher) Info() publish.Info { return Info }

// UseAPI sends every call to baseURL instead of the platform's host.
func (p *Publisher) UseAPI(baseURL string) { p.BaseURL = baseURL }

// DefaultBaseURL is TikTok's API host.
const DefaultBaseURL = "https://open.tiktokapis.com"

// DefaultPrivacy is the privacy level of a post when the Secret names none.
const DefaultPrivacy = "PUBLIC_TO_EVERYONE"

// privateOnly is the level an app TikTok has not audited must use.
const privateOnly = "SELF_ONLY"

// The progress Herald records: init is about to be sent, or its answer
// (publish_id:<id>, and for a file upload " upload_url:<url>").
const (
	progressInit    = "init"
	progressPublish = "publish_id:"
	progressUpload  = " upload_url:"
)

// chunkSize is the chunk of a file upload: TikTok takes chunks of 5 to
// 64 MB, a file of up to one chunk whole, and the last chunk up to 128 MB.
const chunkSize = 64 * rules.MB

// Publisher posts to TikTok.
type Publisher struct {
	// Client sends every request; nil means http.DefaultClient.
	Client *http.Client
	// BaseURL replaces DefaultBaseURL (tests point it at a fake).
	BaseURL string
	// Poll is the wait between status fetches; 0 means 5 s.
	Poll time.Duration
	// Now is the clock for PublishedAt; nil means time.Now.
	Now func() time.Time
}

// New returns a TikTok publisher using client.
func New(client *http.Client) *Publisher { return &Publisher{Client: client} }

type session struct {
	api     publish.API
	base    string
	header  http.Header
	privacy string
}

func (p *Publisher) session(prof publish.Profile) (*session, error) {
	header, err := prof.Credentials.Bearer()
	if err != nil {
		return nil, err
	}
	privacy := strings.TrimSpace(string(prof.Credentials["privacyLevel"]))
	if privacy == "" {
		privacy = DefaultPrivacy
	}
	base := strings.TrimRight(p.BaseURL, "/")
	if base == "" {
		base = DefaultBaseURL
	}
	return &session{api: publish.API{Platform: Info.Platform, Client: p.Client, Secrets: prof.Credentials, Decode: decodeError},
		base: base, header: header, privacy: privacy}, nil
}

// envelope is every answer's shape.
type envelope struct {
	Data  json.RawMessage `json:"data"`
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
		LogID   string `json:"log_id"`
	} `json:"error"`
}

// call posts body to path and decodes the answer's data into out;
// idempotent marks a call that cannot act twice.
func (s *session) call(ctx context.Context, path string, body any, idempotent bool, out any) error {
	var env envelope
	if _, err := s.api.Do(ctx, publish.Request{Op: "POST " + path, Method: http.MethodPost, URL: s.base + path, Header: s.header,
		JSON: body, Idempotent: idempotent, Out: &env}); err != nil {
		return err
	}
	if env.Error.Code != "" && env.Error.Code != "ok" {
		f := decodeCode(env.Error.Code, env.Error.Message)
		return publish.Errorf(f.Kind, "tiktok POST %s: %s", path, f.Message)
	}
	if out != nil && len(env.Data) > 0 {
		if err := json.Unmarshal(env.Data, out); err != nil {
			return publish.Errorf(publish.Unknown, "tiktok POST %s: the answer is not the expected JSON: %v", path, err)
		}
	}
	return nil
}

// decodeError reads TikTok's error from a failed answer.
func decodeError(status int, body []byte) publish.Failure {
	var env envelope
	if json.Unmarshal(body, &env) != nil || env.Error.Code == "" {
		return publish.Failure{}
	}
	return decodeCode(env.Error.Code, env.Error.Message)
}

// decodeCode says what one of TikTok's error codes means.
func decodeCode(code, msg string) publish.Failure {
	f := publish.Failure{Message: code}
	if msg != "" {
		f.Message += ": " + msg
	}
	switch code {
	case "access_token_invalid", "scope_not_authorized", "scope_permission_missed":
		f.Kind = publish.CredentialsRejected
	case "rate_limit_exceeded":
		f.Kind, f.RetryAfter = publish.Retryable, time.Minute
	case "spam_risk_too_many_posts", "spam_risk_too_many_pending_share":
		f.Kind, f.RetryAfter = publish.Retryable, time.Hour
	case "unaudited_client_can_only_post_to_private_accounts":
		f.Kind = publish.Permanent
		f.Message += ". This TikTok app has not passed TikTok's audit, so it may post only privately: set privacyLevel SELF_ONLY in the profile's Secret, or have the app audited"
	case "url_ownership_unverified":
		f.Kind = publish.Permanent
		f.Message += ". TikTok pulls videos only from a domain or URL prefix verified for the app: host the video there"
	case "invalid_params", "privacy_level_option_mismatch", "spam_risk_user_banned_from_posting", "reached_active_user_cap":
		f.Kind = publish.Permanent
	}
	return f
}

// creator is what creator_info says the account may post.
type creator struct {
	Username       string   `json:"creator_username"`
	PrivacyOptions []string `json:"privacy_level_options"`
}

func (s *session) creator(ctx context.Context) (creator, error) {
	var c creator
	err := s.call(ctx, "/v2/post/publish/creator_info/query/", map[string]any{}, true, &c)
	if err == nil && !slices.Contains(c.PrivacyOptions, s.privacy) {
		err = publish.Errorf(publish.Permanent, "tiktok: privacyLevel %s is not one this account may use; it may use %s: set privacyLevel in the profile's Secret",
			s.privacy, strings.Join(c.PrivacyOptions, ", "))
	}
	return c, err
}

// Verify reads the creator and checks the Secret's privacy level is one
// the account may use.
func (p *Publisher) Verify(ctx context.Context, prof publish.Profile) (publish.Account, error) {
	s, err := p.session(prof)
	if err != nil {
		return publish.Account{}, err
	}
	c, err := s.creator(ctx)
	if err != nil {
		return publish.Account{}, err
	}
	acct := publish.Account{ID: c.Username, Handle: "@" + c.Username, URL: "https://www.tiktok.com/@" + c.Username, CharacterLimit: Info.Rules.Limit}
	if s.privacy == privateOnly {
		acct.Note = "posts are visible only to the account (privacyLevel SELF_ONLY), as TikTok requires of apps it has not audited"
	}
	return acct, nil
}

// Publish sends the video once and follows it until TikTok has published
// it.
func (p *Publisher) Publish(ctx context.Context, prof publish.Profile, post publish.Post) (publish.Result, error) {
	if err := Info.Screen(ctx, p.Client, post); err != nil {
		return publish.Result{}, err
	}
	s, err := p.session(prof)
	if err != nil {
		return publish.Result{}, err
	}
	rest, ok := strings.CutPrefix(post.Progress, progressPublish)
	id, upload, _ := strings.Cut(rest, progressUpload)
	switch {
	case ok && upload != "":
		if err := p.resumeUpload(ctx, s, post, id, upload); err != nil {
			return publish.Result{}, err
		}
	case ok:
	case post.Progress == progressInit:
		return publish.Result{}, publish.Errorf(publish.Permanent,
			"tiktok: an earlier try of this attempt may have sent init without its publish_id being recorded; TikTok has no way to check, and Herald never calls init twice for one attempt")
	default:
		if id, err = p.init(ctx, s, post); err != nil {
			return publish.Result{}, err
		}
	}
	return p.follow(ctx, s, id)
}

// initAnswer is what init answers.
type initAnswer struct {
	PublishID string `json:"publish_id"`
	UploadURL string `json:"upload_url"`
}

// init checks the creator, records that init is being sent, sends it and
// records the publish_id. A video on a host TikTok will not pull from
// (url_ownership_unverified: nothing was made) is uploaded instead.
func (p *Publisher) init(ctx context.Context, s *session, post publish.Post) (string, error) {
	if _, err := s.creator(ctx); err != nil {
		return "", err
	}
	if err := post.Checkpoint(ctx, progressInit); err != nil {
		return "", err
	}
	info := map[string]any{"title": post.Text, "privacy_level": s.privacy}
	var out initAnswer
	err := s.call(ctx, "/v2/post/publish/video/init/", map[string]any{
		"post_info":   info,
		"source_info": map[string]any{"source": "PULL_FROM_URL", "video_url": post.Media[0].URL},
	}, false, &out)
	if err != nil && strings.Contains(err.Error(), "url_ownership_unverified") {
		return p.initUpload(ctx, s, post, info)
	}
	if err != nil {
		return "", err
	}
	if out.PublishID == "" {
		return "", publish.Errorf(publish.Unknown, "tiktok POST /v2/post/publish/video/init/: the answer named no publish_id")
	}
	// Recording the id can fail once TikTok has it: the next try then
	// finds init sent and no id, and ends Unknown, never a second post.
	if err := post.Checkpoint(ctx, progressPublish+out.PublishID); err != nil {
		return "", publish.Errorf(publish.Unknown, "tiktok: TikTok accepted the video (publish_id %s) but recording it failed: %v", out.PublishID, err)
	}
	return out.PublishID, nil
}

// chunks says how a file of size bytes is cut: the chunk size and count.
func chunks(size int64) (int64, int64) {
	if size <= chunkSize {
		return size, 1
	}
	return chunkSize, size / chunkSize // the last chunk takes the rest
}

// initUpload starts a FILE_UPLOAD of the video and streams it up.
func (p *Publisher) initUpload(ctx context.Context, s *session, post publish.Post, info map[string]any) (string, error) {
	file, err := s.api.FetchMedia(ctx, post.Media[0], Info.Rules.Media.VideoBytes)
	if err != nil {
		return "", err
	}
	defer file.Close()
	if file.Size < 0 {
		return "", publish.Errorf(publish.Permanent, "tiktok: TikTok does not pull videos from this host, and Herald cannot upload it without its size: serve the video with a Content-Length, or from a domain verified for the TikTok app")
	}
	size, count := chunks(file.Size)
	var out initAnswer
	if err := s.call(ctx, "/v2/post/publish/video/init/", map[string]any{
		"post_info":   info,
		"source_info": map[string]any{"source": "FILE_UPLOAD", "video_size": file.Size, "chunk_size": size, "total_chunk_count": count},
	}, false, &out); err != nil {
		return "", err
	}
	if out.PublishID == "" || out.UploadURL == "" {
		return "", publish.Errorf(publish.Unknown, "tiktok POST /v2/post/publish/video/init/: the answer named no publish_id or upload_url")
	}
	if err := post.Checkpoint(ctx, progressPublish+out.PublishID+progressUpload+out.UploadURL); err != nil {
		return "", publish.Errorf(publish.Unknown, "tiktok: TikTok accepted the upload (publish_id %s) but recording it failed: %v", out.PublishID, err)
	}
	return out.PublishID, s.upload(ctx, out.UploadURL, file)
}

// resumeUpload sends the video again to the upload URL of an earlier try
// whose upload may not have finished: the same publish_id, so one post.
func (p *Publisher) resumeUpload(ctx context.Context, s *session, post publish.Post, id, upload string) error {
	status, err := s.status(ctx, id)
	if err != nil || status != "PROCESSING_UPLOAD" {
		return err
	}
	file, err := s.api.FetchMedia(ctx, post.Media[0], Info.Rules.Media.VideoBytes)
	if err != nil {
		return err
	}
	defer file.Close()
	if file.Size < 0 {
		return publish.Errorf(publish.Permanent, "tiktok: the video's host no longer says its size, which the upload needs")
	}
	return s.upload(ctx, upload, file)
}

// upload streams file to TikTok's upload URL in the chunks init announced.
// Sending a chunk again to the same URL cannot make a second post, so
// each PUT counts as idempotent.
func (s *session) upload(ctx context.Context, uploadURL string, file *publish.Download) error {
	total := file.Size
	size, count := chunks(total)
	for i := int64(0); i < count; i++ {
		first, last := i*size, (i+1)*size-1
		if i == count-1 {
			last = total - 1
		}
		header := http.Header{"Content-Range": {fmt.Sprintf("bytes %d-%d/%d", first, last, total)}}
		if _, err := s.api.Do(ctx, publish.Request{Op: "PUT video chunk", Method: http.MethodPut, URL: uploadURL, Header: header,
			Upload: &publish.Upload{File: file, Length: last - first + 1}, Idempotent: true}); err != nil {
			return err
		}
	}
	return nil
}

// status reads a publish's status.
func (s *session) status(ctx context.Context, id string) (string, error) {
	var st struct {
		Status string `json:"status"`
	}
	err := s.call(ctx, "/v2/post/publish/status/fetch/", map[string]string{"publish_id": id}, true, &st)
	return st.Status, err
}

// follow fetches the publish's status until it is complete or failed,
// while the call has time left.
func (p *Publisher) follow(ctx context.Context, s *session, id string) (publish.Result, error) {
	poll := p.Poll
	if poll <= 0 {
		poll = 5 * time.Second
	}
	for {
		var st struct {
			Status     string   `json:"status"`
			FailReason string   `json:"fail_reason"`
			PostIDs    []string `json:"publicaly_available_post_id"`
		}
		if err := s.call(ctx, "/v2/post/publish/status/fetch/", map[string]string{"publish_id": id}, true, &st); err != nil {
			return publish.Result{}, err
		}
		switch st.Status {
		case "PUBLISH_COMPLETE":
			res := publish.Result{ExternalID: id, PublishedAt: p.now()}
			if len(st.PostIDs) > 0 {
				res.ExternalID = st.PostIDs[0]
			}
			return res, nil
		case "FAILED":
			return publish.Result{}, publish.Errorf(publish.Permanent, "tiktok: TikTok could not publish the video (publish_id %s): %s", id, st.FailReason)
		}
		if err := publish.PollAgain(ctx, poll, fmt.Sprintf("tiktok: TikTok is still processing the video (publish_id %s, %s); the next try follows it", id, st.Status)); err != nil {
			return publish.Result{}, err
		}
	}
}

func (p *Publisher) now() time.Time {
	if p.Now != nil {
		return p.Now().UTC()
	}
	return time.Now().UTC()
}
