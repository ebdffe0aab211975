package youtube_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	. "github.com/onsi/gomega"

	"github.com/herald-dev/herald/internal/publish"
	"github.com/herald-dev/herald/internal/publish/platformtest"
	"github.com/herald-dev/herald/internal/publish/youtube"
	"github.com/herald-dev/herald/internal/publish/youtube/youtubetest"
)

func newPublisher(f *youtubetest.Fake, client *http.Client) *youtube.Publisher {
	p := youtube.New(client)
	p.BaseURL = f.URL
	return p
}

func profile(extra ...string) publish.Profile {
	creds := publish.Credentials{"accessToken": []byte(youtubetest.Token)}
	for i := 0; i+1 < len(extra); i += 2 {
		creds[extra[i]] = []byte(extra[i+1])
	}
	return publish.Profile{Platform: "youtube", Credentials: creds}
}

func recording(f *youtubetest.Fake, text, name string, progress *[]string) publish.Post {
	return publish.Post{Text: text, Media: []publish.Media{{URL: f.URL + "/files/" + name}}, Record: func(_ context.Context, p string) error {
		*progress = append(*progress, p)
		return nil
	}}
}

func TestUpload(t *testing.T) {
	g := NewWithT(t)
	f := youtubetest.New(t)
	pub := newPublisher(f, nil)
	acct, err := pub.Verify(context.Background(), profile())
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(acct).To(Equal(publish.Account{ID: youtubetest.ChannelID, Handle: "@heraldcoffee", URL: "https://www.youtube.com/channel/" + youtubetest.ChannelID, CharacterLimit: 5000}))

	var progress []string
	res, err := pub.Publish(context.Background(), profile("privacyStatus", "unlisted", "notifySubscribers", "false"),
		recording(f, "Latte art <slowly>\nThree pours, one cup.", "latte.mp4", &progress))
	g.Expect(err).NotTo(HaveOccurred())
	videos := f.Videos()
	g.Expect(videos).To(HaveLen(1))
	v := videos[0]
	g.Expect(res.ExternalID).To(Equal(v.ID))
	g.Expect(res.URL).To(Equal("https://www.youtube.com/watch?v=" + v.ID))
	g.Expect(v.Title).To(Equal("Latte art slowly"))
	g.Expect(v.Description).To(Equal("Latte art <slowly>\nThree pours, one cup."))
	g.Expect(v.Privacy).To(Equal("unlisted"))
	g.Expect(v.Notify).To(BeFalse())
	g.Expect(v.Bytes).To(Equal(youtubetest.VideoBytes("latte.mp4")), "the whole file, streamed")
	start := f.Last(t, "POST /upload/youtube/v3/videos")
	g.Expect(start.Header.Get("X-Upload-Content-Length")).To(Equal("65536"))
	g.Expect(progress).To(HaveLen(1))
	g.Expect(progress[0]).To(ContainSubstring("upload_id="), "the session is recorded")
}

// TestResume is a try of an attempt whose session an earlier try recorded:
// it continues that session and never uploads a second video.
func TestResume(t *testing.T) {
	g := NewWithT(t)
	f := youtubetest.New(t)
	f.StopAfter = 20000
	pub := newPublisher(f, nil)
	var progress []string
	post := recording(f, "Cut short", "cut.mp4", &progress)
	_, err := pub.Publish(context.Background(), profile(), post)
	g.Expect(publish.KindOf(err)).To(Equal(publish.Retryable), "a 503 mid-upload: nothing published yet")
	g.Expect(f.Videos()).To(BeEmpty())

	post.Progress = progress[0]
	res, err := pub.Publish(context.Background(), profile(), post)
	g.Expect(err).NotTo(HaveOccurred())
	videos := f.Videos()
	g.Expect(videos).To(HaveLen(1))
	g.Expect(videos[0].Bytes).To(Equal(youtubetest.VideoBytes("cut.mp4")), "the rest of the bytes went to the same session")
	g.Expect(f.Last(t, "PUT /upload/youtube/v3/videos").Header.Get("Content-Range")).To(Equal("bytes 20000-65535/65536"))
	g.Expect(f.Sessions()).To(Equal(1))

	// A try after the upload finished finds the video in the session.
	again, err := pub.Publish(context.Background(), profile(), post)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(again.ExternalID).To(Equal(res.ExternalID))
	g.Expect(f.Videos()).To(HaveLen(1))
	g.Expect(f.Sessions()).To(Equal(1))

	// A session YouTube forgot holds nothing: a new one is opened.
	forgotten := recording(f, "Forgotten", "f.mp4", &progress)
	forgotten.Progress = f.URL + "/upload/youtube/v3/videos?uploadType=resumable&upload_id=gone"
	_, err = pub.Publish(context.Background(), profile(), forgotten)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(f.Sessions()).To(Equal(2))
	g.Expect(f.Videos()).To(HaveLen(2))
}

