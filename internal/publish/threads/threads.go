// Package threads publishes to Threads with the Threads API
// (graph.threads.net): a media container per post (POST /me/threads: text,
// an image, a video, or a carousel of up to twenty), published once it is
// ready (POST /me/threads_publish). Threads fetches the media from their
// URLs itself, so they must be public. Delete takes a post down again with
// DELETE /{threads-media-id}.
package threads

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/herald-dev/herald/internal/publish"
	"github.com/herald-dev/herald/internal/publish/meta"
	"github.com/herald-dev/herald/internal/publish/rules"
)

// Info declares Threads.
var Info = publish.Info{
	Checkpoints: true,
	Platform:    "threads",
	Rules: rules.Rules{Name: "Threads", Limit: 500, MaxHashtags: 1, Counter: Length, Media: rules.MediaLimits{
		Max: 20, Images: 20, Videos: 20,
		// The media specifications of the Threads API.
		ImageBytes: 8 * rules.MB, ImageFormats: []string{"jpeg", "png"}, ImageRatios: rules.Ratios{Tallest: rules.Ratio{W: 1, H: 10}, Widest: rules.Ratio{W: 10, H: 1}},
		VideoBytes: 1 * rules.GB, VideoFormats: []string{"mp4", "mov"}}},
	CredentialKeys: []string{"accessToken"},
	MediaByURL:     true,
	Resend: publish.Resend{
		By:     "the media container recorded before publishing (a container is published at most once)",
		Window: meta.ContainerLifetime - time.Hour,
	},
	PostsPerHour:       10,
	PostsPerHourSource: "250 posts per 24 hours through the API, threads_publishing_limit",
	Deletes:            true,
}

// Length counts a text as Threads does: one per character, except emoji,
// which count as many as their UTF-8 bytes.
func Length(text string) int {
	n := 0
	for _, r := range text {
		if r >= 0x1F000 || (r >= 0x2600 && r <= 0x27BF) {
			n += utf8.RuneLen(r)
		} else {
			n++
		}
	}
	return n
}

// Info declares the platform.
func (p *Publisher) Info() publish.Info { return Info }

// UseAPI sends every call to baseURL instead of the platform's host.
func (p *Publisher) UseAPI(baseURL string) { p.Host.BaseURL = baseURL }

// Publisher posts to Threads.
type Publisher struct {
	// Client sends every request; nil means http.DefaultClient.
	Client *http.Client
	// Host replaces the Threads API's host and version (tests point it at
	// a fake).
	Host meta.Host
	// Poll is the wait between looks at a container in progress; 0 means
	// 3 s.
	Poll time.Duration
	// Now is the clock for PublishedAt when Threads reports none; nil
	// means time.Now.
	Now func() time.Time
}

var _ publish.Deleter = (*Publisher)(nil)

// New returns a Threads publisher using client.
func New(client *http.Client) *Publisher { return &Publisher{Client: client} }

func (p *Publisher) graph(prof publish.Profile) (*meta.Graph, error) {
	token, err := prof.Credentials.Get("accessToken")
	if err != nil {
		return nil, err
	}
	return meta.NewGraph(Info.Platform, p.Client, p.Host, meta.ThreadsURL, meta.ThreadsVersion, token, prof.Credentials), nil
}

// Verify reads the account the token belongs to (GET /me).
func (p *Publisher) Verify(ctx context.Context, prof publish.Profile) (publish.Account, error) {
	g, err := p.graph(prof)
	if err != nil {
		return publish.Account{}, err
	}
	var me struct {
		ID       string `json:"id"`
		Username string `json:"username"`
	}
	if err := g.Get(ctx, "me", url.Values{"fields": {"id,username"}}, &me); err != nil {
		return publish.Account{}, err
	}
	return publish.Account{ID: me.ID, Handle: "@" + me.Username, URL: "https://www.threads.com/@" + url.PathEscape(me.Username), CharacterLimit: Info.Rules.Limit}, nil
}

// Publish makes the post's container, waits until Threads has processed
// it, and publishes it: once, whatever fails along the way.
func (p *Publisher) Publish(ctx context.Context, prof publish.Profile, post publish.Post) (publish.Result, error) {
	if err := Info.Screen(ctx, p.Client, post); err != nil {
		return publish.Result{}, err
	}
	g, err := p.graph(prof)
	if err != nil {
		return publish.Result{}, err
	}
	flow := meta.Containers{Graph: g, User: "me", Name: Info.Name(), MediaEdge: "threads", PublishEdge: "threads_publish",
		LimitEdge: "threads_publishing_limit", StatusField: "status", DetailField: "error_message", TextField: "text", Poll: p.Poll, Now: p.Now}
	return flow.Publish(ctx, post, func(ctx context.Context) (string, error) { return container(ctx, g, post) })
}

// container makes the post's container: text, one item, or a carousel
// whose children are made first.
func container(ctx context.Context, g *meta.Graph, post publish.Post) (string, error) {
	switch len(post.Media) {
	case 0:
		return create(ctx, g, url.Values{"media_type": {"TEXT"}, "text": {post.Text}})
	case 1:
		form := item(post.Media[0])
		form.Set("text", post.Text)
		return create(ctx, g, form)
	}
	var children []string
	for _, m := range post.Media {
		form := item(m)
		form.Set("is_carousel_item", "true")
		id, err := create(ctx, g, form)
		if err != nil {
			return "", err
		}
		children = append(children, id)
	}
	return create(ctx, g, url.Values{"media_type": {"CAROUSEL"}, "children": {strings.Join(children, ",")}, "text": {post.Text}})
}

func item(m publish.Media) url.Values {
	form := url.Values{}
	if m.EffectiveType() == publish.MediaVideo {
		form.Set("media_type", "VIDEO")
		form.Set("video_url", m.URL)
	} else {
		form.Set("media_type", "IMAGE")
		form.Set("image_url", m.URL)
	}
	if m.AltText != "" {
		form.Set("alt_text", m.AltText)
	}
	return form
}

func create(ctx context.Context, g *meta.Graph, form url.Values) (string, error) {
	var out struct {
		ID string `json:"id"`
	}
	// Making a container publishes nothing: see meta.Containers.
	if err := g.Post(ctx, "me/threads", form, true, &out); err != nil {
		return "", err
	}
	if out.ID == "" {
		return "", publish.Errorf(publish.Retryable, "threads POST /me/threads: the answer named no container; nothing was published")
	}
	return out.ID, nil
}

// mediaID matches the ids Threads gives posts.
var mediaID = regexp.MustCompile(`^[0-9]{1,30}$`)

// Delete deletes the post (DELETE /{threads-media-id}).
func (p *Publisher) Delete(ctx context.Context, prof publish.Profile, externalID string) error {
	if !mediaID.MatchString(externalID) {
		return publish.Errorf(publish.Permanent, "threads: cannot delete %q: a Threads post is named by its numeric media id", externalID)
	}
	g, err := p.graph(prof)
	if err != nil {
		return err
	}
	return g.Delete(ctx, externalID)
}
