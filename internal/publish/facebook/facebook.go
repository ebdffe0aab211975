// Package facebook publishes to Facebook Pages with the Graph API: text
// and links with POST /{page-id}/feed, photos first uploaded unpublished
// (POST /{page-id}/photos, published=false) and attached to the feed post
// (attached_media), a video with POST /{page-id}/videos. Facebook fetches
// the media from their URLs itself, so they must be public. Every call is
// made with the Page's own token, read with the token in the Secret (a
// user's, or the Page's). Delete takes a post down with DELETE /{post-id}.
package facebook

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"time"

	"github.com/herald-dev/herald/internal/publish"
	"github.com/herald-dev/herald/internal/publish/meta"
	"github.com/herald-dev/herald/internal/publish/rules"
)

// Info declares Facebook Pages.
var Info = publish.Info{
	Platform: "facebook",
	Rules: rules.Rules{Name: "Facebook", Limit: 63206, Media: rules.MediaLimits{
		Max: 10, Images: 10, Videos: 1, VideoAlone: true,
		// The formats the Graph API's photo uploads take.
		ImageFormats: []string{"jpeg", "bmp", "png", "gif", "tiff"}}},
	CredentialKeys: []string{"accessToken", "pageId"},
	MediaByURL:     true,
	Deletes:        true,
}

// Info declares the platform.
func (p *Publisher) Info() publish.Info { return Info }

// UseAPI sends every call to baseURL instead of the platform's host.
func (p *Publisher) UseAPI(baseURL string) { p.Host.BaseURL = baseURL }

// Publisher posts to Facebook Pages.
type Publisher struct {
	// Client sends every request; nil means http.DefaultClient.
	Client *http.Client
	// Host replaces the Graph API's host and version (tests point it at a
	// fake).
	Host meta.Host
	// Now is the clock for PublishedAt (the API answers only an id); nil
	// means time.Now.
	Now func() time.Time
}

var _ publish.Deleter = (*Publisher)(nil)

// New returns a Facebook Pages publisher using client.
func New(client *http.Client) *Publisher { return &Publisher{Client: client} }

// page is a Page as its own token sees it.
type page struct {
	graph          *meta.Graph
	id, name, link string
}

// page reads the Page with the Secret's token, and returns a Graph that
// speaks as the Page. A user token yields the Page's token; a Page token
// yields itself.
func (p *Publisher) page(ctx context.Context, prof publish.Profile) (*page, error) {
	token, err := prof.Credentials.Get("accessToken")
	if err != nil {
		return nil, err
	}
	id, err := prof.Credentials.Get("pageId")
	if err != nil {
		return nil, err
	}
	g := meta.NewGraph(Info.Platform, p.Client, p.Host, meta.GraphURL, meta.GraphVersion, token, prof.Credentials)
	var out struct {
		ID          string `json:"id"`
		Name        string `json:"name"`
		Link        string `json:"link"`
		AccessToken string `json:"access_token"`
	}
	if err := g.Get(ctx, id, url.Values{"fields": {"id,name,link,access_token"}}, &out); err != nil {
		return nil, err
	}
	if out.AccessToken == "" {
		return nil, publish.Errorf(publish.CredentialsRejected,
			"facebook: the access token cannot post as Page %s: it must belong to a person who manages the Page and carry pages_manage_posts, or be the Page's own token", id)
	}
	return &page{graph: g.WithToken(out.AccessToken), id: out.ID, name: out.Name, link: out.Link}, nil
}

// Verify reads the Page and checks the token can post as it.
func (p *Publisher) Verify(ctx context.Context, prof publish.Profile) (publish.Account, error) {
	pg, err := p.page(ctx, prof)
	if err != nil {
		return publish.Account{}, err
	}
	return publish.Account{ID: pg.id, Handle: pg.name, URL: pg.link, CharacterLimit: Info.Rules.Limit}, nil
}

// Publish posts text (with the first link in it previewed), photos or a
// video to the Page.
func (p *Publisher) Publish(ctx context.Context, prof publish.Profile, post publish.Post) (publish.Result, error) {
	if err := Info.Screen(ctx, p.Client, post); err != nil {
		return publish.Result{}, err
	}
	pg, err := p.page(ctx, prof)
	if err != nil {
		return publish.Result{}, err
	}
	var out struct {
		ID     string `json:"id"`
		PostID string `json:"post_id"`
	}
	switch {
	case len(post.Media) == 1 && post.Media[0].EffectiveType() == publish.MediaVideo:
		err = pg.graph.Post(ctx, pg.id+"/videos", url.Values{"file_url": {post.Media[0].URL}, "description": {post.Text}}, false, &out)
	case len(post.Media) > 0:
		form := url.Values{"message": {post.Text}}
		for i, m := range post.Media {
			photo, err := uploadPhoto(ctx, pg, m)
			if err != nil {
				return publish.Result{}, err
			}
			ref, _ := json.Marshal(map[string]string{"media_fbid": photo})
			form.Set("attached_media["+strconv.Itoa(i)+"]", string(ref))
		}
		err = pg.graph.Post(ctx, pg.id+"/feed", form, false, &out)
	default:
		form := url.Values{"message": {post.Text}}
		if link := rules.FirstLink(post.Text); link != "" {
			form.Set("link", link)
		}
		err = pg.graph.Post(ctx, pg.id+"/feed", form, false, &out)
	}
	if err != nil {
		return publish.Result{}, err
	}
	id := out.ID
	if out.PostID != "" {
		id = out.PostID
	}
	now := time.Now
	if p.Now != nil {
		now = p.Now
	}
	return publish.Result{ExternalID: id, URL: "https://www.facebook.com/" + id, PublishedAt: now().UTC()}, nil
}

// uploadPhoto uploads one photo unpublished, to attach to a post: one no
// post uses stays hidden, so sending it again is harmless.
func uploadPhoto(ctx context.Context, pg *page, m publish.Media) (string, error) {
	form := url.Values{"url": {m.URL}, "published": {"false"}}
	if m.AltText != "" {
		form.Set("alt_text_custom", m.AltText)
	}
	var out struct {
		ID string `json:"id"`
	}
	if err := pg.graph.Post(ctx, pg.id+"/photos", form, true, &out); err != nil {
		return "", err
	}
	if out.ID == "" {
		return "", publish.Errorf(publish.Retryable, "facebook POST /:id/photos: the answer named no photo; nothing was published")
	}
	return out.ID, nil
}

// postID matches the ids of Page posts (PAGEID_POSTID) and videos.
var postID = regexp.MustCompile(`^[0-9]{1,30}(_[0-9]{1,30})?$`)

// Delete deletes the post or video as the Page.
func (p *Publisher) Delete(ctx context.Context, prof publish.Profile, externalID string) error {
	if !postID.MatchString(externalID) {
		return publish.Errorf(publish.Permanent, "facebook: cannot delete %q: a Page post is named by an id such as 1234_5678", externalID)
	}
	pg, err := p.page(ctx, prof)
	if err != nil {
		return err
	}
	return pg.graph.Delete(ctx, externalID)
}
