package controllers

import (
	"context"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	socialv1alpha1 "github.com/herald-dev/herald/api/v1alpha1"
	"github.com/herald-dev/herald/internal/publish"
	"github.com/herald-dev/herald/internal/testenv"
)

// startCrashManager starts a manager, a process of its own, that only sees
// posts labelled for the crash tests. hook, when set, wraps platform's
// publisher in CrashAfterSend, which kills the process once the platform
// has the post. It returns a function that stops the manager and waits for
// it, and a channel closed when it has stopped.
func startCrashManager(hook publish.Platform) (func(), <-chan struct{}) {
	mctx, stop := context.WithCancel(ctx)
	proc := &testenv.Process{}
	pubs := testPublishers()
	if hook != "" {
		pubs[hook] = &testenv.CrashAfterSend{Publisher: pubs[hook], Kill: proc.Kill, Stop: stop}
	}
	mgr := newTestManager(labels.SelectorFromSet(labels.Set{LabelTestManager: "crash"}), pubs, proc.Config(cfg))
	done := make(chan struct{})
	go func() {
		defer GinkgoRecover()
		defer close(done)
		Expect(mgr.Start(mctx)).To(Succeed())
	}()
	return func() { stop(); Eventually(done, timeout).Should(BeClosed()) }, done
}

func crashPost(ns, name, profile string) *socialv1alpha1.ScheduledPost {
	post := newPost(ns, name, fakeClock.Now(), profile)
	post.Labels = map[string]string{LabelTestManager: "crash"}
	return post
}

var _ = Describe("A manager stopped between claim and outcome", func() {
	It("re-sends a Mastodon attempt with the same Idempotency-Key: the instance holds one post", func() {
		ns := newNamespace("crash-masto")
		fake := newFakeMastodon("tok-crash")
		mastodonProfile(ns, "masto", fake)

		_, crashed := startCrashManager(publish.Platform("mastodon"))
		post := crashPost(ns, "interrupted", "masto")
		Expect(k8sClient.Create(ctx, post)).To(Succeed())
		Eventually(crashed, timeout).Should(BeClosed(), "the hook stops the manager after the platform got the post")

		got := getPost(Default, post)
		d := delivery(Default, got, "masto")
		Expect(d.Phase).To(Equal(socialv1alpha1.DeliveryPublishing), "the claim was written, the outcome was not")
		Expect(d.Attempts).To(BeEquivalentTo(1))
		Expect(fake.Statuses()).To(HaveLen(1))

		By("a new manager waits for the claim to lapse, then resumes the attempt")
		stop, _ := startCrashManager("")
		defer stop()
		Consistently(fake.StatusPosts, time.Second, interval).Should(HaveLen(1), "the claim holds until its deadline")
		fakeClock.Step(DefaultTiming.ClaimTTL)
		tick(got)
		got = expectPhase(post, socialv1alpha1.PostPublished)
		resumed := delivery(Default, got, "masto")
		Expect(resumed.AttemptID).To(Equal(d.AttemptID), "same attempt, so same key")
		Expect(resumed.Attempts).To(BeEquivalentTo(2))
		reqs := fake.StatusPosts()
		Expect(reqs).To(HaveLen(2))
		Expect(reqs[1].Header.Get("Idempotency-Key")).To(Equal(reqs[0].Header.Get("Idempotency-Key")))
		Expect(fake.Statuses()).To(HaveLen(1), "exactly one post on the instance")
		Expect(resumed.ExternalID).To(Equal("1000"), "the status created by the interrupted attempt")
		Eventually(func() []string { return eventReasonsFor(ns, "ScheduledPost", "interrupted") }, timeout, interval).
			Should(ContainElement(ReasonResumed))
	})

	It("marks a Discord attempt Unknown and never sends it twice on its own", func() {
		ns := newNamespace("crash-discord")
		fake := newFakeDiscord()
		discordProfile(ns, "disc", fake)

		_, crashed := startCrashManager(publish.Platform("discord"))
		post := crashPost(ns, "interrupted", "disc")
		Expect(k8sClient.Create(ctx, post)).To(Succeed())
		Eventually(crashed, timeout).Should(BeClosed())
		d := delivery(Default, getPost(Default, post), "disc")
		Expect(d.Phase).To(Equal(socialv1alpha1.DeliveryPublishing))
		Expect(fake.Sent()).To(BeEquivalentTo(1))

		By("once the claim lapses, a new manager cannot know whether it was published, and says so")
		stop, _ := startCrashManager("")
		defer stop()
		fakeClock.Step(DefaultTiming.ClaimTTL)
		tick(getPost(Default, post))
		got := expectPhase(post, socialv1alpha1.PostUnknown)
		unknown := delivery(Default, got, "disc")
		Expect(unknown.Phase).To(Equal(socialv1alpha1.DeliveryUnknown))
		Expect(unknown.LastError).To(ContainSubstring("no idempotency key"))
		ready := condition(got, socialv1alpha1.ConditionReady)
		Expect(ready.Status).To(Equal(metav1.ConditionFalse))
		Expect(ready.Reason).To(Equal(string(socialv1alpha1.PostUnknown)))
		Expect(ready.Message).To(ContainSubstring(socialv1alpha1.AnnotationRetryRequestedAt))
		Eventually(func() []string { return eventReasonsFor(ns, "ScheduledPost", "interrupted") }, timeout, interval).
			Should(ContainElement(ReasonDeliveryUnknown))
		fakeClock.Step(time.Hour)
		tick(got)
		Consistently(fake.Sent, 2*time.Second, interval).Should(BeEquivalentTo(1), "never posted twice")

		By("a person checks the account and asks for a retry of that profile: it is sent once more, as a new attempt")
		got = getPost(Default, post)
		got.Annotations[socialv1alpha1.AnnotationRetryRequestedAt] = "2026-07-01T10:00:00Z"
		got.Annotations[socialv1alpha1.AnnotationRetryProfiles] = "disc"
		Expect(k8sClient.Update(ctx, got)).To(Succeed())
		got = expectPhase(post, socialv1alpha1.PostPublished)
		Expect(got.Status.LastHandledRetry).To(Equal("2026-07-01T10:00:00Z"))
		Expect(delivery(Default, got, "disc").AttemptID).NotTo(Equal(d.AttemptID))
		Consistently(fake.Sent, time.Second, interval).Should(BeEquivalentTo(2))
	})
})
