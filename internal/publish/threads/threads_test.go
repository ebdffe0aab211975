package threads_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"

	"github.com/herald-dev/herald/internal/publish"
	"github.com/herald-dev/herald/internal/publish/meta"
	"github.com/herald-dev/herald/internal/publish/meta/metatest"
	"github.com/herald-dev/herald/internal/publish/platformtest"
	"github.com/herald-dev/herald/internal/publish/threads"
)

const me = metatest.ThreadsUserID

var profile = publish.Profile{Platform: "threads", Credentials: publish.Credentials{"accessToken": []byte(metatest.ThreadsToken)}}

func newPublisher(f *metatest.Fake, client *http.Client) *threads.Publisher {
	p := threads.New(client)
	p.Host = meta.Host{BaseURL: f.URL, Version: "v1.0"}
	p.Poll = time.Millisecond
	return p
}

func recording(text string, media []publish.Media, progress *[]string) publish.Post {
	return publish.Post{Text: text, Media: media, Record: func(_ context.Context, p string) error {
		*progress = append(*progress, p)
		return nil
	}}
}

func TestPublishTextImageAndCarousel(t *testing.T) {
	g := NewWithT(t)
	f := metatest.New(t)
	pub := newPublisher(f, nil)
	acct, err := pub.Verify(context.Background(), profile)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(acct.ID).To(Equal(me))
	g.Expect(acct.Handle).To(Equal("@heraldcoffee"))

	var progress []string
	res, err := pub.Publish(context.Background(), profile, recording("Words first", nil, &progress))
	g.Expect(err).NotTo(HaveOccurred())
	v, _ := f.Last(t, "POST /v1.0/me/threads").Form(t)
	g.Expect(v.Get("media_type")).To(Equal("TEXT"))
	g.Expect(v.Get("text")).To(Equal("Words first"))
	g.Expect(progress).To(Equal([]string{f.Containers(me)[0].ID}))
	g.Expect(res.ExternalID).To(Equal(f.Posts(me)[0].ID))
	g.Expect(res.URL).To(HavePrefix("https://www.threads.com/@heraldcoffee/post/"))

	progress = nil
	_, err = pub.Publish(context.Background(), profile, recording("Two", []publish.Media{{URL: f.URL + "/files/a.jpg", AltText: "beans"}, {URL: f.URL + "/files/b.mp4"}}, &progress))
	g.Expect(err).NotTo(HaveOccurred())
	all := f.Containers(me)
	g.Expect(all).To(HaveLen(4))
	g.Expect(all[1].Type).To(Equal("IMAGE"))
	g.Expect(all[2].Type).To(Equal("VIDEO"))
	g.Expect(all[3].Type).To(Equal("CAROUSEL"))
	g.Expect(progress).To(Equal([]string{all[3].ID}))
	g.Expect(f.Posts(me)).To(HaveLen(2))
}

func TestResumeNeverPublishesTwice(t *testing.T) {
	g := NewWithT(t)
	f := metatest.New(t)
	f.FailNext("POST /v1.0/me/threads_publish", 1, platformtest.Fault{Hang: true, After: true})
	var progress []string
	post := recording("Once", nil, &progress)
	_, err := newPublisher(f, platformtest.Client()).Publish(context.Background(), profile, post)
	g.Expect(err).NotTo(HaveOccurred(), "the container says PUBLISHED after the answer timed out")
	g.Expect(f.Posts(me)).To(HaveLen(1))

	// A later try of the same attempt, from the recorded container.
	post.Progress = progress[0]
	_, err = newPublisher(f, nil).Publish(context.Background(), profile, post)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(f.Posts(me)).To(HaveLen(1))
	g.Expect(f.Containers(me)).To(HaveLen(1))
}

func TestLength(t *testing.T) {
	g := NewWithT(t)
	g.Expect(threads.Length("café")).To(Equal(4))
	g.Expect(threads.Length("hi ☕")).To(Equal(6), "an emoji counts as its UTF-8 bytes")
	g.Expect(threads.Length("🎉")).To(Equal(4))
	problems := threads.Info.Rules.Check(strings.Repeat("a", 499)+"🎉", nil)
	g.Expect(problems).To(HaveLen(1))
	g.Expect(problems[0].Code).To(Equal("TooLong"))
}

func TestPublishErrors(t *testing.T) {
	body := func(status int, msg string) string {
		return fmt.Sprintf(`{"error":{"message":%q,"type":"THApiException","code":1,"fbtrace_id":"A"}}`, msg)
	}
	platformtest.CheckErrors(t, platformtest.StandardCases(body), []string{metatest.ThreadsToken}, func(t *testing.T, client *http.Client, answer http.HandlerFunc) error {
		f := metatest.New(t)
		f.Override("POST /v1.0/me/threads_publish", answer)
		var progress []string
		_, err := newPublisher(f, client).Publish(context.Background(), profile, recording("x", nil, &progress))
		return err
	})
}

