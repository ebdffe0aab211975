package instagram_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"testing"
	"time"

	. "github.com/onsi/gomega"

	"github.com/herald-dev/herald/internal/publish"
	"github.com/herald-dev/herald/internal/publish/instagram"
	"github.com/herald-dev/herald/internal/publish/meta"
	"github.com/herald-dev/herald/internal/publish/meta/metatest"
	"github.com/herald-dev/herald/internal/publish/platformtest"
)

var now = time.Date(2026, 7, 1, 9, 0, 0, 0, time.UTC)

const ig = metatest.IGUserID

func newPublisher(f *metatest.Fake, client *http.Client) *instagram.Publisher {
	p := instagram.New(client)
	p.Host = meta.Host{BaseURL: f.URL}
	p.Poll = time.Millisecond
	p.Now = func() time.Time { return now }
	return p
}

var profile = publish.Profile{Platform: "instagram", Credentials: publish.Credentials{"accessToken": []byte(metatest.UserToken), "igUserId": []byte(ig)}}

// recorder is what the reconciler does with Post.Record: it keeps the
// progress, and the test checks what the platform had at that moment.
type recorder struct {
	progress []string
	atRecord [][]string
	f        *metatest.Fake
	fail     error
}

func (r *recorder) post(text string, media ...publish.Media) publish.Post {
	return publish.Post{Text: text, Media: media, Record: func(_ context.Context, p string) error {
		r.progress = append(r.progress, p)
		r.atRecord = append(r.atRecord, r.f.Routes())
		return r.fail
	}}
}

func image(f *metatest.Fake, name string) publish.Media {
	return publish.Media{URL: f.URL + "/files/" + name + ".jpg", AltText: "a cup of " + name}
}

func TestPublishImage(t *testing.T) {
	g := NewWithT(t)
	f := metatest.New(t)
	pub := newPublisher(f, nil)
	acct, err := pub.Verify(context.Background(), profile)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(acct).To(Equal(publish.Account{ID: ig, Handle: "@heraldcoffee", URL: "https://www.instagram.com/heraldcoffee/", CharacterLimit: 2200}))

	rec := &recorder{f: f}
	res, err := pub.Publish(context.Background(), profile, rec.post("Flat white season", image(f, "flat-white")))
	g.Expect(err).NotTo(HaveOccurred())
	posts := f.Posts(ig)
	g.Expect(posts).To(HaveLen(1))
	g.Expect(res.ExternalID).To(Equal(posts[0].ID))
	g.Expect(res.URL).To(Equal(posts[0].Permalink))
	g.Expect(posts[0].Text).To(Equal("Flat white season"))

	create := f.Last(t, "POST /v24.0/"+ig+"/media")
	v, _ := create.Form(t)
	g.Expect(v).To(Equal(url.Values{"image_url": {f.URL + "/files/flat-white.jpg"}, "alt_text": {"a cup of flat-white"}, "caption": {"Flat white season"}}))
	containers := f.Containers(ig)
	g.Expect(containers).To(HaveLen(1))
	g.Expect(rec.progress).To(Equal([]string{containers[0].ID}), "the container is recorded")
	g.Expect(rec.atRecord[0]).NotTo(ContainElement("POST /v24.0/"+ig+"/media_publish"), "before it is published")
	g.Expect(f.Last(t, "POST /v24.0/"+ig+"/media_publish").Body).To(ContainSubstring("creation_id=" + containers[0].ID))
}

func TestPublishReelAndCarousel(t *testing.T) {
	g := NewWithT(t)
	f := metatest.New(t)
	f.VideoPolls = 3
	pub := newPublisher(f, nil)
	rec := &recorder{f: f}
	_, err := pub.Publish(context.Background(), profile, rec.post("Latte art, slowly", publish.Media{URL: f.URL + "/files/pour.mp4"}))
	g.Expect(err).NotTo(HaveOccurred())
	v, _ := f.Last(t, "POST /v24.0/"+ig+"/media").Form(t)
	g.Expect(v.Get("media_type")).To(Equal("REELS"))
	g.Expect(v.Get("video_url")).To(Equal(f.URL + "/files/pour.mp4"))
	g.Expect(len(f.Find("GET /v24.0/"+rec.progress[0]))).To(BeNumerically(">=", 4), "it waits while the video is processed")

	rec = &recorder{f: f}
	_, err = pub.Publish(context.Background(), profile, rec.post("Three ways", image(f, "a"), image(f, "b"), publish.Media{URL: f.URL + "/files/c.mp4"}))
	g.Expect(err).NotTo(HaveOccurred())
	all := f.Containers(ig)
	items, parent := all[1:4], all[4]
	for _, c := range items {
		g.Expect(c.Carousel).To(BeTrue())
		g.Expect(c.Text).To(BeEmpty(), "the caption is the carousel's")
	}
	g.Expect(items[2].Type).To(Equal("VIDEO"))
	g.Expect(parent.Type).To(Equal("CAROUSEL"))
	g.Expect(parent.Children).To(Equal([]string{items[0].ID, items[1].ID, items[2].ID}))
	g.Expect(rec.progress).To(Equal([]string{parent.ID}), "the carousel, the one that is published, is recorded")
	g.Expect(f.Posts(ig)).To(HaveLen(2))
}

