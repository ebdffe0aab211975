package facebook_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"

	"github.com/herald-dev/herald/internal/publish"
	"github.com/herald-dev/herald/internal/publish/facebook"
	"github.com/herald-dev/herald/internal/publish/meta"
	"github.com/herald-dev/herald/internal/publish/meta/metatest"
	"github.com/herald-dev/herald/internal/publish/platformtest"
)

var now = time.Date(2026, 7, 1, 9, 0, 0, 0, time.UTC)

const page = metatest.PageID

func newPublisher(f *metatest.Fake, client *http.Client) *facebook.Publisher {
	p := facebook.New(client)
	p.Host = meta.Host{BaseURL: f.URL}
	p.Now = func() time.Time { return now }
	return p
}

// profile holds a person's token: Herald reads the Page's own with it.
var profile = publish.Profile{Platform: "facebook", Credentials: publish.Credentials{"accessToken": []byte(metatest.UserToken), "pageId": []byte(page)}}

func TestVerify(t *testing.T) {
	g := NewWithT(t)
	f := metatest.New(t)
	acct, err := newPublisher(f, nil).Verify(context.Background(), profile)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(acct).To(Equal(publish.Account{ID: page, Handle: metatest.PageName, URL: "https://www.facebook.com/heraldcoffee", CharacterLimit: 63206}))
	g.Expect(f.Last(t, "GET /v24.0/"+page).Query.Get("fields")).To(ContainSubstring("access_token"))
}

func TestPublishText(t *testing.T) {
	g := NewWithT(t)
	f := metatest.New(t)
	res, err := newPublisher(f, nil).Publish(context.Background(), profile, publish.Post{Text: "New beans: https://herald.example/beans today"})
	g.Expect(err).NotTo(HaveOccurred())
	posts := f.Posts(page)
	g.Expect(posts).To(HaveLen(1))
	g.Expect(res).To(Equal(publish.Result{ExternalID: posts[0].ID, URL: "https://www.facebook.com/" + posts[0].ID, PublishedAt: now}))
	g.Expect(posts[0].Link).To(Equal("https://herald.example/beans"), "the first link is previewed")
	req := f.Last(t, "POST /v24.0/"+page+"/feed")
	g.Expect(req.Header.Get("Authorization")).To(Equal("Bearer "+metatest.PageToken), "posted as the Page, with its own token")
}

func TestPublishPhotosAndVideo(t *testing.T) {
	g := NewWithT(t)
	f := metatest.New(t)
	pub := newPublisher(f, nil)
	media := []publish.Media{{URL: f.URL + "/files/a.jpg", AltText: "beans"}, {URL: f.URL + "/files/b.jpg"}}
	_, err := pub.Publish(context.Background(), profile, publish.Post{Text: "Two photos", Media: media})
	g.Expect(err).NotTo(HaveOccurred())
	uploads := f.Find("POST /v24.0/" + page + "/photos")
	g.Expect(uploads).To(HaveLen(2))
	first, _ := uploads[0].Form(t)
	g.Expect(first).To(Equal(url.Values{"url": {media[0].URL}, "published": {"false"}, "alt_text_custom": {"beans"}}))
	posts := f.Posts(page)
	g.Expect(posts).To(HaveLen(1))
	g.Expect(posts[0].Photos).To(Equal([]string{media[0].URL, media[1].URL}), "both photos attached to one post, in order")

	res, err := pub.Publish(context.Background(), profile, publish.Post{Text: "A video", Media: []publish.Media{{URL: f.URL + "/files/v.mp4"}}})
	g.Expect(err).NotTo(HaveOccurred())
	posts = f.Posts(page)
	g.Expect(posts).To(HaveLen(2))
	g.Expect(posts[1].Video).To(Equal(f.URL + "/files/v.mp4"))
	g.Expect(res.ExternalID).To(Equal(posts[1].ID))
}

