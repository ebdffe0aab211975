package controllers

import (
	"context"
	"net/http"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	socialv1alpha1 "github.com/herald-dev/herald/api/v1alpha1"
	"github.com/herald-dev/herald/internal/publish"
	"github.com/herald-dev/herald/internal/publish/meta/metatest"
	"github.com/herald-dev/herald/internal/publish/platformtest"
	"github.com/herald-dev/herald/internal/testenv"
)

// instagramProfile connects the suite's fake Instagram account.
func instagramProfile(ns, name string) {
	createSecret(ns, name+"-token", map[string]string{"accessToken": metatest.UserToken, "igUserId": metatest.IGUserID})
	Expect(k8sClient.Create(ctx, &socialv1alpha1.SocialProfile{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: socialv1alpha1.SocialProfileSpec{Platform: "instagram", Handle: "@" + metatest.Username,
			CredentialsSecretRef: &socialv1alpha1.LocalObjectReference{Name: name + "-token"}},
	})).To(Succeed())
}

// instagramPost is a crash-test post with a photo, as Instagram needs.
func instagramPost(ns, name, profile, text string) *socialv1alpha1.ScheduledPost {
	p := crashPost(ns, name, profile)
	p.Spec.Text = text
	p.Spec.Media = []socialv1alpha1.PostMedia{{URL: "https://cdn.herald.example/" + name + ".jpg"}}
	return p
}

// startHookedManager is startCrashManager with a hook of the caller's
// choosing around Instagram's publisher.
func startHookedManager(hook func(pub publish.Publisher, kill func(), stop context.CancelFunc) publish.Publisher) <-chan struct{} {
	mctx, stop := context.WithCancel(ctx)
	proc := &testenv.Process{}
	pubs := testPublishers()
	pubs["instagram"] = hook(pubs["instagram"], proc.Kill, stop)
	mgr := newTestManager(labels.SelectorFromSet(labels.Set{LabelTestManager: "crash"}), pubs, proc.Config(cfg))
	done := make(chan struct{})
	go func() {
		defer GinkgoRecover()
		defer close(done)
		Expect(mgr.Start(mctx)).To(Succeed())
	}()
	return done
}

