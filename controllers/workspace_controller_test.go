package controllers

import (
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	socialv1alpha1 "github.com/herald-dev/herald/api/v1alpha1"
)

const (
	timeout  = 20 * time.Second
	interval = 50 * time.Millisecond
)

func newWorkspace(name string, mutate ...func(*socialv1alpha1.Workspace)) *socialv1alpha1.Workspace {
	ws := &socialv1alpha1.Workspace{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: socialv1alpha1.WorkspaceSpec{
			DisplayName: "Workspace " + name,
			TimeZone:    "Europe/Berlin",
			Members:     []socialv1alpha1.WorkspaceMember{{Subject: "dev", Role: socialv1alpha1.RoleOwner}},
		},
	}
	for _, m := range mutate {
		m(ws)
	}
	return ws
}

// readyCondition fetches the workspace and returns its Ready condition.
func readyCondition(g Gomega, name string) *metav1.Condition {
	ws := &socialv1alpha1.Workspace{}
	g.Expect(k8sClient.Get(ctx, client.ObjectKey{Name: name}, ws)).To(Succeed())
	c := meta.FindStatusCondition(ws.Status.Conditions, socialv1alpha1.ConditionReady)
	g.Expect(c).NotTo(BeNil(), "no Ready condition yet")
	g.Expect(c.ObservedGeneration).To(Equal(ws.Generation))
	g.Expect(ws.Status.ObservedGeneration).To(Equal(ws.Generation))
	return c
}

func eventReasons(name string) []string {
	list := &eventsv1.EventList{}
	Expect(k8sClient.List(ctx, list, client.InNamespace(metav1.NamespaceDefault))).To(Succeed())
	var reasons []string
	for _, e := range list.Items {
		if e.Regarding.Kind == "Workspace" && e.Regarding.Name == name {
			reasons = append(reasons, e.Reason)
		}
	}
	return reasons
}