func TestRulesAndSettings(t *testing.T) {
	g := NewWithT(t)
	f := youtubetest.New(t)
	_, err := newPublisher(f, nil).Publish(context.Background(), profile(), publish.Post{Text: "just words"})
	g.Expect(err.Error()).To(ContainSubstring("YouTube posts need a video"))
	_, err = newPublisher(f, nil).Verify(context.Background(), profile("privacyStatus", "friends"))
	g.Expect(publish.KindOf(err)).To(Equal(publish.Permanent))
	g.Expect(err.Error()).To(ContainSubstring("not public, unlisted or private"))
	title := youtube.Title(strings.Repeat("long words ", 20))
	g.Expect(len([]rune(title))).To(BeNumerically("<=", youtube.TitleLimit))
	g.Expect(title).To(HaveSuffix("words…"), "cut at a word")
	g.Expect(youtube.Title("  ")).To(Equal("Video"))
}

func TestErrors(t *testing.T) {
	body := func(status int, msg string) string {
		return fmt.Sprintf(`{"error":{"code":%d,"message":%q,"errors":[{"reason":"backendError"}]}}`, status, msg)
	}
	cases := []platformtest.ErrorCase{
		{Name: "quota", Status: 403, Body: `{"error":{"code":403,"message":"The request cannot be completed because you have exceeded your quota.","errors":[{"reason":"quotaExceeded"}]}}`,
			Kind: publish.Retryable, RetryAfter: 3600e9, Message: "exceeded your quota"},
		{Name: "bad token", Status: 401, Body: `{"error":{"code":401,"message":"Invalid Credentials","errors":[{"reason":"authError"}]}}`, Kind: publish.CredentialsRejected, Message: "Invalid Credentials"},
		{Name: "bad title", Status: 400, Body: `{"error":{"code":400,"message":"bad title","errors":[{"reason":"invalidTitle"}]}}`, Kind: publish.Permanent, Message: "bad title"},
	}
	// Opening a session makes nothing, so its server errors are Retryable.
	for _, c := range platformtest.StandardCases(body) {
		if c.Kind == publish.Unknown {
			c.Kind = publish.Retryable
			if c.Timeout {
				c.Message = "no answer"
			}
		}
		cases = append(cases, c)
	}
	platformtest.CheckErrors(t, cases, []string{youtubetest.Token}, func(t *testing.T, client *http.Client, answer http.HandlerFunc) error {
		f := youtubetest.New(t)
		f.Override("POST /upload/youtube/v3/videos", answer)
		var progress []string
		_, err := newPublisher(f, client).Publish(context.Background(), profile(), recording(f, "x", "e.mp4", &progress))
		return err
	})
}

func TestDelete(t *testing.T) {
	g := NewWithT(t)
	f := youtubetest.New(t)
	pub := newPublisher(f, nil)
	var progress []string
	res, err := pub.Publish(context.Background(), profile(), recording(f, "Brief", "b.mp4", &progress))
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(pub.Delete(context.Background(), profile(), res.ExternalID)).To(Succeed())
	g.Expect(f.Videos()).To(BeEmpty())
	g.Expect(pub.Delete(context.Background(), profile(), res.ExternalID)).To(Succeed(), "already gone is deleted")
	fresh := youtubetest.New(t)
	platformtest.CheckRefusedIDs(t, fresh.Server, map[string]string{"": "11-character id", "abc&id=xyz12": "11-character id"}, func(id string) error {
		return newPublisher(fresh, nil).Delete(context.Background(), profile(), id)
	})
}
