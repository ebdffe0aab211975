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
