package controllers

import (
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	socialv1alpha1 "github.com/herald-dev/herald/api/v1alpha1"
)

var _ = Describe("Workflow reconciler", func() {
	const ns = "workflow-status"

	BeforeEach(func() { ensureNamespace(ns) })

	It("lists every validation error until the workflow is fixed", func() {
		wf := &socialv1alpha1.Workflow{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "broken"},
			Spec: socialv1alpha1.WorkflowSpec{Enabled: true,
				Trigger: socialv1alpha1.WorkflowTrigger{Type: socialv1alpha1.TriggerSchedule, Schedule: "at nine please"},
				Posts:   []socialv1alpha1.PostTemplate{{Text: "{{ .Inputs.x", Profiles: []string{"missing"}}}},
		}
		Expect(k8sClient.Create(ctx, wf)).To(Succeed())
		Eventually(func(g Gomega) {
			g.Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(wf), wf)).To(Succeed())
			valid := meta.FindStatusCondition(wf.Status.Conditions, socialv1alpha1.ConditionValid)
			g.Expect(valid).NotTo(BeNil())
			g.Expect(valid.Status).To(Equal(metav1.ConditionFalse))
			g.Expect(wf.Status.ValidationErrors).To(HaveLen(3))
			g.Expect(meta.IsStatusConditionTrue(wf.Status.Conditions, socialv1alpha1.ConditionStalled)).To(BeTrue())
		}, timeout, interval).Should(Succeed())

		By("fixing it: a profile appears and the spec is corrected")
		Expect(k8sClient.Create(ctx, &socialv1alpha1.SocialProfile{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "missing"},
			Spec:       socialv1alpha1.SocialProfileSpec{Platform: socialv1alpha1.Platform("sandbox"), Handle: "@x"},
		})).To(Succeed())
		Eventually(func() error { // the reconciler writes status meanwhile
			if err := k8sClient.Get(ctx, client.ObjectKeyFromObject(wf), wf); err != nil {
				return err
			}
			wf.Spec.Trigger = socialv1alpha1.WorkflowTrigger{Type: socialv1alpha1.TriggerManual}
			wf.Spec.Posts[0].Text = "Fixed"
			return k8sClient.Update(ctx, wf)
		}, timeout, interval).Should(Succeed())
		Eventually(func(g Gomega) {
			g.Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(wf), wf)).To(Succeed())
			g.Expect(meta.IsStatusConditionTrue(wf.Status.Conditions, socialv1alpha1.ConditionValid)).To(BeTrue())
			g.Expect(meta.IsStatusConditionTrue(wf.Status.Conditions, socialv1alpha1.ConditionReady)).To(BeTrue())
			g.Expect(meta.FindStatusCondition(wf.Status.Conditions, socialv1alpha1.ConditionStalled)).To(BeNil())
			g.Expect(wf.Status.ObservedGeneration).To(Equal(wf.Generation))
		}, timeout, interval).Should(Succeed())

		By("reporting its newest run")
		Expect(k8sClient.Create(ctx, &socialv1alpha1.WorkflowRun{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "broken-run"},
			Spec:       socialv1alpha1.WorkflowRunSpec{WorkflowRef: socialv1alpha1.LocalObjectReference{Name: "broken"}},
		})).To(Succeed())
		Eventually(func(g Gomega) {
			g.Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(wf), wf)).To(Succeed())
			g.Expect(wf.Status.LastRun).To(Equal("broken-run"))
		}, timeout, interval).Should(Succeed())
	})
})
