package webhook_test

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"testing"
	"time"

	. "github.com/onsi/gomega"

	"github.com/herald-dev/herald/internal/publish"
	"github.com/herald-dev/herald/internal/publish/platformtest"
	"github.com/herald-dev/herald/internal/publish/webhook"
)

const secret = "whsec-very-secret-value"

var now = time.Date(2026, 7, 1, 9, 0, 0, 0, time.UTC)

func profile(endpoint string) publish.Profile {
	return publish.Profile{Platform: webhook.Info.Platform, Handle: "ops-feed", Endpoint: endpoint,
		Credentials: publish.Credentials{"signingSecret": []byte(secret)}}
}

func newPublisher(client *http.Client) *webhook.Publisher {
	p := webhook.New(client)
	p.Now = func() time.Time { return now }
	return p
}

func TestPublishSignsAndSends(t *testing.T) {
	g := NewWithT(t)
	srv := platformtest.NewServer(t)
	srv.Handle("POST /hooks/herald", func(w http.ResponseWriter, r *http.Request) {
		platformtest.WriteJSON(w, http.StatusAccepted, map[string]any{"id": 12345678901, "url": "https://receiver.example/items/1"})
	})
	pub := newPublisher(platformtest.Client())
	g.Expect(pub.Info().Resend.By).NotTo(BeEmpty(), "a repeat is recognised")
	post := publish.Post{Text: "Launch day", IdempotencyKey: "uid-1/ops/1",
		Media: []publish.Media{{URL: "https://cdn.example/a.png", AltText: "logo", Type: "image"}}}

	res, err := pub.Publish(context.Background(), profile(srv.URL+"/hooks/herald"), post)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(res).To(Equal(publish.Result{ExternalID: "12345678901", URL: "https://receiver.example/items/1", PublishedAt: now}))

	req := srv.Last(t, "POST /hooks/herald")
	g.Expect(req.Header.Get("Content-Type")).To(Equal("application/json"))
	g.Expect(req.Header.Get("X-Herald-Delivery")).To(Equal("uid-1/ops/1"))
	g.Expect(req.Header.Get("X-Herald-Timestamp")).To(Equal(strconv.FormatInt(now.Unix(), 10)))
	g.Expect(req.Header.Get("X-Herald-Signature")).To(Equal(webhook.Sign(secret, req.Body)))
	// Sign is HMAC-SHA256 as documented, checked against a value computed independently.
	g.Expect(webhook.Sign("key", []byte("The quick brown fox jumps over the lazy dog"))).
		To(Equal("sha256=f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8"))
	g.Expect(req.JSON(t)).To(Equal(map[string]any{
		"id": "uid-1/ops/1", "deliveryId": "uid-1/ops/1", "text": "Launch day", "profile": "ops-feed",
		"publishedAt": "2026-07-01T09:00:00Z",
		"media":       []any{map[string]any{"url": "https://cdn.example/a.png", "altText": "logo", "type": "image"}},
	}))
}

func TestPlainTextAnswerUsesDeliveryID(t *testing.T) {
	g := NewWithT(t)
	srv := platformtest.NewServer(t)
	srv.Handle("POST /", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "OK") })
	res, err := newPublisher(nil).Publish(context.Background(), profile(srv.URL+"/"), publish.Post{Text: "x", IdempotencyKey: "d-1"})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(res.ExternalID).To(Equal("d-1"))
	g.Expect(res.URL).To(BeEmpty())
}

func TestRetrySendsTheSameDelivery(t *testing.T) {
	g := NewWithT(t)
	srv := platformtest.NewServer(t)
	srv.Handle("POST /", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	pub := newPublisher(nil)
	for range 2 {
		_, err := pub.Publish(context.Background(), profile(srv.URL+"/"), publish.Post{Text: "x", IdempotencyKey: "same"})
		g.Expect(err).NotTo(HaveOccurred())
	}
	reqs := srv.Find("POST /")
	g.Expect(reqs).To(HaveLen(2))
	g.Expect(reqs[1].Body).To(Equal(reqs[0].Body))
	g.Expect(reqs[1].Header.Get("X-Herald-Delivery")).To(Equal("same"))
}

func TestErrors(t *testing.T) {
	cases := platformtest.StandardCases(func(_ int, msg string) string { return fmt.Sprintf(`{"error":%q}`, msg) })
	cases = append(cases, platformtest.ErrorCase{Name: "plain text error", Status: 400, Body: "missing field text", Kind: publish.Permanent, Message: "missing field text"})
	platformtest.CheckErrors(t, cases, []string{secret}, func(t *testing.T, client *http.Client, answer http.HandlerFunc) error {
		srv := platformtest.NewServer(t)
		srv.Handle("POST /hook", answer)
		_, err := newPublisher(client).Publish(context.Background(), profile(srv.URL+"/hook"), publish.Post{Text: "x", IdempotencyKey: "k"})
		return err
	})
}

func TestConfigurationErrors(t *testing.T) {
	g := NewWithT(t)
	pub := newPublisher(nil)
	_, err := pub.Publish(context.Background(), publish.Profile{Endpoint: "https://x.example"}, publish.Post{Text: "x"})
	g.Expect(err).To(MatchError("credentials have no key signingSecret"))
	_, err = pub.Verify(context.Background(), profile("ftp://x.example"))
	g.Expect(publish.KindOf(err)).To(Equal(publish.Permanent))
	acct, err := pub.Verify(context.Background(), profile("https://hooks.example/in/T0K3N?key=secret"))
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(acct).To(Equal(publish.Account{ID: "hooks.example", Handle: "ops-feed", URL: "https://hooks.example"}),
		"the receiver's path and query may be its secret; the profile shows its host")
}
