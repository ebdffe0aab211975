package x_test

import (
	"context"
	"net/http"
	"strconv"
	"testing"
	"time"

	. "github.com/onsi/gomega"

	"github.com/herald-dev/herald/internal/publish"
	"github.com/herald-dev/herald/internal/publish/platformtest"
	"github.com/herald-dev/herald/internal/publish/x"
	"github.com/herald-dev/herald/internal/publish/x/xtest"
)

const token = "x-user-access-token-777"

var now = time.Date(2026, 7, 1, 9, 0, 0, 0, time.UTC)

// newFakeX starts the fake of X that accepts token.
func newFakeX(t *testing.T) *xtest.Fake {
	f := xtest.New(t, "x-app-client", "x-app-secret")
	f.Accept(token)
	return f
}

func newPublisher(f *xtest.Fake, client *http.Client) *x.Publisher {
	p := x.New(client)
	p.BaseURL = f.URL
	p.Now = func() time.Time { return now }
	return p
}

var prof = publish.Profile{Platform: x.Info.Platform, Handle: "@herald", Credentials: publish.Credentials{"accessToken": []byte(token)}}

func TestPublish(t *testing.T) {
	g := NewWithT(t)
	f := newFakeX(t)
	pub := newPublisher(f, nil)
	g.Expect(pub.Info().Resend.By).To(BeEmpty(), "nothing recognises a repeat")
	res, err := pub.Publish(context.Background(), prof, publish.Post{Text: "hello"})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(res).To(Equal(publish.Result{ExternalID: "1445880548472328192", URL: "https://x.com/herald/status/1445880548472328192", PublishedAt: now}))
	req := f.Last(t, "POST /2/tweets")
	g.Expect(req.Header.Get("Authorization")).To(Equal("Bearer " + token))
	g.Expect(req.JSON(t)).To(Equal(map[string]any{"text": "hello"}))
}

func TestPublishImage(t *testing.T) {
	g := NewWithT(t)
	f := newFakeX(t)
	_, err := newPublisher(f, nil).Publish(context.Background(), prof, publish.Post{Text: "pic",
		Media: []publish.Media{{URL: f.URL + "/img/a.png", AltText: "a chart"}}})
	g.Expect(err).NotTo(HaveOccurred())
	fields, files := f.Last(t, "POST /2/media/upload").Form(t)
	g.Expect(fields.Get("media_category")).To(Equal("tweet_image"))
	g.Expect(files["media"]).To(Equal([]byte("png")))
	g.Expect(f.Last(t, "POST /2/media/metadata").JSON(t)).To(Equal(map[string]any{"id": "1880028106020515840",
		"metadata": map[string]any{"alt_text": map[string]any{"text": "a chart"}}}))
	g.Expect(f.Last(t, "POST /2/tweets").JSON(t)).To(Equal(map[string]any{"text": "pic", "media": map[string]any{"media_ids": []any{"1880028106020515840"}}}))

	_, err = newPublisher(f, nil).Publish(context.Background(), prof, publish.Post{Text: "clip", Media: []publish.Media{{URL: f.URL + "/img/a.mp4"}}})
	g.Expect(publish.KindOf(err)).To(Equal(publish.Permanent))
}

func TestVerify(t *testing.T) {
	g := NewWithT(t)
	f := newFakeX(t)
	acct, err := newPublisher(f, nil).Verify(context.Background(), prof)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(acct).To(Equal(publish.Account{ID: "2244994945", Handle: "@herald", URL: "https://x.com/herald", CharacterLimit: 280}))
}