func TestMediaAreRequired(t *testing.T) {
	g := NewWithT(t)
	f := metatest.New(t)
	_, err := newPublisher(f, nil).Publish(context.Background(), profile, publish.Post{Text: "words alone"})
	g.Expect(publish.KindOf(err)).To(Equal(publish.Permanent))
	g.Expect(err.Error()).To(ContainSubstring("Instagram posts need an image or a video"))
	g.Expect(f.Routes()).To(BeEmpty())
}

// TestResumeFromProgress is a try of an attempt whose container an earlier
// try recorded: it never makes a second container, and publishes only a
// container that was not published.
func TestResumeFromProgress(t *testing.T) {
	g := NewWithT(t)
	f := metatest.New(t)
	pub := newPublisher(f, nil)
	crashed := &recorder{f: f, fail: errors.New("the process died")}
	_, err := pub.Publish(context.Background(), profile, crashed.post("Resumed", image(f, "r")))
	g.Expect(publish.KindOf(err)).To(Equal(publish.Retryable), "nothing published when the container could not be recorded")
	g.Expect(f.Find("POST /v24.0/" + ig + "/media_publish")).To(BeEmpty())
	container := crashed.progress[0]

	// The next try continues with the recorded container.
	next := &recorder{f: f}
	post := next.post("Resumed", image(f, "r"))
	post.Progress = container
	res, err := pub.Publish(context.Background(), profile, post)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(f.Containers(ig)).To(HaveLen(1), "no second container")
	g.Expect(next.progress).To(BeEmpty())
	g.Expect(f.Posts(ig)).To(HaveLen(1))

	// A try after the publish went out finds the post and publishes nothing.
	again := &recorder{f: f}
	post = again.post("Resumed", image(f, "r"))
	post.Progress = container
	res2, err := pub.Publish(context.Background(), profile, post)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(res2.ExternalID).To(Equal(res.ExternalID))
	g.Expect(res2.URL).To(Equal(res.URL))
	g.Expect(f.Find("POST /v24.0/" + ig + "/media_publish")).To(HaveLen(1))
	g.Expect(f.Posts(ig)).To(HaveLen(1), "published once")

	// An expired container was never published: a new one is made.
	stale := &recorder{f: f}
	_, _ = pub.Publish(context.Background(), profile, (&recorder{f: f, fail: errors.New("died")}).post("Late", image(f, "l")))
	expired := f.Containers(ig)[1].ID
	f.Expire(expired)
	post = stale.post("Late", image(f, "l"))
	post.Progress = expired
	_, err = pub.Publish(context.Background(), profile, post)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(stale.progress).To(HaveLen(1))
	g.Expect(stale.progress[0]).NotTo(Equal(expired))
	g.Expect(f.Posts(ig)).To(HaveLen(2))
}

// TestPublishAnswerLost is the publish that went out while its answer was
// lost (a gateway's 502 after Instagram acted): the container says
// PUBLISHED, so the try ends published, once.
func TestPublishAnswerLost(t *testing.T) {
	g := NewWithT(t)
	f := metatest.New(t)
	f.FailNext("POST /v24.0/"+ig+"/media_publish", 1, platformtest.Fault{Status: 502, Body: "Bad Gateway", After: true})
	res, err := newPublisher(f, nil).Publish(context.Background(), profile, (&recorder{f: f}).post("Lost and found", image(f, "x")))
	g.Expect(err).NotTo(HaveOccurred())
	posts := f.Posts(ig)
	g.Expect(posts).To(HaveLen(1))
	g.Expect(res.ExternalID).To(Equal(posts[0].ID), "found among the account's posts by its caption")

	// A 502 before Instagram acted leaves it Unknown for the engine, whose next try publishes the same container.
	f.FailNext("POST /v24.0/"+ig+"/media_publish", 1, platformtest.Fault{Status: 502, Body: "Bad Gateway"})
	rec := &recorder{f: f}
	post := rec.post("Second", image(f, "y"))
	_, err = newPublisher(f, nil).Publish(context.Background(), profile, post)
	g.Expect(publish.KindOf(err)).To(Equal(publish.Unknown))
	post.Progress = rec.progress[0]
	_, err = newPublisher(f, nil).Publish(context.Background(), profile, post)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(f.Posts(ig)).To(HaveLen(2))
	g.Expect(f.Containers(ig)).To(HaveLen(2))
}