func TestPublishErrors(t *testing.T) {
	body := func(status int, msg string) string {
		return fmt.Sprintf(`{"error":{"message":%q,"type":"OAuthException","code":1,"fbtrace_id":"A"}}`, msg)
	}
	platformtest.CheckErrors(t, platformtest.StandardCases(body), []string{metatest.UserToken, metatest.PageToken}, func(t *testing.T, client *http.Client, answer http.HandlerFunc) error {
		f := metatest.New(t)
		f.Override("POST /v24.0/"+page+"/feed", answer)
		_, err := newPublisher(f, client).Publish(context.Background(), profile, publish.Post{Text: "x"})
		return err
	})
	NewWithT(t).Expect(facebook.Info.Resend.By).To(ContainSubstring("a look among the Page's posts"), "an ambiguous post is looked for before it is sent again")
}

func TestTokenThatCannotPost(t *testing.T) {
	g := NewWithT(t)
	f := metatest.New(t)
	f.Override("GET /v24.0/"+page, func(w http.ResponseWriter, r *http.Request) {
		platformtest.WriteJSON(w, 200, map[string]any{"id": page, "name": metatest.PageName})
	})
	_, err := newPublisher(f, nil).Verify(context.Background(), profile)
	g.Expect(publish.KindOf(err)).To(Equal(publish.CredentialsRejected))
	g.Expect(err.Error()).To(ContainSubstring("pages_manage_posts"))
}

func TestDelete(t *testing.T) {
	g := NewWithT(t)
	f := metatest.New(t)
	pub := newPublisher(f, nil)
	res, err := pub.Publish(context.Background(), profile, publish.Post{Text: "Brief"})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(pub.Delete(context.Background(), profile, res.ExternalID)).To(Succeed())
	g.Expect(f.Posts(page)).To(BeEmpty())
	g.Expect(f.Last(t, "DELETE /v24.0/"+res.ExternalID).Header.Get("Authorization")).To(Equal("Bearer " + metatest.PageToken))
	g.Expect(pub.Delete(context.Background(), profile, res.ExternalID)).To(Succeed(), "already gone is deleted")
	fresh := metatest.New(t)
	platformtest.CheckRefusedIDs(t, fresh.Server, map[string]string{"": "1234_5678", "1001_2/comments": "1234_5678"}, func(id string) error {
		return newPublisher(fresh, nil).Delete(context.Background(), profile, id)
	})
}

func TestMediaFormatsAreCheckedFirst(t *testing.T) {
	g := NewWithT(t)
	f := metatest.New(t)
	pub := newPublisher(f, nil)
	_, err := pub.Publish(context.Background(), profile, publish.Post{Text: "From a phone", Media: []publish.Media{{URL: f.URL + "/files/IMG_0042.HEIC"}}})
	g.Expect(publish.KindOf(err)).To(Equal(publish.Permanent))
	g.Expect(err).To(MatchError("facebook: Attachment 1 (" + f.URL + "/files/IMG_0042.HEIC): Facebook takes images as JPEG, BMP, PNG, GIF or TIFF only, and this file is HEIF; convert it, or use another."))
	g.Expect(f.Routes()).To(BeEmpty(), "the URL said enough: nothing was fetched, nothing sent")

	// A link to a gallery page rather than to the photo.
	f.Override("GET /files/gallery.jpg", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		_, _ = w.Write([]byte("<!doctype html><title>Our beans</title>"))
	})
	_, err = pub.Publish(context.Background(), profile, publish.Post{Text: "Beans", Media: []publish.Media{{URL: f.URL + "/files/gallery.jpg"}}})
	g.Expect(publish.KindOf(err)).To(Equal(publish.Permanent))
	g.Expect(err.Error()).To(ContainSubstring("this file is an HTML page, not a media file"))
	g.Expect(f.Routes()).To(Equal([]string{"GET /files/gallery.jpg"}), "no Graph call")
	g.Expect(f.Posts(page)).To(BeEmpty())
}

