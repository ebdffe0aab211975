package mcpserver

import (
	"encoding/json"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	socialv1alpha1 "github.com/herald-dev/herald/api/v1alpha1"
)

var _ = Describe("A page of list_posts", func() {
	post := func(name, text string, profiles ...string) *socialv1alpha1.ScheduledPost {
		return &socialv1alpha1.ScheduledPost{
			ObjectMeta: metav1.ObjectMeta{Name: name},
			Spec:       socialv1alpha1.ScheduledPostSpec{Text: text, Profiles: profiles, ScheduledAt: "2026-12-01T09:00:00Z"},
		}
	}

	It("encodes the same JSON as the page's value, quotes and all", func() {
		entries := []*listedPost{
			newListedPost(post("a", `say "hi" <b>&</b>`+"\n\tnext line", "sandbox", "mastodon")),
			newListedPost(&socialv1alpha1.ScheduledPost{ObjectMeta: metav1.ObjectMeta{Name: "draft"}, Spec: socialv1alpha1.ScheduledPostSpec{Text: "d", Draft: true}}),
		}
		for _, next := range []string{"", cursor{42, "a"}.String()} {
			l := newPostList(entries, next, nil, nil)
			raw, _ := l.Encoded()
			want, err := json.Marshal(l)
			Expect(err).NotTo(HaveOccurred())
			Expect(raw).To(MatchJSON(want))
			var back PostList
			Expect(json.Unmarshal(raw, &back)).To(Succeed())
			Expect(back.Posts).To(Equal(l.Posts))
			Expect(back.NextCursor).To(Equal(next))
		}
		Expect(entries[1].summary.ProfileIDs).To(Equal([]string{}), "an empty list, not null, as the schema says")
		Expect(entries[1].summary.Phase).To(Equal("Draft"))
	})

	It("cuts long text after 100 characters without splitting one", func() {
		long := strings.Repeat("é", 99) + "🚀🚀🚀"
		e := newListedPost(post("long", long, "sandbox"))
		Expect(e.summary.Text).To(Equal(strings.Repeat("é", 99) + "🚀…"))
		Expect(json.Valid(e.json)).To(BeTrue())
		Expect(e.line).To(HavePrefix("long\tScheduled\t2026-12-01T09:00:00Z\tsandbox\t"))
		Expect(newListedPost(post("short", "short text")).summary.Text).To(Equal("short text"))
	})

	It("escapes its text for a JSON string as encoding/json would", func() {
		entries := []*listedPost{
			newListedPost(post("a", `say "hi" <b>&</b>`+"\n\tnext line \u2028 é", "sandbox")),
			newListedPost(post("b", "plain", "sandbox", "x-main")),
		}
		for _, next := range []string{"", cursor{42, "a"}.String()} {
			l := newPostList(entries, next, nil, nil)
			raw, text := l.Encoded()
			rawJSON, escaped := l.EncodedJSON()
			Expect(rawJSON).To(Equal(raw))
			want, err := json.Marshal(text)
			Expect(err).NotTo(HaveOccurred())
			Expect(`"` + string(escaped) + `"`).To(Equal(string(want)))
		}
	})

	It("says in its text how to get the next page", func() {
		next := cursor{7, "b"}.String()
		_, text := newPostList([]*listedPost{newListedPost(post("b", "hello", "sandbox"))}, next, nil, nil).Encoded()
		Expect(text).To(HavePrefix("1 posts (more: pass cursor " + next + ")\n"))
		Expect(text).To(ContainSubstring("b\tScheduled\t2026-12-01T09:00:00Z\tsandbox\t\"hello\"\n"))
	})
})

var _ = Describe("The post index", func() {
	post := func(name, rv string, phase socialv1alpha1.PostPhase) *socialv1alpha1.ScheduledPost {
		return &socialv1alpha1.ScheduledPost{
			ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: name, ResourceVersion: rv, CreationTimestamp: metav1.Unix(100, 0)},
			Status:     socialv1alpha1.ScheduledPostStatus{Phase: phase},
		}
	}
	phases := func(idx *postIndex) []string {
		page, _ := idx.page("ns", nil, 10, func(*socialv1alpha1.ScheduledPost) bool { return true })
		var out []string
		for _, e := range page {
			out = append(out, e.summary.ID+"="+e.summary.Phase)
		}
		return out
	}

	It("keeps a post this replica created until the informer delivers it or a newer one", func() {
		idx := newIndex()
		idx.record(post("a", "10", socialv1alpha1.PostScheduled), time.Now())
		Expect(phases(idx)).To(Equal([]string{"a=Scheduled"}))

		idx.put(post("a", "9", socialv1alpha1.PostDraft)) // a watch event older than the write
		Expect(phases(idx)).To(Equal([]string{"a=Scheduled"}))

		idx.put(post("a", "12", socialv1alpha1.PostPublished))
		Expect(phases(idx)).To(Equal([]string{"a=Published"}))

		idx.record(post("a", "11", socialv1alpha1.PostScheduled), time.Now()) // older than what the informer has
		Expect(phases(idx)).To(Equal([]string{"a=Published"}))
	})

	It("drops a recorded post the informer never delivers", func() {
		idx := newIndex()
		idx.record(post("gone", "10", socialv1alpha1.PostScheduled), time.Now().Add(-unconfirmedTTL-time.Second))
		idx.record(post("fresh", "11", socialv1alpha1.PostScheduled), time.Now())
		Expect(phases(idx)).To(Equal([]string{"fresh=Scheduled"}))
	})
})