var _ = Describe("Workspace reconciler", func() {
	It("creates and labels the namespace, then reports Ready", func() {
		ws := newWorkspace("acme-fresh")
		Expect(k8sClient.Create(ctx, ws)).To(Succeed())

		Eventually(func(g Gomega) {
			c := readyCondition(g, ws.Name)
			g.Expect(c.Status).To(Equal(metav1.ConditionTrue))
			g.Expect(c.Reason).To(Equal(ReasonReady))
			g.Expect(c.Message).To(ContainSubstring("namespace acme-fresh"))
		}, timeout, interval).Should(Succeed())

		ns := &corev1.Namespace{}
		Expect(k8sClient.Get(ctx, client.ObjectKey{Name: "acme-fresh"}, ns)).To(Succeed())
		Expect(ns.Labels).To(HaveKeyWithValue(socialv1alpha1.LabelWorkspace, "acme-fresh"))
		Expect(ns.Annotations).To(HaveKey(socialv1alpha1.AnnotationCreatedBy))

		Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(ws), ws)).To(Succeed())
		Expect(ws.Finalizers).To(ContainElement(WorkspaceFinalizer))
		Expect(ws.Status.Namespace).To(Equal("acme-fresh"))
		Expect(ws.Status.NamespaceCreated).To(BeTrue())
		Eventually(func() []string { return eventReasons(ws.Name) }, timeout, interval).Should(ContainElement(ReasonNamespaceCreated))

		By("deleting the workspace, which deletes the namespace Herald created")
		Expect(k8sClient.Delete(ctx, ws)).To(Succeed())
		Eventually(func() bool {
			return apierrors.IsNotFound(k8sClient.Get(ctx, client.ObjectKeyFromObject(ws), &socialv1alpha1.Workspace{}))
		}, timeout, interval).Should(BeTrue())
		// envtest runs no namespace controller, so the namespace stays Terminating.
		Eventually(func(g Gomega) {
			err := k8sClient.Get(ctx, client.ObjectKey{Name: "acme-fresh"}, ns)
			g.Expect(apierrors.IsNotFound(err) || !ns.DeletionTimestamp.IsZero()).To(BeTrue())
		}, timeout, interval).Should(Succeed())
	})

	It("adopts an existing namespace and never deletes it", func() {
		ensureNamespace("shared-team")
		ws := newWorkspace("team-a", func(w *socialv1alpha1.Workspace) { w.Spec.Namespace = "shared-team" })
		Expect(k8sClient.Create(ctx, ws)).To(Succeed())

		Eventually(func(g Gomega) {
			g.Expect(readyCondition(g, ws.Name).Status).To(Equal(metav1.ConditionTrue))
		}, timeout, interval).Should(Succeed())
		ns := &corev1.Namespace{}
		Expect(k8sClient.Get(ctx, client.ObjectKey{Name: "shared-team"}, ns)).To(Succeed())
		Expect(ns.Labels).To(HaveKeyWithValue(socialv1alpha1.LabelWorkspace, "team-a"))
		Expect(ns.Annotations).NotTo(HaveKey(socialv1alpha1.AnnotationCreatedBy))
		Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(ws), ws)).To(Succeed())
		Expect(ws.Status.NamespaceCreated).To(BeFalse())

		By("refusing a second workspace on the same namespace")
		other := newWorkspace("team-b", func(w *socialv1alpha1.Workspace) { w.Spec.Namespace = "shared-team" })
		Expect(k8sClient.Create(ctx, other)).To(Succeed())
		Eventually(func(g Gomega) {
			c := readyCondition(g, other.Name)
			g.Expect(c.Status).To(Equal(metav1.ConditionFalse))
			g.Expect(c.Reason).To(Equal(ReasonNamespaceConflict))
			g.Expect(c.Message).To(ContainSubstring("belongs to workspace team-a"))
		}, timeout, interval).Should(Succeed())

		By("deleting the workspace leaves the namespace in place, without the label")
		Expect(k8sClient.Delete(ctx, ws)).To(Succeed())
		Eventually(func() bool {
			return apierrors.IsNotFound(k8sClient.Get(ctx, client.ObjectKeyFromObject(ws), &socialv1alpha1.Workspace{}))
		}, timeout, interval).Should(BeTrue())
		Eventually(func(g Gomega) {
			g.Expect(k8sClient.Get(ctx, client.ObjectKey{Name: "shared-team"}, ns)).To(Succeed())
			g.Expect(ns.DeletionTimestamp.IsZero()).To(BeTrue())
			g.Expect(ns.Labels).NotTo(HaveKey(socialv1alpha1.LabelWorkspace))
		}, timeout, interval).Should(Succeed())
		Expect(k8sClient.Delete(ctx, other)).To(Succeed())
	})

	It("reports an invalid time zone until it is fixed", func() {
		ws := newWorkspace("bad-tz", func(w *socialv1alpha1.Workspace) { w.Spec.TimeZone = "Mars/Olympus_Mons" })
		Expect(k8sClient.Create(ctx, ws)).To(Succeed())

		Eventually(func(g Gomega) {
			c := readyCondition(g, ws.Name)
			g.Expect(c.Status).To(Equal(metav1.ConditionFalse))
			g.Expect(c.Reason).To(Equal(ReasonInvalidTimeZone))
			g.Expect(c.Message).To(ContainSubstring("Mars/Olympus_Mons"))
		}, timeout, interval).Should(Succeed())
		Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(ws), ws)).To(Succeed())
		Expect(meta.IsStatusConditionTrue(ws.Status.Conditions, socialv1alpha1.ConditionStalled)).To(BeTrue())
		Expect(k8sClient.Get(ctx, client.ObjectKey{Name: "bad-tz"}, &corev1.Namespace{})).NotTo(Succeed(), "nothing is created for an invalid workspace")
		Eventually(func() []string { return eventReasons(ws.Name) }, timeout, interval).Should(ContainElement(ReasonInvalidTimeZone))

		By("fixing the time zone")
		ws.Spec.TimeZone = "America/New_York"
		Expect(k8sClient.Update(ctx, ws)).To(Succeed())
		Eventually(func(g Gomega) {
			g.Expect(readyCondition(g, ws.Name).Status).To(Equal(metav1.ConditionTrue))
		}, timeout, interval).Should(Succeed())
		Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(ws), ws)).To(Succeed())
		Expect(meta.FindStatusCondition(ws.Status.Conditions, socialv1alpha1.ConditionStalled)).To(BeNil(), "Stalled is present only while True")
	})

	It("recreates a namespace that was deleted out from under it", func() {
		ws := newWorkspace("recreate")
		Expect(k8sClient.Create(ctx, ws)).To(Succeed())
		Eventually(func(g Gomega) {
			g.Expect(readyCondition(g, ws.Name).Status).To(Equal(metav1.ConditionTrue))
		}, timeout, interval).Should(Succeed())

		// Without a namespace controller a deleted namespace stays Terminating:
		// the workspace says so instead of claiming Ready.
		Expect(k8sClient.Delete(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "recreate"}})).To(Succeed())
		Eventually(func(g Gomega) {
			c := readyCondition(g, ws.Name)
			g.Expect(c.Status).To(Equal(metav1.ConditionUnknown))
			g.Expect(c.Reason).To(Equal(ReasonNamespaceDeleting))
		}, timeout, interval).Should(Succeed())
	})
})
