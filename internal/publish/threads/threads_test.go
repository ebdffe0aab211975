package threads_test

import (
	"context"
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
