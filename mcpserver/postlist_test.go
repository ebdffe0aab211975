package mcpserver

import (
	"encoding/json"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/clock"

	socialv1alpha1 "github.com/herald-dev/herald/api/v1alpha1"
	"github.com/herald-dev/herald/internal/post"
)

var _ = Describe("A page of list_posts", func() {
	listed := func(p *socialv1alpha1.ScheduledPost) *listedPost {
		return newListedPost(p, string(post.PhaseOf(p, time.Now())))
	}
	post := func(name, text string, profiles ...string) *socialv1alpha1.ScheduledPost {
		return &socialv1alpha1.ScheduledPost{
			ObjectMeta: metav1.ObjectMeta{Name: name},
			Spec:       socialv1alpha1.ScheduledPostSpec{Text: text, Profiles: profiles, ScheduledAt: "2026-12-01T09:00:00Z"},
		}
	}

	It("encodes the same JSON as the page's value, quotes and all", func() {
		entries := []*listedPost{
			listed(post("a", `say "hi" <b>&</b>`+"\n\tnext line", "sandbox", "mastodon")),
			listed(&socialv1alpha1.ScheduledPost{ObjectMeta: metav1.ObjectMeta{Name: "draft"}, Spec: socialv1alpha1.ScheduledPostSpec{Text: "d", Draft: true}}),
		}
		for _, next := range []string{"", cursor{42, "a"}.String()} {
			l := newPostList(entries, next)
			raw := l.appendJSON(nil)
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
		e := listed(post("long", long, "sandbox"))
		Expect(e.summary.Text).To(Equal(strings.Repeat("é", 99) + "🚀…"))
		Expect(json.Valid(e.json)).To(BeTrue())
		Expect(e.line).To(HavePrefix("long\tScheduled\t2026-12-01T09:00:00Z\tsandbox\t"))
		Expect(listed(post("short", "short text")).summary.Text).To(Equal("short text"))
	})

	It("escapes its text for a JSON string as encoding/json would", func() {
		entries := []*listedPost{
			listed(post("a", `say "hi" <b>&</b>`+"\n\tnext line \u2028 é", "sandbox")),
			listed(post("b", "plain", "sandbox", "x-main")),
		}
		for _, next := range []string{"", cursor{42, "a"}.String()} {
			l := newPostList(entries, next)
			text := string(l.appendText(nil))
			escaped := l.appendTextJSON(nil)
			want, err := json.Marshal(text)
			Expect(err).NotTo(HaveOccurred())
			Expect(`"` + string(escaped) + `"`).To(Equal(string(want)))
		}
	})

	It("says in its text how to get the next page", func() {
		next := cursor{7, "b"}.String()
		text := string(newPostList([]*listedPost{listed(post("b", "hello", "sandbox"))}, next).appendText(nil))
		Expect(text).To(HavePrefix("1 posts (more: pass cursor " + next + ")\n"))
		Expect(text).To(ContainSubstring("b\tScheduled\t2026-12-01T09:00:00Z\tsandbox\t\"hello\"\n"))
	})
})

var _ = Describe("The post index", func() {
	post := func(name, uid string, phase socialv1alpha1.PostPhase) *socialv1alpha1.ScheduledPost {
		return &socialv1alpha1.ScheduledPost{
			ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: name, UID: types.UID(uid), CreationTimestamp: metav1.Unix(100, 0)},
			Status:     socialv1alpha1.ScheduledPostStatus{Phase: phase},
		}
	}
	phases := func(idx *postIndex) []string {
		page, _ := idx.page("ns", nil, 10, func(*indexedPost) bool { return true })
		var out []string
		for _, e := range page {
			out = append(out, e.summary.ID+"="+e.summary.Phase)
		}
		return out
	}

	It("keeps a post this replica created until the informer delivers it", func() {
		idx := newIndex(clock.RealClock{})
		idx.record(post("a", "uid-2", socialv1alpha1.PostScheduled), time.Now())
		Expect(phases(idx)).To(Equal([]string{"a=Scheduled"}))

		idx.put(post("a", "uid-1", socialv1alpha1.PostDraft)) // a watch event of an earlier post of that name
		Expect(phases(idx)).To(Equal([]string{"a=Scheduled"}))

		idx.put(post("a", "uid-2", socialv1alpha1.PostPublished))
		Expect(phases(idx)).To(Equal([]string{"a=Published"}))

		idx.record(post("a", "uid-2", socialv1alpha1.PostScheduled), time.Now()) // the informer has it already, as new
		Expect(phases(idx)).To(Equal([]string{"a=Published"}))
	})

	It("drops a recorded post the informer never delivers", func() {
		idx := newIndex(clock.RealClock{})
		idx.record(post("gone", "10", socialv1alpha1.PostScheduled), time.Now().Add(-unconfirmedTTL-time.Second))
		idx.record(post("fresh", "11", socialv1alpha1.PostScheduled), time.Now())
		Expect(phases(idx)).To(Equal([]string{"fresh=Scheduled"}))
	})
})
