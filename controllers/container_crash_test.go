package controllers

import (
	"context"
	"net/http"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	socialv1alpha1 "github.com/herald-dev/herald/api/v1alpha1"
	"github.com/herald-dev/herald/internal/publish"
	"github.com/herald-dev/herald/internal/publish/meta/metatest"
	"github.com/herald-dev/herald/internal/publish/pinterest/pinteresttest"
	"github.com/herald-dev/herald/internal/publish/platformtest"
	"github.com/herald-dev/herald/internal/publish/tiktok/tiktoktest"
	"github.com/herald-dev/herald/internal/publish/youtube/youtubetest"
	"github.com/herald-dev/herald/internal/testenv"
)

// stepPlatform is a platform that publishes in steps, as the suite's fakes
// serve it: how to connect a profile, and what the platform holds for a
// post's text.
type stepPlatform struct {
	name publish.Platform
	// secret holds the profile's credentials.
	secret map[string]string
	// online counts the posts online with text; made counts what the
	// platform made for them (containers), or online where nothing is
	// made before the post.
	online, made func(text string) int
	// media is the attachment of a post named name: a photo unless the
	// platform needs a video.
	media func(name string) string
	// skip is how many progress records go through before a crash after
	// one (see testenv.CrashAfterCheckpoint).
	skip int
}

var (
	instagramPlatform = stepPlatform{name: "instagram",
		secret: map[string]string{"accessToken": metatest.UserToken, "igUserId": metatest.IGUserID},
		online: func(t string) int { return len(fakeMeta.PostsWithText(metatest.IGUserID, t)) },
		made:   func(t string) int { return len(fakeMeta.ContainersWithText(metatest.IGUserID, t)) },
	}
	threadsPlatform = stepPlatform{name: "threads",
		secret: map[string]string{"accessToken": metatest.ThreadsToken},
		online: func(t string) int { return len(fakeMeta.PostsWithText(metatest.ThreadsUserID, t)) },
		made:   func(t string) int { return len(fakeMeta.ContainersWithText(metatest.ThreadsUserID, t)) },
	}
	pinterestPlatform = stepPlatform{name: "pinterest",
		secret: map[string]string{"accessToken": pinteresttest.Token, "boardId": pinteresttest.BoardID},
		online: pinsWithText, made: pinsWithText,
	}
	tiktokPlatform = stepPlatform{name: "tiktok",
		secret: map[string]string{"accessToken": tiktoktest.Token},
		online: func(t string) int {
			n := 0
			for _, p := range fakeTikTok.Publishes() {
				if p.Title == t && p.Status == "PUBLISH_COMPLETE" {
					n++
				}
			}
			return n
		},
		made: func(t string) int {
			n := 0
			for _, p := range fakeTikTok.Publishes() {
				if p.Title == t {
					n++
				}
			}
			return n
		},
		media: func(name string) string { return tiktoktest.VerifiedPrefix + name + ".mp4" },
		skip:  1, // the crash comes once the publish_id is recorded
	}
	youtubePlatform = stepPlatform{name: "youtube",
		secret: map[string]string{"accessToken": youtubetest.Token},
		online: videosWithText, made: videosWithText,
		media: func(name string) string { return fakeYouTube.URL + "/files/" + name + ".mp4" },
	}
	facebookPlatform = stepPlatform{name: "facebook",
		secret: map[string]string{"accessToken": metatest.UserToken, "pageId": metatest.PageID},
		online: func(t string) int { return len(fakeMeta.PostsWithText(metatest.PageID, t)) },
		made:   func(t string) int { return len(fakeMeta.PostsWithText(metatest.PageID, t)) },
	}
)

func videosWithText(text string) int {
	n := 0
	for _, v := range fakeYouTube.Videos() {
		if v.Description == text {
			n++
		}
	}
	return n
}

func pinsWithText(text string) int {
	n := 0
	for _, p := range fakePinterest.Pins() {
		if p.Description == text {
			n++
		}
	}
	return n
}

