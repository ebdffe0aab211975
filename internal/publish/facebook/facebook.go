// Package facebook publishes to Facebook Pages with the Graph API: text
// and links with POST /{page-id}/feed, photos first uploaded unpublished
// (POST /{page-id}/photos, published=false) and attached to the feed post
// (attached_media), a video with POST /{page-id}/videos. Facebook fetches
// the media from their URLs itself, so they must be public. Every call is
// made with the Page's own token, read with the token in the Secret (a
// user's, or the Page's). Delete takes a post down with DELETE /{post-id}.
//
// Facebook has no idempotency key. Before the call that posts, Herald
// records when it was made; a try after an unclear answer first looks
// among the Page's posts since then (GET /{page-id}/published_posts) for
// one with the post's text, and posts again only when there is none. A
// video cannot be looked for so (Facebook lists it among the Page's posts
// only once it has processed it), nor a post without text: such an
// attempt ends Unknown rather than risk a second post.
package facebook

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/herald-dev/herald/internal/publish"
	"github.com/herald-dev/herald/internal/publish/meta"
	"github.com/herald-dev/herald/internal/publish/rules"
)

// Info declares Facebook Pages.
var Info = publish.Info{
	Checkpoints: true,
	Platform:    "facebook",
	Rules: rules.Rules{Name: "Facebook", Limit: 63206, Media: rules.MediaLimits{
		Max: 10, Images: 10, Videos: 1, VideoAlone: true,
		// The formats the Graph API's photo uploads take.
		ImageFormats: []string{"jpeg", "bmp", "png", "gif", "tiff"}}},
	CredentialKeys: []string{"accessToken", "pageId"},
	MediaByURL:     true,
	Deletes:        true,
	Resend: publish.Resend{
		By: "a look among the Page's posts since the first send for one with the same text, before sending again (a video, or a post without text, cannot be looked for, and becomes Unknown)",
	},
}

// The progress Herald records before the call that posts: what it sends,
// and when (Unix seconds), so that a later try looks among the Page's
// posts made since.
const (
	progressFeed  = "feed sent at "
	progressVideo = "video sent at "
)

// lookBack is how far before the recorded time a later try looks, for the
// clocks of Herald and Facebook, which need not agree.
const lookBack = 5 * time.Minute

// lookFor is the most posts since the first send a later try reads: a Page
// that posted more meanwhile cannot be searched to the end, and the attempt
// ends Unknown.
const lookFor = 100

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
// video to the Page: once, for a try that follows one whose answer was
// lost looks for that one's post first.
func (p *Publisher) Publish(ctx context.Context, prof publish.Profile, post publish.Post) (publish.Result, error) {
	if err := Info.Screen(ctx, p.Client, post); err != nil {
		return publish.Result{}, err
	}
	pg, err := p.page(ctx, prof)
	if err != nil {
		return publish.Result{}, err
	}
	if post.Progress != "" {
		if found, err := p.find(ctx, pg, post); err != nil || found != nil {
			if err != nil {
				return publish.Result{}, err
			}
			return *found, nil
		}
	}
	var out struct {
		ID     string `json:"id"`
		PostID string `json:"post_id"`
	}
	video := len(post.Media) == 1 && post.Media[0].EffectiveType() == publish.MediaVideo
	form := url.Values{"message": {post.Text}}
	switch {
	case video:
		form = url.Values{"file_url": {post.Media[0].URL}, "description": {post.Text}}
	case len(post.Media) > 0:
		for i, m := range post.Media {
			photo, err := uploadPhoto(ctx, pg, m)
			if err != nil {
				return publish.Result{}, err
			}
			ref, _ := json.Marshal(map[string]string{"media_fbid": photo})
			form.Set("attached_media["+strconv.Itoa(i)+"]", string(ref))
		}
	default:
		if link := rules.FirstLink(post.Text); link != "" {
			form.Set("link", link)
		}
	}
	if err := p.checkpoint(ctx, post, video); err != nil {
		return publish.Result{}, err
	}
	if video {
		err = pg.graph.Post(ctx, pg.id+"/videos", form, false, &out)
	} else {
		err = pg.graph.Post(ctx, pg.id+"/feed", form, false, &out)
	}
	if err != nil {
		if publish.KindOf(err) != publish.Unknown {
			// A clear answer that nothing was posted: a later try need not
			// look for this one's post, and may send a video again. Should
			// forgetting fail, a later try looks all the same.
			_ = post.Checkpoint(ctx, "")
		}
		return publish.Result{}, err
	}
	id := out.ID
	if out.PostID != "" {
		id = out.PostID
	}
	return result(id, p.now()), nil
}

