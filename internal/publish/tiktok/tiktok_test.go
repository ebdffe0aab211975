package tiktok_test

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	. "github.com/onsi/gomega"

	"github.com/herald-dev/herald/internal/publish"
	"github.com/herald-dev/herald/internal/publish/platformtest"
	"github.com/herald-dev/herald/internal/publish/tiktok"
	"github.com/herald-dev/herald/internal/publish/tiktok/tiktoktest"
)

func newPublisher(f *tiktoktest.Fake, client *http.Client) *tiktok.Publisher {
	if client == nil {
		// Videos on the verified domain are TikTok's to fetch, never the test's.
		client = &http.Client{Transport: platformtest.Loopback{}}
	}
	p := tiktok.New(client)
	p.BaseURL = f.URL
	p.Poll = time.Millisecond
	return p
}

func profile(privacy string) publish.Profile {
	creds := publish.Credentials{"accessToken": []byte(tiktoktest.Token)}
	if privacy != "" {
		creds["privacyLevel"] = []byte(privacy)
	}
	return publish.Profile{Platform: "tiktok", Credentials: creds}
}

const video = tiktoktest.VerifiedPrefix + "pour-over.mp4"

// recording is a post whose progress is kept as the reconciler keeps it.
func recording(text, url string, progress *[]string) publish.Post {
	return publish.Post{Text: text, Media: []publish.Media{{URL: url}}, Record: func(_ context.Context, p string) error {
		*progress = append(*progress, p)
		return nil
	}}
}

func TestPublish(t *testing.T) {
	g := NewWithT(t)
	f := tiktoktest.New(t)
	f.Polls = 3
	pub := newPublisher(f, nil)
	acct, err := pub.Verify(context.Background(), profile(""))
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(acct.Handle).To(Equal("@heraldcoffee"))
	g.Expect(acct.Note).To(BeEmpty())

	var progress []string
	res, err := pub.Publish(context.Background(), profile(""), recording("Pour-over in 30 seconds #coffee", video, &progress))
	g.Expect(err).NotTo(HaveOccurred())
	pubs := f.Publishes()
	g.Expect(pubs).To(HaveLen(1))
	g.Expect(pubs[0].Title).To(Equal("Pour-over in 30 seconds #coffee"))
	g.Expect(pubs[0].Privacy).To(Equal(tiktok.DefaultPrivacy))
	g.Expect(pubs[0].VideoURL).To(Equal(video))
	g.Expect(res.ExternalID).To(Equal(pubs[0].PostID))
	g.Expect(progress).To(Equal([]string{"init", "publish_id:" + pubs[0].ID}), "init is recorded before it is sent, its publish_id as soon as it is known")
	g.Expect(len(f.Find("POST /v2/post/publish/status/fetch/"))).To(BeNumerically(">=", 4))
}

func TestResume(t *testing.T) {
	g := NewWithT(t)
	f := tiktoktest.New(t)
	pub := newPublisher(f, nil)
	var progress []string
	first, err := pub.Publish(context.Background(), profile(""), recording("Once", video, &progress))
	g.Expect(err).NotTo(HaveOccurred())

	// A later try of the attempt follows the recorded publish_id.
	again := recording("Once", video, &progress)
	again.Progress = progress[len(progress)-1]
	res, err := pub.Publish(context.Background(), profile(""), again)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(res.ExternalID).To(Equal(first.ExternalID))
	g.Expect(f.Publishes()).To(HaveLen(1), "init is never called twice")

	// A try after init may have been sent, with no publish_id recorded,
	// cannot check and does not send again.
	lost := recording("Once", video, &progress)
	lost.Progress = "init"
	_, err = pub.Publish(context.Background(), profile(""), lost)
	g.Expect(publish.KindOf(err)).To(Equal(publish.Permanent))
	g.Expect(err.Error()).To(ContainSubstring("never calls init twice"))
	g.Expect(f.Publishes()).To(HaveLen(1))
}

func TestUnauditedApps(t *testing.T) {
	g := NewWithT(t)
	f := tiktoktest.New(t)
	f.Audited = false
	var progress []string
	_, err := newPublisher(f, nil).Publish(context.Background(), profile(""), recording("Public?", video, &progress))
	g.Expect(publish.KindOf(err)).To(Equal(publish.Permanent))
	g.Expect(err.Error()).To(ContainSubstring("set privacyLevel SELF_ONLY"))

	acct, err := newPublisher(f, nil).Verify(context.Background(), profile("SELF_ONLY"))
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(acct.Note).To(ContainSubstring("visible only to the account"))
	_, err = newPublisher(f, nil).Publish(context.Background(), profile("SELF_ONLY"), recording("Private", video, &progress))
	g.Expect(err).NotTo(HaveOccurred())

	_, err = newPublisher(f, nil).Verify(context.Background(), profile("EVERYONE_IN_THE_WORLD"))
	g.Expect(publish.KindOf(err)).To(Equal(publish.Permanent))
	g.Expect(err.Error()).To(ContainSubstring("PUBLIC_TO_EVERYONE, MUTUAL_FOLLOW_FRIENDS, SELF_ONLY"))
}

func TestRules(t *testing.T) {
	g := NewWithT(t)
	f := tiktoktest.New(t)
	_, err := newPublisher(f, nil).Publish(context.Background(), profile(""), publish.Post{Text: "no video", Media: []publish.Media{{URL: tiktoktest.VerifiedPrefix + "a.jpg"}}})
	g.Expect(publish.KindOf(err)).To(Equal(publish.Permanent))
	g.Expect(err.Error()).To(ContainSubstring("TikTok posts need a video"))
	g.Expect(f.Routes()).To(BeEmpty())

	var progress []string
	_, err = newPublisher(f, nil).Publish(context.Background(), profile(""), recording("Broken", tiktoktest.VerifiedPrefix+"broken.mp4", &progress))
	g.Expect(publish.KindOf(err)).To(Equal(publish.Permanent))
	g.Expect(err.Error()).To(ContainSubstring("file_format_check_failed"))
}

