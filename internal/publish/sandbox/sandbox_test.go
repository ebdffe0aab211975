package sandbox_test

import (
	"context"
	"encoding/json"
	"fmt"
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
	g.Expect(pub.Info().Resend.By).NotTo(BeEmpty(), "a repeat is recognised")

	prof := publish.Profile{Platform: sandbox.Info.Platform, Handle: "demo"}
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

func TestDelete(t *testing.T) {
	g := NewWithT(t)
	feed := &sandbox.Feed{}
	srv := httptest.NewServer(feed.Handler("/sandbox"))
	defer srv.Close()
	feed.BaseURL = srv.URL
	pub := sandbox.New(feed)
	prof := publish.Profile{Platform: sandbox.Info.Platform, Handle: "demo"}
	first, err := pub.Publish(context.Background(), prof, publish.Post{Text: "first", IdempotencyKey: "k1"})
	g.Expect(err).NotTo(HaveOccurred())
	second, err := pub.Publish(context.Background(), prof, publish.Post{Text: "second", IdempotencyKey: "k2"})
	g.Expect(err).NotTo(HaveOccurred())

	g.Expect(pub.Delete(context.Background(), prof, first.ExternalID)).To(Succeed())
	getJSON(t, first.URL, http.StatusNotFound, nil)
	var list struct{ Posts []sandbox.Entry }
	getJSON(t, srv.URL+"/sandbox/", http.StatusOK, &list)
	g.Expect(list.Posts).To(HaveLen(1))
	g.Expect(list.Posts[0].ID).To(Equal(second.ExternalID))
	_, found := feed.Get(first.ExternalID)
	g.Expect(found).To(BeFalse())

	// Deleting again, or a post that never was, finds nothing to delete.
	g.Expect(pub.Delete(context.Background(), prof, first.ExternalID)).To(Succeed())
	g.Expect(pub.Delete(context.Background(), prof, "99")).To(Succeed())
	g.Expect(feed.List()).To(HaveLen(1))

	// The deleted post's id is not reused, and its key no longer finds it.
	again, err := pub.Publish(context.Background(), prof, publish.Post{Text: "first again", IdempotencyKey: "k1"})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(again.ExternalID).To(Equal("3"))
	g.Expect(feed.List()).To(HaveLen(2))

	err = pub.Delete(context.Background(), prof, "")
	g.Expect(err).To(MatchError("sandbox: cannot delete a post without its id"))
	g.Expect(publish.KindOf(err)).To(Equal(publish.Permanent))
	for _, id := range []string{"abc", "0", "-1", first.URL} {
		err := pub.Delete(context.Background(), prof, id)
		g.Expect(publish.KindOf(err)).To(Equal(publish.Permanent), "id %q", id)
		g.Expect(err.Error()).To(ContainSubstring("sandbox post ids are whole numbers from 1"))
	}
	g.Expect(feed.List()).To(HaveLen(2))
}

func TestFeedKeepsAtMostMaxEntries(t *testing.T) {
	f := &sandbox.Feed{BaseURL: "http://herald.example", MaxEntries: 3}
	for i := range 5 {
		f.Add("@a", publish.Post{Text: fmt.Sprint("post ", i), IdempotencyKey: fmt.Sprint("key-", i)})
	}
	got := f.List()
	if len(got) != 3 || got[0].ID != "3" || got[2].ID != "5" {
		t.Fatalf("List() = %+v, want the three newest, 3 to 5", got)
	}
	if _, ok := f.Get("1"); ok {
		t.Error("an evicted entry is still served")
	}
	if e := f.Add("@a", publish.Post{Text: "again", IdempotencyKey: "key-0"}); e.ID != "6" {
		t.Errorf("the key of an evicted entry returned %s, want a new entry 6", e.ID)
	}
	if e := f.Add("@a", publish.Post{Text: "again", IdempotencyKey: "key-4"}); e.ID != "5" {
		t.Errorf("a kept key returned %s, want its entry 5", e.ID)
	}
}