func result(id string, at time.Time) publish.Result {
	return publish.Result{ExternalID: id, URL: "https://www.facebook.com/" + id, PublishedAt: at.UTC()}
}

func (p *Publisher) now() time.Time {
	if p.Now != nil {
		return p.Now()
	}
	return time.Now()
}

// checkpoint records what is about to be sent, and when, unless an earlier
// try did: its time is the one to look back from.
func (p *Publisher) checkpoint(ctx context.Context, post publish.Post, video bool) error {
	if post.Progress != "" {
		return nil
	}
	progress := progressFeed
	if video {
		progress = progressVideo
	}
	return post.Checkpoint(ctx, progress+strconv.FormatInt(p.now().Unix(), 10))
}

// find looks for the post an earlier try of the attempt may have made,
// whose answer was lost: the newest of the Page's posts since that try
// with the post's text. It returns nil when there is none, and nothing was
// posted; an error when Herald cannot tell, Permanent, since sending again
// could post twice.
func (p *Publisher) find(ctx context.Context, pg *page, post publish.Post) (*publish.Result, error) {
	video, sent, ok := sentAt(post.Progress)
	switch {
	case !ok:
		return nil, publish.Errorf(publish.Permanent, "facebook: the recorded progress %q is not Herald's; Herald cannot tell whether an earlier try posted, and will not post again", post.Progress)
	case video:
		return nil, publish.Errorf(publish.Permanent, "facebook: an earlier try of this attempt may have posted the video; Facebook lists a video among the Page's posts only once it has processed it, so Herald cannot tell, and will not post it again")
	case strings.TrimSpace(post.Text) == "":
		return nil, publish.Errorf(publish.Permanent, "facebook: an earlier try of this attempt may have posted; a post without text cannot be told apart among the Page's posts, so Herald will not post it again")
	}
	var out struct {
		Data []struct {
			ID          string `json:"id"`
			Message     string `json:"message"`
			CreatedTime string `json:"created_time"`
		} `json:"data"`
		Paging struct {
			Next string `json:"next"`
		} `json:"paging"`
	}
	q := url.Values{"fields": {"id,message,created_time"}, "since": {strconv.FormatInt(sent.Add(-lookBack).Unix(), 10)}, "limit": {strconv.Itoa(lookFor)}}
	if err := pg.graph.Get(ctx, pg.id+"/published_posts", q, &out); err != nil {
		return nil, err
	}
	for _, m := range out.Data {
		if m.Message == post.Text {
			at, err := meta.ParseTime(m.CreatedTime)
			if err != nil {
				at = p.now()
			}
			res := result(m.ID, at)
			return &res, nil
		}
	}
	if out.Paging.Next != "" {
		return nil, publish.Errorf(publish.Permanent, "facebook: the Page made more than %d posts since an earlier try of this attempt, and none of the newest has its text; Herald cannot tell whether that try posted, and will not post again", lookFor)
	}
	return nil, nil
}

// sentAt reads recorded progress: whether a video was sent, and when.
func sentAt(progress string) (video bool, at time.Time, ok bool) {
	for _, prefix := range []string{progressFeed, progressVideo} {
		if rest, found := strings.CutPrefix(progress, prefix); found {
			n, err := strconv.ParseInt(rest, 10, 64)
			return prefix == progressVideo, time.Unix(n, 0), err == nil
		}
	}
	return false, time.Time{}, false
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
