package controllers

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	socialv1alpha1 "github.com/herald-dev/herald/api/v1alpha1"
)

// fakeFeed is a blog's RSS feed on a real loopback server.
type fakeFeed struct {
	*httptest.Server
	mu     sync.Mutex
	items  []string // rendered <item>s, newest first
	status int
	reads  atomic.Int32
}

func newFakeFeed() *fakeFeed {
	f := &fakeFeed{status: http.StatusOK}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.reads.Add(1)
		f.mu.Lock()
		defer f.mu.Unlock()
		if f.status != http.StatusOK {
			http.Error(w, "feed unavailable", f.status)
			return
		}
		w.Header().Set("Content-Type", "application/rss+xml")
		fmt.Fprintf(w, `<?xml version="1.0"?><rss version="2.0"><channel><title>Blog</title>%s</channel></rss>`, strings.Join(f.items, ""))
	}))
	DeferCleanup(f.Close)
	return f
}

// publish puts an item at the top of the feed.
func (f *fakeFeed) publish(id, title string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	item := fmt.Sprintf(`<item><guid>%s</guid><title>%s</title><link>https://blog.example/%s</link><description>&lt;p&gt;About %s&lt;/p&gt;</description></item>`, id, title, id, title)
	f.items = append([]string{item}, f.items...)
}

func (f *fakeFeed) fail(status int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.status = status
}

// feedNamespace is a namespace with a sandbox profile, and an empty feed.
func feedNamespace() (string, *fakeFeed) {
	ns := newNamespace("workflow-feed")
	Expect(k8sClient.Create(ctx, &socialv1alpha1.SocialProfile{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "sandbox"},
		Spec:       socialv1alpha1.SocialProfileSpec{Platform: socialv1alpha1.Platform("sandbox"), Handle: "@blog"},
	})).To(Succeed())
	return ns, newFakeFeed()
}