func TestInitErrors(t *testing.T) {
	body := func(status int, msg string) string {
		return fmt.Sprintf(`{"data":{},"error":{"code":"internal_error","message":%q,"log_id":"1"}}`, msg)
	}
	cases := platformtest.StandardCases(body)
	cases = append(cases,
		platformtest.ErrorCase{Name: "rate limited", Status: 429, Body: `{"data":{},"error":{"code":"rate_limit_exceeded","message":"slow down"}}`, Kind: publish.Retryable, RetryAfter: time.Minute, Message: "slow down"},
		platformtest.ErrorCase{Name: "too many posts", Status: 403, Body: `{"data":{},"error":{"code":"spam_risk_too_many_posts","message":"daily cap"}}`, Kind: publish.Retryable, RetryAfter: time.Hour, Message: "daily cap"},
		platformtest.ErrorCase{Name: "scope", Status: 401, Body: `{"data":{},"error":{"code":"scope_not_authorized","message":"video.publish"}}`, Kind: publish.CredentialsRejected, Message: "video.publish"},
	)
	platformtest.CheckErrors(t, cases, []string{tiktoktest.Token}, func(t *testing.T, client *http.Client, answer http.HandlerFunc) error {
		f := tiktoktest.New(t)
		f.Override("POST /v2/post/publish/video/init/", answer)
		var progress []string
		_, err := newPublisher(f, client).Publish(context.Background(), profile(""), recording("x", video, &progress))
		return err
	})
}

// TestFileUpload is a video on a host TikTok will not pull from: Herald
// uploads it, in chunks, and a try after an interrupted upload sends it
// again to the same upload URL, never a second init.
func TestFileUpload(t *testing.T) {
	g := NewWithT(t)
	f := tiktoktest.New(t)
	pub := newPublisher(f, nil)
	var progress []string
	res, err := pub.Publish(context.Background(), profile(""), recording("Uploaded", f.URL+"/files/cup.mp4", &progress))
	g.Expect(err).NotTo(HaveOccurred())
	pubs := f.Publishes()
	g.Expect(pubs).To(HaveLen(1), "the refused pull made nothing; the upload made one")
	g.Expect(pubs[0].Uploaded).To(Equal(tiktoktest.VideoBytes("cup.mp4")))
	g.Expect(res.ExternalID).To(Equal(pubs[0].PostID))
	g.Expect(progress).To(HaveLen(2))
	g.Expect(progress[1]).To(HavePrefix("publish_id:" + pubs[0].ID + " upload_url:"))
	g.Expect(f.Last(t, "PUT /upload/").Header.Get("Content-Range")).To(Equal("bytes 0-98303/98304"))

	// The upload is cut off; the next try sends it again to the same URL.
	f.FailNext("PUT /upload/", 1, platformtest.Fault{Status: 500, Body: "upload failed"})
	progress = nil
	post := recording("Cut off", f.URL+"/files/cut.mp4", &progress)
	_, err = pub.Publish(context.Background(), profile(""), post)
	g.Expect(publish.KindOf(err)).To(Equal(publish.Retryable), "a chunk PUT again cannot make a second post")
	post.Progress = progress[len(progress)-1]
	_, err = pub.Publish(context.Background(), profile(""), post)
	g.Expect(err).NotTo(HaveOccurred())
	pubs = f.Publishes()
	g.Expect(pubs).To(HaveLen(2), "one init for each post")
	g.Expect(pubs[1].Uploaded).To(Equal(tiktoktest.VideoBytes("cut.mp4")))
	g.Expect(pubs[1].Status).To(Equal("PUBLISH_COMPLETE"))
}

func TestVideoFileIsCheckedFirst(t *testing.T) {
	g := NewWithT(t)
	f := tiktoktest.New(t)
	var progress []string
	post := recording("An old clip", f.URL+"/files/clip.avi", &progress)
	post.Media[0].Type = "video"
	_, err := newPublisher(f, nil).Publish(context.Background(), profile(""), post)
	g.Expect(publish.KindOf(err)).To(Equal(publish.Permanent))
	g.Expect(err).To(MatchError("tiktok: Attachment 1 (" + f.URL + "/files/clip.avi): TikTok takes videos as MP4, WebM or MOV only, and this file is AVI; convert it, or use another."))
	g.Expect(f.Routes()).To(BeEmpty())

	// A host that says the file is larger than TikTok takes, in answer to
	// a request for its first bytes.
	f.Override("GET /files/long.mp4", func(w http.ResponseWriter, r *http.Request) {
		g.Expect(r.Header.Get("Range")).To(Equal("bytes=0-4095"))
		w.Header().Set("Content-Type", "video/mp4")
		w.Header().Set("Content-Range", "bytes 0-4095/5000000000")
		w.WriteHeader(http.StatusPartialContent)
		_, _ = w.Write(make([]byte, 4096))
	})
	_, err = newPublisher(f, nil).Publish(context.Background(), profile(""), recording("Too long", f.URL+"/files/long.mp4", &progress))
	g.Expect(publish.KindOf(err)).To(Equal(publish.Permanent))
	g.Expect(err.Error()).To(ContainSubstring("TikTok takes videos of up to 4 GB, and this file has 5.0 GB"))
	g.Expect(f.Routes()).To(Equal([]string{"GET /files/long.mp4"}), "no init, no creator query")
	g.Expect(progress).To(BeEmpty())
}
