package mcpserver

import (
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	socialv1alpha1 "github.com/herald-dev/herald/api/v1alpha1"
)

var _ = Describe("Brand kit tools", func() {
	owner := grant("dev", []string{"acme"}, allScopes()...)

	It("creates, reads, updates and deletes a brand kit", func() {
		created := ok(owner, "create_brand_kit", map[string]any{"workspaceId": "acme", "brandKitId": "spring",
			"displayName": "Spring", "voice": "Light and warm", "signature": "— Acme", "hashtags": []string{"#Spring"},
			"colors": []map[string]any{{"name": "primary", "hex": "#336699"}}})["brandKit"].(map[string]any)
		Expect(created["voice"]).To(Equal("Light and warm"))

		Eventually(func() []any {
			return ok(owner, "list_brand_kits", map[string]any{"workspaceId": "acme"})["brandKits"].([]any)
		}, 10*time.Second, 50*time.Millisecond).Should(ContainElement(HaveKeyWithValue("id", "spring")))

		updated := ok(owner, "update_brand_kit", map[string]any{"workspaceId": "acme", "brandKitId": "spring", "signature": "— Acme Coffee"})["brandKit"].(map[string]any)
		Expect(updated["signature"]).To(Equal("— Acme Coffee"))
		Expect(updated["voice"]).To(Equal("Light and warm"), "omitted fields stay")
		Expect(ok(owner, "get_brand_kit", map[string]any{"workspaceId": "acme", "brandKitId": "spring"})["brandKit"]).To(HaveKeyWithValue("signature", "— Acme Coffee"))

		Expect(fails(owner, "create_brand_kit", map[string]any{"workspaceId": "acme", "brandKitId": "Not Valid"})).To(ContainSubstring("lowercase"))
		Expect(fails(owner, "update_brand_kit", map[string]any{"workspaceId": "acme", "brandKitId": "spring",
			"colors": []map[string]any{{"name": "primary", "hex": "blue"}}})).To(ContainSubstring("hex"), "the API server's validation comes back as a tool error")

		Expect(ok(owner, "delete_brand_kit", map[string]any{"workspaceId": "acme", "brandKitId": "spring"})["deleted"]).To(BeTrue())
		Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: "acme", Name: "spring"}, &socialv1alpha1.BrandKit{})).NotTo(Succeed())
	})

	It("keeps brand kit writes to owners", func() {
		editor := grant("editor", []string{"acme"}, allScopes()...)
		ws := &socialv1alpha1.Workspace{}
		Expect(k8sClient.Get(ctx, client.ObjectKey{Name: "acme"}, ws)).To(Succeed())
		ws.Spec.Members = append(ws.Spec.Members, socialv1alpha1.WorkspaceMember{Subject: "editor", Role: socialv1alpha1.RoleEditor})
		Expect(k8sClient.Update(ctx, ws)).To(Succeed())
		Eventually(func() string {
			return fails(editor, "create_brand_kit", map[string]any{"workspaceId": "acme", "brandKitId": "nope"})
		}, 10*time.Second, 50*time.Millisecond).Should(ContainSubstring("editor"))
	})
})

