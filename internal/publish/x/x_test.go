package x_test

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
	"github.com/herald-dev/herald/internal/publish/x"
)

const token = "x-user-access-token-777"

var now = time.Date(2026, 7, 1, 9, 0, 0, 0, time.UTC)

// newFakeX follows X API v2: Bearer user tokens, problem-details errors
// ({"title","detail","type","status"}), POST /2/tweets answering 201
// {"data":{"id","text"}}, POST /2/media/upload taking multipart "media".
func newFakeX(t *testing.T) *platformtest.Server {
	f := platformtest.NewServer(t)
	authed := func(h http.HandlerFunc) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			if r.Header.Get("Authorization") != "Bearer "+token {
				platformtest.WriteJSON(w, 401, map[string]any{"title": "Unauthorized", "type": "about:blank", "status": 401, "detail": "Unauthorized"})
				return
			}
			h(w, r)
		}
	}
	f.Handle("GET /2/users/me", authed(func(w http.ResponseWriter, r *http.Request) {
		platformtest.WriteJSON(w, 200, map[string]any{"data": map[string]any{"id": "2244994945", "name": "Herald", "username": "heraldhq"}})
	}))
	f.Handle("POST /2/media/upload", authed(func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseMultipartForm(1 << 20); err != nil || r.MultipartForm.File["media"] == nil {
			platformtest.WriteJSON(w, 400, map[string]any{"title": "Invalid Request", "detail": "media is required", "status": 400})
			return
		}
		platformtest.WriteJSON(w, 200, map[string]any{"data": map[string]any{"id": "1880028106020515840", "media_key": "3_1880028106020515840"}})
	}))
	f.Handle("POST /2/media/metadata", authed(func(w http.ResponseWriter, r *http.Request) {
		platformtest.WriteJSON(w, 200, map[string]any{"data": map[string]any{"associated_metadata": true}})
	}))
	f.Handle("GET /img/{name}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "image/png")
		fmt.Fprint(w, "png")
	})
	f.Handle("POST /2/tweets", authed(func(w http.ResponseWriter, r *http.Request) {
		platformtest.WriteJSON(w, 201, map[string]any{"data": map[string]any{"id": "1445880548472328192", "text": "hello"}})
	}))
	return f
}

func newPublisher(f *platformtest.Server, client *http.Client) *x.Publisher {
	p := x.New(client)
	p.BaseURL = f.URL
	p.Now = func() time.Time { return now }
	return p
}

var prof = publish.Profile{Platform: publish.X, Handle: "@heraldhq", Credentials: publish.Credentials{"accessToken": []byte(token)}}

func TestPublish(t *testing.T) {
	g := NewWithT(t)
	f := newFakeX(t)
	pub := newPublisher(f, nil)
	g.Expect(pub.SafeRetry()).To(BeFalse())
	res, err := pub.Publish(context.Background(), prof, publish.Post{Text: "hello"})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(res).To(Equal(publish.Result{ExternalID: "1445880548472328192", URL: "https://x.com/heraldhq/status/1445880548472328192", PublishedAt: now}))
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
	g.Expect(acct).To(Equal(publish.Account{ID: "2244994945", Handle: "@heraldhq", URL: "https://x.com/heraldhq", CharacterLimit: 280}))
}

func TestErrors(t *testing.T) {
	problem := func(status int, msg string) string {
		return fmt.Sprintf(`{"title":"Error","type":"about:blank","status":%d,"detail":%q}`, status, msg)
	}
	reset := time.Now().Add(15 * time.Minute).Unix()
	cases := append(platformtest.StandardCases(problem),
		platformtest.ErrorCase{Name: "duplicate content is not a credentials problem", Status: 403,
			Body: problem(403, "You are not allowed to create a Tweet with duplicate content."), Kind: publish.Permanent, Message: "duplicate content"},
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
