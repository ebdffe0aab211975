package controllers

import (
	"k8s.io/client-go/tools/events"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	socialv1alpha1 "github.com/herald-dev/herald/api/v1alpha1"
)

// profileReady waits for the profile's Ready condition to match and
// returns the profile.
func profileReady(p *socialv1alpha1.SocialProfile, status metav1.ConditionStatus, reason string) *socialv1alpha1.SocialProfile {
	got := &socialv1alpha1.SocialProfile{}
	EventuallyWithOffset(1, func(g Gomega) {
		g.Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(p), got)).To(Succeed())
		c := meta.FindStatusCondition(got.Status.Conditions, socialv1alpha1.ConditionReady)
		g.Expect(c).NotTo(BeNil())
		g.Expect(c.Status).To(Equal(status), c.Message)
		g.Expect(c.Reason).To(Equal(reason), c.Message)
		g.Expect(got.Status.ObservedGeneration).To(Equal(got.Generation))
	}, timeout, interval).Should(Succeed())
	return got
}

var _ = Describe("SocialProfile reconciler", func() {
	It("verifies the credentials and records the account, never the token", func() {
		ns := newNamespace("profile-ok")
		fake := newFakeMastodon("s3cret-token-value")
		p := mastodonProfile(ns, "acme", fake)

		got := profileReady(p, metav1.ConditionTrue, ReasonVerified)
		Expect(got.Status.AccountID).To(Equal("109"))
		Expect(got.Status.Handle).To(Equal("@herald@fake.example"))
		Expect(got.Status.URL).To(Equal(fake.URL + "/@herald"))
		Expect(got.Status.CharacterLimit).To(BeEquivalentTo(1000), "the instance's own limit")
		Expect(got.Status.LastVerifiedAt.Time).To(BeTemporally("==", fakeClock.Now().Truncate(1e9)))
		Expect(meta.FindStatusCondition(got.Status.Conditions, socialv1alpha1.ConditionStalled)).To(BeNil())
		Expect(fake.Last(GinkgoTB(), "GET /api/v1/accounts/verify_credentials").Header.Get("Authorization")).To(Equal("Bearer s3cret-token-value"))
		Eventually(func() []string { return eventReasonsFor(ns, "SocialProfile", "acme") }, timeout, interval).Should(ContainElement(ReasonVerified))

		By("a spec.characterLimit overrides what the instance reports")
		got.Spec.CharacterLimit = ptrTo[int32](640)
		Expect(k8sClient.Update(ctx, got)).To(Succeed())
		Eventually(func(g Gomega) {
			g.Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(p), got)).To(Succeed())
			g.Expect(got.Status.CharacterLimit).To(BeEquivalentTo(640))
		}, timeout, interval).Should(Succeed())

		By("keeping the token out of status and events")
		Expect(fmtStatus(got)).NotTo(ContainSubstring("s3cret-token-value"))
		for _, note := range eventNotes(ns) {
			Expect(note).NotTo(ContainSubstring("s3cret-token-value"))
		}
	})

	It("says SecretNotFound until the Secret exists, then verifies", func() {
		ns := newNamespace("profile-nosecret")
		fake := newFakeMastodon("tok-123456")
		p := &socialv1alpha1.SocialProfile{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "acme"},
			Spec: socialv1alpha1.SocialProfileSpec{
				Platform: socialv1alpha1.Platform("mastodon"), Handle: "@herald@fake.example", Endpoint: fake.URL,
				CredentialsSecretRef: &socialv1alpha1.LocalObjectReference{Name: "acme-token"},
			},
		}
		Expect(k8sClient.Create(ctx, p)).To(Succeed())
		got := profileReady(p, metav1.ConditionFalse, ReasonSecretNotFound)
		c := meta.FindStatusCondition(got.Status.Conditions, socialv1alpha1.ConditionReady)
		Expect(c.Message).To(ContainSubstring("Secret " + ns + "/acme-token"))
		Expect(c.Message).To(ContainSubstring("accessToken"), "says which key to put in it")
		Expect(meta.IsStatusConditionTrue(got.Status.Conditions, socialv1alpha1.ConditionStalled)).To(BeTrue())
		Expect(fake.Requests()).To(BeEmpty(), "nothing to verify without credentials")

		By("a missing Secret is looked for again every credentialsCheck")
		r := &SocialProfileReconciler{Client: k8sClient, APIReader: k8sClient, Recorder: events.NewFakeRecorder(100), Clock: fakeClock, Publishers: testPublishers()}
		res, err := r.Reconcile(ctx, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(p)})
		Expect(err).NotTo(HaveOccurred())
		Expect(res.RequeueAfter).To(Equal(credentialsCheck))

		By("creating the Secret, which that next look finds")
		createSecret(ns, "acme-token", map[string]string{"accessToken": "tok-123456"})
		fakeClock.Step(credentialsCheck)
		tick(p)
		profileReady(p, metav1.ConditionTrue, ReasonVerified)

		By("later looks read the Secret but leave the platform alone until it changes or verifyInterval passes")
		look := func() {
			res, err := r.Reconcile(ctx, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(p)})
			Expect(err).NotTo(HaveOccurred())
			Expect(res.RequeueAfter).To(Equal(credentialsCheck))
		}
		look() // this reconciler's first look verifies: it has not seen the Secret before
		verifies := len(fake.Requests())
		look()
		look()
		Expect(fake.Requests()).To(HaveLen(verifies), "an unchanged Secret is not verified again")
		fakeClock.Step(time.Hour + time.Second) // verifyInterval
		look()
		Expect(len(fake.Requests())).To(BeNumerically(">", verifies), "after verifyInterval the platform is asked again")
	})

	It("says PlatformUnavailable, and keeps trying, when the platform cannot be reached", func() {
		ns := newNamespace("profile-down")
		createSecret(ns, "acme-token", map[string]string{"accessToken": "tok-down"})
		p := &socialv1alpha1.SocialProfile{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "acme"},
			Spec: socialv1alpha1.SocialProfileSpec{
				Platform: socialv1alpha1.Platform("mastodon"), Handle: "@herald@fake.example", Endpoint: "http://127.0.0.1:1",
				CredentialsSecretRef: &socialv1alpha1.LocalObjectReference{Name: "acme-token"},
			},
		}
		Expect(k8sClient.Create(ctx, p)).To(Succeed())
		got := profileReady(p, metav1.ConditionUnknown, ReasonPlatformUnavailable)
		Expect(meta.FindStatusCondition(got.Status.Conditions, socialv1alpha1.ConditionReady).Message).To(ContainSubstring("tries again in 1m0s"))
		Expect(meta.IsStatusConditionTrue(got.Status.Conditions, socialv1alpha1.ConditionReconciling)).To(BeTrue())
		Expect(meta.FindStatusCondition(got.Status.Conditions, socialv1alpha1.ConditionStalled)).To(BeNil(), "not a person's problem yet")
	})

	It("reports a missing key, then rejected credentials, until the Secret is fixed", func() {
		ns := newNamespace("profile-badsecret")
		fake := newFakeMastodon("good-token")
		createSecret(ns, "acme-token", map[string]string{"token": "good-token"})
		p := &socialv1alpha1.SocialProfile{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "acme"},
			Spec: socialv1alpha1.SocialProfileSpec{
				Platform: socialv1alpha1.Platform("mastodon"), Handle: "@herald@fake.example", Endpoint: fake.URL,
				CredentialsSecretRef: &socialv1alpha1.LocalObjectReference{Name: "acme-token"},
			},
		}
		Expect(k8sClient.Create(ctx, p)).To(Succeed())
		got := profileReady(p, metav1.ConditionFalse, ReasonSecretKeyMissing)
		Expect(meta.FindStatusCondition(got.Status.Conditions, socialv1alpha1.ConditionReady).Message).To(ContainSubstring("no value for key(s) accessToken"))

		secret := &corev1.Secret{}
		Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "acme-token"}, secret)).To(Succeed())
		secret.StringData = map[string]string{"accessToken": "wrong-token"}
		Expect(k8sClient.Update(ctx, secret)).To(Succeed())
		fakeClock.Step(credentialsCheck)
		tick(p) // the next look at the Secret
		got = profileReady(p, metav1.ConditionFalse, ReasonCredentialsRejected)
		msg := meta.FindStatusCondition(got.Status.Conditions, socialv1alpha1.ConditionReady).Message
		Expect(msg).To(ContainSubstring("The access token is invalid"), "the platform's words")
		Expect(msg).To(ContainSubstring("Update Secret " + ns + "/acme-token"))
		Expect(msg).NotTo(ContainSubstring("wrong-token"))

		Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "acme-token"}, secret)).To(Succeed())
		secret.StringData = map[string]string{"accessToken": "good-token"}
		Expect(k8sClient.Update(ctx, secret)).To(Succeed())
		fakeClock.Step(credentialsCheck)
		tick(p)
		profileReady(p, metav1.ConditionTrue, ReasonVerified)
		Eventually(func() []string { return eventReasonsFor(ns, "SocialProfile", "acme") }, timeout, interval).
			Should(ContainElements(ReasonSecretKeyMissing, ReasonCredentialsRejected, ReasonVerified))
	})
})

func ptrTo[T any](v T) *T { return &v }

func fmtStatus(p *socialv1alpha1.SocialProfile) string {
	var b strings.Builder
	b.WriteString(p.Status.AccountID + p.Status.Handle + p.Status.URL)
	for _, c := range p.Status.Conditions {
		b.WriteString(c.Message)
	}
	return b.String()
}
