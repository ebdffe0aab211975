package controllers

import (
	"fmt"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"

	socialv1alpha1 "github.com/herald-dev/herald/api/v1alpha1"
)

// stored reads obj as the API server serves it, as JSON: a typed object
// would drop an observedGeneration of 0.
func stored(g Gomega, obj client.Object) *unstructured.Unstructured {
	gvk, err := apiutil.GVKForObject(obj, k8sClient.Scheme())
	g.Expect(err).NotTo(HaveOccurred())
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(gvk)
	g.Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(obj), u)).To(Succeed())
	return u
}

// kstatusOf is what Flux, Argo CD and kubectl wait compute for u.
func kstatusOf(g Gomega, u *unstructured.Unstructured) status.Status {
	res, err := status.Compute(u)
	g.Expect(err).NotTo(HaveOccurred())
	return res.Status
}

// eventuallyKstatus waits until the stored obj computes to want.
func eventuallyKstatus(obj client.Object, want status.Status) {
	GinkgoHelper()
	var u *unstructured.Unstructured
	Eventually(func(g Gomega) status.Status {
		u = stored(g, obj)
		return kstatusOf(g, u)
	}, timeout, interval).Should(Equal(want), func() string { return fmt.Sprintf("%T %s: %v", obj, obj.GetName(), u.Object["status"]) })
}

// A GitOps tool's health check is kstatus: every kind must read Current
// once reconciled, InProgress right after a change (before Herald saw it),
// and Failed when its spec cannot work.
var _ = Describe("Health as kstatus computes it", func() {
	It("is Current once reconciled and InProgress right after a change, for every kind", func() {
		ns := newNamespace("kstatus")
		ws := &socialv1alpha1.Workspace{ObjectMeta: metav1.ObjectMeta{Name: ns}, Spec: socialv1alpha1.WorkspaceSpec{DisplayName: ns, Namespace: ns}}
		masto := newFakeMastodon("kstatus-token")
		objs := []client.Object{
			ws,
			&socialv1alpha1.SocialProfile{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "sandbox"},
				Spec: socialv1alpha1.SocialProfileSpec{Platform: "sandbox", Handle: "@kstatus"}},
			&socialv1alpha1.BrandKit{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "kit"}, Spec: socialv1alpha1.BrandKitSpec{DisplayName: "Kit"}},
			newPost(ns, "later", fakeClock.Now().Add(24*time.Hour), "sandbox"),
			&socialv1alpha1.Workflow{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "weekly"},
				Spec: socialv1alpha1.WorkflowSpec{Enabled: true, Trigger: socialv1alpha1.WorkflowTrigger{Type: socialv1alpha1.TriggerSchedule, Schedule: "0 9 * * MON"},
					Posts: []socialv1alpha1.PostTemplate{{Text: "Weekly", Profiles: []string{"sandbox"}, Draft: true}}}},
			&socialv1alpha1.WorkflowRun{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "run"},
				Spec: socialv1alpha1.WorkflowRunSpec{WorkflowRef: socialv1alpha1.LocalObjectReference{Name: "weekly"}}},
			&socialv1alpha1.MCPClient{ObjectMeta: metav1.ObjectMeta{Name: "kstatus-" + ns},
				Spec: socialv1alpha1.MCPClientSpec{ClientName: "kstatus", RedirectURIs: []string{"http://127.0.0.1:1/cb"}}},
			&socialv1alpha1.MCPGrant{ObjectMeta: metav1.ObjectMeta{Name: "kstatus-" + ns},
				Spec: socialv1alpha1.MCPGrantSpec{ClientID: "kstatus-" + ns, Subject: "dev", Workspaces: []string{ns}, Scopes: []socialv1alpha1.Scope{"posts:read"}}},
		}
		mastodonProfile(ns, "masto", masto)
		for _, o := range objs {
			Expect(k8sClient.Create(ctx, o)).To(Succeed(), "%T", o)
		}
		for _, o := range objs {
			eventuallyKstatus(o, status.CurrentStatus)
		}

		By("right after a spec change, before the reconciler saw it")
		for _, o := range []client.Object{ws, objs[1], objs[3], objs[4]} {
			u := stored(Default, o)
			field := map[string]string{"Workspace": "displayName", "SocialProfile": "displayName", "ScheduledPost": "text", "Workflow": "description"}[u.GetKind()]
			Expect(unstructured.SetNestedField(u.Object, "changed by the kstatus test", "spec", field)).To(Succeed())
			Expect(k8sClient.Update(ctx, u)).To(Succeed())
			Expect(kstatusOf(Default, u)).To(Equal(status.InProgressStatus), "%s as the update answered: %v", u.GetKind(), u.Object["status"])
			eventuallyKstatus(o, status.CurrentStatus)
		}
	})

	It("is Failed where the spec cannot work, for every reconciled kind", func() {
		ns := newNamespace("kstatus-failed")
		masto := newFakeMastodon("the-right-token")
		Expect(k8sClient.Create(ctx, &socialv1alpha1.Workspace{ObjectMeta: metav1.ObjectMeta{Name: ns}, Spec: socialv1alpha1.WorkspaceSpec{DisplayName: ns, Namespace: ns}})).To(Succeed())
		createSecret(ns, "wrong", map[string]string{"accessToken": "a-wrong-token"})
		failed := []client.Object{
			&socialv1alpha1.Workspace{ObjectMeta: metav1.ObjectMeta{Name: ns + "-tz"},
				Spec: socialv1alpha1.WorkspaceSpec{DisplayName: "Nowhere", TimeZone: "Mars/Olympus_Mons"}},
			&socialv1alpha1.SocialProfile{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "refused"},
				Spec: socialv1alpha1.SocialProfileSpec{Platform: "mastodon", Handle: "@herald@fake.example", Endpoint: masto.URL,
					CredentialsSecretRef: &socialv1alpha1.LocalObjectReference{Name: "wrong"}}},
			newPost(ns, "nowhere", fakeClock.Now(), "no-such-profile"), // due now: found out at once
			&socialv1alpha1.Workflow{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "never"},
				Spec: socialv1alpha1.WorkflowSpec{Enabled: true, Trigger: socialv1alpha1.WorkflowTrigger{Type: socialv1alpha1.TriggerSchedule, Schedule: "0 0 30 2 *"},
					Posts: []socialv1alpha1.PostTemplate{{Text: "Never", Profiles: []string{"refused"}}}}},
			&socialv1alpha1.WorkflowRun{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "orphan"},
				Spec: socialv1alpha1.WorkflowRunSpec{WorkflowRef: socialv1alpha1.LocalObjectReference{Name: "no-such-workflow"}}},
		}
		for _, o := range failed {
			Expect(k8sClient.Create(ctx, o)).To(Succeed(), "%T", o)
		}
		for _, o := range failed {
			eventuallyKstatus(o, status.FailedStatus)
		}
	})
})