var _ = Describe("Profile and run reads", func() {
	dev := grant("dev", []string{"acme"}, allScopes()...)

	It("shows one profile, and why it is not ready", func() {
		p := ok(dev, "get_social_profile", map[string]any{"workspaceId": "acme", "profileId": "x-main"})["profile"].(map[string]any)
		Expect(p["platform"]).To(Equal("x"))
		Expect(p["ready"]).To(BeFalse())
		Expect(p["reason"]).NotTo(BeEmpty())
	})

	It("shows when a schedule runs next and what that run would post", func() {
		Expect(k8sClient.Create(ctx, &socialv1alpha1.Workflow{
			ObjectMeta: metav1.ObjectMeta{Namespace: "acme", Name: "tuesday-tip"},
			Spec: socialv1alpha1.WorkflowSpec{Enabled: true, Trigger: socialv1alpha1.WorkflowTrigger{Type: socialv1alpha1.TriggerSchedule, Schedule: "0 9 * * TUE", TimeZone: "Europe/Berlin"},
				Inputs: []socialv1alpha1.WorkflowInput{{Name: "tip", Default: "Grind fresh."}, {Name: "topic", Required: true}},
				Posts:  []socialv1alpha1.PostTemplate{{Text: "{{ .Now.Weekday }} {{ .Now.Time }}: {{ .Inputs.tip }}", Profiles: []string{"sandbox"}, Draft: true}}},
		})).To(Succeed())
		var next map[string]any
		Eventually(func() any {
			next, _ = ok(dev, "get_workflow", map[string]any{"workspaceId": "acme", "workflowId": "tuesday-tip"})["nextRun"].(map[string]any)
			return next
		}, 10*time.Second, 50*time.Millisecond).ShouldNot(BeNil())
		berlin, _ := time.LoadLocation("Europe/Berlin")
		now := time.Now().In(berlin)
		want := time.Date(now.Year(), now.Month(), now.Day(), 9, 0, 0, 0, berlin)
		for want.Weekday() != time.Tuesday || !want.After(now) {
			want = time.Date(want.Year(), want.Month(), want.Day()+1, 9, 0, 0, 0, berlin)
		}
		Expect(next["at"]).To(Equal(want.UTC().Format(time.RFC3339)))
		Expect(next["local"]).To(Equal(want.Format(time.RFC3339) + " (Europe/Berlin)"))
		Expect(next["posts"]).To(ConsistOf(And(HaveKeyWithValue("text", "Tuesday 09:00: Grind fresh."), HaveKeyWithValue("draft", true))))
		Expect(next["problems"]).To(ContainElement(ContainSubstring("topic")), "a required input without a default")
	})

	It("previews the next run for each target profile as preview_post renders a post", func() {
		kit := &socialv1alpha1.BrandKit{ObjectMeta: metav1.ObjectMeta{Namespace: "acme", Name: "tip-kit"},
			Spec: socialv1alpha1.BrandKitSpec{DisplayName: "Tips", Signature: "— Acme", Hashtags: []string{"#Tips"}}}
		Expect(k8sClient.Create(ctx, kit)).To(Succeed())
		DeferCleanup(func() { Expect(k8sClient.Delete(ctx, kit)).To(Succeed()) })
		Expect(k8sClient.Create(ctx, &socialv1alpha1.Workflow{
			ObjectMeta: metav1.ObjectMeta{Namespace: "acme", Name: "tip-per-profile"},
			Spec: socialv1alpha1.WorkflowSpec{Enabled: true, Trigger: socialv1alpha1.WorkflowTrigger{Type: socialv1alpha1.TriggerSchedule, Schedule: "0 9 * * TUE"},
				Inputs: []socialv1alpha1.WorkflowInput{{Name: "tip", Default: "Grind fresh."}},
				Posts: []socialv1alpha1.PostTemplate{
					{Text: "Tip: {{ .Inputs.tip }}", Profiles: []string{"sandbox", "x-main"}, BrandKit: "tip-kit",
						Variants: []socialv1alpha1.PostVariant{{Platform: "x", Text: "{{ .Inputs.tip }} " + strings.Repeat("x", 300)}}},
					{Text: "Gone", Profiles: []string{"gone"}},
				}},
		})).To(Succeed())
		var next map[string]any
		Eventually(func(g Gomega) {
			next, _ = ok(dev, "get_workflow", map[string]any{"workspaceId": "acme", "workflowId": "tip-per-profile"})["nextRun"].(map[string]any)
			g.Expect(next).NotTo(BeNil())
			g.Expect(next["posts"]).To(HaveLen(2))
			g.Expect(next["posts"].([]any)[0]).To(HaveKeyWithValue("previews", HaveLen(2)), "the brand kit is in the cache")
		}, 10*time.Second, 50*time.Millisecond).Should(Succeed())
		posts := next["posts"].([]any)
		tip := posts[0].(map[string]any)
		Expect(tip["text"]).To(Equal("Tip: Grind fresh."), "as the template renders it")
		sandbox, x := tip["previews"].([]any)[0].(map[string]any), tip["previews"].([]any)[1].(map[string]any)
		Expect(sandbox).To(And(HaveKeyWithValue("profileId", "sandbox"), HaveKeyWithValue("platform", "sandbox"),
			HaveKeyWithValue("text", "Tip: Grind fresh.\n\n— Acme\n\n#Tips"), HaveKeyWithValue("ok", true)))
		Expect(x).To(And(HaveKeyWithValue("profileId", "x-main"), HaveKeyWithValue("text", HavePrefix("Grind fresh. xxx")),
			HaveKeyWithValue("limit", BeNumerically("==", 280)), HaveKeyWithValue("ok", false)), "X gets its variant, and it is too long")
		Expect(x["length"]).To(BeNumerically(">", 280))
		Expect(posts[1]).To(HaveKeyWithValue("previews", BeEmpty()))
		Expect(next["problems"]).To(ContainElements(HavePrefix("posts[0]: profile x-main (x): "),
			And(HavePrefix("posts[1]: "), ContainSubstring(`"gone"`), ContainSubstring("ocoya_list_social_profiles"))))
	})

	It("lists and shows workflow runs, and toggles a valid workflow", func() {
		Expect(k8sClient.Create(ctx, &socialv1alpha1.Workflow{
			ObjectMeta: metav1.ObjectMeta{Namespace: "acme", Name: "weekly"},
			Spec: socialv1alpha1.WorkflowSpec{Enabled: true, Trigger: socialv1alpha1.WorkflowTrigger{Type: socialv1alpha1.TriggerSchedule, Schedule: "0 9 * * MON", TimeZone: "Europe/Berlin"},
				Posts: []socialv1alpha1.PostTemplate{{Text: "Weekly update", Profiles: []string{"sandbox"}}}},
		})).To(Succeed())
		Eventually(func() []any {
			return ok(dev, "list_workflows", map[string]any{"workspaceId": "acme"})["workflows"].([]any)
		}, 10*time.Second, 50*time.Millisecond).Should(ContainElement(And(HaveKeyWithValue("id", "weekly"), HaveKeyWithValue("valid", true))))

		off := ok(dev, "toggle_workflow", map[string]any{"workspaceId": "acme", "workflowId": "weekly", "enabled": false})["workflow"].(map[string]any)
		Expect(off["enabled"]).To(BeFalse())
		Eventually(func() string {
			return fails(dev, "run_workflow", map[string]any{"workspaceId": "acme", "workflowId": "weekly"})
		}, 10*time.Second, 50*time.Millisecond).Should(ContainSubstring("disabled"))
		ok(dev, "toggle_workflow", map[string]any{"workspaceId": "acme", "workflowId": "weekly", "enabled": true})

		run := ok(dev, "run_workflow", map[string]any{"workspaceId": "acme", "workflowId": "weekly"})["run"].(map[string]any)
		Expect(run["phase"]).To(Equal("Pending"))
		got := ok(dev, "get_workflow_run", map[string]any{"workspaceId": "acme", "runId": run["id"]})["run"].(map[string]any)
		Expect(got["workflowId"]).To(Equal("weekly"))
		Expect(got["requestedBy"]).To(Equal("dev"))
		Eventually(func() []any {
			return ok(dev, "list_workflow_runs", map[string]any{"workspaceId": "acme", "workflowId": "weekly"})["runs"].([]any)
		}, 10*time.Second, 50*time.Millisecond).Should(HaveLen(1))
		Expect(fails(dev, "get_workflow_run", map[string]any{"workspaceId": "acme", "runId": "no-such-run"})).To(ContainSubstring("ocoya_list_workflow_runs"))
	})
})
