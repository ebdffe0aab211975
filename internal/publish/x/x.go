// Package x publishes posts to X with API v2: POST /2/tweets with an OAuth
// 2.0 user access token (Bearer), images first through POST
// /2/media/upload (alt text through POST /2/media/metadata). Delete takes a
// post down again with DELETE /2/tweets/:id.
package x

import (
	"context"
	"encoding/json"
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/herald-dev/herald/internal/publish"
	"github.com/herald-dev/herald/internal/publish/rules"
)

// Info declares X.
var Info = publish.Info{
	Platform: "x",
	// X takes 4 images, 1 GIF or 1 video; Herald uploads images only (GIFs
	// and videos need X's chunked, asynchronous upload).
	Rules:              rules.Rules{Name: "X", Limit: 280, Unit: "weighted characters", Counter: rules.XWeightedLength, Media: rules.MediaLimits{Max: 4, Images: 4, ImageBytes: 5 * rules.MB}},
	CredentialKeys:     []string{"accessToken"},
	PostsPerHour:       50,
	PostsPerHourSource: "well under 100 posts per 15 minutes per user",
	Deletes:            true,
}

// Info declares the platform.
func (p *Publisher) Info() publish.Info { return Info }

// UseAPI sends every call to baseURL instead of the platform's host.
func (p *Publisher) UseAPI(baseURL string) { p.BaseURL = baseURL }

// DefaultBaseURL is X's API host.
const DefaultBaseURL = "https://api.x.com"

// Publisher posts to X.
type Publisher struct {
	// Client sends every request, media downloads included; nil means
	// http.DefaultClient.
	Client *http.Client
	// BaseURL replaces DefaultBaseURL (tests point it at a fake).
	BaseURL string
	// Now is the clock for PublishedAt (the API answers only an id); nil
	// means time.Now.
	Now func() time.Time
}

var _ publish.Deleter = (*Publisher)(nil)

// New returns an X publisher using client.
func New(client *http.Client) *Publisher { return &Publisher{Client: client} }

// decodeError reads X's problem details. X answers 403 both for a token
// without permission and for a refused post (duplicate content); only the
// first is about credentials.
func decodeError(status int, body []byte) publish.Failure {
	var p struct {
		Detail string `json:"detail"`
	}
	_ = json.Unmarshal(body, &p)
	if status == http.StatusForbidden && strings.Contains(strings.ToLower(p.Detail), "duplicate content") {
		return publish.Failure{Kind: publish.Permanent}
	}
	return publish.Failure{}
}

type session struct {
	api  publish.API
	base string
	auth http.Header
}

func (p *Publisher) session(prof publish.Profile) (*session, error) {
	auth, err := prof.Credentials.Bearer()
	if err != nil {
		return nil, err
	}
	base := strings.TrimRight(p.BaseURL, "/")
	if base == "" {
		base = DefaultBaseURL
	}
	return &session{api: publish.API{Platform: Info.Platform, Client: p.Client, Secrets: prof.Credentials, Decode: decodeError},
		base: base, auth: auth}, nil
}

// Verify reads the user the token belongs to (GET /2/users/me).
func (p *Publisher) Verify(ctx context.Context, prof publish.Profile) (publish.Account, error) {
	s, err := p.session(prof)
	if err != nil {
		return publish.Account{}, err
	}
	var me struct {
		Data struct{ ID, Username string } `json:"data"`
	}
	if _, err := s.api.Do(ctx, publish.Request{Op: "GET /2/users/me", Method: http.MethodGet, URL: s.base + "/2/users/me", Header: s.auth, Out: &me}); err != nil {
		return publish.Account{}, err
	}
	return publish.Account{ID: me.Data.ID, Handle: "@" + me.Data.Username, URL: "https://x.com/" + me.Data.Username, CharacterLimit: Info.Rules.Limit}, nil
}