var _ = Describe("Feed-triggered workflows", func() {
	It("never read a feed at an internal address, and say so without probing it", func() {
		ns, blog := feedNamespace()
		blog.publish("post-1", "Launch day")
		port := blog.URL[strings.LastIndexByte(blog.URL, ':'):]
		for i, url := range []string{
			"http://127.0.0.2" + port + "/rss.xml",         // loopback outside the allowed address
			"http://169.254.169.254/latest/meta-data/",     // the cloud's metadata service
			"http://[::ffff:10.0.0.1]" + port + "/rss.xml", // private, written as IPv6
			"http://0.0.0.0" + port + "/rss.xml",           // "this host", which Linux connects to loopback
		} {
			wf := &socialv1alpha1.Workflow{
				ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: fmt.Sprintf("inside-%d", i)},
				Spec: socialv1alpha1.WorkflowSpec{Enabled: true,
					Trigger: socialv1alpha1.WorkflowTrigger{Type: socialv1alpha1.TriggerFeed, Feed: &socialv1alpha1.FeedTrigger{URL: url}},
					Posts:   []socialv1alpha1.PostTemplate{{Text: "{{ .Item.Title }}", Profiles: []string{"sandbox"}, Draft: true}}},
			}
			Expect(k8sClient.Create(ctx, wf)).To(Succeed())
			Eventually(func(g Gomega) {
				g.Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(wf), wf)).To(Succeed())
				ready := meta.FindStatusCondition(wf.Status.Conditions, socialv1alpha1.ConditionReady)
				g.Expect(ready).NotTo(BeNil())
				g.Expect(ready.Status).To(Equal(metav1.ConditionFalse))
				g.Expect(ready.Reason).To(Equal(ReasonFeedUnreachable))
				g.Expect(ready.Message).To(ContainSubstring("internal address, which Herald does not connect to"), url)
				g.Expect(ready.Message).NotTo(ContainSubstring("connection refused"))
			}, timeout, interval).Should(Succeed())
		}
		Expect(blog.reads.Load()).To(BeZero(), "no request reached the feed server")
	})

	It("start from the newest item, then queue a run for each new one, with the item in the post", func() {
		ns, blog := feedNamespace()
		blog.publish("post-1", "Launch day")

		wf := &socialv1alpha1.Workflow{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "blog"},
			Spec: socialv1alpha1.WorkflowSpec{Enabled: true,
				Trigger: socialv1alpha1.WorkflowTrigger{Type: socialv1alpha1.TriggerFeed,
					Feed: &socialv1alpha1.FeedTrigger{URL: blog.URL + "/rss.xml", Interval: &metav1.Duration{Duration: time.Minute}}},
				Posts: []socialv1alpha1.PostTemplate{{Text: "New on the blog: {{ .Item.Title }} {{ .Item.Link }} ({{ .Item.Summary }})", Profiles: []string{"sandbox"}, Draft: true}}},
		}
		Expect(k8sClient.Create(ctx, wf)).To(Succeed())

		By("the first read records the newest item and queues nothing")
		Eventually(func(g Gomega) {
			g.Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(wf), wf)).To(Succeed())
			g.Expect(wf.Status.LastFeedItem).To(Equal("post-1"))
			ready := meta.FindStatusCondition(wf.Status.Conditions, socialv1alpha1.ConditionReady)
			g.Expect(ready).NotTo(BeNil())
			g.Expect(ready.Status).To(Equal(metav1.ConditionTrue))
			g.Expect(ready.Reason).To(Equal(ReasonFeedPolled))
			g.Expect(wf.Status.NextRunTime.Sub(wf.Status.LastPollTime.Time)).To(Equal(time.Minute))
		}, timeout, interval).Should(Succeed())
		Eventually(func() []string { return eventReasonsFor(ns, "Workflow", "blog") }, timeout, interval).Should(ContainElement(ReasonFeedBaseline)) // events are sent asynchronously
		runs := &socialv1alpha1.WorkflowRunList{}
		Expect(k8sClient.List(ctx, runs, client.InNamespace(ns))).To(Succeed())
		Expect(runs.Items).To(BeEmpty())

		By("a wake-up before the interval has passed does not read the feed again")
		reads := blog.reads.Load()
		tick(wf)
		Consistently(blog.reads.Load, 2*time.Second, interval).Should(Equal(reads))

		By("two new items, then the interval passes")
		blog.publish("post-2", "Second & better")
		blog.publish("post-3", "Third")
		fakeClock.Step(61 * time.Second)
		tick(wf)
		Eventually(func(g Gomega) {
			g.Expect(k8sClient.List(ctx, runs, client.InNamespace(ns))).To(Succeed())
			g.Expect(runs.Items).To(HaveLen(2))
			g.Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(wf), wf)).To(Succeed())
			g.Expect(wf.Status.LastFeedItem).To(Equal("post-3"))
		}, timeout, interval).Should(Succeed())
		titles := map[string]string{}
		for _, run := range runs.Items {
			Expect(run.Spec.Item).NotTo(BeNil())
			Expect(run.Spec.RequestedBy.Via).To(Equal("feed"))
			titles[run.Name] = run.Spec.Item.Title
		}
		Expect(titles).To(ConsistOf("Second & better", "Third"))

		By("each run renders its item into the post")
		Eventually(func(g Gomega) {
			posts := &socialv1alpha1.ScheduledPostList{}
			g.Expect(k8sClient.List(ctx, posts, client.InNamespace(ns))).To(Succeed())
			var texts []string
			for _, p := range posts.Items {
				texts = append(texts, p.Spec.Text)
			}
			g.Expect(texts).To(ConsistOf(
				"New on the blog: Second & better https://blog.example/post-2 (About Second & better)",
				"New on the blog: Third https://blog.example/post-3 (About Third)",
			))
		}, timeout, interval).Should(Succeed())

		By("a feed that fails makes the workflow not Ready, saying why, until it answers again")
		blog.fail(http.StatusBadGateway)
		fakeClock.Step(61 * time.Second)
		tick(wf)
		Eventually(func(g Gomega) {
			g.Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(wf), wf)).To(Succeed())
			ready := meta.FindStatusCondition(wf.Status.Conditions, socialv1alpha1.ConditionReady)
			g.Expect(ready).NotTo(BeNil())
			g.Expect(ready.Status).To(Equal(metav1.ConditionFalse))
			g.Expect(ready.Reason).To(Equal(ReasonFeedUnreachable))
			g.Expect(ready.Message).To(ContainSubstring("502"))
			g.Expect(meta.FindStatusCondition(wf.Status.Conditions, socialv1alpha1.ConditionStalled)).To(BeNil())
		}, timeout, interval).Should(Succeed())
		blog.fail(http.StatusOK)
		fakeClock.Step(61 * time.Second)
		tick(wf)
		Eventually(func(g Gomega) {
			g.Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(wf), wf)).To(Succeed())
			g.Expect(meta.IsStatusConditionTrue(wf.Status.Conditions, socialv1alpha1.ConditionReady)).To(BeTrue())
		}, timeout, interval).Should(Succeed())
		Expect(k8sClient.List(ctx, runs, client.InNamespace(ns))).To(Succeed())
		Expect(runs.Items).To(HaveLen(2), "no item is queued twice")
	})

	It("queue at most ten runs for a backlog, and restart from the newest item when the last one seen is gone", func() {
		ns, blog := feedNamespace()
		blog.publish("old", "Old")
		wf := &socialv1alpha1.Workflow{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "backlog"},
			Spec: socialv1alpha1.WorkflowSpec{Enabled: true,
				Trigger: socialv1alpha1.WorkflowTrigger{Type: socialv1alpha1.TriggerFeed, Feed: &socialv1alpha1.FeedTrigger{URL: blog.URL}},
				Posts:   []socialv1alpha1.PostTemplate{{Text: "{{ .Item.Title }}", Profiles: []string{"sandbox"}, Draft: true}}},
		}
		Expect(k8sClient.Create(ctx, wf)).To(Succeed())
		Eventually(func(g Gomega) {
			g.Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(wf), wf)).To(Succeed())
			g.Expect(wf.Status.LastFeedItem).To(Equal("old"))
			g.Expect(wf.Status.NextRunTime.Sub(wf.Status.LastPollTime.Time)).To(Equal(15*time.Minute), "the default interval")
		}, timeout, interval).Should(Succeed())

		for i := 1; i <= 12; i++ {
			blog.publish(fmt.Sprintf("new-%02d", i), fmt.Sprintf("New %d", i))
		}
		fakeClock.Step(16 * time.Minute)
		tick(wf)
		runs := &socialv1alpha1.WorkflowRunList{}
		Eventually(func(g Gomega) {
			g.Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(wf), wf)).To(Succeed())
			g.Expect(wf.Status.LastFeedItem).To(Equal("new-12"))
			g.Expect(k8sClient.List(ctx, runs, client.InNamespace(ns))).To(Succeed())
			g.Expect(runs.Items).To(HaveLen(10))
		}, timeout, interval).Should(Succeed())
		for _, run := range runs.Items {
			Expect(run.Spec.Item.Title).NotTo(BeElementOf("New 1", "New 2"), "the oldest two of the backlog are skipped")
		}
		Eventually(func() []string { return eventReasonsFor(ns, "Workflow", "backlog") }, timeout, interval).Should(ContainElement(ReasonFeedItemsSkipped)) // events are sent asynchronously

		By("the feed is replaced by one without the last item seen")
		blog.mu.Lock()
		blog.items = nil
		blog.mu.Unlock()
		blog.publish("other-1", "Other")
		fakeClock.Step(16 * time.Minute)
		tick(wf)
		Eventually(func(g Gomega) {
			g.Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(wf), wf)).To(Succeed())
			g.Expect(wf.Status.LastFeedItem).To(Equal("other-1"))
		}, timeout, interval).Should(Succeed())
		Expect(k8sClient.List(ctx, runs, client.InNamespace(ns))).To(Succeed())
		Expect(runs.Items).To(HaveLen(10), "a new starting point queues nothing")
	})
})
