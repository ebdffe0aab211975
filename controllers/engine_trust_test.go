package controllers

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	socialv1alpha1 "github.com/herald-dev/herald/api/v1alpha1"
	"github.com/herald-dev/herald/internal/publish/discord/discordtest"
	"github.com/herald-dev/herald/internal/publish/platformtest"
)

// direct is a ScheduledPost reconciler a test drives by hand, one
// reconcile at a time, on posts the suite's manager does not see
// (directPost), recording its events.
type direct struct {
	*ScheduledPostReconciler
	events *events.FakeRecorder
}

func newDirect(mutate ...func(*ScheduledPostReconciler)) *direct {
	rec := events.NewFakeRecorder(100)
	r := &ScheduledPostReconciler{
		Client: k8sClient, APIReader: k8sClient, Recorder: rec,
		Clock: fakeClock, Publishers: testPublishers(), Retry: testRetry, Timing: DefaultTiming, Identity: "direct",
	}
	for _, m := range mutate {
		m(r)
	}
	return &direct{ScheduledPostReconciler: r, events: rec}
}

func (d *direct) reconcile(p *socialv1alpha1.ScheduledPost) (ctrl.Result, error) {
	return d.Reconcile(ctx, ctrl.Request{NamespacedName: client.ObjectKeyFromObject(p)})
}

// run reconciles p once and expects no error.
func (d *direct) run(p *socialv1alpha1.ScheduledPost) ctrl.Result {
	res, err := d.reconcile(p)
	ExpectWithOffset(1, err).NotTo(HaveOccurred())
	return res
}

// drained returns the events recorded since the last call.
func (d *direct) drained() []string { return drainEvents(d.events) }

// drainEvents returns what rec recorded and nobody read yet.
func drainEvents(rec *events.FakeRecorder) []string {
	var out []string
	for {
		select {
		case e := <-rec.Events:
			out = append(out, e)
		default:
			return out
		}
	}
}

// directPost is a post only direct reconcilers act on.
func directPost(ns, name string, due time.Time, profiles ...string) *socialv1alpha1.ScheduledPost {
	p := newPost(ns, name, due, profiles...)
	p.Labels = map[string]string{LabelTestManager: "direct"}
	return p
}

// withStatus writes deliveries into p's status, as an earlier process left them.
func withStatus(p *socialv1alpha1.ScheduledPost, deliveries ...socialv1alpha1.Delivery) {
	got := getPost(Default, p)
	got.Status.Deliveries = deliveries
	got.Status.ObservedGeneration = got.Generation
	ExpectWithOffset(1, k8sClient.Status().Update(ctx, got)).To(Succeed())
}

func at(t time.Time) *metav1.Time { m := metav1.NewTime(t); return &m }

// failingStatusWrites wraps the API client so that status writes matching
// fail answer with a server error (not a conflict) while left > 0.
func failingStatusWrites(left *int, fail func(*socialv1alpha1.ScheduledPost) bool) client.Client {
	return interceptor.NewClient(watchClient, interceptor.Funcs{
		SubResourceUpdate: func(ctx context.Context, c client.Client, sub string, obj client.Object, opts ...client.SubResourceUpdateOption) error {
			if p, ok := obj.(*socialv1alpha1.ScheduledPost); ok && *left > 0 && fail(p) {
				*left--
				return apierrors.NewInternalError(errors.New("etcdserver: request timed out"))
			}
			return c.SubResource(sub).Update(ctx, obj, opts...)
		},
	})
}