// Publish uploads the images and creates the post.
func (p *Publisher) Publish(ctx context.Context, prof publish.Profile, post publish.Post) (publish.Result, error) {
	s, err := p.session(prof)
	if err != nil {
		return publish.Result{}, err
	}
	body := map[string]any{"text": post.Text}
	var ids []string
	for _, m := range post.Media {
		id, err := p.upload(ctx, s, m)
		if err != nil {
			return publish.Result{}, err
		}
		ids = append(ids, id)
	}
	if len(ids) > 0 {
		body["media"] = map[string]any{"media_ids": ids}
	}
	var created struct {
		Data struct{ ID string } `json:"data"`
	}
	if _, err := s.api.Do(ctx, publish.Request{Op: "POST /2/tweets", Method: http.MethodPost, URL: s.base + "/2/tweets", Header: s.auth, JSON: body, Out: &created}); err != nil {
		return publish.Result{}, err
	}
	now := time.Now
	if p.Now != nil {
		now = p.Now
	}
	user := strings.TrimPrefix(prof.Handle, "@")
	if user == "" {
		user = "i/web"
	}
	return publish.Result{ExternalID: created.Data.ID, URL: "https://x.com/" + user + "/status/" + created.Data.ID, PublishedAt: now().UTC()}, nil
}

// upload sends one image (an upload no post uses expires, so it counts as
// idempotent) and sets its alt text.
func (p *Publisher) upload(ctx context.Context, s *session, m publish.Media) (string, error) {
	if t := m.EffectiveType(); t != publish.MediaImage {
		return "", publish.Errorf(publish.Permanent, "x: Herald uploads images only, not %ss", t)
	}
	file, err := s.api.FetchMedia(ctx, m, Info.Rules.Media.BytesFor(m.EffectiveType()))
	if err != nil {
		return "", err
	}
	defer file.Close()
	var up struct {
		Data struct{ ID string } `json:"data"`
	}
	if _, err := s.api.Do(ctx, publish.Request{Op: "POST /2/media/upload", Method: http.MethodPost, URL: s.base + "/2/media/upload",
		Header: s.auth, Upload: &publish.Upload{File: file, FormField: "media", Fields: map[string]string{"media_category": "tweet_image"}},
		Idempotent: true, Out: &up}); err != nil {
		return "", err
	}
	if m.AltText != "" {
		meta := map[string]any{"id": up.Data.ID, "metadata": map[string]any{"alt_text": map[string]string{"text": m.AltText}}}
		if _, err := s.api.Do(ctx, publish.Request{Op: "POST /2/media/metadata", Method: http.MethodPost, URL: s.base + "/2/media/metadata",
			Header: s.auth, JSON: meta, Idempotent: true}); err != nil {
			return "", err
		}
	}
	return up.Data.ID, nil
}

// postID matches X's post ids, which are decimal numbers.
var postID = regexp.MustCompile(`^[0-9]+$`)

// Delete deletes the post. Sending the DELETE again cannot do more harm
// than the first, so a lost answer is retried rather than left Unknown.
func (p *Publisher) Delete(ctx context.Context, prof publish.Profile, externalID string) error {
	switch {
	case externalID == "":
		return publish.Errorf(publish.Permanent, "x: cannot delete a post without its id")
	case !postID.MatchString(externalID):
		return publish.Errorf(publish.Permanent, "x: cannot delete post %q: an X post id is a number", externalID)
	}
	s, err := p.session(prof)
	if err != nil {
		return err
	}
	var answer struct {
		Data struct {
			Deleted bool `json:"deleted"`
		} `json:"data"`
	}
	_, err = s.api.Do(ctx, publish.Request{Op: "DELETE /2/tweets/:id", Method: http.MethodDelete, URL: s.base + "/2/tweets/" + externalID,
		Header: s.auth, Idempotent: true, Out: &answer})
	switch {
	case publish.IsNotFound(err):
		return nil // deleted already, by Herald or by hand
	case err != nil:
		return err
	case !answer.Data.Deleted:
		// X can answer 200 without having deleted the post; only the
		// body says so.
		return publish.Errorf(publish.Permanent, "x: DELETE /2/tweets/:id: X answered deleted: false; post %s is still online", externalID)
	}
	return nil
}
