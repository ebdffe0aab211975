// Package instagram publishes to Instagram professional accounts with the
// Instagram Graph API (Facebook Login, graph.facebook.com): a media
// container per post (POST /{ig-user-id}/media: an image, a Reel, or a
// carousel of up to ten), published once it is ready (POST
// /{ig-user-id}/media_publish). Instagram fetches the media from their
// URLs itself, so they must be public. The API cannot delete a post.
package instagram

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/herald-dev/herald/internal/publish"
	"github.com/herald-dev/herald/internal/publish/meta"
	"github.com/herald-dev/herald/internal/publish/rules"
)

// Info declares Instagram.
var Info = publish.Info{
	Checkpoints: true,
	Platform:    "instagram",
	Rules: rules.Rules{Name: "Instagram", Limit: 2200, MaxHashtags: 30, Media: rules.MediaLimits{
		Max: 10, Images: 10, Videos: 10, Required: []string{rules.MediaImage, rules.MediaVideo},
		// The image and Reels specifications of POST /{ig-user-id}/media.
		ImageBytes: 8 * rules.MB, ImageFormats: []string{"jpeg"}, ImageRatios: rules.Ratios{Tallest: rules.Ratio{W: 4, H: 5}, Widest: rules.Ratio{W: 1.91, H: 1}},
		VideoBytes: 1 * rules.GB, VideoFormats: []string{"mp4", "mov"}}},
	CredentialKeys: []string{"accessToken", "igUserId"},
	MediaByURL:     true,
	Resend: publish.Resend{
		By:     "the media container recorded before publishing (a container is published at most once)",
		Window: meta.ContainerLifetime - time.Hour,
	},
	PostsPerHour:       1,
	PostsPerHourSource: "25 posts per 24 hours through the API, content_publishing_limit",
}

// Info declares the platform.
func (p *Publisher) Info() publish.Info { return Info }

// UseAPI sends every call to baseURL instead of the platform's host.
func (p *Publisher) UseAPI(baseURL string) { p.Host.BaseURL = baseURL }

// Publisher posts to Instagram.
type Publisher struct {
	// Client sends every request; nil means http.DefaultClient.
	Client *http.Client
	// Host replaces the Graph API's host and version (tests point it at a
	// fake).
	Host meta.Host
	// Poll is the wait between looks at a container in progress; 0 means
	// 3 s.
	Poll time.Duration
	// Now is the clock for PublishedAt when Instagram reports none; nil
	// means time.Now.
	Now func() time.Time
}

// New returns an Instagram publisher using client.
func New(client *http.Client) *Publisher { return &Publisher{Client: client} }

type account struct {
	graph *meta.Graph
	user  string
}

func (p *Publisher) account(prof publish.Profile) (*account, error) {
	token, err := prof.Credentials.Get("accessToken")
	if err != nil {
		return nil, err
	}
	user, err := prof.Credentials.Get("igUserId")
	if err != nil {
		return nil, err
	}
	return &account{graph: meta.NewGraph(Info.Platform, p.Client, p.Host, meta.GraphURL, meta.GraphVersion, token, prof.Credentials), user: user}, nil
}

// Verify reads the account (GET /{ig-user-id}?fields=id,username).
func (p *Publisher) Verify(ctx context.Context, prof publish.Profile) (publish.Account, error) {
	a, err := p.account(prof)
	if err != nil {
		return publish.Account{}, err
	}
	var me struct {
		ID       string `json:"id"`
		Username string `json:"username"`
	}
	if err := a.graph.Get(ctx, a.user, url.Values{"fields": {"id,username"}}, &me); err != nil {
		return publish.Account{}, err
	}
	return publish.Account{ID: me.ID, Handle: "@" + me.Username, URL: "https://www.instagram.com/" + url.PathEscape(me.Username) + "/", CharacterLimit: Info.Rules.Limit}, nil
}

// Publish makes the post's container, waits until Instagram has
// processed it, and publishes it: once, whatever fails along the way.
func (p *Publisher) Publish(ctx context.Context, prof publish.Profile, post publish.Post) (publish.Result, error) {
	if err := Info.Screen(ctx, p.Client, post); err != nil {
		return publish.Result{}, err
	}
	a, err := p.account(prof)
	if err != nil {
		return publish.Result{}, err
	}
	flow := meta.Containers{Graph: a.graph, User: a.user, Name: Info.Name(), MediaEdge: "media", PublishEdge: "media_publish",
		LimitEdge: "content_publishing_limit", StatusField: "status_code", DetailField: "status", TextField: "caption", Poll: p.Poll, Now: p.Now}
	return flow.Publish(ctx, post, func(ctx context.Context) (string, error) { return p.container(ctx, a, post) })
}

// container makes the post's container: one item alone, or a carousel
// whose children are made first.
func (p *Publisher) container(ctx context.Context, a *account, post publish.Post) (string, error) {
	if len(post.Media) == 1 {
		form := item(post.Media[0], false)
		form.Set("caption", post.Text)
		return create(ctx, a, form)
	}
	var children []string
	for _, m := range post.Media {
		id, err := create(ctx, a, item(m, true))
		if err != nil {
			return "", err
		}
		children = append(children, id)
	}
	return create(ctx, a, url.Values{"media_type": {"CAROUSEL"}, "children": {strings.Join(children, ",")}, "caption": {post.Text}})
}

// item is the form of one image or video: a Reel alone, a VIDEO in a
// carousel.
func item(m publish.Media, inCarousel bool) url.Values {
	form := url.Values{}
	switch {
	case m.EffectiveType() == publish.MediaVideo && inCarousel:
		form.Set("media_type", "VIDEO")
		form.Set("video_url", m.URL)
	case m.EffectiveType() == publish.MediaVideo:
		form.Set("media_type", "REELS")
		form.Set("video_url", m.URL)
	default:
		form.Set("image_url", m.URL)
		if m.AltText != "" {
			form.Set("alt_text", m.AltText)
		}
	}
	if inCarousel {
		form.Set("is_carousel_item", "true")
	}
	return form
}

func create(ctx context.Context, a *account, form url.Values) (string, error) {
	var out struct {
		ID string `json:"id"`
	}
	// A container publishes nothing until it is published: making one
	// again after a lost answer leaves at most an unused one, which
	// expires.
	if err := a.graph.Post(ctx, a.user+"/media", form, true, &out); err != nil {
		return "", err
	}
	if out.ID == "" {
		return "", publish.Errorf(publish.Retryable, "instagram POST /:id/media: the answer named no container; nothing was published")
	}
	return out.ID, nil
}
