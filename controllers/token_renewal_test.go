package controllers

import (
	"context"
	"errors"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/events"
	clocktesting "k8s.io/utils/clock/testing"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	socialv1alpha1 "github.com/herald-dev/herald/api/v1alpha1"
)

// xProfile creates an X profile whose Secret holds the tokens, the access
// token expiring at expires.
func xProfile(ns, name, access, refresh string, expires time.Time) *socialv1alpha1.SocialProfile {
	createSecret(ns, name+"-token", map[string]string{"accessToken": access, "refreshToken": refresh, "expiresAt": expires.UTC().Format(time.RFC3339)})
	p := &socialv1alpha1.SocialProfile{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: socialv1alpha1.SocialProfileSpec{Platform: "x", Handle: "@herald", CredentialsSecretRef: &socialv1alpha1.LocalObjectReference{Name: name + "-token"}}}
	Expect(k8sClient.Create(ctx, p)).To(Succeed())
	return p
}

func secretData(ns, name string) map[string]string {
	sec := &corev1.Secret{}
	ExpectWithOffset(1, k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, sec)).To(Succeed())
	out := map[string]string{}
	for k, v := range sec.Data {
		out[k] = string(v)
	}
	return out
}

var _ = Describe("renewing OAuth access tokens", func() {
	It("renews an X token before it expires, keeps the single-use refresh token it gets back, and asks for a reconnect when X refuses", func() {
		ns := newNamespace("x-renew")
		access, refresh := fakeX.Issue()
		renewals := fakeX.Renewals()
		p := xProfile(ns, "brand", access, refresh, fakeClock.Now().Add(10*time.Minute))

		By("an access token expiring within 15 minutes is renewed, and the new pair kept")
		got := profileReady(p, metav1.ConditionTrue, ReasonVerified)
		Expect(fakeX.Renewals()).To(Equal(renewals + 1))
		kept := secretData(ns, "brand-token")
		Expect(kept["accessToken"]).NotTo(Equal(access))
		Expect(kept["refreshToken"]).NotTo(Equal(refresh), "X's refresh tokens are single-use: the new one is kept")
		Expect(kept["expiresAt"]).To(Equal(fakeClock.Now().Add(2 * time.Hour).UTC().Format(time.RFC3339)))
		Expect(fakeX.Last(GinkgoTB(), "GET /2/users/me").Header.Get("Authorization")).To(Equal("Bearer "+kept["accessToken"]), "verified with the new token")
		Expect(got.Status.AccountID).To(Equal("2244994945"))
		Eventually(func() []string { return eventReasonsFor(ns, "SocialProfile", "brand") }, timeout, interval).Should(ContainElement(ReasonTokenRenewed))
		Expect(fmtStatus(got)).NotTo(ContainSubstring(kept["accessToken"]))

		By("a token far from expiry is left alone")
		r := &SocialProfileReconciler{Client: k8sClient, APIReader: k8sClient, Recorder: events.NewFakeRecorder(100), Clock: fakeClock, Publishers: testPublishers(), Refresher: testRefresher}
		_, err := r.Reconcile(ctx, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(p)})
		Expect(err).NotTo(HaveOccurred())
		Expect(fakeX.Renewals()).To(Equal(renewals + 1))

		By("X refusing the renewal (access revoked): ReconnectRequired, saying how to reconnect")
		fakeX.Revoke(kept["refreshToken"])
		fakeClock.Step(2*time.Hour - 10*time.Minute)
		tick(p)
		got = profileReady(p, metav1.ConditionFalse, ReasonReconnectRequired)
		c := meta.FindStatusCondition(got.Status.Conditions, socialv1alpha1.ConditionReady)
		Expect(c.Message).To(ContainSubstring("X refused to renew the access token: invalid_request: Value passed for the token was invalid."))
		Expect(c.Message).To(ContainSubstring("ocoya_get_social_connection_url"))
		Expect(meta.IsStatusConditionTrue(got.Status.Conditions, socialv1alpha1.ConditionStalled)).To(BeTrue())
		Expect(secretData(ns, "brand-token")).To(Equal(kept), "nothing is written for a refused renewal")
	})

	It("keeps renewed tokens it could not write and writes them next time, without renewing again", func() {
		ns := newNamespace("x-renew-write")
		access, refresh := fakeX.Issue()
		// The suite's reconciler sees this token as hours from expiry; this
		// test's, two hours later, as about to expire.
		p := xProfile(ns, "brand", access, refresh, fakeClock.Now().Add(2*time.Hour))
		profileReady(p, metav1.ConditionTrue, ReasonVerified)
		later := clocktesting.NewFakeClock(fakeClock.Now().Add(2*time.Hour - 5*time.Minute))
		failed := false
		flaky := interceptor.NewClient(watchClient, interceptor.Funcs{
			Update: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.UpdateOption) error {
				if _, ok := obj.(*corev1.Secret); ok && !failed {
					failed = true
					return errors.New("the API server is unavailable")
				}
				return c.Update(ctx, obj, opts...)
			},
		})
		r := &SocialProfileReconciler{Client: flaky, APIReader: k8sClient, Recorder: events.NewFakeRecorder(100), Clock: later, Publishers: testPublishers(), Refresher: testRefresher}
		renewals := fakeX.Renewals()

		_, err := r.Reconcile(ctx, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(p)})
		Expect(err).To(MatchError(ContainSubstring("held until written")))
		Expect(fakeX.Renewals()).To(Equal(renewals + 1))
		Expect(secretData(ns, "brand-token")["refreshToken"]).To(Equal(refresh), "the write failed")

		_, err = r.Reconcile(ctx, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(p)})
		Expect(err).NotTo(HaveOccurred())
		Expect(fakeX.Renewals()).To(Equal(renewals+1), "the spent refresh token is not used again")
		kept := secretData(ns, "brand-token")
		Expect(kept["refreshToken"]).NotTo(Equal(refresh))
		Expect(kept["expiresAt"]).To(Equal(later.Now().Add(2 * time.Hour).UTC().Format(time.RFC3339)))
	})
})
