package controllers

import (
	"net/http"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/prometheus/client_golang/prometheus/testutil"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	socialv1alpha1 "github.com/herald-dev/herald/api/v1alpha1"
	"github.com/herald-dev/herald/internal/metrics"
	"github.com/herald-dev/herald/internal/publish/mastodon/mastodontest"
)

var _ = Describe("ScheduledPost reconciler", func() {
	var (
		ns   string
		fake *mastodontest.Fake
	)
	BeforeEach(func() {
		ns = newNamespace("posts")
		fake = newFakeMastodon("tok-abcdef")
		mastodonProfile(ns, "masto", fake)
	})

	It("publishes at the due time and not before", func() {
		due := fakeClock.Now().Add(time.Hour)
		post := newPost(ns, "on-time", due, "masto")
		Expect(k8sClient.Create(ctx, post)).To(Succeed())

		got := expectPhase(post, socialv1alpha1.PostScheduled)
		Expect(delivery(Default, got, "masto").Phase).To(Equal(socialv1alpha1.DeliveryPending))
		Expect(condition(got, socialv1alpha1.ConditionReady).Reason).To(Equal(ReasonScheduled))
		Expect(directReconcile(post).RequeueAfter).To(Equal(time.Hour), "requeue for exactly the due time")

		By("one second before the due time nothing is sent")
		fakeClock.Step(time.Hour - time.Second)
		Expect(directReconcile(post).RequeueAfter).To(Equal(time.Second))
		tick(post)
		Consistently(func() int { return len(fake.StatusPosts()) }, time.Second, interval).Should(BeZero())
		Expect(getPost(Default, post).Status.Phase).To(Equal(socialv1alpha1.PostScheduled))

		By("at the due time it is published")
		publishedBefore := testutil.ToFloat64(metrics.PostsPublished.WithLabelValues("mastodon"))
		lateness := testutil.CollectAndCount(metrics.PublishLateness)
		fakeClock.Step(time.Second)
		tick(post)
		got = expectPhase(post, socialv1alpha1.PostPublished)
		d := delivery(Default, got, "masto")
		Expect(d.Phase).To(Equal(socialv1alpha1.DeliveryPublished))
		Expect(d.Attempts).To(BeEquivalentTo(1))
		Expect(d.ExternalID).To(Equal("1000"))
		Expect(d.URL).To(Equal(fake.URL + "/@herald/1000"))
		Expect(d.PublishedAt).NotTo(BeNil())
		Expect(d.LastAttemptAt.Time).To(BeTemporally("==", due))
		Expect(fake.Statuses()).To(Equal([]string{"Our autumn roast is here."}))
		Expect(fake.StatusPosts()[0].Header.Get("Idempotency-Key")).To(Equal(IdempotencyKey(got.UID, "masto", d.AttemptID)))
		Expect(condition(got, socialv1alpha1.ConditionReady).Status).To(Equal(metav1.ConditionTrue))
		Expect(condition(got, socialv1alpha1.ConditionPublished).Status).To(Equal(metav1.ConditionTrue))
		Expect(testutil.ToFloat64(metrics.PostsPublished.WithLabelValues("mastodon"))).To(Equal(publishedBefore + 1))
		Expect(testutil.CollectAndCount(metrics.PublishLateness)).To(Equal(lateness))
		Eventually(func() []string { return eventReasonsFor(ns, "ScheduledPost", "on-time") }, timeout, interval).
			Should(ContainElements(ReasonScheduled, ReasonPublished))

		By("editing it afterwards changes nothing already sent, and says so")
		got.Spec.Text = "A different text"
		Expect(k8sClient.Update(ctx, got)).To(Succeed())
		Eventually(func(g Gomega) {
			p := getPost(g, post)
			g.Expect(p.Status.ObservedGeneration).To(Equal(p.Generation))
			c := condition(p, socialv1alpha1.ConditionSpecIgnored)
			g.Expect(c.Status).To(Equal(metav1.ConditionTrue))
			g.Expect(c.Message).To(ContainSubstring("after publishing started"))
		}, timeout, interval).Should(Succeed())
		Expect(fake.StatusPosts()).To(HaveLen(1))
	})

	It("follows a new scheduledAt set before the due time", func() {
		start := fakeClock.Now()
		post := newPost(ns, "moved", start.Add(time.Hour), "masto")
		Expect(k8sClient.Create(ctx, post)).To(Succeed())
		expectPhase(post, socialv1alpha1.PostScheduled)

		fakeClock.Step(30 * time.Minute)
		got := getPost(Default, post)
		got.Spec.ScheduledAt = start.Add(2 * time.Hour).UTC().Format(time.RFC3339)
		Expect(k8sClient.Update(ctx, got)).To(Succeed())
		Eventually(func(g Gomega) {
			p := getPost(g, post)
			g.Expect(p.Status.ObservedGeneration).To(Equal(p.Generation))
		}, timeout, interval).Should(Succeed())
		Expect(directReconcile(post).RequeueAfter).To(Equal(90 * time.Minute))

		By("the old due time passes without a post")
		fakeClock.Step(30 * time.Minute)
		tick(post)
		Consistently(func() int { return len(fake.StatusPosts()) }, time.Second, interval).Should(BeZero())
		Expect(getPost(Default, post).Status.Phase).To(Equal(socialv1alpha1.PostScheduled))
		Expect(conditionAbsent(getPost(Default, post), socialv1alpha1.ConditionSpecIgnored)).To(BeTrue(), "nothing had started")

		By("the new one publishes")
		fakeClock.Step(time.Hour)
		tick(post)
		expectPhase(post, socialv1alpha1.PostPublished)
		Expect(fake.StatusPosts()).To(HaveLen(1))
	})

	It("publishes to the working profile when another fails: PartiallyPublished", func() {
		broken := newFakeMastodon("tok-broken")
		mastodonProfile(ns, "broken", broken)
		failStatuses(broken, 10, http.StatusUnprocessableEntity, nil, "Validation failed: Text contains a forbidden link")
		post := newPost(ns, "partial", fakeClock.Now(), "masto", "broken")
		Expect(k8sClient.Create(ctx, post)).To(Succeed())

		got := expectPhase(post, socialv1alpha1.PostPartiallyPublished)
		Expect(delivery(Default, got, "masto").Phase).To(Equal(socialv1alpha1.DeliveryPublished))
		bad := delivery(Default, got, "broken")
		Expect(bad.Phase).To(Equal(socialv1alpha1.DeliveryFailed))
		Expect(bad.LastError).To(ContainSubstring("Validation failed: Text contains a forbidden link"))
		Expect(bad.Attempts).To(BeEquivalentTo(1), "a permanent error is not retried")
		ready := condition(got, socialv1alpha1.ConditionReady)
		Expect(ready.Status).To(Equal(metav1.ConditionFalse))
		Expect(ready.Reason).To(Equal(string(socialv1alpha1.PostPartiallyPublished)))
		Expect(ready.Message).To(ContainSubstring("broken Failed"))
		Expect(ready.Message).To(ContainSubstring("retry"))
		Expect(condition(got, socialv1alpha1.ConditionStalled).Status).To(Equal(metav1.ConditionTrue))
		Expect(fake.Statuses()).To(HaveLen(1))
		Expect(broken.Statuses()).To(BeEmpty())
	})

	It("fails with the platform's message on a permanent error", func() {
		failStatuses(fake, 10, http.StatusUnprocessableEntity, nil, "Validation failed: Media is not supported")
		failedBefore := testutil.ToFloat64(metrics.PostsFailed.WithLabelValues("mastodon", "Permanent"))
		post := newPost(ns, "refused", fakeClock.Now(), "masto")
		Expect(k8sClient.Create(ctx, post)).To(Succeed())

		got := expectPhase(post, socialv1alpha1.PostFailed)
		d := delivery(Default, got, "masto")
		Expect(d.LastError).To(ContainSubstring("Validation failed: Media is not supported"))
		Expect(condition(got, socialv1alpha1.ConditionReady).Reason).To(Equal(string(socialv1alpha1.PostFailed)))
		Expect(condition(got, socialv1alpha1.ConditionPublished).Status).To(Equal(metav1.ConditionFalse))
		Expect(testutil.ToFloat64(metrics.PostsFailed.WithLabelValues("mastodon", "Permanent"))).To(Equal(failedBefore + 1))
		Eventually(func() []string { return eventReasonsFor(ns, "ScheduledPost", "refused") }, timeout, interval).
			Should(ContainElements(ReasonPublishFailed, string(socialv1alpha1.PostFailed)))
	})

	It("waits out a 429's Retry-After, then publishes with the same idempotency key", func() {
		failStatuses(fake, 1, http.StatusTooManyRequests, http.Header{"Retry-After": {"7"}}, "Too many requests")
		retriesBefore := testutil.ToFloat64(metrics.PublishRetries.WithLabelValues("mastodon"))
		start := fakeClock.Now()
		post := newPost(ns, "throttled", start, "masto")
		Expect(k8sClient.Create(ctx, post)).To(Succeed())

		var d socialv1alpha1.Delivery
		Eventually(func(g Gomega) {
			d = delivery(g, getPost(g, post), "masto")
			g.Expect(d.Phase).To(Equal(socialv1alpha1.DeliveryRetrying))
		}, timeout, interval).Should(Succeed())
		Expect(d.Attempts).To(BeEquivalentTo(1))
		Expect(d.NextAttemptAt.Time).To(BeTemporally(">=", start.Add(7*time.Second)), "Retry-After is honoured")
		Expect(d.NextAttemptAt.Time).To(BeTemporally("<=", start.Add(9*time.Second)), "jitter is at most a fifth, rounded up to the second")
		Expect(d.LastError).To(ContainSubstring("429"))
		Expect(getPost(Default, post).Status.Phase).To(Equal(socialv1alpha1.PostPublishing))
		Expect(testutil.ToFloat64(metrics.PublishRetries.WithLabelValues("mastodon"))).To(Equal(retriesBefore + 1))

		By("nothing is sent again before the wait is over")
		fakeClock.Step(6 * time.Second)
		tick(post)
		Consistently(func() int { return len(fake.StatusPosts()) }, 500*time.Millisecond, interval).Should(Equal(1))

		fakeClock.Step(3 * time.Second)
		tick(post)
		got := expectPhase(post, socialv1alpha1.PostPublished)
		d = delivery(Default, got, "masto")
		Expect(d.Attempts).To(BeEquivalentTo(2))
		reqs := fake.StatusPosts()
		Expect(reqs).To(HaveLen(2))
		Expect(reqs[1].Header.Get("Idempotency-Key")).To(Equal(reqs[0].Header.Get("Idempotency-Key")))
		Expect(fake.Statuses()).To(HaveLen(1))
	})

	It("fails a post whose profile's Secret is missing, naming the Secret", func() {
		p := &socialv1alpha1.SocialProfile{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "nosecret"},
			Spec: socialv1alpha1.SocialProfileSpec{
				Platform: socialv1alpha1.Platform("mastodon"), Handle: "@x@fake.example", Endpoint: fake.URL,
				CredentialsSecretRef: &socialv1alpha1.LocalObjectReference{Name: "missing-token"},
			},
		}
		Expect(k8sClient.Create(ctx, p)).To(Succeed())
		profileReady(p, metav1.ConditionFalse, ReasonSecretNotFound)

		post := newPost(ns, "no-credentials", fakeClock.Now(), "nosecret")
		Expect(k8sClient.Create(ctx, post)).To(Succeed())
		got := expectPhase(post, socialv1alpha1.PostFailed)
		d := delivery(Default, got, "nosecret")
		Expect(d.LastError).To(ContainSubstring("Secret " + ns + "/missing-token"))
		Expect(d.LastError).To(ContainSubstring("accessToken"))
		Expect(d.Attempts).To(BeZero(), "the platform was never called")
		Expect(fake.StatusPosts()).To(BeEmpty())
		Eventually(func() []string { return eventReasonsFor(ns, "ScheduledPost", "no-credentials") }, timeout, interval).
			Should(ContainElement(ReasonSecretNotFound))
	})

	It("marks a post later than maxLateness Missed instead of publishing it", func() {
		post := newPost(ns, "stale", fakeClock.Now().Add(-time.Hour), "masto")
		post.Spec.MaxLateness = &metav1.Duration{Duration: 15 * time.Minute}
		Expect(k8sClient.Create(ctx, post)).To(Succeed())
		got := expectPhase(post, socialv1alpha1.PostMissed)
		d := delivery(Default, got, "masto")
		Expect(d.Phase).To(Equal(socialv1alpha1.DeliveryMissed))
		Expect(d.LastError).To(ContainSubstring("maxLateness 15m0s"))
		Expect(condition(got, socialv1alpha1.ConditionReady).Reason).To(Equal(string(socialv1alpha1.PostMissed)))
		Expect(fake.StatusPosts()).To(BeEmpty())
		Eventually(func() []string { return eventReasonsFor(ns, "ScheduledPost", "stale") }, timeout, interval).
			Should(ContainElement(ReasonMissedDeadline))
	})

	It("never publishes a draft, and publishes once the draft flag is cleared", func() {
		post := newPost(ns, "draft", fakeClock.Now().Add(-time.Minute), "masto")
		post.Spec.Draft = true
		Expect(k8sClient.Create(ctx, post)).To(Succeed())
		got := expectPhase(post, socialv1alpha1.PostDraft)
		Expect(condition(got, socialv1alpha1.ConditionReady).Reason).To(Equal(ReasonDraft))
		Expect(directReconcile(post).RequeueAfter).To(BeZero(), "a draft waits for a spec change, not a time")
		fakeClock.Step(time.Minute)
		tick(post)
		Consistently(func() int { return len(fake.StatusPosts()) }, time.Second, interval).Should(BeZero())

		got = getPost(Default, post)
		got.Spec.Draft = false
		Expect(k8sClient.Update(ctx, got)).To(Succeed())
		expectPhase(post, socialv1alpha1.PostPublished)
		Expect(fake.StatusPosts()).To(HaveLen(1))
	})

	It("renders the brand kit and refuses text over the platform's limit, naming the excess", func() {
		Expect(k8sClient.Create(ctx, &socialv1alpha1.BrandKit{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "acme"},
			Spec: socialv1alpha1.BrandKitSpec{
				DisplayName: "Acme", Signature: "— Acme Coffee", Hashtags: []string{"coffee"},
				PlatformOverrides: []socialv1alpha1.BrandPlatformOverride{{Platform: socialv1alpha1.Platform("mastodon"), Hashtags: []string{"roast", "berlin"}}},
			},
		})).To(Succeed())
		mastodonProfile(ns, "short", fake, func(p *socialv1alpha1.SocialProfile) { p.Spec.CharacterLimit = ptrTo[int32](30) })
		post := newPost(ns, "branded", fakeClock.Now(), "masto", "short")
		post.Spec.BrandKit = "acme"
		post.Spec.Variants = []socialv1alpha1.PostVariant{{Profile: "masto", Text: "Fresh roast today."}}
		Expect(k8sClient.Create(ctx, post)).To(Succeed())

		got := expectPhase(post, socialv1alpha1.PostPartiallyPublished)
		Expect(fake.Statuses()).To(Equal([]string{"Fresh roast today.\n\n— Acme Coffee\n\n#roast #berlin"}))
		d := delivery(Default, got, "short")
		Expect(d.Phase).To(Equal(socialv1alpha1.DeliveryFailed))
		Expect(d.LastError).To(SatisfyAll(ContainSubstring("Mastodon allows 30 characters"), ContainSubstring("over"), ContainSubstring("profile short")))
	})

	It("holds a burst to one account to its posts per hour without delaying another account", func() {
		other := newFakeMastodon("tok-other")
		mastodonProfile(ns, "slow", fake, func(p *socialv1alpha1.SocialProfile) { p.Spec.PostsPerHour = ptrTo[int32](1) })
		mastodonProfile(ns, "other", other)
		now := fakeClock.Now()
		first := newPost(ns, "burst-1", now, "slow")
		Expect(k8sClient.Create(ctx, first)).To(Succeed())
		expectPhase(first, socialv1alpha1.PostPublished)

		second := newPost(ns, "burst-2", now, "slow")
		// A post held back longer than maxLateness becomes Missed like any
		// late post; this one may wait the hour.
		second.Spec.MaxLateness = &metav1.Duration{Duration: 2 * time.Hour}
		third := newPost(ns, "burst-3", now, "other")
		Expect(k8sClient.Create(ctx, second)).To(Succeed())
		Expect(k8sClient.Create(ctx, third)).To(Succeed())
		expectPhase(third, socialv1alpha1.PostPublished)
		Eventually(func(g Gomega) {
			d := delivery(g, getPost(g, second), "slow")
			g.Expect(d.Phase).To(Equal(socialv1alpha1.DeliveryPending))
			g.Expect(d.LastError).To(ContainSubstring("rate limit of 1 posts per hour"))
			g.Expect(d.NextAttemptAt).NotTo(BeNil())
		}, timeout, interval).Should(Succeed())
		Expect(getPost(Default, second).Status.Phase).To(Equal(socialv1alpha1.PostPublishing))
		Expect(fake.StatusPosts()).To(HaveLen(1))
		Eventually(func() []string { return eventReasonsFor(ns, "ScheduledPost", "burst-2") }, timeout, interval).
			Should(ContainElement(ReasonRateLimited))

		By("once the hour has passed, the held post goes out")
		fakeClock.Step(time.Hour)
		tick(second)
		expectPhase(second, socialv1alpha1.PostPublished)
		Expect(fake.StatusPosts()).To(HaveLen(2))
	})
})

func conditionAbsent(p *socialv1alpha1.ScheduledPost, typ string) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == typ {
			return false
		}
	}
	return true
}
