package mcpserver

import (
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"sigs.k8s.io/controller-runtime/pkg/client"

	socialv1alpha1 "github.com/herald-dev/herald/api/v1alpha1"
	"github.com/herald-dev/herald/internal/post"
	"github.com/herald-dev/herald/internal/recurrence"
)

var _ = Describe("Approval before publishing", func() {
	BeforeEach(func() {
		ws := &socialv1alpha1.Workspace{}
		if k8sClient.Get(ctx, client.ObjectKey{Name: "review"}, ws) != nil {
			seedWorkspace("review", "olivia", socialv1alpha1.RoleOwner)
			Expect(k8sClient.Get(ctx, client.ObjectKey{Name: "review"}, ws)).To(Succeed())
			ws.Spec.Approval = &socialv1alpha1.ApprovalPolicy{Required: socialv1alpha1.ApproveThroughMCP}
			ws.Spec.Members = append(ws.Spec.Members,
				socialv1alpha1.WorkspaceMember{Subject: "ed", Role: socialv1alpha1.RoleEditor},
				socialv1alpha1.WorkspaceMember{Subject: "ann", Role: socialv1alpha1.RoleApprover})
			Expect(k8sClient.Update(ctx, ws)).To(Succeed())
		}
	})
	review := func(kv ...any) map[string]any {
		m := map[string]any{"workspaceId": "review"}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i].(string)] = kv[i+1]
		}
		return m
	}
	ed := grant("ed", []string{"review"}, allScopes()...)
	ann := grant("ann", []string{"review"}, allScopes()...)

	It("hold an editor's post until an approver approves it as reviewed, and withdraw the approval when it changes", func() {
		Eventually(func() any {
			return ok(ed, "get_me", nil)["workspaces"]
		}, 10*time.Second, 50*time.Millisecond).Should(ContainElement(And(HaveKeyWithValue("approval", "ThroughMCP"), HaveKeyWithValue("approvers", ConsistOf("olivia", "ann")))))

		at := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
		written := ok(ed, "create_post", review("text", "Launch day", "profileIds", []string{"sandbox"}, "scheduledAt", at))["post"].(map[string]any)
		Expect(written["phase"]).To(Equal("AwaitingApproval"), "the answer describes the post as written")
		Expect(written["approval"]).To(ContainSubstring("waits for approval by an owner or approver of workspace review (olivia, ann)"))
		id := written["id"].(string)
		Expect(written["approvalUrl"]).To(Equal("https://herald.example.com/approve/review/"+id), "the page an approver opens")

		Expect(fails(ed, "approve_post", review("postId", id))).To(ContainSubstring("editor, which does not allow posts:approve"), "who writes a post does not approve it")
		viewer := grant("viewer", []string{"review"}, allScopes()...)
		Expect(fails(viewer, "approve_post", review("postId", id))).To(ContainSubstring("viewer"))

		seen := ok(ann, "get_post", review("postId", id))["post"].(map[string]any)
		ok(ed, "update_post", review("postId", id, "text", "Launch day!"))
		Expect(fails(ann, "approve_post", review("postId", id, "expectedRevision", seen["revision"]))).To(ContainSubstring("changed since revision"),
			"an approval of what was reviewed, not of an edit made since")

		approved := ok(ann, "approve_post", review("postId", id))["post"].(map[string]any)
		Expect(approved["phase"]).To(Equal("Scheduled"))
		Expect(approved["approval"]).To(ContainSubstring("approved by ann at"))
		Expect(approved).NotTo(HaveKey("approvalUrl"))
		stored := &socialv1alpha1.ScheduledPost{}
		Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: "review", Name: id}, stored)).To(Succeed())
		Expect(stored.Spec.Approval.ApprovedBy).To(Equal("ann"))
		Expect(stored.Spec.Approval.ContentDigest).To(Equal(post.ContentDigest(&stored.Spec)))

		edited := ok(ed, "update_post", review("postId", id, "text", "Launch day, edited after approval"))["post"].(map[string]any)
		Expect(edited["phase"]).To(Equal("AwaitingApproval"))
		Expect(edited["approval"]).To(ContainSubstring("changed after ann approved it"))
	})

	It("answer publish_post with the post as written: held for an approver, who can approve it and where", func() {
		before := time.Now().UTC().Add(-time.Second)
		for _, published := range []map[string]any{
			ok(ed, "publish_post", review("text", "Right now, please", "profileIds", []string{"sandbox"}))["post"].(map[string]any),
			ok(ed, "publish_post", review("postId", ok(ed, "create_post", review("text", "A draft, now", "profileIds", []string{"sandbox"}))["post"].(map[string]any)["id"]))["post"].(map[string]any),
		} {
			id := published["id"].(string)
			Expect(published["phase"]).To(Equal("AwaitingApproval"), "held, not Publishing: %v", published)
			Expect(published["draft"]).To(BeFalse())
			Expect(published["approval"]).To(Equal("the post waits for approval by an owner or approver of workspace review (olivia, ann) before it is published"))
			Expect(published["approvalUrl"]).To(Equal("https://herald.example.com/approve/review/" + id))
			Expect(published["deliveries"]).To(ConsistOf(And(HaveKeyWithValue("profileId", "sandbox"), HaveKeyWithValue("phase", "Pending"))), "nothing was sent")

			stored := &socialv1alpha1.ScheduledPost{}
			Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: "review", Name: id}, stored)).To(Succeed())
			Expect(stored.Spec.Approval).To(BeNil(), "publishing does not approve")
			Expect(stored.Spec.Draft).To(BeFalse())
			due, err := time.Parse(time.RFC3339, stored.Spec.ScheduledAt)
			Expect(err).NotTo(HaveOccurred())
			Expect(due).To(BeTemporally(">=", before.Truncate(time.Second)), "due now: it publishes as soon as it is approved")
			Expect(published["scheduledAt"]).To(Equal(stored.Spec.ScheduledAt))
			Expect(published["revision"]).To(Equal(stored.ResourceVersion), "the answer is the object as written")
		}
	})

	It("list the posts awaiting approval, and let an approver reject one with a reason", func() {
		at := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
		id := ok(ed, "create_post", review("text", "Needs a look", "profileIds", []string{"sandbox"}, "scheduledAt", at))["post"].(map[string]any)["id"].(string)
		// The status the reconciler writes for it.
		p := &socialv1alpha1.ScheduledPost{}
		Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: "review", Name: id}, p)).To(Succeed())
		p.Status.Phase, p.Status.ObservedGeneration = socialv1alpha1.PostAwaitingApproval, p.Generation
		Expect(k8sClient.Status().Update(ctx, p)).To(Succeed())
		Eventually(func() []any {
			return ok(ann, "list_posts", review("status", "AwaitingApproval"))["posts"].([]any)
		}, 10*time.Second, 50*time.Millisecond).Should(ContainElement(HaveKeyWithValue("id", id)))

		Expect(fails(ann, "reject_post", review("postId", id, "reason", "  "))).To(ContainSubstring("give a reason"))
		rejected := ok(ann, "reject_post", review("postId", id, "reason", "Not on brand"))["post"].(map[string]any)
		Expect(rejected["rejected"]).To(Equal("rejected by ann: Not on brand"))
		Expect(rejected["phase"]).To(Equal("Canceled"))
		Expect(fails(ann, "approve_post", review("postId", id))).To(ContainSubstring("canceled"))

		Expect(fails(ann, "approve_post", map[string]any{"workspaceId": "acme", "postId": id})).To(ContainSubstring("not found"), "an approver of one workspace approves nothing in another")
	})

	It("approve every occurrence of a recurring post at once", func() {
		first := time.Now().Add(48 * time.Hour).UTC().Format(time.RFC3339)
		rp := ok(ed, "create_post", review("text", "Weekly tip", "profileIds", []string{"sandbox"}, "scheduledAt", first,
			"recurrence", map[string]any{"frequency": "Weekly"}))["recurringPost"].(map[string]any)
		Expect(rp["approval"]).To(ContainSubstring("each occurrence waits for approval"))
		id := rp["id"].(string)
		Expect(fails(ed, "approve_post", review("postId", id))).To(ContainSubstring("does not allow posts:approve"))
		approved := ok(ann, "approve_post", review("postId", id))["recurringPost"].(map[string]any)
		Expect(approved["approval"]).To(Equal("its occurrences are approved by ann"))
		stored := &socialv1alpha1.RecurringPost{}
		Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: "review", Name: id}, stored)).To(Succeed())
		Expect(stored.Spec.Approval.ContentDigest).To(Equal(recurrence.SeriesDigest(&stored.Spec)))
	})

	It("need no approval for posts the policy does not cover", func() {
		olivia := grant("olivia", []string{"review"}, allScopes()...)
		Eventually(func() error {
			_, err := srv.workspace(ctx, olivia, "review", socialv1alpha1.ScopePostsWrite)
			return err
		}, 10*time.Second, 50*time.Millisecond).Should(Succeed())
		p := &socialv1alpha1.ScheduledPost{}
		p.Namespace, p.Name = "review", "from-git"
		p.Spec = socialv1alpha1.ScheduledPostSpec{Text: "Written in Git", Profiles: []string{"sandbox"}, ScheduledAt: time.Now().Add(time.Hour).UTC().Format(time.RFC3339)}
		Expect(k8sClient.Create(ctx, p)).To(Succeed())
		Eventually(func() string {
			r := call(olivia, "approve_post", review("postId", "from-git"))
			return r.text()
		}, 10*time.Second, 50*time.Millisecond).Should(ContainSubstring("needs no approval"), "ThroughMCP covers posts made through MCP only")
	})
})
