// Package slack publishes posts to a Slack channel through an incoming
// webhook (the Secret's webhookURL). Slack answers "ok" on success and a
// short error code as plain text otherwise (invalid_payload, no_text,
// channel_not_found, …), which this adapter maps to error kinds.
package slack

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/herald-dev/herald/internal/publish"
	"github.com/herald-dev/herald/internal/publish/rules"
)

// Info declares Slack incoming webhooks.
var Info = publish.Info{
	Platform:           "slack",
	Rules:              rules.Rules{Name: "Slack", Limit: 40000, Media: rules.MediaLimits{Max: 10, Images: 10, GIFs: 10}},
	CredentialKeys:     []string{"webhookURL"},
	PostsPerHour:       3600,
	PostsPerHourSource: "1 message per second per webhook",
}

// Info declares the platform.
func (p *Publisher) Info() publish.Info { return Info }

// Publisher posts to Slack incoming webhooks.
type Publisher struct {
	// Client sends every request, media downloads included; nil means
	// http.DefaultClient.
	Client *http.Client
	// Now is the clock for PublishedAt (Slack's webhook answer has no
	// time); nil means time.Now.
	Now func() time.Time
}

// New returns a Slack publisher using client.
func New(client *http.Client) *Publisher { return &Publisher{Client: client} }

// errorText explains Slack's documented incoming-webhook error codes; the
// kind overrides the status mapping where the status misleads (a 403
// action_prohibited is a workspace policy, not bad credentials).
var errorText = map[string]struct {
	kind publish.ErrorKind
	text string
}{
	"invalid_payload":                   {publish.Permanent, "the message is not valid JSON for Slack"},
	"no_text":                           {publish.Permanent, "the message has no text"},
	"user_not_found":                    {publish.Permanent, "the user does not exist"},
	"channel_not_found":                 {publish.Permanent, "the webhook's channel does not exist"},
	"channel_is_archived":               {publish.Permanent, "the webhook's channel is archived"},
	"action_prohibited":                 {publish.Permanent, "a workspace admin has restricted posting to this channel"},
	"posting_to_general_channel_denied": {publish.Permanent, "only admins may post to this channel"},
	"too_many_attachments":              {publish.Permanent, "the message has too many attachments"},
	"invalid_token":                     {publish.CredentialsRejected, "the webhook URL's token is invalid"},
	"no_service":                        {publish.CredentialsRejected, "the webhook is disabled, removed or invalid"},
	"no_service_id":                     {publish.CredentialsRejected, "the webhook URL is incomplete"},
	"no_team":                           {publish.CredentialsRejected, "the workspace no longer exists"},
	"team_disabled":                     {publish.CredentialsRejected, "the workspace is disabled"},
}

func decodeError(_ int, body []byte) publish.Failure {
	code := strings.TrimSpace(string(body))
	if e, ok := errorText[code]; ok {
		return publish.Failure{Kind: e.kind, Message: code + ": " + e.text}
	}
	return publish.Failure{}
}

func (p *Publisher) webhook(prof publish.Profile) (publish.API, string, error) {
	raw, err := prof.Credentials.Get("webhookURL")
	if err != nil {
		return publish.API{}, "", err
	}
	if u, err := url.Parse(raw); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return publish.API{}, "", publish.Errorf(publish.Permanent, "slack: credentials key webhookURL is not an http(s) URL")
	}
	return publish.API{Platform: Info.Platform, Client: p.Client, Secrets: prof.Credentials, Decode: decodeError}, raw, nil
}

// Verify sends an empty message, which Slack refuses with no_text when the
// webhook exists and with no_service or invalid_token when it does not;
// nothing is posted either way.
func (p *Publisher) Verify(ctx context.Context, prof publish.Profile) (publish.Account, error) {
	api, u, err := p.webhook(prof)
	if err != nil {
		return publish.Account{}, err
	}
	_, err = api.Do(ctx, publish.Request{Op: "POST webhook (check)", Method: http.MethodPost, URL: u, JSON: map[string]string{}, Idempotent: true})
	var pe *publish.Error
	if err == nil || (errors.As(err, &pe) && pe.Kind == publish.Permanent && pe.StatusCode == http.StatusBadRequest) {
		return publish.Account{Handle: prof.Handle, CharacterLimit: Info.Rules.Limit}, nil
	}
	return publish.Account{}, err
}

// sectionLimit is the most text one section block may hold.
const sectionLimit = 3000

// Publish posts the text; with images, the text goes into section blocks
// (Slack then shows blocks, not text) followed by one image block each.
func (p *Publisher) Publish(ctx context.Context, prof publish.Profile, post publish.Post) (publish.Result, error) {
	api, u, err := p.webhook(prof)
	if err != nil {
		return publish.Result{}, err
	}
	body := map[string]any{"text": post.Text}
	if len(post.Media) > 0 {
		var blocks []map[string]any
		for _, chunk := range chunks(post.Text, sectionLimit) {
			blocks = append(blocks, map[string]any{"type": "section", "text": map[string]string{"type": "mrkdwn", "text": chunk}})
		}
		for _, m := range post.Media {
			alt := m.AltText
			if alt == "" {
				alt = "image"
			}
			blocks = append(blocks, map[string]any{"type": "image", "image_url": m.URL, "alt_text": alt})
		}
		body["blocks"] = blocks
	}
	if _, err := api.Do(ctx, publish.Request{Op: "POST webhook", Method: http.MethodPost, URL: u, JSON: body}); err != nil {
		return publish.Result{}, err
	}
	now := time.Now
	if p.Now != nil {
		now = p.Now
	}
	// Incoming webhooks return no message id or link.
	return publish.Result{PublishedAt: now().UTC()}, nil
}

// chunks splits s into pieces of at most n characters, preferring to break
// after a newline or space.
func chunks(s string, n int) []string {
	var out []string
	for utf8.RuneCountInString(s) > n {
		cut := len(string([]rune(s)[:n]))
		if i := strings.LastIndexAny(s[:cut], "\n "); i > 0 {
			cut = i + 1
		}
		out = append(out, s[:cut])
		s = s[cut:]
	}
	if strings.TrimSpace(s) != "" {
		out = append(out, s)
	}
	return out
}
