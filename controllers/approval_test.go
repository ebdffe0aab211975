package controllers

import (
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	socialv1alpha1 "github.com/herald-dev/herald/api/v1alpha1"
	"github.com/herald-dev/herald/internal/post"
)

var _ = Describe("Posts in a workspace that requires approval", func() {
	var ns string
	BeforeEach(func() {
		ns = newNamespace("approval")
		Expect(k8sClient.Create(ctx, &socialv1alpha1.Workspace{ObjectMeta: metav1.ObjectMeta{Name: ns},
			Spec: socialv1alpha1.WorkspaceSpec{DisplayName: "Approvals", Namespace: ns,
				Approval: &socialv1alpha1.ApprovalPolicy{Required: socialv1alpha1.ApproveAll},
				Members: []socialv1alpha1.WorkspaceMember{{Subject: "olivia", Role: socialv1alpha1.RoleOwner},
					{Subject: "ann", Role: socialv1alpha1.RoleApprover}, {Subject: "ed", Role: socialv1alpha1.RoleEditor}}}})).To(Succeed())
	})

	approvedCondition := func(p *socialv1alpha1.ScheduledPost) *metav1.Condition {
		return meta.FindStatusCondition(p.Status.Conditions, socialv1alpha1.ConditionApproved)
	}

	It("are not published at their due time until an approver approves them, then publish once", func() {
		fake := newFakeMastodon("tok-approve")
		mastodonProfile(ns, "masto", fake)
		p := newPost(ns, "launch", fakeClock.Now(), "masto")
		Expect(k8sClient.Create(ctx, p)).To(Succeed())

		waiting := expectPhase(p, socialv1alpha1.PostAwaitingApproval)
		c := approvedCondition(waiting)
		Expect(c).NotTo(BeNil())
		Expect(c.Status).To(Equal(metav1.ConditionFalse))
		Expect(c.Reason).To(Equal(post.ReasonAwaitingApproval))
		Expect(c.Message).To(ContainSubstring("(olivia, ann)"), "who can approve it")
		Expect(delivery(Default, waiting, "masto").Phase).To(Equal(socialv1alpha1.DeliveryPending), "never claimed")
		Consistently(fake.StatusPosts, time.Second, interval).Should(BeEmpty())

		post.Approve(waiting, "ann", fakeClock.Now())
		Expect(k8sClient.Update(ctx, waiting)).To(Succeed())
		published := expectPhase(p, socialv1alpha1.PostPublished)
		Expect(fake.StatusPosts()).To(HaveLen(1))
		Expect(approvedCondition(published).Status).To(Equal(metav1.ConditionTrue))
		Expect(approvedCondition(published).Message).To(ContainSubstring("approved by ann"))
		Eventually(func() []string { return eventReasonsFor(ns, "ScheduledPost", "launch") }, timeout, interval).
			Should(ContainElements(string(socialv1alpha1.PostAwaitingApproval), post.ReasonApproved))
	})

	It("withdraw an approval when the text changes after it, and never publish what was not approved", func() {
		fake := newFakeMastodon("tok-withdraw")
		mastodonProfile(ns, "masto", fake)
		p := newPost(ns, "edited", fakeClock.Now().Add(time.Hour), "masto")
		post.Approve(p, "olivia", fakeClock.Now())
		Expect(k8sClient.Create(ctx, p)).To(Succeed())
		scheduled := expectPhase(p, socialv1alpha1.PostScheduled)
		Expect(approvedCondition(scheduled).Status).To(Equal(metav1.ConditionTrue))

		scheduled.Spec.Text = "A text no one approved"
		Expect(k8sClient.Update(ctx, scheduled)).To(Succeed())
		withdrawn := expectPhase(p, socialv1alpha1.PostAwaitingApproval)
		Expect(approvedCondition(withdrawn).Reason).To(Equal(post.ReasonApprovalWithdrawn))
		Expect(approvedCondition(withdrawn).Message).To(ContainSubstring("changed after olivia approved it"))

		fakeClock.Step(time.Hour)
		tick(withdrawn)
		Consistently(fake.StatusPosts, time.Second, interval).Should(BeEmpty())
	})

	It("pin an approval written in Git without a digest to the content it came with: a later edit withdraws it, a new approvedAt approves the edit", func() {
		fake := newFakeMastodon("tok-gitops-approval")
		mastodonProfile(ns, "masto", fake)
		due := fakeClock.Now().Add(time.Hour)
		p := newPost(ns, "from-git", due, "masto")
		p.Labels = map[string]string{"kustomize.toolkit.fluxcd.io/name": "social", "kustomize.toolkit.fluxcd.io/namespace": "flux-system"}
		p.Spec.Approval = &socialv1alpha1.PostApproval{ApprovedBy: "olivia", ApprovedAt: "2026-11-30T09:00:00Z"}
		Expect(k8sClient.Create(ctx, p)).To(Succeed())
		scheduled := expectPhase(p, socialv1alpha1.PostScheduled)
		Expect(approvedCondition(scheduled).Status).To(Equal(metav1.ConditionTrue), "the review that merged it approved it")
		Expect(scheduled.Status.Approval).NotTo(BeNil())
		Expect(scheduled.Status.Approval.ContentDigest).To(Equal(post.ContentDigest(&scheduled.Spec)), "pinned to what it was first seen with")
		Expect(scheduled.Spec.Approval.ContentDigest).To(BeEmpty(), "Herald does not write the spec Git owns")

		// A later commit moves the post half an hour earlier and leaves the approval as it was.
		sooner := fakeClock.Now().Add(30 * time.Minute)
		scheduled.Spec.ScheduledAt = sooner.UTC().Format(time.RFC3339)
		Expect(k8sClient.Update(ctx, scheduled)).To(Succeed())
		withdrawn := expectPhase(p, socialv1alpha1.PostAwaitingApproval)
		Expect(approvedCondition(withdrawn).Reason).To(Equal(post.ReasonApprovalWithdrawn))
		Expect(approvedCondition(withdrawn).Message).To(ContainSubstring("changed after olivia approved it"))
		fakeClock.Step(30 * time.Minute)
		tick(withdrawn)
		Consistently(func() socialv1alpha1.PostPhase { return getPost(Default, p).Status.Phase }, time.Second, interval).
			Should(Equal(socialv1alpha1.PostAwaitingApproval), "due, and not published without an approval of the new time")
		Expect(fake.StatusPosts()).To(BeEmpty())

		// Another commit rewords it and approves it again.
		again := getPost(Default, p)
		again.Spec.Text = "Our autumn roast is here, reworded."
		again.Spec.Approval.ApprovedAt = "2026-11-30T10:00:00Z"
		Expect(k8sClient.Update(ctx, again)).To(Succeed())
		published := expectPhase(p, socialv1alpha1.PostPublished)
		Expect(approvedCondition(published).Message).To(ContainSubstring("approved by olivia at 2026-11-30T10:00:00Z"))
		Expect(fake.StatusPosts()).To(HaveLen(1))
		Expect(string(fake.StatusPosts()[0].Body)).To(ContainSubstring("reworded"))
	})

	It("miss a post still unapproved past maxLateness, saying why", func() {
		fake := newFakeMastodon("tok-late")
		mastodonProfile(ns, "masto", fake)
		p := newPost(ns, "late", fakeClock.Now(), "masto")
		p.Spec.MaxLateness = &metav1.Duration{Duration: time.Minute}
		Expect(k8sClient.Create(ctx, p)).To(Succeed())
		waiting := expectPhase(p, socialv1alpha1.PostAwaitingApproval)

		fakeClock.Step(2 * time.Minute)
		tick(waiting)
		missed := expectPhase(p, socialv1alpha1.PostMissed)
		Expect(delivery(Default, missed, "masto").LastError).To(And(ContainSubstring("not approved within maxLateness 1m0s"), ContainSubstring("waits for approval")))
		Expect(fake.StatusPosts()).To(BeEmpty())
	})

	It("publish a post once the workspace stops requiring approval", func() {
		fake := newFakeMastodon("tok-lifted")
		mastodonProfile(ns, "masto", fake)
		p := newPost(ns, "lifted", fakeClock.Now(), "masto")
		Expect(k8sClient.Create(ctx, p)).To(Succeed())
		expectPhase(p, socialv1alpha1.PostAwaitingApproval)

		ws := &socialv1alpha1.Workspace{}
		Expect(k8sClient.Get(ctx, objectKey("", ns), ws)).To(Succeed())
		ws.Spec.Approval = nil
		Expect(k8sClient.Update(ctx, ws)).To(Succeed())
		published := expectPhase(p, socialv1alpha1.PostPublished)
		Expect(approvedCondition(published)).To(BeNil(), "a post that needs no approval carries no Approved condition")
		Expect(fake.StatusPosts()).To(HaveLen(1))
	})
})
