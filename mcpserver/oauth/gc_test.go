package oauth_test

import (
	"context"
	"sync/atomic"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/herald-dev/herald/api/v1alpha1"
	"github.com/herald-dev/herald/internal/inflight"
	"github.com/herald-dev/herald/mcpserver/oauth"
)

var _ = Describe("clean-up", func() {
	It("removes dynamic clients never approved within an hour and expired codes, keeping the rest", func() {
		h := newHarness("")
		unused := register(h.base, "http://127.0.0.1/cb")
		approved := register(h.base, "http://127.0.0.1/cb")
		p := newPKCE(approved, "http://127.0.0.1:7400/cb")
		code := authorize(h.base, p, "dev", devPassword, "demo")
		static := &v1alpha1.MCPClient{Spec: v1alpha1.MCPClientSpec{ClientName: "From Git", RedirectURIs: []string{"https://claude.ai/api/mcp/auth_callback"}}}
		static.Name = "from-git"
		Expect(client.IgnoreAlreadyExists(k8sClient.Create(ctx, static))).To(Succeed())

		var grants v1alpha1.MCPGrantList
		Expect(k8sClient.List(ctx, &grants)).To(Succeed())
		approvedGrant := ""
		for _, g := range grants.Items {
			if g.Spec.ClientID == approved {
				approvedGrant = g.Name
			}
		}
		Expect(approvedGrant).NotTo(BeEmpty())
		// Only this test's code counts: earlier tests' codes of revoked grants
		// may be swept as orphans at any time.
		codeSecrets := func() int {
			var list corev1.SecretList
			Expect(k8sClient.List(ctx, &list, client.InNamespace(namespace),
				client.MatchingLabels{"oauth.herald.dev/kind": "code", "oauth.herald.dev/grant": approvedGrant})).To(Succeed())
			return len(list.Items)
		}
		before := codeSecrets()
		Expect(before).To(Equal(1))

		By("nothing goes before its time")
		Expect(h.srv.Sweep(ctx)).To(Succeed())
		Expect(k8sClient.Get(ctx, client.ObjectKey{Name: unused}, &v1alpha1.MCPClient{})).To(Succeed())
		Expect(codeSecrets()).To(Equal(before))

		By("a day later")
		h.clock.Step(oauth.UnusedClientTTL + time.Minute)
		Expect(h.srv.Sweep(ctx)).To(Succeed())
		err := k8sClient.Get(ctx, client.ObjectKey{Name: unused}, &v1alpha1.MCPClient{})
		Expect(apierrors.IsNotFound(err)).To(BeTrue(), "unused dynamic client should be gone: %v", err)
		Expect(k8sClient.Get(ctx, client.ObjectKey{Name: approved}, &v1alpha1.MCPClient{})).To(Succeed())
		Expect(k8sClient.Get(ctx, client.ObjectKey{Name: "from-git"}, &v1alpha1.MCPClient{})).To(Succeed())
		Expect(codeSecrets()).To(BeZero())

		By("refresh tokens of a deleted grant go too, live ones stay")
		kept := newPKCE(approved, "http://127.0.0.1:7400/cb")
		_, tok := exchange(h.base, kept, authorize(h.base, kept, "dev", devPassword, "team"))
		grant := claims(tok["access_token"].(string))["grant"].(string)
		refreshSecrets := func() int {
			var list corev1.SecretList
			Expect(k8sClient.List(ctx, &list, client.InNamespace(namespace), client.MatchingLabels{"oauth.herald.dev/grant": grant, "oauth.herald.dev/kind": "refresh"})).To(Succeed())
			return len(list.Items)
		}
		h.clock.Step(2 * time.Minute)
		Expect(h.srv.Sweep(ctx)).To(Succeed())
		Expect(refreshSecrets()).To(Equal(1))
		Expect(k8sClient.Delete(ctx, &v1alpha1.MCPGrant{ObjectMeta: metav1.ObjectMeta{Name: grant}})).To(Succeed())
		Expect(h.srv.Sweep(ctx)).To(Succeed())
		Expect(refreshSecrets()).To(BeZero())

		By("Start sweeps at once and returns when its context ends")
		runCtx, stop := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- h.srv.Start(runCtx) }()
		stop()
		Eventually(done).WithTimeout(5 * time.Second).Should(Receive(BeNil()))

		By("an expired code can no longer be exchanged")
		status, body := exchange(h.base, p, code)
		Expect(status).To(Equal(400), "%v", body)
	})

	It("is named among the work under way while a sweep runs, so a shutdown that overruns says so", func() {
		tracker := inflight.New(clock.RealClock{})
		reader := &heldGrantList{Reader: mgr.GetAPIReader(), release: make(chan struct{})}
		h := newHarnessReading("", mgr, reader, func(c *oauth.Config) { c.InFlight = tracker })
		reader.hold.Store(true)
		runCtx, stop := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- h.srv.Start(runCtx) }()
		Eventually(tracker.Running).WithTimeout(5 * time.Second).Should(ConsistOf(HavePrefix("OAuth clean-up sweep (for ")))
		close(reader.release)
		Eventually(tracker.Running).WithTimeout(5*time.Second).Should(BeEmpty(), "the sweep ended")
		stop()
		Eventually(done).WithTimeout(5 * time.Second).Should(Receive(BeNil()))
	})
})

// heldGrantList makes each list of grants wait for release once hold is
// set: a sweep that takes as long as the test wants.
type heldGrantList struct {
	client.Reader
	hold    atomic.Bool
	release chan struct{}
}

func (r *heldGrantList) List(ctx context.Context, list client.ObjectList, opts ...client.ListOption) error {
	if _, grants := list.(*v1alpha1.MCPGrantList); grants && r.hold.Load() {
		<-r.release
	}
	return r.Reader.List(ctx, list, opts...)
}