func TestContainerError(t *testing.T) {
	g := NewWithT(t)
	f := metatest.New(t)
	_, err := newPublisher(f, nil).Publish(context.Background(), profile, (&recorder{f: f}).post("Broken", publish.Media{URL: f.URL + "/files/broken.mp4"}))
	g.Expect(publish.KindOf(err)).To(Equal(publish.Permanent))
	g.Expect(err.Error()).To(ContainSubstring("unsupported media format"))
	g.Expect(err.Error()).To(ContainSubstring("nothing was published"))
	g.Expect(f.Find("POST /v24.0/" + ig + "/media_publish")).To(BeEmpty())
}

func TestStillProcessingWhenTimeRunsOut(t *testing.T) {
	g := NewWithT(t)
	f := metatest.New(t)
	f.VideoPolls = 1 << 30
	rec := &recorder{f: f}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	pub := newPublisher(f, nil)
	pub.Poll = 10 * time.Millisecond
	_, err := pub.Publish(ctx, profile, rec.post("Slow", publish.Media{URL: f.URL + "/files/long.mp4"}))
	g.Expect(publish.KindOf(err)).To(Equal(publish.Retryable))
	g.Expect(publish.RetryAfter(err)).To(Equal(30 * time.Second))
	g.Expect(err.Error()).To(ContainSubstring("continues with it"))
	g.Expect(rec.progress).To(HaveLen(1), "the container is kept for the next try")
}

func TestPublishingLimit(t *testing.T) {
	g := NewWithT(t)
	f := metatest.New(t)
	f.UseQuota(ig, 25)
	_, err := newPublisher(f, nil).Publish(context.Background(), profile, (&recorder{f: f}).post("One too many", image(f, "z")))
	g.Expect(publish.KindOf(err)).To(Equal(publish.Retryable))
	g.Expect(publish.RetryAfter(err)).To(Equal(time.Hour))
	g.Expect(err.Error()).To(ContainSubstring("25 of 25 posts"))
	g.Expect(f.Containers(ig)).To(BeEmpty(), "no container is made")
	g.Expect(instagram.Info.PostsPerHour*24).To(BeNumerically("<=", 25), "the profile's limiter alone stays within the quota")
}

func TestPublishErrors(t *testing.T) {
	body := func(status int, msg string) string {
		return fmt.Sprintf(`{"error":{"message":%q,"type":"OAuthException","code":1,"fbtrace_id":"A"}}`, msg)
	}
	platformtest.CheckErrors(t, platformtest.StandardCases(body), []string{metatest.UserToken}, func(t *testing.T, client *http.Client, answer http.HandlerFunc) error {
		f := metatest.New(t)
		f.Override("POST /v24.0/"+ig+"/media_publish", answer)
		_, err := newPublisher(f, client).Publish(context.Background(), profile, (&recorder{f: f}).post("x", image(f, "e")))
		return err
	})
}

func TestBadToken(t *testing.T) {
	g := NewWithT(t)
	f := metatest.New(t)
	bad := publish.Profile{Credentials: publish.Credentials{"accessToken": []byte("expired-token-123"), "igUserId": []byte(ig)}}
	_, err := newPublisher(f, nil).Verify(context.Background(), bad)
	g.Expect(publish.KindOf(err)).To(Equal(publish.CredentialsRejected))
	g.Expect(err.Error()).To(ContainSubstring("Session has expired"))
	g.Expect(err.Error()).NotTo(ContainSubstring("expired-token-123"))
}

