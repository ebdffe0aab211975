package controllers

import (
	"fmt"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"

	socialv1alpha1 "github.com/herald-dev/herald/api/v1alpha1"
)

// asJSON is obj as the API server would serve it, to be sent or read as
// JSON: a typed object would drop an observedGeneration of 0.
func asJSON(g Gomega, obj client.Object) *unstructured.Unstructured {
	gvk, err := apiutil.GVKForObject(obj, k8sClient.Scheme())
	g.Expect(err).NotTo(HaveOccurred())
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	g.Expect(err).NotTo(HaveOccurred())
	u := &unstructured.Unstructured{Object: m}
	u.SetGroupVersionKind(gvk)
	return u
}

// stored reads obj as the API server serves it.
func stored(g Gomega, obj client.Object) *unstructured.Unstructured {
	u := asJSON(g, obj)
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

// kindHealth is how one kind Herald serves shows to kstatus. Each
// function makes an object (not yet created) in namespace ns, which holds
// a Workspace and a sandbox profile named "sandbox".
type kindHealth struct {
	// reconciled kinds have a reconciler that writes observedGeneration
	// and the Ready, Reconciling and Stalled conditions: InProgress from a
	// change until Herald has seen it, then Current, or Failed where the
	// spec cannot work. The others (BrandKit, MCPClient, MCPGrant) are
	// records read where they are used, as their API documentation says:
	// Current as soon as they exist and after every change, and a spec
	// that cannot work is refused by the API server instead of failing.
	reconciled bool
	// works has a spec that works.
	works func(ns string) client.Object
	// change is a spec field a person edits, set to a string or a bool.
	change []string
	value  any
	// broken has a spec that cannot work; for a kind not reconciled, one
	// the API server refuses.
	broken func(ns string) client.Object
}

func weekly(ns string) *socialv1alpha1.Workflow {
	return &socialv1alpha1.Workflow{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "weekly"},
		Spec: socialv1alpha1.WorkflowSpec{Enabled: true, Trigger: socialv1alpha1.WorkflowTrigger{Type: socialv1alpha1.TriggerSchedule, Schedule: "0 9 * * MON"},
			Posts: []socialv1alpha1.PostTemplate{{Text: "Weekly", Profiles: []string{"sandbox"}, Draft: true}}}}
}

func runOf(ns, workflow string) *socialv1alpha1.WorkflowRun {
	return &socialv1alpha1.WorkflowRun{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "run"},
		Spec: socialv1alpha1.WorkflowRunSpec{WorkflowRef: socialv1alpha1.LocalObjectReference{Name: workflow}}}
}

func yearly(ns string, profile string) *socialv1alpha1.RecurringPost {
	return &socialv1alpha1.RecurringPost{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "yearly"},
		Spec: socialv1alpha1.RecurringPostSpec{Enabled: true,
			Recurrence: socialv1alpha1.Recurrence{Frequency: socialv1alpha1.FrequencyMonthly, Interval: 12, Start: "2099-01-01T09:00:00Z"},
			Post:       &socialv1alpha1.PostContent{Text: "Happy new year", Profiles: []string{profile}}}}
}

func mcpClient(ns string, redirects ...string) *socialv1alpha1.MCPClient {
	return &socialv1alpha1.MCPClient{ObjectMeta: metav1.ObjectMeta{Name: "kstatus-" + ns},
		Spec: socialv1alpha1.MCPClientSpec{ClientName: "kstatus", RedirectURIs: redirects}}
}

func mcpGrant(ns string, workspaces ...string) *socialv1alpha1.MCPGrant {
	return &socialv1alpha1.MCPGrant{ObjectMeta: metav1.ObjectMeta{Name: "kstatus-" + ns},
		Spec: socialv1alpha1.MCPGrantSpec{ClientID: "kstatus-" + ns, Subject: "dev", Workspaces: workspaces, Scopes: []socialv1alpha1.Scope{"posts:read"}}}
}