// connect creates the platform's profile in ns.
func (sp stepPlatform) connect(ns, name string) {
	createSecret(ns, name+"-token", sp.secret)
	Expect(k8sClient.Create(ctx, &socialv1alpha1.SocialProfile{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: socialv1alpha1.SocialProfileSpec{Platform: socialv1alpha1.Platform(sp.name), Handle: "@" + metatest.Username,
			CredentialsSecretRef: &socialv1alpha1.LocalObjectReference{Name: name + "-token"}},
	})).To(Succeed())
}

// withMedia sets a post's text and the attachment sp takes.
func (sp stepPlatform) withMedia(p *socialv1alpha1.ScheduledPost, text string) *socialv1alpha1.ScheduledPost {
	p.Spec.Text = text
	url := "https://cdn.herald.example/" + p.Name + ".jpg"
	if sp.media != nil {
		url = sp.media(p.Name)
	}
	p.Spec.Media = []socialv1alpha1.PostMedia{{URL: url}}
	return p
}

// startHookedManager is startCrashManager with hook around platform's
// publisher.
func startHookedManager(platform publish.Platform, hook func(pub publish.Publisher, kill func(), stop context.CancelFunc) publish.Publisher) <-chan struct{} {
	mctx, stop := context.WithCancel(ctx)
	proc := &testenv.Process{}
	pubs := testPublishers()
	pubs[platform] = hook(pubs[platform], proc.Kill, stop)
	mgr := newTestManager(labels.SelectorFromSet(labels.Set{LabelTestManager: "crash"}), pubs, proc.Config(cfg))
	done := make(chan struct{})
	go func() {
		defer GinkgoRecover()
		defer close(done)
		Expect(mgr.Start(mctx)).To(Succeed())
	}()
	return done
}

func crashAfterCheckpoint(skip int) func(publish.Publisher, func(), context.CancelFunc) publish.Publisher {
	return func(pub publish.Publisher, kill func(), stop context.CancelFunc) publish.Publisher {
		return &testenv.CrashAfterCheckpoint{Publisher: pub, Kill: kill, Stop: stop, Skip: skip}
	}
}

func crashAfterSend(pub publish.Publisher, kill func(), stop context.CancelFunc) publish.Publisher {
	return &testenv.CrashAfterSend{Publisher: pub, Kill: kill, Stop: stop}
}

// crashAndResume kills a manager at the hook while it publishes a post to
// sp, checks what the platform holds then, and lets a new manager take the
// attempt over once its claim lapses. It returns the post as the new
// manager left it, and the delivery as the killed one did.
func crashAndResume(sp stepPlatform, prefix string, hook func(publish.Publisher, func(), context.CancelFunc) publish.Publisher, onlineAtCrash int, want socialv1alpha1.PostPhase) (*socialv1alpha1.ScheduledPost, socialv1alpha1.Delivery) {
	ns := newNamespace(prefix)
	sp.connect(ns, "acct")
	text := "Interrupted on " + string(sp.name) + " in " + ns
	crashed := startHookedManager(sp.name, hook)
	post := sp.withMedia(crashPost(ns, "interrupted", "acct"), text)
	Expect(k8sClient.Create(ctx, post)).To(Succeed())
	Eventually(crashed, timeout).Should(BeClosed())
	d := delivery(Default, getPost(Default, post), "acct")
	Expect(d.Phase).To(Equal(socialv1alpha1.DeliveryPublishing), "the claim was written, the outcome was not")
	Expect(sp.online(text)).To(Equal(onlineAtCrash))

	stop, _ := startCrashManager("")
	defer stop()
	fakeClock.Step(DefaultTiming.ClaimTTL)
	tick(getPost(Default, post))
	return expectPhase(post, want), d
}

