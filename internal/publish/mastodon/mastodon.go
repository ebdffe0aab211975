// Package mastodon publishes statuses to a Mastodon instance (the profile's
// endpoint) with the REST API: media through POST /api/v2/media, the status
// through POST /api/v1/statuses with an Idempotency-Key, so a retry of the
// same attempt cannot post twice. Delete takes a status down again with
// DELETE /api/v1/statuses/:id.
package mastodon

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/herald-dev/herald/internal/publish"
	"github.com/herald-dev/herald/internal/publish/rules"
)

// Info declares Mastodon (and servers with its API).
var Info = publish.Info{
	Platform: "mastodon",
	Rules: rules.Rules{Name: "Mastodon", Limit: 500, Counter: rules.MastodonLength,
		Media: rules.MediaLimits{Max: 4, Images: 4, GIFs: 4, Videos: 1, VideoAlone: true,
			ImageBytes: 16 * rules.MiB, GIFBytes: 16 * rules.MiB, VideoBytes: 99 * rules.MiB}},
	CredentialKeys:   []string{"accessToken"},
	Endpoint:         "the instance URL, such as https://mastodon.social",
	EndpointRequired: true,
	// Mastodon keeps an Idempotency-Key for one hour; Herald resends under
	// it only within 50 minutes of the first send, a margin for clocks
	// and the call's own length.
	Resend:             publish.Resend{By: "the Idempotency-Key header", Window: 50 * time.Minute},
	PostsPerHour:       100,
	PostsPerHourSource: "300 statuses per 3 hours per account",
	Deletes:            true,
}

// Info declares the platform.
func (p *Publisher) Info() publish.Info { return Info }

// Publisher posts to Mastodon instances.
type Publisher struct {
	// Client sends every request, media downloads included; nil means
	// http.DefaultClient.
	Client *http.Client
	// PollInterval is the wait between checks of an attachment the
	// instance is still processing (videos); 0 means one second.
	PollInterval time.Duration
	// MaxPolls bounds those checks; 0 means 60. When exceeded, Publish
	// fails Retryable without having posted.
	MaxPolls int
}

var _ publish.Deleter = (*Publisher)(nil)

// New returns a Mastodon publisher using client.
func New(client *http.Client) *Publisher { return &Publisher{Client: client} }

type session struct {
	api  publish.API
	base string
	auth http.Header
	host string
}

func (p *Publisher) session(prof publish.Profile) (*session, error) {
	auth, err := prof.Credentials.Bearer()
	if err != nil {
		return nil, err
	}
	u, err := url.Parse(strings.TrimRight(prof.Endpoint, "/"))
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, publish.Errorf(publish.Permanent, "mastodon: the profile's endpoint must be the instance URL, such as https://mastodon.social")
	}
	return &session{
		api:  publish.API{Platform: Info.Platform, Client: p.Client, Secrets: prof.Credentials},
		base: u.String(), host: u.Host,
		auth: auth,
	}, nil
}

type account struct {
	ID       string `json:"id"`
	Username string `json:"username"`
	Acct     string `json:"acct"`
	URL      string `json:"url"`
}

type instance struct {
	Domain        string `json:"domain"`
	Configuration struct {
		Statuses struct {
			MaxCharacters int `json:"max_characters"`
		} `json:"statuses"`
	} `json:"configuration"`
}

// Verify reads the account the token belongs to and the instance's
// character limit (500 when the instance does not say).
func (p *Publisher) Verify(ctx context.Context, prof publish.Profile) (publish.Account, error) {
	s, err := p.session(prof)
	if err != nil {
		return publish.Account{}, err
	}
	var acct account
	if _, err := s.api.Do(ctx, publish.Request{Op: "GET /api/v1/accounts/verify_credentials", Method: http.MethodGet,
		URL: s.base + "/api/v1/accounts/verify_credentials", Header: s.auth, Out: &acct}); err != nil {
		return publish.Account{}, err
	}
	limit, domain := Info.Rules.Limit, s.host
	var inst instance
	// Instances before 4.0 have no v2 instance endpoint; the defaults hold.
	if _, err := s.api.Do(ctx, publish.Request{Op: "GET /api/v2/instance", Method: http.MethodGet,
		URL: s.base + "/api/v2/instance", Out: &inst}); err == nil {
		if inst.Configuration.Statuses.MaxCharacters > 0 {
			limit = inst.Configuration.Statuses.MaxCharacters
		}
		if inst.Domain != "" {
			domain = inst.Domain // the account domain, which may differ from the API host
		}
	}
	return publish.Account{ID: acct.ID, Handle: "@" + acct.Username + "@" + domain, URL: acct.URL, CharacterLimit: limit}, nil
}