// TestRateLimited is the Graph API refusing a call for a rate limit, the
// app's (code 4), a person's (17) or the Page's (32): nothing was done, so
// the try is Retryable, a minute later, any send it recorded is forgotten
// (a video may be sent again), and the next try posts once.
func TestRateLimited(t *testing.T) {
	for _, tc := range []struct {
		name, route string
		code        int
		media       string
	}{
		{"the Page's limit on the post", "POST /v24.0/" + page + "/feed", metatest.PageRateLimit, ""},
		{"the app's limit on reading the Page", "GET /v24.0/" + page, metatest.AppRateLimit, ""},
		{"a person's limit on a photo", "POST /v24.0/" + page + "/photos", metatest.UserRateLimit, "a-1200x630.jpg"},
		{"the Page's limit on a video", "POST /v24.0/" + page + "/videos", metatest.PageRateLimit, "pour.mp4"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			f := metatest.New(t)
			f.RateLimit(tc.route, 1, tc.code)
			var media []publish.Media
			if tc.media != "" {
				media = []publish.Media{{URL: f.URL + "/files/" + tc.media}}
			}
			var progress []string
			post := recording("Busy day "+tc.name, media, &progress)
			pub := newPublisher(f, nil)
			_, err := pub.Publish(context.Background(), profile, post)
			g.Expect(publish.KindOf(err)).To(Equal(publish.Retryable))
			g.Expect(publish.RetryAfter(err)).To(Equal(time.Minute))
			g.Expect(err.Error()).To(ContainSubstring(fmt.Sprintf("request limit reached (OAuthException code %d)", tc.code)))
			g.Expect(f.Posts(page)).To(BeEmpty())
			if strings.HasPrefix(tc.route, "POST") && !strings.HasSuffix(tc.route, "/photos") {
				g.Expect(progress).To(HaveLen(2), "recorded before the call that posts")
				g.Expect(progress[1]).To(BeEmpty(), "and forgotten on its clear refusal")
				post.Progress = progress[1]
			}

			_, err = pub.Publish(context.Background(), profile, post)
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(f.PostsWithText(page, post.Text)).To(HaveLen(1))
		})
	}
}

// recording is a post whose progress is kept as the reconciler keeps it.
func recording(text string, media []publish.Media, progress *[]string) publish.Post {
	return publish.Post{Text: text, Media: media, Record: func(_ context.Context, p string) error {
		*progress = append(*progress, p)
		return nil
	}}
}

// lost sends a post whose answer Facebook's gateway loses (with fault, on
// route), expects the try to be Unknown, and returns the post as the next
// try of the same attempt gets it: with the progress the try recorded.
func lost(t *testing.T, f *metatest.Fake, pub *facebook.Publisher, route string, fault platformtest.Fault, text string, media ...publish.Media) publish.Post {
	t.Helper()
	f.FailNext(route, 1, fault)
	var progress []string
	post := recording(text, media, &progress)
	_, err := pub.Publish(context.Background(), profile, post)
	NewWithT(t).Expect(publish.KindOf(err)).To(Equal(publish.Unknown))
	NewWithT(t).Expect(progress).To(HaveLen(1), "recorded once, before the call that posts")
	post.Progress, post.Record = progress[0], func(_ context.Context, p string) error {
		t.Errorf("the first send's time is kept, not recorded anew: %q", p)
		return nil
	}
	return post
}

var (
	feed       = "POST /v24.0/" + page + "/feed"
	gateway    = platformtest.Fault{Status: 502, Body: "Bad Gateway"}
	afterActed = platformtest.Fault{Status: 502, Body: "Bad Gateway", After: true}
)

