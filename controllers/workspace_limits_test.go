package controllers

import (
	"fmt"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	socialv1alpha1 "github.com/herald-dev/herald/api/v1alpha1"
)

// limitedWorkspace makes a workspace for a new namespace with a sandbox
// profile and the given limits.
func limitedWorkspace(limits socialv1alpha1.WorkspaceLimits) string {
	ns := newNamespace("limits")
	Expect(k8sClient.Create(ctx, &socialv1alpha1.Workspace{ObjectMeta: metav1.ObjectMeta{Name: ns},
		Spec: socialv1alpha1.WorkspaceSpec{DisplayName: ns, Namespace: ns, Limits: &limits}})).To(Succeed())
	Expect(k8sClient.Create(ctx, &socialv1alpha1.SocialProfile{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "sandbox"},
		Spec: socialv1alpha1.SocialProfileSpec{Platform: socialv1alpha1.Platform("sandbox"), Handle: "@limits"}})).To(Succeed())
	return ns
}

// refusedFor waits until every post is settled, and returns the names of
// those refused for the limit, with the message of one.
func refusedFor(ns string, names []string, settled socialv1alpha1.PostPhase) ([]string, string) {
	var refused []string
	var msg string
	Eventually(func(g Gomega) {
		refused, msg = nil, ""
		for _, name := range names {
			p := &socialv1alpha1.ScheduledPost{}
			g.Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, p)).To(Succeed())
			g.Expect(p.Status.ObservedGeneration).To(Equal(p.Generation))
			switch p.Status.Phase {
			case socialv1alpha1.PostFailed:
				d := p.Status.Deliveries[0]
				g.Expect(d.LastError).To(HavePrefix("not published: workspace "))
				refused, msg = append(refused, name), d.LastError
			case settled:
			default:
				g.Expect(p.Status.Phase).To(Equal(settled), "%s is still %s", name, p.Status.Phase)
			}
		}
	}, timeout, interval).Should(Succeed())
	return refused, msg
}

var _ = Describe("Workspace limits in the reconcilers", func() {
	It("refuse a post written past maxScheduledPosts, whoever wrote it, naming the limit", func() {
		ns := limitedWorkspace(socialv1alpha1.WorkspaceLimits{MaxScheduledPosts: ptr.To[int32](2)})
		names := []string{"a", "b", "c"}
		for _, n := range names { // written at once, as kubectl apply would
			Expect(k8sClient.Create(ctx, newPost(ns, n, fakeClock.Now().Add(time.Hour), "sandbox"))).To(Succeed())
		}
		refused, msg := refusedFor(ns, names, socialv1alpha1.PostScheduled)
		Expect(refused).To(HaveLen(1), "two fit, one does not")
		Expect(msg).To(ContainSubstring(fmt.Sprintf("not published: workspace %s already has 2 posts waiting to publish, the most its spec.limits.maxScheduledPosts allows", ns)))
		Expect(msg).To(ContainSubstring("retry by setting the annotation"))
	})

	It("publish at most maxPostsPerDay posts a day, and say why the rest were not", func() {
		ns := limitedWorkspace(socialv1alpha1.WorkspaceLimits{MaxPostsPerDay: ptr.To[int32](2)})
		names := []string{"d1", "d2", "d3", "d4"}
		for _, n := range names {
			Expect(k8sClient.Create(ctx, newPost(ns, n, fakeClock.Now(), "sandbox"))).To(Succeed())
		}
		refused, msg := refusedFor(ns, names, socialv1alpha1.PostPublished)
		Expect(refused).To(HaveLen(2))
		day := fakeClock.Now().UTC().Format(time.DateOnly)
		Expect(msg).To(ContainSubstring(fmt.Sprintf("workspace %s already publishes 2 posts on %s (UTC), the most its spec.limits.maxPostsPerDay allows", ns, day)))
	})

	It("fail a workflow run whose posts would pass a limit, creating none", func() {
		ns := limitedWorkspace(socialv1alpha1.WorkspaceLimits{MaxDrafts: ptr.To[int32](1)})
		Expect(k8sClient.Create(ctx, &socialv1alpha1.Workflow{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "two-drafts"},
			Spec: socialv1alpha1.WorkflowSpec{Enabled: true, Trigger: socialv1alpha1.WorkflowTrigger{Type: socialv1alpha1.TriggerManual},
				Posts: []socialv1alpha1.PostTemplate{{Text: "first", Profiles: []string{"sandbox"}, Draft: true}, {Text: "second", Profiles: []string{"sandbox"}, Draft: true}}}})).To(Succeed())
		run := &socialv1alpha1.WorkflowRun{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "run-1"},
			Spec: socialv1alpha1.WorkflowRunSpec{WorkflowRef: socialv1alpha1.LocalObjectReference{Name: "two-drafts"}}}
		Expect(k8sClient.Create(ctx, run)).To(Succeed())
		Eventually(func(g Gomega) {
			g.Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(run), run)).To(Succeed())
			g.Expect(run.Status.Phase).To(Equal(socialv1alpha1.RunFailed))
			g.Expect(run.Status.Message).To(HavePrefix("no posts were created: "))
			g.Expect(run.Status.Message).To(ContainSubstring("already holds 1 draft, the most its spec.limits.maxDrafts allows"))
		}, timeout, interval).Should(Succeed())
		posts := &socialv1alpha1.ScheduledPostList{}
		Expect(k8sClient.List(ctx, posts, client.InNamespace(ns))).To(Succeed())
		Expect(posts.Items).To(BeEmpty())
		Eventually(func() []string { return eventReasonsFor(ns, "WorkflowRun", "run-1") }, timeout, interval).Should(ContainElement(ReasonWorkspaceLimit)) // events are sent asynchronously
	})
})