func TestErrors(t *testing.T) {
	reset := time.Now().Add(15 * time.Minute).Unix()
	cases := append(platformtest.StandardCases(xtest.Problem),
		platformtest.ErrorCase{Name: "duplicate content is not a credentials problem", Status: 403,
			Body: xtest.Problem(403, "You are not allowed to create a Tweet with duplicate content."), Kind: publish.Permanent, Message: "duplicate content"},
		platformtest.ErrorCase{Name: "429 with x-rate-limit-reset", Status: 429,
			Header: http.Header{"X-Rate-Limit-Limit": {"100"}, "X-Rate-Limit-Remaining": {"0"}, "X-Rate-Limit-Reset": {strconv.FormatInt(reset, 10)}},
			Body:   `{"title":"Too Many Requests","detail":"Too Many Requests","type":"about:blank","status":429}`, Kind: publish.Retryable, Message: "Too Many Requests"},
	)
	run := func(t *testing.T, client *http.Client, answer http.HandlerFunc) error {
		f := newFakeX(t)
		f.Override("POST /2/tweets", answer)
		_, err := newPublisher(f, client).Publish(context.Background(), prof, publish.Post{Text: "x"})
		return err
	}
	platformtest.CheckErrors(t, cases[:len(cases)-1], []string{token}, run)
	t.Run("x-rate-limit-reset", func(t *testing.T) {
		g := NewWithT(t)
		err := run(t, nil, cases[len(cases)-1].Handler(t))
		g.Expect(publish.IsRetryable(err)).To(BeTrue())
		g.Expect(publish.RetryAfter(err)).To(BeNumerically("~", 15*time.Minute, 5*time.Second))
	})
}

func TestDelete(t *testing.T) {
	g := NewWithT(t)
	f := newFakeX(t)
	pub := newPublisher(f, nil)
	res, err := pub.Publish(context.Background(), prof, publish.Post{Text: "soon gone"})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(f.Holds(res.ExternalID)).To(BeTrue())

	g.Expect(pub.Delete(context.Background(), prof, res.ExternalID)).To(Succeed())
	route := "DELETE /2/tweets/" + res.ExternalID
	g.Expect(f.Last(t, route).Header.Get("Authorization")).To(Equal("Bearer " + token))
	g.Expect(f.Holds(res.ExternalID)).To(BeFalse())

	// X answers 404 now; the post is gone, which is what was asked.
	g.Expect(pub.Delete(context.Background(), prof, res.ExternalID)).To(Succeed())
	g.Expect(f.Find(route)).To(HaveLen(2))
}

func TestDeleteWithRejectedToken(t *testing.T) {
	g := NewWithT(t)
	f := newFakeX(t)
	res, err := newPublisher(f, nil).Publish(context.Background(), prof, publish.Post{Text: "stays"})
	g.Expect(err).NotTo(HaveOccurred())
	wrong := publish.Profile{Platform: x.Info.Platform, Credentials: publish.Credentials{"accessToken": []byte("wrong-token")}}
	err = newPublisher(f, nil).Delete(context.Background(), wrong, res.ExternalID)
	g.Expect(publish.KindOf(err)).To(Equal(publish.CredentialsRejected))
	g.Expect(f.Holds(res.ExternalID)).To(BeTrue())
}

func TestDeleteNotDeleted(t *testing.T) {
	g := NewWithT(t)
	f := newFakeX(t)
	f.Override("DELETE /2/tweets/1445880548472328192", func(w http.ResponseWriter, r *http.Request) {
		platformtest.WriteJSON(w, 200, map[string]any{"data": map[string]any{"deleted": false}})
	})
	err := newPublisher(f, nil).Delete(context.Background(), prof, "1445880548472328192")
	g.Expect(publish.KindOf(err)).To(Equal(publish.Permanent))
	g.Expect(err).To(MatchError(ContainSubstring("deleted: false")))
}

func TestDeleteErrors(t *testing.T) {
	// 404 means deleted (TestDelete), and a DELETE that timed out is safe
	// to send again.
	cases := platformtest.DeleteCases(platformtest.StandardCases(xtest.Problem), true)
	platformtest.CheckErrors(t, cases, []string{token}, func(t *testing.T, client *http.Client, answer http.HandlerFunc) error {
		f := newFakeX(t)
		f.Override("DELETE /2/tweets/1445880548472328192", answer)
		return newPublisher(f, client).Delete(context.Background(), prof, "1445880548472328192")
	})
}

func TestDeleteRejectsMalformedIDs(t *testing.T) {
	f := newFakeX(t)
	platformtest.CheckRefusedIDs(t, f.Server, map[string]string{
		"": "without its id",
		"https://x.com/herald/status/1445880548472328192": "is a number",
		"urn:li:share:7001": "is a number",
	}, func(id string) error { return newPublisher(f, nil).Delete(context.Background(), prof, id) })
}