// TestAnswerLost is a post whose answer was lost (a gateway's 502): the
// try is Unknown, and the next one looks among the Page's posts since the
// first send. Found, it is Published with that post's id; not found (the
// 502 came before Facebook acted), it is posted, once.
func TestAnswerLost(t *testing.T) {
	g := NewWithT(t)
	f := metatest.New(t)
	pub := newPublisher(f, nil)
	pub.Now = time.Now
	post := lost(t, f, pub, feed, afterActed, "Lost and found", publish.Media{URL: f.URL + "/files/a-1200x630.jpg"})
	g.Expect(post.Progress).To(MatchRegexp(`^feed sent at \d+$`))
	g.Expect(f.PostsWithText(page, "Lost and found")).To(HaveLen(1), "the post went out")

	res, err := pub.Publish(context.Background(), profile, post)
	g.Expect(err).NotTo(HaveOccurred())
	online := f.PostsWithText(page, "Lost and found")
	g.Expect(online).To(HaveLen(1), "found, not posted again")
	g.Expect(res.ExternalID).To(Equal(online[0].ID))
	g.Expect(res.PublishedAt).To(Equal(online[0].At.Truncate(time.Second)))
	look := f.Last(t, "GET /v24.0/"+page+"/published_posts")
	g.Expect(look.Header.Get("Authorization")).To(Equal("Bearer " + metatest.PageToken))
	sent, _ := strconv.ParseInt(strings.TrimPrefix(post.Progress, "feed sent at "), 10, 64)
	g.Expect(look.Query.Get("since")).To(Equal(strconv.FormatInt(sent-300, 10)), "since the first send, with a margin for clocks")
	g.Expect(look.Query.Get("limit")).To(Equal("100"))
	g.Expect(f.Find("POST /v24.0/"+page+"/photos")).To(HaveLen(1), "no photo uploaded again either")

	// A 502 before Facebook acted: nothing to find, so the post is sent.
	post = lost(t, f, pub, feed, gateway, "Never arrived")
	g.Expect(f.PostsWithText(page, "Never arrived")).To(BeEmpty())
	_, err = pub.Publish(context.Background(), profile, post)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(f.PostsWithText(page, "Never arrived")).To(HaveLen(1))
}

// TestCannotLookFor is what Herald cannot find among the Page's posts: a
// video (listed only once Facebook has processed it), a post without text,
// or one behind more than a hundred newer posts. A try after a lost answer
// for those is refused rather than risk a second post.
func TestCannotLookFor(t *testing.T) {
	g := NewWithT(t)
	f := metatest.New(t)
	pub := newPublisher(f, nil)
	pub.Now = time.Now
	video := lost(t, f, pub, "POST /v24.0/"+page+"/videos", platformtest.Fault{Status: 504, Body: "Gateway Timeout", After: true}, "A video", publish.Media{URL: f.URL + "/files/pour.mp4"})
	g.Expect(video.Progress).To(MatchRegexp(`^video sent at \d+$`))
	_, err := pub.Publish(context.Background(), profile, video)
	g.Expect(publish.KindOf(err)).To(Equal(publish.Permanent))
	g.Expect(err.Error()).To(ContainSubstring("Facebook lists a video among the Page's posts only once it has processed it"))
	g.Expect(f.Find("POST /v24.0/"+page+"/videos")).To(HaveLen(1), "never sent twice")

	photos := lost(t, f, pub, feed, afterActed, "", publish.Media{URL: f.URL + "/files/a-1200x630.jpg"})
	_, err = pub.Publish(context.Background(), profile, photos)
	g.Expect(publish.KindOf(err)).To(Equal(publish.Permanent))
	g.Expect(err.Error()).To(ContainSubstring("a post without text cannot be told apart"))

	busy := lost(t, f, pub, feed, gateway, "Behind the rush")
	for i := range 101 {
		_, err := pub.Publish(context.Background(), profile, publish.Post{Text: fmt.Sprintf("Rush %d", i)})
		g.Expect(err).NotTo(HaveOccurred())
	}
	_, err = pub.Publish(context.Background(), profile, busy)
	g.Expect(publish.KindOf(err)).To(Equal(publish.Permanent))
	g.Expect(err.Error()).To(ContainSubstring("more than 100 posts"))
	g.Expect(f.PostsWithText(page, "Behind the rush")).To(BeEmpty())
}
