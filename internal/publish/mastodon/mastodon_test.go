package mastodon_test

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	. "github.com/onsi/gomega"

	"github.com/herald-dev/herald/internal/publish"
	"github.com/herald-dev/herald/internal/publish/mastodon"
	"github.com/herald-dev/herald/internal/publish/mastodon/mastodontest"
	"github.com/herald-dev/herald/internal/publish/platformtest"
)

const token = "mastodon-access-token-123"

func profile(endpoint string) publish.Profile {
	return publish.Profile{Platform: mastodon.Info.Platform, Handle: "@herald@fake.example", Endpoint: endpoint,
		Credentials: publish.Credentials{"accessToken": []byte(token)}}
}

func newPublisher(client *http.Client) *mastodon.Publisher {
	p := mastodon.New(client)
	p.PollInterval = time.Millisecond
	return p
}

func TestVerify(t *testing.T) {
	g := NewWithT(t)
	f := mastodontest.New(t, token)
	acct, err := newPublisher(nil).Verify(context.Background(), profile(f.URL+"/"))
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(acct).To(Equal(publish.Account{ID: "109", Handle: "@herald@fake.example", URL: f.URL + "/@herald", CharacterLimit: 1000}))
	g.Expect(f.Last(t, "GET /api/v1/accounts/verify_credentials").Header.Get("Authorization")).To(Equal("Bearer " + token))

	_, err = newPublisher(nil).Verify(context.Background(), publish.Profile{Endpoint: f.URL, Credentials: publish.Credentials{"accessToken": []byte("wrong-token")}})
	g.Expect(publish.KindOf(err)).To(Equal(publish.CredentialsRejected))
	g.Expect(err.Error()).To(ContainSubstring("The access token is invalid"))
}

func TestPublishWithMedia(t *testing.T) {
	g := NewWithT(t)
	f := mastodontest.New(t, token)
	post := publish.Post{Text: "Hello fediverse", IdempotencyKey: "uid/mastodon/1", Media: []publish.Media{
		{URL: f.URL + "/files/cat.png", AltText: "A cat on a keyboard"},
	}}
	res, err := newPublisher(nil).Publish(context.Background(), profile(f.URL), post)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(res).To(Equal(publish.Result{ExternalID: "1000", URL: f.URL + "/@herald/1000", PublishedAt: time.Date(2026, 7, 1, 9, 0, 0, 0, time.UTC)}))

	upload := f.Last(t, "POST /api/v2/media")
	g.Expect(upload.Header.Get("Authorization")).To(Equal("Bearer " + token))
	fields, files := upload.Form(t)
	g.Expect(fields.Get("description")).To(Equal("A cat on a keyboard"))
	g.Expect(files["file"]).To(Equal([]byte("bytes of cat.png")))

	st := f.Last(t, "POST /api/v1/statuses")
	g.Expect(st.Header.Get("Authorization")).To(Equal("Bearer " + token))
	g.Expect(st.Header.Get("Idempotency-Key")).To(Equal("uid/mastodon/1"))
	form, _ := st.Form(t)
	g.Expect(form["status"]).To(Equal([]string{"Hello fediverse"}))
	g.Expect(form["media_ids[]"]).To(Equal([]string{"1"}))
}

func TestPublishWaitsForVideoProcessing(t *testing.T) {
	g := NewWithT(t)
	f := mastodontest.New(t, token)
	f.Handle("GET /clips/launch.mp4", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "video/mp4")
		fmt.Fprint(w, "mp4 bytes")
	})
	_, err := newPublisher(nil).Publish(context.Background(), profile(f.URL), publish.Post{Text: "video", IdempotencyKey: "v",
		Media: []publish.Media{{URL: f.URL + "/clips/launch.mp4"}}})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(f.Routes()).To(Equal([]string{"GET /clips/launch.mp4", "POST /api/v2/media", "GET /api/v1/media/1", "GET /api/v1/media/1", "POST /api/v1/statuses"}))
}

func TestRetryWithTheSameKeyDoesNotDuplicate(t *testing.T) {
	g := NewWithT(t)
	f := mastodontest.New(t, token)
	pub := newPublisher(nil)
	first, err := pub.Publish(context.Background(), profile(f.URL), publish.Post{Text: "once", IdempotencyKey: "k"})
	g.Expect(err).NotTo(HaveOccurred())
	second, err := pub.Publish(context.Background(), profile(f.URL), publish.Post{Text: "once", IdempotencyKey: "k"})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(second.ExternalID).To(Equal(first.ExternalID))
	g.Expect(pub.Info().Resend.By).NotTo(BeEmpty(), "a repeat is recognised")
}

// errorBody is Mastodon's error answer.
func errorBody(_ int, msg string) string { return fmt.Sprintf(`{"error":%q}`, msg) }

