package facebook_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
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
	NewWithT(t).Expect(facebook.Info.Resend.By).To(BeEmpty(), "Facebook recognises no repeat: an ambiguous post is Unknown")
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
// the try is Retryable, a minute later, and the next one posts once.
func TestRateLimited(t *testing.T) {
	for _, tc := range []struct {
		name, route string
		code        int
		media       bool
	}{
		{"the Page's limit on the post", "POST /v24.0/" + page + "/feed", metatest.PageRateLimit, false},
		{"the app's limit on reading the Page", "GET /v24.0/" + page, metatest.AppRateLimit, false},
		{"a person's limit on a photo", "POST /v24.0/" + page + "/photos", metatest.UserRateLimit, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			f := metatest.New(t)
			f.RateLimit(tc.route, 1, tc.code)
			post := publish.Post{Text: "Busy day " + tc.name}
			if tc.media {
				post.Media = []publish.Media{{URL: f.URL + "/files/a-1200x630.jpg"}}
			}
			pub := newPublisher(f, nil)
			_, err := pub.Publish(context.Background(), profile, post)
			g.Expect(publish.KindOf(err)).To(Equal(publish.Retryable))
			g.Expect(publish.RetryAfter(err)).To(Equal(time.Minute))
			g.Expect(err.Error()).To(ContainSubstring(fmt.Sprintf("request limit reached (OAuthException code %d)", tc.code)))
			g.Expect(f.Posts(page)).To(BeEmpty())

			_, err = pub.Publish(context.Background(), profile, post)
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(f.PostsWithText(page, post.Text)).To(HaveLen(1))
		})
	}
}