var _ = Describe("A platform that publishes in steps, killed mid-publish", func() {
	DescribeTable("killed after recording its progress, before the call that publishes: the resumed attempt publishes once",
		func(sp stepPlatform) {
			got, crashed := crashAndResume(sp, "crash-progress-"+string(sp.name), crashAfterCheckpoint(sp.skip), 0, socialv1alpha1.PostPublished)
			Expect(crashed.Progress).NotTo(BeEmpty(), "the progress was written before the crash")
			text := got.Spec.Text
			Expect(sp.online(text)).To(Equal(1), "published once")
			Expect(sp.made(text)).To(Equal(1), "from what the first try made, never a second one")
			d := delivery(Default, got, "acct")
			Expect(d.AttemptID).To(Equal(crashed.AttemptID))
			Expect(d.ExternalID).NotTo(BeEmpty())
		},
		Entry("Instagram's media container", instagramPlatform),
		Entry("Threads' media container", threadsPlatform),
		Entry("Pinterest's marker", pinterestPlatform),
		Entry("TikTok's publish_id", tiktokPlatform),
		Entry("YouTube's upload session", youtubePlatform),
		Entry("Facebook's time of sending", facebookPlatform),
	)

	DescribeTable("killed after the call that publishes, before the outcome is written: the resumed attempt finds the post",
		func(sp stepPlatform) {
			got, _ := crashAndResume(sp, "crash-sent-"+string(sp.name), crashAfterSend, 1, socialv1alpha1.PostPublished)
			text := got.Spec.Text
			Expect(sp.online(text)).To(Equal(1), "still one post")
			Expect(sp.made(text)).To(Equal(1))
			Expect(delivery(Default, got, "acct").ExternalID).NotTo(BeEmpty(), "the resumed attempt found the post's id")
		},
		Entry("Instagram", instagramPlatform),
		Entry("Threads", threadsPlatform),
		Entry("Pinterest", pinterestPlatform),
		Entry("TikTok", tiktokPlatform),
		Entry("YouTube", youtubePlatform),
		Entry("Facebook", facebookPlatform),
	)

	It("says on a TikTok profile whose app may post only privately that its posts are private", func() {
		ns := newNamespace("tiktok-private")
		sp := tiktokPlatform
		sp.secret = map[string]string{"accessToken": tiktoktest.Token, "privacyLevel": "SELF_ONLY"}
		sp.connect(ns, "tok")
		got := profileReady(&socialv1alpha1.SocialProfile{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "tok"}}, metav1.ConditionTrue, ReasonVerified)
		Expect(meta.FindStatusCondition(got.Status.Conditions, socialv1alpha1.ConditionReady).Message).To(
			Equal("credentials verified: tiktok account @heraldcoffee; posts are visible only to the account (privacyLevel SELF_ONLY), as TikTok requires of apps it has not audited"))
	})

	It("on TikTok, killed after recording that init is being sent, ends Unknown: TikTok has no way to check", func() {
		got, crashed := crashAndResume(tiktokPlatform, "crash-init-tiktok", crashAfterCheckpoint(0), 0, socialv1alpha1.PostUnknown)
		Expect(crashed.Progress).To(Equal("init"))
		Expect(delivery(Default, got, "acct").LastError).To(ContainSubstring("never calls init twice"))
		Expect(tiktokPlatform.made(got.Spec.Text)).To(BeZero(), "and init was never called again")
	})

	It("on Facebook, killed after sending a video, which Facebook lists only once processed, ends Unknown and never posts twice", func() {
		sp := facebookPlatform
		sp.media = func(name string) string { return fakeMeta.URL + "/files/" + name + ".mp4" }
		got, crashed := crashAndResume(sp, "crash-video-facebook", crashAfterSend, 1, socialv1alpha1.PostUnknown)
		Expect(crashed.Progress).To(HavePrefix("video sent at "))
		Expect(delivery(Default, got, "acct").LastError).To(ContainSubstring("Facebook lists a video among the Page's posts only once it has processed it"))
		Consistently(func() int { return sp.online(got.Spec.Text) }, time.Second, interval).Should(Equal(1))
	})

	It("retries an ambiguous Instagram publish with the same container, and publishes once", func() {
		ig := metatest.IGUserID
		ns := newNamespace("ig-ambiguous")
		instagramPlatform.connect(ns, "insta")
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
		post := instagramPlatform.withMedia(newPost(ns, "ambiguous", fakeClock.Now(), "insta"), text)
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
		Expect(instagramPlatform.online(text)).To(Equal(1))
		Expect(instagramPlatform.made(text)).To(Equal(1), "the retry published the recorded container")
		Expect(delivery(Default, got, "insta").Attempts).To(BeEquivalentTo(2), "and took no second rate-limit token: Instagram allows one post an hour")
	})
})