var _ = Describe("A platform that publishes through a media container", func() {
	ig := metatest.IGUserID

	It("killed between making the container and publishing it, publishes that container once", func() {
		ns := newNamespace("crash-ig-container")
		instagramProfile(ns, "insta")
		text := "Killed before media_publish " + ns
		crashed := startHookedManager(func(pub publish.Publisher, kill func(), stop context.CancelFunc) publish.Publisher {
			return &testenv.CrashAfterCheckpoint{Publisher: pub, Kill: kill, Stop: stop}
		})
		post := instagramPost(ns, "interrupted", "insta", text)
		Expect(k8sClient.Create(ctx, post)).To(Succeed())
		Eventually(crashed, timeout).Should(BeClosed())

		d := delivery(Default, getPost(Default, post), "insta")
		Expect(d.Phase).To(Equal(socialv1alpha1.DeliveryPublishing))
		containers := fakeMeta.ContainersWithText(ig, text)
		Expect(containers).To(HaveLen(1))
		Expect(d.Progress).To(Equal(containers[0].ID), "the container was recorded in the delivery")
		Expect(containers[0].State).To(Equal("FINISHED"), "and never published")
		Expect(fakeMeta.PostsWithText(ig, text)).To(BeEmpty())

		By("a new manager resumes the attempt from the recorded container")
		stop, _ := startCrashManager("")
		defer stop()
		fakeClock.Step(DefaultTiming.ClaimTTL)
		tick(getPost(Default, post))
		got := expectPhase(post, socialv1alpha1.PostPublished)
		posts := fakeMeta.PostsWithText(ig, text)
		Expect(posts).To(HaveLen(1), "published once")
		Expect(fakeMeta.ContainersWithText(ig, text)).To(HaveLen(1), "no second container")
		resumed := delivery(Default, got, "insta")
		Expect(resumed.ExternalID).To(Equal(posts[0].ID))
		Expect(resumed.URL).To(Equal(posts[0].Permalink))
		Expect(resumed.AttemptID).To(Equal(d.AttemptID))
	})

	It("killed between publishing and writing the outcome, asks the container and publishes nothing more", func() {
		ns := newNamespace("crash-ig-published")
		instagramProfile(ns, "insta")
		text := "Killed after media_publish " + ns
		crashed := startHookedManager(func(pub publish.Publisher, kill func(), stop context.CancelFunc) publish.Publisher {
			return &testenv.CrashAfterSend{Publisher: pub, Kill: kill, Stop: stop}
		})
		post := instagramPost(ns, "interrupted", "insta", text)
		Expect(k8sClient.Create(ctx, post)).To(Succeed())
		Eventually(crashed, timeout).Should(BeClosed())
		Expect(delivery(Default, getPost(Default, post), "insta").Phase).To(Equal(socialv1alpha1.DeliveryPublishing))
		Expect(fakeMeta.PostsWithText(ig, text)).To(HaveLen(1))
		publishes := len(fakeMeta.Find("POST /v24.0/" + ig + "/media_publish"))

		stop, _ := startCrashManager("")
		defer stop()
		fakeClock.Step(DefaultTiming.ClaimTTL)
		tick(getPost(Default, post))
		got := expectPhase(post, socialv1alpha1.PostPublished)
		posts := fakeMeta.PostsWithText(ig, text)
		Expect(posts).To(HaveLen(1), "still one post")
		Expect(fakeMeta.Find("POST /v24.0/"+ig+"/media_publish")).To(HaveLen(publishes), "the resumed attempt did not publish again")
		Expect(delivery(Default, got, "insta").ExternalID).To(Equal(posts[0].ID), "found by its caption among the account's posts")
	})

	It("retries an ambiguous publish with the same container, and publishes once", func() {
		ns := newNamespace("ig-ambiguous")
		instagramProfile(ns, "insta")
		text := "A gateway error on media_publish " + ns
		// The first publish fails before Instagram acted; the engine sees
		// an unclear answer, and its retry continues with the container.
		var failed bool
		fakeMeta.Inject("POST /v24.0/"+ig+"/media_publish", func(r platformtest.Request) *platformtest.Fault {
			if failed {
				return nil
			}
			failed = true
			return &platformtest.Fault{Status: http.StatusBadGateway, Body: "Bad Gateway"}
		})
		defer fakeMeta.Inject("POST /v24.0/"+ig+"/media_publish", func(platformtest.Request) *platformtest.Fault { return nil })
		post := newPost(ns, "ambiguous", fakeClock.Now(), "insta")
		post.Spec.Text = text
		post.Spec.Media = []socialv1alpha1.PostMedia{{URL: "https://cdn.herald.example/ambiguous.jpg"}}
		Expect(k8sClient.Create(ctx, post)).To(Succeed())
		var d socialv1alpha1.Delivery
		Eventually(func(g Gomega) {
			d = delivery(g, getPost(g, post), "insta")
			g.Expect(d.Phase).To(Equal(socialv1alpha1.DeliveryRetrying))
		}, timeout, interval).Should(Succeed())
		Expect(d.Ambiguous).To(BeTrue())
		Expect(d.Progress).NotTo(BeEmpty())

		fakeClock.Step(testRetry.MaxBackoff)
		tick(getPost(Default, post))
		got := expectPhase(post, socialv1alpha1.PostPublished)
		Expect(fakeMeta.PostsWithText(ig, text)).To(HaveLen(1))
		Expect(fakeMeta.ContainersWithText(ig, text)).To(HaveLen(1), "the retry published the recorded container")
		Expect(delivery(Default, got, "insta").Attempts).To(BeEquivalentTo(2))
	})
})