// TestMediaFilesAreCheckedFirst is a post whose files Instagram would
// refuse: Herald reads their headers and refuses it before any Graph call,
// saying why.
func TestMediaFilesAreCheckedFirst(t *testing.T) {
	for _, tc := range []struct {
		name, file, want string
	}{
		{"too wide", "pano-2000x1000.jpg", "Instagram takes images from 4:5 (tallest) to 1.91:1 (widest), and this one is 2000×1000, 2.00:1; crop it to fit."},
		{"too tall", "story-1080x1920.jpg", "this one is 1080×1920, 0.56:1"},
		{"too large", "big-1080x1080-9000000bytes.jpg", "Instagram takes images of up to 8 MB, and this file has 9.0 MB"},
		{"a PNG", "logo-1080x1080.png", "Instagram takes images as JPEG only, and this file is PNG"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			f := metatest.New(t)
			rec := &recorder{f: f}
			// The carousel's second image is the one at fault.
			_, err := newPublisher(f, nil).Publish(context.Background(), profile, rec.post("Fits?", image(f, "sq-1080x1080"), publish.Media{URL: f.URL + "/files/" + tc.file}))
			g.Expect(publish.KindOf(err)).To(Equal(publish.Permanent))
			g.Expect(err.Error()).To(And(HavePrefix("instagram: Attachment 2 ("+f.URL+"/files/"+tc.file+")"), ContainSubstring(tc.want)))
			for _, route := range f.Routes() {
				g.Expect(route).To(HavePrefix("GET /files/"), "no Graph call")
			}
			g.Expect(rec.progress).To(BeEmpty())
		})
	}

	// The files of a try that continues with a recorded container are not
	// held against it again: the container may be published already.
	g := NewWithT(t)
	f := metatest.New(t)
	crashed := &recorder{f: f, fail: errors.New("the process died")}
	_, _ = newPublisher(f, nil).Publish(context.Background(), profile, crashed.post("Resumed", image(f, "r-1080x1080")))
	post := (&recorder{f: f}).post("Resumed", publish.Media{URL: f.URL + "/files/r-1080x1080.jpg"})
	post.Progress = crashed.progress[0]
	_, err := newPublisher(f, nil).Publish(context.Background(), profile, post)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(f.Find("GET /files/r-1080x1080.jpg")).To(HaveLen(1), "read before the first try only")
	g.Expect(f.Posts(ig)).To(HaveLen(1))
}

// TestRateLimited is the Graph API refusing a call for a rate limit before
// acting on it: on the container's creation nothing is made; on
// media_publish the container is kept. Either way the try is Retryable a
// minute later, and the next one publishes once, from the same container.
func TestRateLimited(t *testing.T) {
	g := NewWithT(t)
	f := metatest.New(t)
	pub := newPublisher(f, nil)
	f.RateLimit("POST /v24.0/"+ig+"/media", 1, metatest.AppRateLimit)
	rec := &recorder{f: f}
	post := rec.post("Busy morning", image(f, "m-1080x1080"))
	_, err := pub.Publish(context.Background(), profile, post)
	g.Expect(publish.KindOf(err)).To(Equal(publish.Retryable))
	g.Expect(publish.RetryAfter(err)).To(Equal(time.Minute))
	g.Expect(err.Error()).To(ContainSubstring("(#4) Application request limit reached"))
	g.Expect(f.Containers(ig)).To(BeEmpty())
	g.Expect(rec.progress).To(BeEmpty(), "no container, nothing recorded")
	_, err = pub.Publish(context.Background(), profile, post)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(f.PostsWithText(ig, "Busy morning")).To(HaveLen(1))

	f.RateLimit("POST /v24.0/"+ig+"/media_publish", 1, metatest.UserRateLimit)
	rec = &recorder{f: f}
	post = rec.post("Busy evening", image(f, "e-1080x1080"))
	_, err = pub.Publish(context.Background(), profile, post)
	g.Expect(publish.KindOf(err)).To(Equal(publish.Retryable))
	g.Expect(publish.RetryAfter(err)).To(Equal(time.Minute))
	g.Expect(err.Error()).To(ContainSubstring("(#17) User request limit reached"))
	g.Expect(rec.progress).To(HaveLen(1), "the container was recorded before media_publish")
	g.Expect(f.PostsWithText(ig, "Busy evening")).To(BeEmpty())

	post.Progress = rec.progress[0]
	_, err = pub.Publish(context.Background(), profile, post)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(f.PostsWithText(ig, "Busy evening")).To(HaveLen(1))
	g.Expect(f.ContainersWithText(ig, "Busy evening")).To(HaveLen(1), "published from the recorded container")
}