func TestDelete(t *testing.T) {
	g := NewWithT(t)
	f := metatest.New(t)
	pub := newPublisher(f, nil)
	var progress []string
	res, err := pub.Publish(context.Background(), profile, recording("Gone soon", nil, &progress))
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(pub.Delete(context.Background(), profile, res.ExternalID)).To(Succeed())
	g.Expect(f.Posts(me)).To(BeEmpty())
	g.Expect(pub.Delete(context.Background(), profile, res.ExternalID)).To(Succeed(), "already gone is deleted")
	fresh := metatest.New(t)
	platformtest.CheckRefusedIDs(t, fresh.Server, map[string]string{"": "numeric media id", "../me": "numeric media id"}, func(id string) error {
		return newPublisher(fresh, nil).Delete(context.Background(), profile, id)
	})
	platformtest.CheckErrors(t, platformtest.DeleteCases(platformtest.StandardCases(func(status int, msg string) string {
		return fmt.Sprintf(`{"error":{"message":%q,"type":"THApiException","code":1}}`, msg)
	}), true), []string{metatest.ThreadsToken}, func(t *testing.T, client *http.Client, answer http.HandlerFunc) error {
		f := metatest.New(t)
		f.Override("DELETE /v1.0/123", answer)
		return newPublisher(f, client).Delete(context.Background(), profile, "123")
	})
}

// TestMediaFilesAreCheckedFirst publishes files Threads would refuse:
// each is refused before any Threads call, with the reason its header
// shows.
func TestMediaFilesAreCheckedFirst(t *testing.T) {
	refused := map[string]string{
		"strip-100x1200.png":             "Threads takes images from 1:10 (tallest) to 10:1 (widest), and this one is 100×1200, 0.08:1",
		"big-1080x1080-8500000bytes.jpg": "Threads takes images of up to 8 MB, and this file has 8.5 MB",
		"a.webp":                         "Threads takes images as JPEG or PNG only, and this file is WebP",
	}
	f := metatest.New(t)
	for file, want := range refused {
		var progress []string
		_, err := newPublisher(f, nil).Publish(context.Background(), profile, recording("Fits?", []publish.Media{{URL: f.URL + "/files/" + file}}, &progress))
		NewWithT(t).Expect(err).To(And(HaveField("Kind", publish.Permanent), MatchError(ContainSubstring("threads: Attachment 1 ("+f.URL+"/files/"+file+"): "+want))))
	}
	g := NewWithT(t)
	g.Expect(f.Containers(me)).To(BeEmpty())
	g.Expect(f.Find("GET /v1.0/me/threads_publishing_limit")).To(BeEmpty(), "no Threads call at all")
	var progress []string
	_, err := newPublisher(f, nil).Publish(context.Background(), profile, recording("Square", []publish.Media{{URL: f.URL + "/files/sq-1080x1080.png"}}, &progress))
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(f.Posts(me)).To(HaveLen(1))
}

// TestContainerError is a container Threads could not prepare (its video
// would not download): Permanent, with Threads' reason, and never published,
// whether the first try sees it or a later one resumes with it.
func TestContainerError(t *testing.T) {
	g := NewWithT(t)
	f := metatest.New(t)
	var progress []string
	post := recording("Broken reel", []publish.Media{{URL: f.URL + "/files/broken.mp4"}}, &progress)
	_, err := newPublisher(f, nil).Publish(context.Background(), profile, post)
	g.Expect(publish.KindOf(err)).To(Equal(publish.Permanent))
	g.Expect(err.Error()).To(And(ContainSubstring("FAILED_DOWNLOADING_VIDEO"), ContainSubstring("nothing was published")))
	g.Expect(progress).To(HaveLen(1), "the container was recorded before it was looked at")
	g.Expect(f.Find("POST /v1.0/me/threads_publish")).To(BeEmpty())

	post.Progress = progress[0]
	_, err = newPublisher(f, nil).Publish(context.Background(), profile, post)
	g.Expect(publish.KindOf(err)).To(Equal(publish.Permanent), "a resumed try reads the same ERROR")
	g.Expect(err.Error()).To(ContainSubstring("could not prepare media container " + progress[0]))
	g.Expect(f.Containers(me)).To(HaveLen(1), "and makes no second container")
	g.Expect(f.Posts(me)).To(BeEmpty())
}

