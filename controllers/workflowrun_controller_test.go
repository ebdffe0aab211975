package controllers

import (
	"fmt"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	socialv1alpha1 "github.com/herald-dev/herald/api/v1alpha1"
)

var _ = Describe("WorkflowRun reconciler", func() {
	const ns = "workflows"

	BeforeEach(func() {
		ensureNamespace(ns)
		profile := &socialv1alpha1.SocialProfile{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "sandbox"},
			Spec:       socialv1alpha1.SocialProfileSpec{Platform: socialv1alpha1.Platform("sandbox"), Handle: "@wf"},
		}
		Expect(client.IgnoreAlreadyExists(k8sClient.Create(ctx, profile))).To(Succeed())
	})

	newWorkflow := func(name string, posts ...socialv1alpha1.PostTemplate) {
		Expect(k8sClient.Create(ctx, &socialv1alpha1.Workflow{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
			Spec: socialv1alpha1.WorkflowSpec{Enabled: true, Trigger: socialv1alpha1.WorkflowTrigger{Type: socialv1alpha1.TriggerManual},
				Inputs: []socialv1alpha1.WorkflowInput{{Name: "topic", Required: true}, {Name: "tone", Default: "warm", Enum: []string{"warm", "bold"}}},
				Posts:  posts,
				// These tests read every run they made.
				SuccessfulRunsHistoryLimit: ptr.To[int32](100), FailedRunsHistoryLimit: ptr.To[int32](100)},
		})).To(Succeed())
	}
	newRun := func(name, workflow string, inputs map[string]string) *socialv1alpha1.WorkflowRun {
		run := &socialv1alpha1.WorkflowRun{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
			Spec:       socialv1alpha1.WorkflowRunSpec{WorkflowRef: socialv1alpha1.LocalObjectReference{Name: workflow}, Inputs: inputs},
		}
		Expect(k8sClient.Create(ctx, run)).To(Succeed())
		return run
	}
	finishedRun := func(g Gomega, name string) *socialv1alpha1.WorkflowRun {
		run := &socialv1alpha1.WorkflowRun{}
		g.Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, run)).To(Succeed())
		g.Expect(finished(run.Status.Phase)).To(BeTrue(), "phase %q", run.Status.Phase)
		return run
	}

	It("creates the workflow's posts from its templates, once", func() {
		newWorkflow("launch",
			socialv1alpha1.PostTemplate{Text: "Now live: {{ .Inputs.topic }} ({{ .Inputs.tone }})", Profiles: []string{"sandbox"}},
			socialv1alpha1.PostTemplate{Text: "Reminder: {{ .Inputs.topic }}", Profiles: []string{"sandbox"}, Draft: true})
		newRun("launch-1", "launch", map[string]string{"topic": "the autumn roast"})

		var run *socialv1alpha1.WorkflowRun
		Eventually(func(g Gomega) { run = finishedRun(g, "launch-1") }, timeout, interval).Should(Succeed())
		Expect(run.Status.Phase).To(Equal(socialv1alpha1.RunSucceeded))
		Expect(meta.IsStatusConditionTrue(run.Status.Conditions, socialv1alpha1.ConditionSucceeded)).To(BeTrue())
		Expect(run.Status.Posts).To(Equal([]string{"launch-1-0", "launch-1-1"}))
		Expect(run.Status.Workflow).NotTo(BeNil(), "the run keeps the spec it used")

		first := &socialv1alpha1.ScheduledPost{}
		Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "launch-1-0"}, first)).To(Succeed())
		Expect(first.Spec.Text).To(Equal("Now live: the autumn roast (warm)"))
		Expect(first.Spec.Draft).To(BeFalse())
		Expect(first.OwnerReferences).To(HaveLen(1))
		second := &socialv1alpha1.ScheduledPost{}
		Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "launch-1-1"}, second)).To(Succeed())
		Expect(second.Spec.Draft).To(BeTrue())

		list := &socialv1alpha1.ScheduledPostList{}
		Expect(k8sClient.List(ctx, list, client.InNamespace(ns), client.MatchingLabels{labelWorkflowRun: "launch-1"})).To(Succeed())
		Expect(list.Items).To(HaveLen(2))
	})

	It("gives templates the run's time in the workflow's zone and the brand kit", func() {
		Expect(k8sClient.Create(ctx, &socialv1alpha1.BrandKit{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "tips-kit"},
			Spec: socialv1alpha1.BrandKitSpec{DisplayName: "Acme", Signature: "— Acme", Hashtags: []string{"#Tip"}}})).To(Succeed())
		Expect(k8sClient.Create(ctx, &socialv1alpha1.Workflow{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "tips"},
			Spec: socialv1alpha1.WorkflowSpec{Enabled: true, Trigger: socialv1alpha1.WorkflowTrigger{Type: socialv1alpha1.TriggerManual, TimeZone: "America/New_York"},
				Posts: []socialv1alpha1.PostTemplate{{Text: `{{ .Now.Weekday }} {{ .Now.Time }}: a tip from {{ .BrandKit.DisplayName }} {{ .BrandKit.Hashtags }}`,
					Profiles: []string{"sandbox"}, BrandKit: "tips-kit", Draft: true}}},
		})).To(Succeed())
		newRun("tips-1", "tips", nil)
		var run *socialv1alpha1.WorkflowRun
		Eventually(func(g Gomega) { run = finishedRun(g, "tips-1") }, timeout, interval).Should(Succeed())
		Expect(run.Status.Phase).To(Equal(socialv1alpha1.RunSucceeded), run.Status.Message)
		newYork, _ := time.LoadLocation("America/New_York")
		post := &socialv1alpha1.ScheduledPost{}
		Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: run.Status.Posts[0]}, post)).To(Succeed())
		Expect(post.Spec.Text).To(Equal(run.Status.StartTime.In(newYork).Format("Monday 15:04") + ": a tip from Acme #Tip"))
	})

	It("fails with every reason a person can act on", func() {
		newWorkflow("strict", socialv1alpha1.PostTemplate{Text: "{{ .Inputs.topic }}", Profiles: []string{"sandbox"}})
		// Posts the API server would refuse: the run fails saying why,
		// instead of retrying a create that cannot succeed.
		newWorkflow("oversized", socialv1alpha1.PostTemplate{Text: "{{ .Inputs.topic }}", Profiles: []string{"sandbox"},
			Variants: []socialv1alpha1.PostVariant{{Platform: "x", Text: "{{ .Inputs.topic }}"}, {Platform: "mastodon", Text: "{{ .Inputs.topic }}"}}})
		newWorkflow("foreign-variant", socialv1alpha1.PostTemplate{Text: "{{ .Inputs.topic }}", Profiles: []string{"sandbox"},
			Variants: []socialv1alpha1.PostVariant{{Profile: "elsewhere", Text: "for a profile the post does not publish to"}}})
		long := strings.Repeat("y", 34000)
		for name, c := range map[string]struct {
			workflow string
			inputs   map[string]string
			reason   string
			message  string
		}{
			"missing-input":    {"strict", nil, ReasonInputsInvalid, "topic is required"},
			"bad-enum":         {"strict", map[string]string{"topic": "x", "tone": "shy"}, ReasonInputsInvalid, "must be one of warm, bold"},
			"unknown-workflow": {"nowhere", map[string]string{"topic": "x"}, ReasonWorkflowNotFound, "workflow nowhere does not exist"},
			"too-long": {"oversized", map[string]string{"topic": long}, ReasonTemplateFailed,
				"posts[0]: as rendered, the text and variants hold 102000 characters together, more than the 100000 a post holds; shorten them"},
			"foreign": {"foreign-variant", map[string]string{"topic": "x"}, ReasonWorkflowInvalid,
				`posts[0]: variants[0] is for profile "elsewhere", which is not one of the post's profiles`},
		} {
			newRun(name, c.workflow, c.inputs)
			Eventually(func(g Gomega) {
				run := finishedRun(g, name)
				g.Expect(run.Status.Phase).To(Equal(socialv1alpha1.RunFailed))
				cond := meta.FindStatusCondition(run.Status.Conditions, socialv1alpha1.ConditionSucceeded)
				g.Expect(cond).NotTo(BeNil())
				g.Expect(cond.Status).To(Equal(metav1.ConditionFalse))
				g.Expect(cond.Reason).To(Equal(c.reason), name)
				g.Expect(run.Status.Message).To(ContainSubstring(c.message), name)
			}, timeout, interval).Should(Succeed(), fmt.Sprint(name))
		}
	})
})