type attachment struct {
	ID string `json:"id"`
}

type status struct {
	ID        string    `json:"id"`
	URL       string    `json:"url"`
	CreatedAt time.Time `json:"created_at"`
}

// Publish uploads the media (fetched from their URLs), waits until the
// instance has processed them, and posts the status.
func (p *Publisher) Publish(ctx context.Context, prof publish.Profile, post publish.Post) (publish.Result, error) {
	s, err := p.session(prof)
	if err != nil {
		return publish.Result{}, err
	}
	form := url.Values{"status": {post.Text}}
	for _, m := range post.Media {
		id, err := p.upload(ctx, s, m)
		if err != nil {
			return publish.Result{}, err
		}
		form.Add("media_ids[]", id)
	}
	header := s.auth.Clone()
	if post.IdempotencyKey != "" {
		header.Set("Idempotency-Key", post.IdempotencyKey)
	}
	var st status
	if _, err := s.api.Do(ctx, publish.Request{Op: "POST /api/v1/statuses", Method: http.MethodPost,
		URL: s.base + "/api/v1/statuses", Header: header, Form: form, Out: &st}); err != nil {
		return publish.Result{}, err
	}
	return publish.Result{ExternalID: st.ID, URL: st.URL, PublishedAt: st.CreatedAt.UTC()}, nil
}

// upload sends one attachment and returns its id once it can be attached.
// Uploading twice cannot duplicate a post (an unattached upload is
// discarded by the instance), so the call counts as idempotent.
func (p *Publisher) upload(ctx context.Context, s *session, m publish.Media) (string, error) {
	file, err := s.api.FetchMedia(ctx, m, Info.Rules.Media.BytesFor(m.EffectiveType()))
	if err != nil {
		return "", err
	}
	defer file.Close()
	fields := map[string]string{}
	if m.AltText != "" {
		fields["description"] = m.AltText
	}
	var a attachment
	res, err := s.api.Do(ctx, publish.Request{Op: "POST /api/v2/media", Method: http.MethodPost, URL: s.base + "/api/v2/media",
		Header: s.auth, Upload: &publish.Upload{File: file, FormField: "file", Fields: fields}, Idempotent: true, Out: &a})
	if err != nil {
		return "", err
	}
	// 202: the instance is still processing the file (videos, large
	// images); GET /api/v1/media/:id answers 206 until it is done.
	for polls := 0; res.StatusCode != http.StatusOK; polls++ {
		if polls >= p.maxPolls() {
			return "", publish.Errorf(publish.Retryable, "mastodon: %s is still being processed by the instance; nothing was posted", publish.MediaLabel(m.URL))
		}
		if err := publish.Wait(ctx, p.pollInterval()); err != nil {
			return "", err
		}
		if res, err = s.api.Do(ctx, publish.Request{Op: "GET /api/v1/media/:id", Method: http.MethodGet,
			URL: s.base + "/api/v1/media/" + url.PathEscape(a.ID), Header: s.auth}); err != nil {
			return "", err
		}
	}
	return a.ID, nil
}

// statusID matches the status ids of servers with the Mastodon API:
// numbers on Mastodon, base62 on Pleroma and Akkoma, ULIDs on GoToSocial.
var statusID = regexp.MustCompile(`^[0-9A-Za-z]+$`)

// Delete deletes the status. Sending the DELETE again cannot do more harm
// than the first, so a lost answer is retried rather than left Unknown.
func (p *Publisher) Delete(ctx context.Context, prof publish.Profile, externalID string) error {
	switch {
	case externalID == "":
		return publish.Errorf(publish.Permanent, "mastodon: cannot delete a status without its id")
	case !statusID.MatchString(externalID):
		return publish.Errorf(publish.Permanent, "mastodon: cannot delete status %q: a status id is letters and digits only", externalID)
	}
	s, err := p.session(prof)
	if err != nil {
		return err
	}
	_, err = s.api.Do(ctx, publish.Request{Op: "DELETE /api/v1/statuses/:id", Method: http.MethodDelete,
		URL: s.base + "/api/v1/statuses/" + externalID, Header: s.auth, Idempotent: true})
	if publish.IsNotFound(err) {
		return nil // deleted already, by Herald or by hand
	}
	return err
}

func (p *Publisher) pollInterval() time.Duration {
	if p.PollInterval > 0 {
		return p.PollInterval
	}
	return time.Second
}

func (p *Publisher) maxPolls() int {
	if p.MaxPolls > 0 {
		return p.MaxPolls
	}
	return 60
}