// TestContainerExpired is a container left unpublished for 24 hours:
// Threads never published it, so the next try makes a new one, records it
// and publishes it, once.
func TestContainerExpired(t *testing.T) {
	g := NewWithT(t)
	f := metatest.New(t)
	var progress []string
	crashed := recording("Late", nil, &progress)
	crashed.Record = func(_ context.Context, p string) error {
		progress = append(progress, p)
		return errors.New("the process died")
	}
	_, err := newPublisher(f, nil).Publish(context.Background(), profile, crashed)
	g.Expect(publish.KindOf(err)).To(Equal(publish.Retryable))
	expired := progress[0]
	f.Expire(expired)

	progress = nil
	post := recording("Late", nil, &progress)
	post.Progress = expired
	res, err := newPublisher(f, nil).Publish(context.Background(), profile, post)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(progress).To(HaveLen(1))
	g.Expect(progress[0]).NotTo(Equal(expired), "a new container, recorded")
	g.Expect(f.Last(t, "POST /v1.0/me/threads_publish").Body).To(ContainSubstring("creation_id=" + progress[0]))
	g.Expect(f.Posts(me)).To(ConsistOf(HaveField("ID", res.ExternalID)))

	// A container that expires while Herald waits for it is not published
	// either: the try ends Retryable, and the next one starts afresh.
	f.VideoPolls = 1 << 30
	progress = nil
	pub := newPublisher(f, nil)
	pub.Poll = 5 * time.Millisecond
	slow := recording("Slow video", []publish.Media{{URL: f.URL + "/files/slow.mp4"}}, &progress)
	slow.Record = func(_ context.Context, p string) error {
		progress = append(progress, p)
		f.Expire(p)
		return nil
	}
	_, err = pub.Publish(context.Background(), profile, slow)
	g.Expect(publish.KindOf(err)).To(Equal(publish.Retryable))
	g.Expect(err.Error()).To(ContainSubstring("expired before it was published"))
	g.Expect(f.PostsWithText(me, "Slow video")).To(BeEmpty())
}

// TestPublishingQuota is Threads' 250 posts a day: used up, no container
// is made and the try waits an hour; and should threads_publish refuse for
// it all the same (the quota read was stale), the try waits an hour too.
func TestPublishingQuota(t *testing.T) {
	g := NewWithT(t)
	f := metatest.New(t)
	f.UseQuota(me, 250)
	var progress []string
	_, err := newPublisher(f, nil).Publish(context.Background(), profile, recording("One too many", nil, &progress))
	g.Expect(publish.KindOf(err)).To(Equal(publish.Retryable))
	g.Expect(publish.RetryAfter(err)).To(Equal(time.Hour))
	g.Expect(err.Error()).To(ContainSubstring("250 of 250 posts in the last 24h0m0s"))
	g.Expect(f.Containers(me)).To(BeEmpty(), "no container is made")
	g.Expect(f.Last(t, "GET /v1.0/me/threads_publishing_limit").Query.Get("fields")).To(Equal("quota_usage,config"))
	g.Expect(threads.Info.PostsPerHour*24).To(BeNumerically("<=", 250), "the profile's limiter alone stays within the quota")

	f.Override("GET /v1.0/me/threads_publishing_limit", func(w http.ResponseWriter, r *http.Request) {
		platformtest.WriteJSON(w, 200, map[string]any{"data": []any{map[string]any{"quota_usage": 0, "config": map[string]any{"quota_total": 250, "quota_duration": 86400}}}})
	})
	_, err = newPublisher(f, nil).Publish(context.Background(), profile, recording("Stale quota", nil, &progress))
	g.Expect(publish.KindOf(err)).To(Equal(publish.Retryable))
	g.Expect(publish.RetryAfter(err)).To(Equal(time.Hour))
	g.Expect(err.Error()).To(ContainSubstring("maximum number of posts"))
	g.Expect(f.Posts(me)).To(BeEmpty())
}

// TestExpiredToken is a Threads token past its 60 days: Threads answers
// code 190, which is CredentialsRejected, before anything is made, and the
// token never appears in the message.
func TestExpiredToken(t *testing.T) {
	g := NewWithT(t)
	f := metatest.New(t)
	const old = "THAAexpired-threads-token-0001"
	expired := publish.Profile{Platform: "threads", Credentials: publish.Credentials{"accessToken": []byte(old)}}
	_, err := newPublisher(f, nil).Verify(context.Background(), expired)
	g.Expect(publish.KindOf(err)).To(Equal(publish.CredentialsRejected))
	g.Expect(err.Error()).To(And(ContainSubstring("Session has expired"), ContainSubstring("code 190, subcode 463"), Not(ContainSubstring(old))))

	var progress []string
	_, err = newPublisher(f, nil).Publish(context.Background(), expired, recording("Words", nil, &progress))
	g.Expect(publish.KindOf(err)).To(Equal(publish.CredentialsRejected))
	g.Expect(err.Error()).NotTo(ContainSubstring(old))
	g.Expect(f.Last(t, "GET /v1.0/me/threads_publishing_limit").Header.Get("Authorization")).To(Equal("Bearer "+old), "sent as a header, never in the URL")
	g.Expect(progress).To(BeEmpty())
	g.Expect(f.Containers(me)).To(BeEmpty())
}