var _ = Describe("Publishing you can trust", func() {
	var ns string
	BeforeEach(func() { ns = newNamespace("trust") })

	Context("a server error after the request was sent", func() {
		It("is never sent again on a platform without idempotency: Unknown, one message", func() {
			fake := newFakeDiscord()
			discordProfile(ns, "disc", fake)
			// Discord posted the message; a gateway answered 502.
			fake.FailNext(discordtest.ExecuteRoute, 1, platformtest.Fault{After: true, Status: http.StatusBadGateway, Body: "Bad Gateway"})
			post := newPost(ns, "gateway", fakeClock.Now(), "disc")
			Expect(k8sClient.Create(ctx, post)).To(Succeed())

			got := expectPhase(post, socialv1alpha1.PostUnknown)
			d := delivery(Default, got, "disc")
			Expect(d.Ambiguous).To(BeTrue())
			Expect(d.LastError).To(And(ContainSubstring("502"), ContainSubstring("no idempotency key")))
			Expect(fake.Sent()).To(Equal(1))
			fakeClock.Step(time.Hour)
			tick(got)
			Consistently(fake.Sent, time.Second, interval).Should(Equal(1), "never sent twice")
		})

		It("is sent again with the same key where the platform recognises a repeat: one status, Published", func() {
			fake := newFakeMastodon("tok-502")
			mastodonProfile(ns, "masto", fake)
			fake.FailNext("POST /api/v1/statuses", 1, platformtest.Fault{After: true, Status: http.StatusBadGateway, Body: "Bad Gateway"})
			post := newPost(ns, "gateway-masto", fakeClock.Now(), "masto")
			Expect(k8sClient.Create(ctx, post)).To(Succeed())

			Eventually(func(g Gomega) {
				d := delivery(g, getPost(g, post), "masto")
				g.Expect(d.Phase).To(Equal(socialv1alpha1.DeliveryRetrying))
				g.Expect(d.Ambiguous).To(BeTrue())
			}, timeout, interval).Should(Succeed())
			fakeClock.Step(3 * time.Second)
			tick(post)
			got := expectPhase(post, socialv1alpha1.PostPublished)
			Expect(delivery(Default, got, "masto").ExternalID).To(Equal("1000"), "the status the first attempt made")
			Expect(fake.Statuses()).To(HaveLen(1))
			reqs := fake.StatusPosts()
			Expect(reqs).To(HaveLen(2))
			Expect(reqs[1].Header.Get("Idempotency-Key")).To(Equal(reqs[0].Header.Get("Idempotency-Key")))
		})

		It("ends Unknown, not Failed, when refusals follow until the attempts run out", func() {
			fake := newFakeMastodon("tok-then-429")
			mastodonProfile(ns, "masto", fake)
			calls := 0
			fake.Inject("POST /api/v1/statuses", func(platformtest.Request) *platformtest.Fault {
				calls++
				if calls == 1 {
					return &platformtest.Fault{Status: http.StatusGatewayTimeout, Body: "Gateway Timeout"}
				}
				return &platformtest.Fault{Status: http.StatusTooManyRequests, Body: "Too many requests"}
			})
			post := newPost(ns, "then-refused", fakeClock.Now(), "masto")
			Expect(k8sClient.Create(ctx, post)).To(Succeed())
			for attempt := int32(1); attempt < testRetry.MaxAttempts; attempt++ {
				Eventually(func(g Gomega) {
					d := delivery(g, getPost(g, post), "masto")
					g.Expect(d.Attempts).To(Equal(attempt))
					g.Expect(d.Phase).To(Equal(socialv1alpha1.DeliveryRetrying))
				}, timeout, interval).Should(Succeed())
				fakeClock.Step(testRetry.MaxBackoff)
				tick(post)
			}
			got := expectPhase(post, socialv1alpha1.PostUnknown)
			d := delivery(Default, got, "masto")
			Expect(d.Attempts).To(Equal(testRetry.MaxAttempts))
			Expect(d.LastError).To(And(ContainSubstring("gave up after 3 attempts"), ContainSubstring("may be online")))
		})
	})

	It("looks again at a retry whose wait ran out while its call was running", func() {
		fake := newFakeMastodon("tok-slow-429")
		mastodonProfile(ns, "masto", fake)
		first := true
		fake.Inject("POST /api/v1/statuses", func(platformtest.Request) *platformtest.Fault {
			if !first {
				return nil
			}
			first = false
			fakeClock.Step(time.Minute) // the call outlasts its backoff
			return &platformtest.Fault{Status: http.StatusTooManyRequests, Body: "Too many requests"}
		})
		post := newPost(ns, "slow-refusal", fakeClock.Now(), "masto")
		Expect(k8sClient.Create(ctx, post)).To(Succeed())
		got := expectPhase(post, socialv1alpha1.PostPublished) // no tick: the reconciler comes back by itself
		Expect(delivery(Default, got, "masto").Attempts).To(BeEquivalentTo(2))
	})

	It("finishes a call in flight when its manager stops, and writes the outcome", func() {
		fake := newFakeMastodon("tok-graceful")
		mastodonProfile(ns, "masto", fake)
		release := make(chan struct{})
		fake.Inject("POST /api/v1/statuses", func(platformtest.Request) *platformtest.Fault {
			<-release
			return nil
		})
		stop, stopped := startCrashManager("")
		post := crashPost(ns, "in-flight", "masto")
		Expect(k8sClient.Create(ctx, post)).To(Succeed())
		Eventually(fake.StatusPosts, timeout, interval).Should(HaveLen(1), "the call is in flight")

		go stop()
		Consistently(stopped, time.Second, interval).ShouldNot(BeClosed(), "shutdown waits for the call")
		close(release)
		Eventually(stopped, timeout).Should(BeClosed())
		got := getPost(Default, post)
		d := delivery(Default, got, "masto")
		Expect(d.Phase).To(Equal(socialv1alpha1.DeliveryPublished), "the stopping manager wrote the outcome")
		Expect(d.ExternalID).To(Equal("1000"))
		Expect(fake.Statuses()).To(HaveLen(1))
	})

	Context("a claim", func() {
		It("held by another process is left alone until it lapses", func() {
			fake := newFakeDiscord()
			discordProfile(ns, "disc", fake)
			now := fakeClock.Now()
			post := directPost(ns, "claimed", now, "disc")
			Expect(k8sClient.Create(ctx, post)).To(Succeed())
			withStatus(post, socialv1alpha1.Delivery{Profile: "disc", Platform: socialv1alpha1.Platform("discord"), Phase: socialv1alpha1.DeliveryPublishing,
				AttemptID: "a1", Attempts: 1, AttemptStartedAt: at(now), LastAttemptAt: at(now),
				ClaimedBy: "another-process", ClaimExpiresAt: at(now.Add(DefaultTiming.ClaimTTL))})

			r := newDirect()
			res := r.run(post)
			d := delivery(Default, getPost(Default, post), "disc")
			Expect(d.Phase).To(Equal(socialv1alpha1.DeliveryPublishing), "its holder may be calling Discord right now")
			Expect(d.ClaimedBy).To(Equal("another-process"))
			Expect(res.RequeueAfter).To(BeNumerically("~", DefaultTiming.ClaimTTL, time.Second), "it looks again when the claim lapses")
			Expect(fake.Sent()).To(BeZero())

			fakeClock.Step(DefaultTiming.ClaimTTL + time.Second)
			r.run(post)
			d = delivery(Default, getPost(Default, post), "disc")
			Expect(d.Phase).To(Equal(socialv1alpha1.DeliveryUnknown), "lapsed: the holder stopped mid-call")
			Expect(fake.Sent()).To(BeZero())
		})

		It("is released, unsent, by a process that no longer leads", func() {
			fake := newFakeMastodon("tok-not-leading")
			mastodonProfile(ns, "masto", fake)
			post := directPost(ns, "not-leading", fakeClock.Now(), "masto")
			Expect(k8sClient.Create(ctx, post)).To(Succeed())
			r := newDirect(func(r *ScheduledPostReconciler) { r.Leading = func() bool { return false } })
			r.run(post)
			d := delivery(Default, getPost(Default, post), "masto")
			Expect(d.Phase).To(Equal(socialv1alpha1.DeliveryPending))
			Expect(d.Attempts).To(BeZero())
			Expect(d.ClaimedBy).To(BeEmpty())
			Expect(fake.StatusPosts()).To(BeEmpty())
			Expect(r.drained()).To(ContainElement(ContainSubstring(ReasonNotLeading)))
		})

		It("whose write failed is not left behind for the deferred write to persist", func() {
			fake := newFakeMastodon("tok-claim-write")
			mastodonProfile(ns, "masto", fake)
			post := directPost(ns, "claim-write-fails", fakeClock.Now(), "masto")
			Expect(k8sClient.Create(ctx, post)).To(Succeed())
			left := 1
			r := newDirect(func(r *ScheduledPostReconciler) {
				r.Client = failingStatusWrites(&left, func(p *socialv1alpha1.ScheduledPost) bool {
					return len(p.Status.Deliveries) > 0 && p.Status.Deliveries[0].Phase == socialv1alpha1.DeliveryPublishing
				})
			})
			_, err := r.reconcile(post)
			Expect(err).To(HaveOccurred())
			Expect(left).To(BeZero(), "the claim's write failed")
			for _, d := range getPost(Default, post).Status.Deliveries {
				Expect(d.Phase).NotTo(Equal(socialv1alpha1.DeliveryPublishing), "no claim without a call")
			}
			Expect(fake.StatusPosts()).To(BeEmpty())

			r.run(post)
			Expect(getPost(Default, post).Status.Phase).To(Equal(socialv1alpha1.PostPublished))
			Expect(fake.Statuses()).To(HaveLen(1))
		})
	})

	It("resends an interrupted Mastodon attempt only within the hour the instance remembers its key", func() {
		fake := newFakeMastodon("tok-window")
		mastodonProfile(ns, "masto", fake)
		now := fakeClock.Now()
		interrupted := func(name string, started time.Time) *socialv1alpha1.ScheduledPost {
			p := directPost(ns, name, started, "masto")
			p.Spec.MaxLateness = &metav1.Duration{Duration: 3 * time.Hour}
			Expect(k8sClient.Create(ctx, p)).To(Succeed())
			withStatus(p, socialv1alpha1.Delivery{Profile: "masto", Platform: socialv1alpha1.Platform("mastodon"), Phase: socialv1alpha1.DeliveryPublishing,
				AttemptID: "a1", Attempts: 1, AttemptStartedAt: at(started), LastAttemptAt: at(started),
				ClaimedBy: "gone", ClaimExpiresAt: at(started.Add(DefaultTiming.ClaimTTL))})
			return p
		}
		old, recent := interrupted("two-hours-ago", now.Add(-2*time.Hour)), interrupted("ten-minutes-ago", now.Add(-10*time.Minute))
		r := newDirect()
		r.run(old)
		d := delivery(Default, getPost(Default, old), "masto")
		Expect(d.Phase).To(Equal(socialv1alpha1.DeliveryUnknown))
		Expect(d.LastError).To(ContainSubstring("50 minutes"))
		Expect(fake.StatusPosts()).To(BeEmpty(), "the key may be forgotten: not resent")

		r.run(recent)
		Expect(getPost(Default, recent).Status.Phase).To(Equal(socialv1alpha1.PostPublished), "within the window the key protects a resend")
		Expect(fake.StatusPosts()).To(HaveLen(1))
	})

	It("retries only the deliveries a request takes: Failed by default, Missed and Unknown only by name", func() {
		masto, late, disc := newFakeMastodon("tok-retry"), newFakeMastodon("tok-retry-late"), newFakeDiscord()
		mastodonProfile(ns, "masto", masto)
		mastodonProfile(ns, "late", late)
		discordProfile(ns, "disc", disc)
		now := fakeClock.Now()
		post := directPost(ns, "partly", now, "masto", "late", "disc")
		Expect(k8sClient.Create(ctx, post)).To(Succeed())
		withStatus(post,
			socialv1alpha1.Delivery{Profile: "masto", Platform: socialv1alpha1.Platform("mastodon"), Phase: socialv1alpha1.DeliveryFailed, Attempts: 1, LastError: "refused"},
			socialv1alpha1.Delivery{Profile: "late", Platform: socialv1alpha1.Platform("mastodon"), Phase: socialv1alpha1.DeliveryMissed, LastError: "not sent within maxLateness"},
			socialv1alpha1.Delivery{Profile: "disc", Platform: socialv1alpha1.Platform("discord"), Phase: socialv1alpha1.DeliveryUnknown, Attempts: 1, Ambiguous: true, LastError: "timeout"})
		// As kubectl annotate asks: a patch of the annotations alone, which
		// leaves the spec (and so the generation) as it was.
		requestRetry := func(token, profiles string) {
			got := getPost(Default, post)
			before := got.DeepCopy()
			got.Annotations = map[string]string{socialv1alpha1.AnnotationRetryRequestedAt: token}
			if profiles != "" {
				got.Annotations[socialv1alpha1.AnnotationRetryProfiles] = profiles
			}
			Expect(k8sClient.Patch(ctx, got, client.MergeFrom(before))).To(Succeed())
			Expect(got.Generation).To(Equal(before.Generation))
		}
		r := newDirect()
		requestRetry("1", "")
		r.run(post)
		got := getPost(Default, post)
		Expect(delivery(Default, got, "masto").Phase).To(Equal(socialv1alpha1.DeliveryPublished))
		Expect(delivery(Default, got, "late").Phase).To(Equal(socialv1alpha1.DeliveryMissed), "its time passed: sent late only when named")
		Expect(delivery(Default, got, "disc").Phase).To(Equal(socialv1alpha1.DeliveryUnknown), "it may be online: not sent again unnamed")
		Expect(late.Statuses()).To(BeEmpty())
		Expect(disc.Sent()).To(BeZero())
		Expect(r.drained()).To(ContainElement(And(ContainSubstring("not retried: late (it was Missed"), ContainSubstring("disc (it is Unknown"))))

		requestRetry("2", "late,disc")
		r.run(post)
		Expect(getPost(Default, post).Status.Phase).To(Equal(socialv1alpha1.PostPublished))
		Expect(late.Statuses()).To(HaveLen(1))
		Expect(disc.Sent()).To(Equal(1))
		Expect(masto.Statuses()).To(HaveLen(1), "the copy that landed is not sent again")
	})

	Context("a post whose deliveries never started", func() {
		It("is published at a new scheduledAt after it was Missed", func() {
			fake := newFakeMastodon("tok-missed-again")
			mastodonProfile(ns, "masto", fake)
			post := newPost(ns, "missed", fakeClock.Now().Add(-time.Hour), "masto")
			Expect(k8sClient.Create(ctx, post)).To(Succeed())
			got := expectPhase(post, socialv1alpha1.PostMissed)
			Expect(delivery(Default, got, "masto").LastError).To(ContainSubstring("Set a new spec.scheduledAt"))

			got.Spec.ScheduledAt = fakeClock.Now().Format(time.RFC3339)
			Expect(k8sClient.Update(ctx, got)).To(Succeed())
			expectPhase(post, socialv1alpha1.PostPublished)
			Expect(fake.Statuses()).To(HaveLen(1))
			Eventually(func() []string { return eventReasonsFor(ns, "ScheduledPost", "missed") }, timeout, interval).Should(ContainElement(ReasonDueAgain))
		})

		It("is published once canceled is cleared", func() {
			fake := newFakeMastodon("tok-uncancel")
			mastodonProfile(ns, "masto", fake)
			post := newPost(ns, "uncanceled", fakeClock.Now().Add(time.Minute), "masto")
			post.Spec.Canceled = true
			Expect(k8sClient.Create(ctx, post)).To(Succeed())
			got := expectPhase(post, socialv1alpha1.PostCanceled)
			got.Spec.Canceled = false
			Expect(k8sClient.Update(ctx, got)).To(Succeed())
			expectPhase(post, socialv1alpha1.PostScheduled)
			fakeClock.Step(time.Minute)
			tick(post)
			expectPhase(post, socialv1alpha1.PostPublished)
			Expect(fake.Statuses()).To(HaveLen(1))
		})
	})

	Context("deleting a DeleteRemote post", func() {
		It("names every copy that may be online", func() {
			masto, disc := newFakeMastodon("tok-names"), newFakeDiscord()
			mastodonProfile(ns, "masto", masto)
			discordProfile(ns, "disc", disc)
			post := directPost(ns, "names", fakeClock.Now(), "masto", "disc")
			post.Spec.DeletionPolicy = socialv1alpha1.DeletionDeleteRemote
			post.Finalizers = []string{DeleteRemoteFinalizer}
			Expect(k8sClient.Create(ctx, post)).To(Succeed())
			withStatus(post,
				socialv1alpha1.Delivery{Profile: "masto", Platform: socialv1alpha1.Platform("mastodon"), Phase: socialv1alpha1.DeliveryPublished, Attempts: 1, ExternalID: "1000"},
				socialv1alpha1.Delivery{Profile: "disc", Platform: socialv1alpha1.Platform("discord"), Phase: socialv1alpha1.DeliveryUnknown, Attempts: 1, Ambiguous: true})
			Expect(k8sClient.Delete(ctx, post)).To(Succeed())
			r := newDirect()
			r.run(post)
			Expect(apierrors.IsNotFound(k8sClient.Get(ctx, client.ObjectKeyFromObject(post), &socialv1alpha1.ScheduledPost{}))).To(BeTrue())
			notes := strings.Join(r.drained(), "\n")
			Expect(notes).To(ContainSubstring(ReasonRemoteDeleted + " deleted the published post on masto"))
			Expect(notes).To(And(ContainSubstring(ReasonRemoteDeleteFailed), ContainSubstring("disc (Unknown")))
		})

		It("waits for a call in flight before deciding", func() {
			fake := newFakeMastodon("tok-wait-delete")
			mastodonProfile(ns, "masto", fake)
			now := fakeClock.Now()
			post := directPost(ns, "in-flight-delete", now, "masto")
			post.Spec.DeletionPolicy = socialv1alpha1.DeletionDeleteRemote
			post.Finalizers = []string{DeleteRemoteFinalizer}
			Expect(k8sClient.Create(ctx, post)).To(Succeed())
			withStatus(post, socialv1alpha1.Delivery{Profile: "masto", Platform: socialv1alpha1.Platform("mastodon"), Phase: socialv1alpha1.DeliveryPublishing,
				AttemptID: "a1", Attempts: 1, AttemptStartedAt: at(now), ClaimedBy: "another-process", ClaimExpiresAt: at(now.Add(DefaultTiming.ClaimTTL))})
			Expect(k8sClient.Delete(ctx, post)).To(Succeed())
			r := newDirect()
			res := r.run(post)
			Expect(res.RequeueAfter).To(BeNumerically(">", 0))
			Expect(getPost(Default, post).Finalizers).To(ContainElement(DeleteRemoteFinalizer), "held until the call's outcome is known")
			Expect(r.drained()).To(ContainElement(ContainSubstring(ReasonRemoteDeleteWait)))

			fakeClock.Step(DefaultTiming.ClaimTTL + time.Second)
			r.run(post)
			Expect(apierrors.IsNotFound(k8sClient.Get(ctx, client.ObjectKeyFromObject(post), &socialv1alpha1.ScheduledPost{}))).To(BeTrue())
			Expect(r.drained()).To(ContainElement(And(ContainSubstring(ReasonRemoteDeleteFailed), ContainSubstring("masto (Publishing"))))
		})
	})

	It("decides deletion on the fresh read: a post being deleted is not published", func() {
		fake := newFakeMastodon("tok-fresh-delete")
		mastodonProfile(ns, "masto", fake)
		post := directPost(ns, "going", fakeClock.Now(), "masto")
		post.Spec.DeletionPolicy = socialv1alpha1.DeletionDeleteRemote
		post.Finalizers = []string{DeleteRemoteFinalizer}
		Expect(k8sClient.Create(ctx, post)).To(Succeed())
		Expect(k8sClient.Delete(ctx, post)).To(Succeed())
		r := newDirect(func(r *ScheduledPostReconciler) {
			// The cache has not seen the deletion yet.
			r.Client = interceptor.NewClient(watchClient, interceptor.Funcs{
				Get: func(ctx context.Context, c client.WithWatch, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
					err := c.Get(ctx, key, obj, opts...)
					if p, ok := obj.(*socialv1alpha1.ScheduledPost); ok && err == nil {
						p.DeletionTimestamp = nil
					}
					return err
				},
			})
		})
		r.run(post)
		Expect(fake.StatusPosts()).To(BeEmpty())
		Expect(apierrors.IsNotFound(k8sClient.Get(ctx, client.ObjectKeyFromObject(post), &socialv1alpha1.ScheduledPost{}))).To(BeTrue())
	})

	It("does not count waiting for Herald's own rate limit against maxLateness", func() {
		fake := newFakeMastodon("tok-own-limit")
		mastodonProfile(ns, "limited", fake, func(p *socialv1alpha1.SocialProfile) { p.Spec.PostsPerHour = ptrTo[int32](12) }) // one per five minutes
		now := fakeClock.Now()
		var posts []*socialv1alpha1.ScheduledPost
		for _, name := range []string{"first", "second", "third"} {
			p := newPost(ns, name, now, "limited")
			p.Spec.MaxLateness = &metav1.Duration{Duration: 6 * time.Minute}
			Expect(k8sClient.Create(ctx, p)).To(Succeed())
			posts = append(posts, p)
		}
		published := func() int {
			n := 0
			for _, p := range posts {
				if getPost(Default, p).Status.Phase == socialv1alpha1.PostPublished {
					n++
				}
			}
			return n
		}
		Eventually(published, timeout, interval).Should(Equal(1))
		for want := 2; want <= 3; want++ {
			fakeClock.Step(5*time.Minute + time.Second)
			for _, p := range posts {
				tick(getPost(Default, p))
			}
			Eventually(published, timeout, interval).Should(Equal(want))
		}
		for _, p := range posts {
			Expect(getPost(Default, p).Status.Phase).To(Equal(socialv1alpha1.PostPublished), "the third waited ten minutes, all of Herald's choosing")
		}
		Expect(fake.Statuses()).To(HaveLen(3))
	})

	It("announces a transition only once the write that makes it true succeeded", func() {
		fake := newFakeMastodon("tok-announce")
		mastodonProfile(ns, "masto", fake)
		post := directPost(ns, "late", fakeClock.Now().Add(-time.Hour), "masto")
		Expect(k8sClient.Create(ctx, post)).To(Succeed())
		left := 1
		r := newDirect(func(r *ScheduledPostReconciler) {
			r.Client = failingStatusWrites(&left, func(*socialv1alpha1.ScheduledPost) bool { return true })
		})
		_, err := r.reconcile(post)
		Expect(err).To(HaveOccurred())
		Expect(r.drained()).NotTo(ContainElement(ContainSubstring(ReasonMissedDeadline)), "the Missed status was not written")
		r.run(post)
		Expect(getPost(Default, post).Status.Phase).To(Equal(socialv1alpha1.PostMissed))
		missed := 0
		for _, e := range r.drained() {
			if strings.Contains(e, " "+ReasonMissedDeadline+" ") {
				missed++
			}
		}
		Expect(missed).To(Equal(1))
	})
})
