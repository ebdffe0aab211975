package controllers

import (
	"net/http"
	"net/http/httptest"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	socialv1alpha1 "github.com/herald-dev/herald/api/v1alpha1"
	"github.com/herald-dev/herald/internal/publish/discord/discordtest"
	"github.com/herald-dev/herald/internal/publish/platformtest"
)

var _ = Describe("ScheduledPost retries, cancellation and deletion", func() {
	var ns string
	BeforeEach(func() { ns = newNamespace("lifecycle") })

	It("backs off exponentially while the platform refuses for now (429, nothing created), and fails after the last attempt", func() {
		fake := newFakeMastodon("tok-429")
		mastodonProfile(ns, "masto", fake)
		failStatuses(fake, 10, http.StatusTooManyRequests, nil, "Too many requests")
		post := newPost(ns, "flaky", fakeClock.Now(), "masto")
		Expect(k8sClient.Create(ctx, post)).To(Succeed())

		waitAttempt := func(n int32, phase socialv1alpha1.DeliveryPhase) socialv1alpha1.Delivery {
			var d socialv1alpha1.Delivery
			EventuallyWithOffset(1, func(g Gomega) {
				d = delivery(g, getPost(g, post), "masto")
				g.Expect(d.Attempts).To(Equal(n))
				g.Expect(d.Phase).To(Equal(phase))
			}, timeout, interval).Should(Succeed())
			return d
		}
		d := waitAttempt(1, socialv1alpha1.DeliveryRetrying)
		first := d.NextAttemptAt.Sub(d.LastAttemptAt.Time)
		Expect(first).To(BeNumerically(">=", time.Second))
		Expect(first).To(BeNumerically("<=", 2*time.Second), "a fifth of jitter at most, rounded up to the second")

		fakeClock.Step(2 * time.Second)
		tick(post)
		d = waitAttempt(2, socialv1alpha1.DeliveryRetrying)
		second := d.NextAttemptAt.Sub(d.LastAttemptAt.Time)
		Expect(second).To(BeNumerically(">=", 2*time.Second), "the wait doubles")
		Expect(second).To(BeNumerically("<=", 3*time.Second))

		fakeClock.Step(3 * time.Second)
		tick(post)
		d = waitAttempt(3, socialv1alpha1.DeliveryFailed)
		Expect(d.LastError).To(SatisfyAll(ContainSubstring("gave up after 3 attempts"), ContainSubstring("Too many requests")))
		Expect(expectPhase(post, socialv1alpha1.PostFailed)).NotTo(BeNil())
		Expect(fake.StatusPosts()).To(HaveLen(3))
		Eventually(func() []string { return eventReasonsFor(ns, "ScheduledPost", "flaky") }, timeout, interval).
			Should(ContainElements(ReasonRetryScheduled, ReasonRetriesExhausted))
	})

	It("leaves a timed-out call to a platform without idempotency Unknown", func() {
		fake := newFakeDiscord()
		fake.Override(discordtest.ExecuteRoute, platformtest.Blocking(GinkgoTB()))
		discordProfile(ns, "disc", fake)
		post := newPost(ns, "timeout", fakeClock.Now(), "disc")
		Expect(k8sClient.Create(ctx, post)).To(Succeed())

		got := expectPhase(post, socialv1alpha1.PostUnknown)
		d := delivery(Default, got, "disc")
		Expect(d.Phase).To(Equal(socialv1alpha1.DeliveryUnknown))
		Expect(d.LastError).To(ContainSubstring("may or may not"))
		Expect(d.Attempts).To(BeEquivalentTo(1))
		fakeClock.Step(time.Hour)
		tick(got)
		Consistently(func() int { return len(fake.Find(discordtest.ExecuteRoute)) }, time.Second, interval).Should(Equal(1))
	})

	It("cancels a post before its due time, and never publishes it", func() {
		fake := newFakeMastodon("tok-cancel")
		mastodonProfile(ns, "masto", fake)
		post := newPost(ns, "called-off", fakeClock.Now().Add(time.Hour), "masto")
		Expect(k8sClient.Create(ctx, post)).To(Succeed())
		got := expectPhase(post, socialv1alpha1.PostScheduled)

		got.Spec.Canceled = true
		Expect(k8sClient.Update(ctx, got)).To(Succeed())
		got = expectPhase(post, socialv1alpha1.PostCanceled)
		Expect(delivery(Default, got, "masto").Phase).To(Equal(socialv1alpha1.DeliveryCanceled))
		Expect(condition(got, socialv1alpha1.ConditionReady).Reason).To(Equal(ReasonCanceled))

		fakeClock.Step(time.Hour)
		tick(got)
		Consistently(func() int { return len(fake.StatusPosts()) }, time.Second, interval).Should(BeZero())
	})

	It("deletes a DeleteRemote post's published copies where the platform can, and names the rest", func() {
		fake := newFakeMastodon("tok-delete")
		mastodonProfile(ns, "masto", fake)
		hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) }))
		DeferCleanup(hook.Close)
		createSecret(ns, "hook-secret", map[string]string{"signingSecret": "hook-signing-secret"})
		Expect(k8sClient.Create(ctx, &socialv1alpha1.SocialProfile{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "hook"},
			Spec: socialv1alpha1.SocialProfileSpec{Platform: socialv1alpha1.Platform("webhook"), Handle: "hook", Endpoint: hook.URL,
				CredentialsSecretRef: &socialv1alpha1.LocalObjectReference{Name: "hook-secret"}},
		})).To(Succeed())
		post := newPost(ns, "remove-me", fakeClock.Now(), "masto", "hook")
		post.Spec.DeletionPolicy = socialv1alpha1.DeletionDeleteRemote
		Expect(k8sClient.Create(ctx, post)).To(Succeed())
		got := expectPhase(post, socialv1alpha1.PostPublished)
		Expect(got.Finalizers).To(ContainElement(DeleteRemoteFinalizer))
		Expect(fake.Statuses()).To(HaveLen(1))
		statusID := delivery(Default, got, "masto").ExternalID

		Expect(k8sClient.Delete(ctx, got)).To(Succeed())
		Eventually(func() bool {
			return apierrors.IsNotFound(k8sClient.Get(ctx, client.ObjectKeyFromObject(post), &socialv1alpha1.ScheduledPost{}))
		}, timeout, interval).Should(BeTrue())
		Expect(fake.Statuses()).To(BeEmpty(), "the status is gone from the instance")
		deletes := fake.Find("DELETE /api/v1/statuses/" + statusID)
		Expect(deletes).To(HaveLen(1), "deleted once")
		Expect(deletes[0].Header.Get("Authorization")).To(Equal("Bearer tok-delete"))
		Eventually(func() []string { return eventReasonsFor(ns, "ScheduledPost", "remove-me") }, timeout, interval).
			Should(ContainElements(ReasonRemoteDeleted, ReasonRemoteDeleteFailed))
		Expect(eventNotes(ns)).To(ContainElement(And(ContainSubstring("delete them on the platform by hand"), ContainSubstring("hook"))))

		By("a Keep post carries no finalizer")
		keep := newPost(ns, "keep-me", fakeClock.Now().Add(time.Hour), "masto")
		Expect(k8sClient.Create(ctx, keep)).To(Succeed())
		Expect(expectPhase(keep, socialv1alpha1.PostScheduled).Finalizers).To(BeEmpty())
	})

	It("tries again while the platform fails, and after ten minutes lets the post go, naming what stays online", func() {
		fake := newFakeMastodon("tok-outage")
		mastodonProfile(ns, "masto-down", fake)
		post := newPost(ns, "outage", fakeClock.Now(), "masto-down")
		post.Spec.DeletionPolicy = socialv1alpha1.DeletionDeleteRemote
		Expect(k8sClient.Create(ctx, post)).To(Succeed())
		got := expectPhase(post, socialv1alpha1.PostPublished)
		route := "DELETE /api/v1/statuses/" + delivery(Default, got, "masto-down").ExternalID
		fake.Override(route, func(w http.ResponseWriter, r *http.Request) {
			platformtest.WriteJSON(w, http.StatusServiceUnavailable, map[string]any{"error": "maintenance"})
		})

		Expect(k8sClient.Delete(ctx, got)).To(Succeed())
		Eventually(func() []string { return eventReasonsFor(ns, "ScheduledPost", "outage") }, timeout, interval).
			Should(ContainElement(ReasonRemoteDeleteRetry))
		Eventually(func() int { return len(fake.Find(route)) }, timeout, interval).Should(BeNumerically(">=", 2), "tried again")
		Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(post), got)).To(Succeed())
		Expect(got.Finalizers).To(ContainElement(DeleteRemoteFinalizer))

		fakeClock.Step(11 * time.Minute)
		tick(got)
		Eventually(func() bool {
			return apierrors.IsNotFound(k8sClient.Get(ctx, client.ObjectKeyFromObject(post), &socialv1alpha1.ScheduledPost{}))
		}, timeout, interval).Should(BeTrue())
		Eventually(func() []string { return eventReasonsFor(ns, "ScheduledPost", "outage") }, timeout, interval).
			Should(ContainElement(ReasonRemoteDeleteFailed))
		Expect(fake.Statuses()).To(HaveLen(1), "the status stays online")
	})
})
