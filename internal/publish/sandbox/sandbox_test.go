package sandbox_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	. "github.com/onsi/gomega"

	"github.com/herald-dev/herald/internal/publish"
	"github.com/herald-dev/herald/internal/publish/sandbox"
)

func TestPublishAndServe(t *testing.T) {
	g := NewWithT(t)
	now := time.Date(2026, 7, 1, 9, 0, 0, 0, time.UTC)
	feed := &sandbox.Feed{Now: func() time.Time { return now }}
	srv := httptest.NewServer(feed.Handler("/sandbox"))
	defer srv.Close()
	feed.BaseURL = srv.URL
	pub := sandbox.New(feed)
	g.Expect(pub.SafeRetry()).To(BeTrue())

	prof := publish.Profile{Platform: publish.Sandbox, Handle: "demo"}
	res, err := pub.Publish(context.Background(), prof, publish.Post{Text: "hello", IdempotencyKey: "k1",
		Media: []publish.Media{{URL: "https://cdn.example/a.png", AltText: "a cat"}}})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(res).To(Equal(publish.Result{ExternalID: "1", URL: srv.URL + "/sandbox/1", PublishedAt: now}))

	// A retry with the same key returns the same entry and records nothing.
	again, err := pub.Publish(context.Background(), prof, publish.Post{Text: "hello", IdempotencyKey: "k1"})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(again).To(Equal(res))
	second, _ := pub.Publish(context.Background(), prof, publish.Post{Text: "second", IdempotencyKey: "k2"})
	g.Expect(second.ExternalID).To(Equal("2"))

	// The returned URL serves the post.
	var one sandbox.Entry
	getJSON(t, res.URL, http.StatusOK, &one)
	g.Expect(one.Text).To(Equal("hello"))
	g.Expect(one.Profile).To(Equal("demo"))
	g.Expect(one.Media).To(Equal([]publish.Media{{URL: "https://cdn.example/a.png", AltText: "a cat"}}))

	var list struct{ Posts []sandbox.Entry }
	getJSON(t, srv.URL+"/sandbox/", http.StatusOK, &list)
	g.Expect(list.Posts).To(HaveLen(2))
	g.Expect(list.Posts[1].Text).To(Equal("second"))
	getJSON(t, srv.URL+"/sandbox", http.StatusOK, &list)
	g.Expect(list.Posts).To(HaveLen(2))
	getJSON(t, srv.URL+"/sandbox/99", http.StatusNotFound, nil)
	getJSON(t, srv.URL+"/elsewhere", http.StatusNotFound, nil)
}

func getJSON(t *testing.T, url string, status int, out any) {
	t.Helper()
	g := NewWithT(t)
	res, err := http.Get(url)
	g.Expect(err).NotTo(HaveOccurred())
	defer res.Body.Close()
	g.Expect(res.StatusCode).To(Equal(status), url)
	g.Expect(res.Header.Get("Content-Type")).To(Equal("application/json"))
	if out != nil {
		g.Expect(json.NewDecoder(res.Body).Decode(out)).To(Succeed())
	}
}

func TestConcurrentRetriesRecordOnce(t *testing.T) {
	g := NewWithT(t)
	feed := &sandbox.Feed{BaseURL: "http://herald.test"}
	pub := sandbox.New(feed)
	var wg sync.WaitGroup
	ids := make([]string, 20)
	for i := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := pub.Publish(context.Background(), publish.Profile{Handle: "demo"}, publish.Post{Text: "x", IdempotencyKey: "same"})
			g.Expect(err).NotTo(HaveOccurred())
			ids[i] = res.ExternalID
		}()
	}
	wg.Wait()
	g.Expect(feed.List()).To(HaveLen(1))
	for _, id := range ids {
		g.Expect(id).To(Equal("1"))
	}
}

func TestLatencyHonoursContext(t *testing.T) {
	g := NewWithT(t)
	feed := &sandbox.Feed{Latency: time.Hour}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := sandbox.New(feed).Publish(ctx, publish.Profile{}, publish.Post{Text: "x"})
	g.Expect(publish.KindOf(err)).To(Equal(publish.Retryable))
	g.Expect(feed.List()).To(BeEmpty())
}