// A GitOps tool's health check is kstatus.
var _ = Describe("Health as kstatus computes it", func() {
	DescribeTable("for every kind Herald serves",
		func(k kindHealth) {
			ns := newNamespace("kstatus")
			for _, o := range []client.Object{
				&socialv1alpha1.Workspace{ObjectMeta: metav1.ObjectMeta{Name: ns}, Spec: socialv1alpha1.WorkspaceSpec{DisplayName: ns, Namespace: ns}},
				&socialv1alpha1.SocialProfile{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "sandbox"},
					Spec: socialv1alpha1.SocialProfileSpec{Platform: "sandbox", Handle: "@kstatus"}},
			} {
				Expect(k8sClient.Create(ctx, o)).To(Succeed())
				eventuallyKstatus(o, status.CurrentStatus)
			}
			unreconciled := map[bool]status.Status{true: status.InProgressStatus, false: status.CurrentStatus}[k.reconciled]

			By("as the create answered, before Herald saw it")
			obj := k.works(ns)
			u := asJSON(Default, obj)
			Expect(k8sClient.Create(ctx, u)).To(Succeed())
			Expect(kstatusOf(Default, u)).To(Equal(unreconciled), "%v", u.Object["status"])
			eventuallyKstatus(obj, status.CurrentStatus)

			By("as the update of " + fmt.Sprint(k.change) + " answered, and once Herald saw it")
			u = stored(Default, obj)
			Expect(unstructured.SetNestedField(u.Object, k.value, k.change...)).To(Succeed())
			Expect(k8sClient.Update(ctx, u)).To(Succeed())
			Expect(kstatusOf(Default, u)).To(Equal(unreconciled), "%v", u.Object["status"])
			eventuallyKstatus(obj, status.CurrentStatus)

			broken := k.broken(ns)
			if !k.reconciled {
				By("a spec that cannot work is refused")
				err := k8sClient.Create(ctx, broken)
				Expect(apierrors.IsInvalid(err)).To(BeTrue(), "%v", err)
				return
			}
			By("a spec that cannot work")
			Expect(k8sClient.Create(ctx, broken)).To(Succeed())
			eventuallyKstatus(broken, status.FailedStatus)
		},
		Entry("Workspace", kindHealth{reconciled: true,
			works: func(ns string) client.Object {
				return &socialv1alpha1.Workspace{ObjectMeta: metav1.ObjectMeta{Name: ns + "-more"}, Spec: socialv1alpha1.WorkspaceSpec{DisplayName: "More"}}
			},
			change: []string{"spec", "displayName"}, value: "Renamed",
			broken: func(ns string) client.Object {
				return &socialv1alpha1.Workspace{ObjectMeta: metav1.ObjectMeta{Name: ns + "-tz"},
					Spec: socialv1alpha1.WorkspaceSpec{DisplayName: "Nowhere", TimeZone: "Mars/Olympus_Mons"}}
			}}),
		Entry("SocialProfile", kindHealth{reconciled: true,
			works: func(ns string) client.Object {
				return &socialv1alpha1.SocialProfile{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "second"},
					Spec: socialv1alpha1.SocialProfileSpec{Platform: "sandbox", Handle: "@second"}}
			},
			change: []string{"spec", "displayName"}, value: "Renamed",
			broken: func(ns string) client.Object { // credentials the platform refuses
				masto := newFakeMastodon("the-right-token")
				createSecret(ns, "wrong", map[string]string{"accessToken": "a-wrong-token"})
				return &socialv1alpha1.SocialProfile{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "refused"},
					Spec: socialv1alpha1.SocialProfileSpec{Platform: "mastodon", Handle: "@herald@fake.example", Endpoint: masto.URL,
						CredentialsSecretRef: &socialv1alpha1.LocalObjectReference{Name: "wrong"}}}
			}}),
		Entry("ScheduledPost", kindHealth{reconciled: true,
			works: func(ns string) client.Object {
				return newPost(ns, "later", fakeClock.Now().Add(24*time.Hour), "sandbox")
			},
			change: []string{"spec", "text"}, value: "Changed",
			broken: func(ns string) client.Object {
				return newPost(ns, "nowhere", fakeClock.Now(), "no-such-profile") // due now: found out at once
			}}),
		Entry("BrandKit", kindHealth{
			works: func(ns string) client.Object {
				return &socialv1alpha1.BrandKit{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "kit"}, Spec: socialv1alpha1.BrandKitSpec{DisplayName: "Kit"}}
			},
			change: []string{"spec", "signature"}, value: "— the team",
			broken: func(ns string) client.Object {
				return &socialv1alpha1.BrandKit{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "colourless"},
					Spec: socialv1alpha1.BrandKitSpec{DisplayName: "Kit", Colors: []socialv1alpha1.BrandColor{{Name: "primary", Hex: "red"}}}}
			}}),
		Entry("Workflow", kindHealth{reconciled: true,
			works:  func(ns string) client.Object { return weekly(ns) },
			change: []string{"spec", "description"}, value: "Changed",
			broken: func(ns string) client.Object {
				wf := weekly(ns)
				wf.Name, wf.Spec.Trigger.Schedule = "never", "0 0 30 2 *"
				return wf
			}}),
		Entry("WorkflowRun", kindHealth{reconciled: true,
			works: func(ns string) client.Object {
				Expect(k8sClient.Create(ctx, weekly(ns))).To(Succeed())
				return runOf(ns, "weekly")
			},
			// Cancelling a run that finished does nothing, but is seen.
			change: []string{"spec", "status"}, value: string(socialv1alpha1.RunCancelled),
			broken: func(ns string) client.Object {
				run := runOf(ns, "no-such-workflow")
				run.Name = "orphan"
				return run
			}}),
		Entry("RecurringPost", kindHealth{reconciled: true,
			works:  func(ns string) client.Object { return yearly(ns, "sandbox") },
			change: []string{"spec", "post", "text"}, value: "Changed",
			broken: func(ns string) client.Object {
				rp := yearly(ns, "no-such-profile")
				rp.Name = "nowhere"
				return rp
			}}),
		Entry("MCPClient", kindHealth{
			works:  func(ns string) client.Object { return mcpClient(ns, "http://127.0.0.1:1/cb") },
			change: []string{"spec", "clientName"}, value: "renamed",
			broken: func(ns string) client.Object { return mcpClient(ns + "-nowhere") }, // nowhere to send the code
		}),
		Entry("MCPGrant", kindHealth{
			works: func(ns string) client.Object { return mcpGrant(ns, ns) },
			// A revoked grant is a person's decision, not a failure.
			change: []string{"spec", "revoked"}, value: true,
			broken: func(ns string) client.Object { return mcpGrant(ns + "-none") }, // no workspace to use
		}),
	)
})
