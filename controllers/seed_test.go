package controllers

import (
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	socialv1alpha1 "github.com/herald-dev/herald/api/v1alpha1"
	"github.com/herald-dev/herald/internal/devmode"
	"github.com/herald-dev/herald/internal/publish/sandbox"
)

var _ = Describe("The dev-mode seed", func() {
	It("creates a sandbox profile, brand kit and workflow that publish end to end", func() {
		Expect(devmode.Seed(ctx, k8sClient)).To(Succeed())
		Expect(devmode.Seed(ctx, k8sClient)).To(Succeed(), "seeding again leaves what exists")

		profile := &socialv1alpha1.SocialProfile{ObjectMeta: metav1.ObjectMeta{Namespace: "demo", Name: "sandbox"}}
		got := profileReady(profile, metav1.ConditionTrue, ReasonVerified)
		Expect(got.Status.Handle).To(Equal("@demo"))
		Expect(k8sClient.Get(ctx, objectKey("demo", "announce"), &socialv1alpha1.Workflow{})).To(Succeed())

		post := newPost("demo", "seed-hello", fakeClock.Now(), "sandbox")
		post.Spec.BrandKit = "demo-brand"
		post.Spec.Text = "Hello from the sandbox."
		Expect(k8sClient.Create(ctx, post)).To(Succeed())
		published := expectPhase(post, socialv1alpha1.PostPublished)
		d := delivery(Default, published, "sandbox")
		Expect(d.URL).To(HavePrefix(sandboxFeed.BaseURL + "/sandbox/"))
		var entry sandbox.Entry
		for _, e := range sandboxFeed.List() {
			if e.URL == d.URL {
				entry = e
			}
		}
		Expect(entry.Text).To(Equal("Hello from the sandbox.\n\n— Demo Coffee\n\n#DemoCoffee"))
		Expect(strings.HasPrefix(entry.IdempotencyKey, "herald-")).To(BeTrue())
	})
})