func TestErrors(t *testing.T) {
	cases := platformtest.StandardCases(errorBody)
	cases = append(cases, platformtest.ErrorCase{Name: "429 with Mastodon's reset header", Status: 429,
		Header: http.Header{"X-Ratelimit-Reset": {time.Now().Add(time.Hour).UTC().Format(time.RFC3339Nano)}},
		Body:   `{"error":"Too many requests"}`, Kind: publish.Retryable, Message: "Too many requests"})
	platformtest.CheckErrors(t, cases[:len(cases)-1], []string{token}, func(t *testing.T, client *http.Client, answer http.HandlerFunc) error {
		f := mastodontest.New(t, token)
		f.Override("POST /api/v1/statuses", answer)
		_, err := newPublisher(client).Publish(context.Background(), profile(f.URL), publish.Post{Text: "x", IdempotencyKey: "k"})
		return err
	})
	t.Run("reset header", func(t *testing.T) {
		g := NewWithT(t)
		f := mastodontest.New(t, token)
		f.Override("POST /api/v1/statuses", cases[len(cases)-1].Handler(t))
		_, err := newPublisher(nil).Publish(context.Background(), profile(f.URL), publish.Post{Text: "x"})
		g.Expect(publish.IsRetryable(err)).To(BeTrue())
		g.Expect(publish.RetryAfter(err)).To(BeNumerically("~", time.Hour, time.Minute))
	})
	t.Run("media host refusing access is permanent", func(t *testing.T) {
		g := NewWithT(t)
		f := mastodontest.New(t, token)
		f.Handle("GET /private/a.png", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusForbidden) })
		_, err := newPublisher(nil).Publish(context.Background(), profile(f.URL), publish.Post{Text: "x", Media: []publish.Media{{URL: f.URL + "/private/a.png"}}})
		g.Expect(publish.KindOf(err)).To(Equal(publish.Permanent))
		g.Expect(f.Find("POST /api/v1/statuses")).To(BeEmpty())
	})
	t.Run("missing token", func(t *testing.T) {
		g := NewWithT(t)
		_, err := newPublisher(nil).Publish(context.Background(), publish.Profile{Endpoint: "https://m.example"}, publish.Post{Text: "x"})
		g.Expect(err).To(MatchError("credentials have no key accessToken"))
	})
}

func TestDelete(t *testing.T) {
	g := NewWithT(t)
	f := mastodontest.New(t, token)
	pub := newPublisher(nil)
	res, err := pub.Publish(context.Background(), profile(f.URL), publish.Post{Text: "soon gone", IdempotencyKey: "k"})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(f.Holds(res.ExternalID)).To(BeTrue())

	g.Expect(pub.Delete(context.Background(), profile(f.URL), res.ExternalID)).To(Succeed())
	route := "DELETE /api/v1/statuses/" + res.ExternalID
	g.Expect(f.Last(t, route).Header.Get("Authorization")).To(Equal("Bearer " + token))
	g.Expect(f.Holds(res.ExternalID)).To(BeFalse())

	// The instance answers 404 now; the status is gone, which is what was asked.
	g.Expect(pub.Delete(context.Background(), profile(f.URL), res.ExternalID)).To(Succeed())
	g.Expect(f.Find(route)).To(HaveLen(2))
}

func TestDeleteWithRejectedToken(t *testing.T) {
	g := NewWithT(t)
	f := mastodontest.New(t, token)
	res, err := newPublisher(nil).Publish(context.Background(), profile(f.URL), publish.Post{Text: "stays"})
	g.Expect(err).NotTo(HaveOccurred())
	err = newPublisher(nil).Delete(context.Background(), publish.Profile{Endpoint: f.URL, Credentials: publish.Credentials{"accessToken": []byte("wrong-token")}}, res.ExternalID)
	g.Expect(publish.KindOf(err)).To(Equal(publish.CredentialsRejected))
	g.Expect(err.Error()).To(ContainSubstring("The access token is invalid"))
	g.Expect(f.Holds(res.ExternalID)).To(BeTrue())
}

func TestDeleteErrors(t *testing.T) {
	// 404 means deleted (TestDelete), and a DELETE that timed out is safe
	// to send again.
	cases := platformtest.DeleteCases(platformtest.StandardCases(errorBody), true)
	platformtest.CheckErrors(t, cases, []string{token}, func(t *testing.T, client *http.Client, answer http.HandlerFunc) error {
		f := mastodontest.New(t, token)
		f.Override("DELETE /api/v1/statuses/1001", answer)
		return newPublisher(client).Delete(context.Background(), profile(f.URL), "1001")
	})
}

func TestDeleteRejectsMalformedIDs(t *testing.T) {
	f := mastodontest.New(t, token)
	platformtest.CheckRefusedIDs(t, f.Server, map[string]string{
		"":                                  "without its id",
		"https://fake.example/@herald/1001": "letters and digits only",
		"1001/../../accounts/109":           "letters and digits only",
	}, func(id string) error { return newPublisher(nil).Delete(context.Background(), profile(f.URL), id) })
}
