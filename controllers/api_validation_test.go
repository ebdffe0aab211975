package controllers

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	socialv1alpha1 "github.com/herald-dev/herald/api/v1alpha1"
	"github.com/herald-dev/herald/internal/testenv"
)

// decodeAll reads every object of a multi-document YAML stream.
func decodeAll(data []byte) []*unstructured.Unstructured {
	var objs []*unstructured.Unstructured
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	for {
		u := &unstructured.Unstructured{}
		err := dec.Decode(&u.Object)
		if err == io.EOF {
			return objs
		}
		Expect(err).NotTo(HaveOccurred())
		if len(u.Object) > 0 {
			objs = append(objs, u)
		}
	}
}

func fromYAML(doc string) *unstructured.Unstructured {
	u := &unstructured.Unstructured{}
	Expect(yaml.Unmarshal([]byte(doc), &u.Object)).To(Succeed())
	return u
}

func ensureNamespace(name string) {
	err := k8sClient.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}})
	if !apierrors.IsAlreadyExists(err) {
		Expect(err).NotTo(HaveOccurred())
	}
}

var _ = Describe("The API server's validation of Herald's kinds", func() {
	It("accepts every sample in config/samples", func() {
		ensureNamespace("demo")
		files, err := filepath.Glob("../config/samples/*.yaml")
		Expect(err).NotTo(HaveOccurred())
		Expect(files).To(HaveLen(9), "one sample per kind")

		kinds := map[string]bool{}
		for _, f := range files {
			data, err := os.ReadFile(f)
			Expect(err).NotTo(HaveOccurred())
			for _, obj := range decodeAll(data) {
				Expect(k8sClient.Create(ctx, obj)).To(Succeed(), "%s: %s %s", f, obj.GetKind(), obj.GetName())
				kinds[obj.GetKind()] = true
			}
		}
		for _, kind := range []string{"Workspace", "SocialProfile", "BrandKit", "ScheduledPost", "RecurringPost", "Workflow", "WorkflowRun", "MCPClient", "MCPGrant"} {
			Expect(kinds).To(HaveKey(kind))
		}
	})

	It("accepts the GitOps example in config/samples/gitops, as kustomize renders it", func() {
		out, err := testenv.Kustomize("config/samples/gitops")
		Expect(err).NotTo(HaveOccurred())
		objs, err := testenv.Objects(out)
		Expect(err).NotTo(HaveOccurred())
		ensureNamespace("acme")
		herald := 0
		for _, obj := range objs {
			if obj.GroupVersionKind().Group != socialv1alpha1.GroupVersion.Group {
				continue // the ExternalSecret's CRD is not installed here
			}
			// A server-side apply, dry run: validated and defaulted as a
			// GitOps tool's apply would be, stored nowhere.
			Expect(k8sClient.Patch(ctx, obj, client.Apply, client.DryRunAll, client.FieldOwner("gitops-example"), client.ForceOwnership)).
				To(Succeed(), "%s %s", obj.GetKind(), obj.GetName())
			herald++
		}
		Expect(herald).To(Equal(6))
	})

	It("accepts the ResourceQuota of docs/security.md, which counts every namespaced kind", func() {
		doc, err := os.ReadFile("../docs/security.md")
		Expect(err).NotTo(HaveOccurred())
		start := bytes.Index(doc, []byte("```yaml\napiVersion: v1\nkind: ResourceQuota"))
		Expect(start).To(BeNumerically(">=", 0), "the ResourceQuota example")
		block := doc[start+len("```yaml\n"):]
		quota := fromYAML(string(block[:bytes.Index(block, []byte("```"))]))

		crds, err := filepath.Glob("../config/crd/bases/*.yaml")
		Expect(err).NotTo(HaveOccurred())
		hard, _, _ := unstructured.NestedStringMap(quota.Object, "spec", "hard")
		namespaced := 0
		for _, f := range crds {
			data, err := os.ReadFile(f)
			Expect(err).NotTo(HaveOccurred())
			crd := fromYAML(string(data))
			if scope, _, _ := unstructured.NestedString(crd.Object, "spec", "scope"); scope != "Namespaced" {
				continue
			}
			namespaced++
			Expect(hard).To(HaveKey("count/"+crd.GetName()), "the example bounds %s", crd.GetName())
		}
		Expect(namespaced).To(Equal(6))

		ensureNamespace(quota.GetNamespace())
		Expect(k8sClient.Create(ctx, quota, client.DryRunAll)).To(Succeed())
	})

	DescribeTable("refuses an invalid object, naming the field",
		func(doc string, wantInError ...string) {
			ensureNamespace("demo")
			err := k8sClient.Create(ctx, fromYAML(doc))
			Expect(apierrors.IsInvalid(err)).To(BeTrue(), "expected Invalid, got %v", err)
			for _, want := range wantInError {
				Expect(err.Error()).To(ContainSubstring(want))
			}
		},
		Entry("Workspace with a namespace that is not a DNS label", `
apiVersion: social.herald.dev/v1alpha1
kind: Workspace
metadata: {name: bad-namespace}
spec: {displayName: Bad, namespace: Not_A_Label}`, "spec.namespace"),
		Entry("Workspace with a member role that does not exist", `
apiVersion: social.herald.dev/v1alpha1
kind: Workspace
metadata: {name: bad-role}
spec: {displayName: Bad, members: [{subject: dev, role: admin}]}`, "spec.members[0].role", `"owner", "editor", "approver", "viewer"`),
		Entry("SocialProfile on an unknown platform", `
apiVersion: social.herald.dev/v1alpha1
kind: SocialProfile
metadata: {name: bad-platform, namespace: demo}
spec: {platform: myspace, handle: tom}`, "spec.platform", "mastodon"),
		Entry("SocialProfile for mastodon without an endpoint", `
apiVersion: social.herald.dev/v1alpha1
kind: SocialProfile
metadata: {name: no-endpoint, namespace: demo}
spec: {platform: mastodon, handle: "@a@b.c", credentialsSecretRef: {name: s}}`, "spec", "endpoint is required"),
		Entry("SocialProfile without credentials", `
apiVersion: social.herald.dev/v1alpha1
kind: SocialProfile
metadata: {name: no-credentials, namespace: demo}
spec: {platform: x, handle: acme}`, "credentialsSecretRef is required"),
		Entry("BrandKit with a colour that is not #RRGGBB", `
apiVersion: social.herald.dev/v1alpha1
kind: BrandKit
metadata: {name: bad-colour, namespace: demo}
spec: {displayName: Bad, colors: [{name: primary, hex: red}]}`, "spec.colors[0].hex"),
		Entry("RecurringPost with both count and until", `
apiVersion: social.herald.dev/v1alpha1
kind: RecurringPost
metadata: {name: count-and-until, namespace: demo}
spec: {recurrence: {frequency: Daily, start: "2030-01-01T09:00:00Z", count: 3, until: "2030-02-01T00:00:00Z"}, post: {text: hi, profiles: [sandbox]}}`,
			"spec.recurrence", "give count or until, not both"),
		Entry("RecurringPost with a time of day that is not HH:MM", `
apiVersion: social.herald.dev/v1alpha1
kind: RecurringPost
metadata: {name: bad-time, namespace: demo}
spec: {recurrence: {frequency: Daily, start: "2030-01-01T09:00:00Z", times: ["9am"]}, post: {text: hi, profiles: [sandbox]}}`,
			"spec.recurrence.times[0]", "should match"),
		Entry("RecurringPost on day 0 of the month", `
apiVersion: social.herald.dev/v1alpha1
kind: RecurringPost
metadata: {name: day-zero, namespace: demo}
spec: {recurrence: {frequency: Monthly, start: "2030-01-01T09:00:00Z", byMonthDay: [0]}, post: {text: hi, profiles: [sandbox]}}`,
			"spec.recurrence.byMonthDay", "1 to 31, or -1 (the last day) to -31"),
		Entry("RecurringPost with a start without offset", `
apiVersion: social.herald.dev/v1alpha1
kind: RecurringPost
metadata: {name: no-offset, namespace: demo}
spec: {recurrence: {frequency: Weekly, start: "2030-01-01T09:00:00"}, post: {text: hi, profiles: [sandbox]}}`,
			"spec.recurrence.start", "time-zone offset"),
		Entry("RecurringPost with neither post nor evergreen", `
apiVersion: social.herald.dev/v1alpha1
kind: RecurringPost
metadata: {name: nothing, namespace: demo}
spec: {recurrence: {frequency: Weekly, start: "2030-01-01T09:00:00Z"}}`,
			"give post (one post that repeats) or evergreen"),
		Entry("RecurringPost whose name is too long for its occurrences' label", `
apiVersion: social.herald.dev/v1alpha1
kind: RecurringPost
metadata: {name: a-recurring-post-name-that-is-far-too-long-to-fit-in-a-label-value, namespace: demo}
spec: {recurrence: {frequency: Weekly, start: "2030-01-01T09:00:00Z"}, post: {text: hi, profiles: [sandbox]}}`,
			"at most 63 characters"),
		Entry("ScheduledPost whose scheduledAt has no offset", `
apiVersion: social.herald.dev/v1alpha1
kind: ScheduledPost
metadata: {name: no-offset, namespace: demo}
spec: {text: hi, profiles: [sandbox], scheduledAt: "2026-07-01T09:00:00"}`, "spec.scheduledAt", "time-zone offset", "2026-07-01T09:00:00Z"),
		Entry("ScheduledPost that is not a draft and has no scheduledAt", `
apiVersion: social.herald.dev/v1alpha1
kind: ScheduledPost
metadata: {name: no-time, namespace: demo}
spec: {text: hi, profiles: [sandbox]}`, "scheduledAt is required"),
		Entry("ScheduledPost with a variant for a profile it does not target", `
apiVersion: social.herald.dev/v1alpha1
kind: ScheduledPost
metadata: {name: foreign-variant, namespace: demo}
spec: {text: hi, draft: true, profiles: [sandbox], variants: [{profile: other, text: x}]}`, "variant's profile"),
		Entry("Workspace that would use kube-system", `
apiVersion: social.herald.dev/v1alpha1
kind: Workspace
metadata: {name: takeover}
spec: {displayName: Takeover, namespace: kube-system}`, "cannot use a kube- namespace"),
		Entry("Workspace named after a kube- namespace", `
apiVersion: social.herald.dev/v1alpha1
kind: Workspace
metadata: {name: kube-public}
spec: {displayName: Public}`, "cannot use a kube- namespace"),
		Entry("SocialProfile checked more often than every minute", `
apiVersion: social.herald.dev/v1alpha1
kind: SocialProfile
metadata: {name: hot-loop, namespace: demo}
spec: {platform: sandbox, handle: "@x", verifyInterval: 1ns}`, "verifyInterval must be at least 1m"),
		Entry("Workflow whose startingDeadline is too short to start anything", `
apiVersion: social.herald.dev/v1alpha1
kind: Workflow
metadata: {name: hasty, namespace: demo}
spec: {trigger: {type: schedule, schedule: "0 9 * * *", startingDeadline: 1s}, posts: [{text: hi, profiles: [sandbox]}]}`, "startingDeadline must be at least 10s"),
		Entry("manual Workflow with a startingDeadline", `
apiVersion: social.herald.dev/v1alpha1
kind: Workflow
metadata: {name: manual-deadline, namespace: demo}
spec: {trigger: {type: manual, startingDeadline: 1h}, posts: [{text: hi, profiles: [sandbox]}]}`, "startingDeadline is only used by a schedule trigger"),
		Entry("Workflow with an unknown concurrencyPolicy", `
apiVersion: social.herald.dev/v1alpha1
kind: Workflow
metadata: {name: whatever, namespace: demo}
spec: {trigger: {type: schedule, schedule: "0 9 * * *", concurrencyPolicy: Sometimes}, posts: [{text: hi, profiles: [sandbox]}]}`, "Allow"),
		Entry("ScheduledPost with two variants for one profile", `
apiVersion: social.herald.dev/v1alpha1
kind: ScheduledPost
metadata: {name: twice-profile, namespace: demo}
spec: {text: hi, draft: true, profiles: [sandbox], variants: [{profile: sandbox, text: a}, {profile: sandbox, text: b}]}`, "spec.variants", "variants name each profile and each platform at most once"),
		Entry("ScheduledPost with two variants for one platform", `
apiVersion: social.herald.dev/v1alpha1
kind: ScheduledPost
metadata: {name: twice-platform, namespace: demo}
spec: {text: hi, draft: true, variants: [{platform: x, text: a}, {platform: mastodon, text: b}, {platform: x, text: c}]}`, "at most once"),
		Entry("ScheduledPost whose text and variants pass 100,000 characters", fmt.Sprintf(`
apiVersion: social.herald.dev/v1alpha1
kind: ScheduledPost
metadata: {name: too-long, namespace: demo}
spec: {text: %[1]s, draft: true, variants: [{platform: x, text: %[1]s}, {platform: mastodon, text: %[1]s}]}`, strings.Repeat("a", 40000)),
			"text and variants together may hold at most 100,000 characters"),
		Entry("RecurringPost with two variants for one profile", `
apiVersion: social.herald.dev/v1alpha1
kind: RecurringPost
metadata: {name: twice-profile, namespace: demo}
spec: {recurrence: {frequency: Daily, start: "2030-01-01T09:00:00Z"}, post: {text: hi, profiles: [sandbox], variants: [{profile: sandbox, text: a}, {profile: sandbox, text: b}]}}`,
			"spec.post.variants", "variants name each profile and each platform at most once"),
		Entry("RecurringPost with an evergreen post with two variants for one platform", `
apiVersion: social.herald.dev/v1alpha1
kind: RecurringPost
metadata: {name: twice-platform, namespace: demo}
spec: {recurrence: {frequency: Daily, start: "2030-01-01T09:00:00Z"}, evergreen: {posts: [{text: a, profiles: [sandbox]}, {text: b, profiles: [sandbox], variants: [{platform: x, text: a}, {platform: x, text: b}]}]}}`,
			"spec.evergreen.posts[1].variants", "variants name each profile and each platform at most once"),
		Entry("RecurringPost whose text and variants pass 100,000 characters", fmt.Sprintf(`
apiVersion: social.herald.dev/v1alpha1
kind: RecurringPost
metadata: {name: too-long, namespace: demo}
spec: {recurrence: {frequency: Daily, start: "2030-01-01T09:00:00Z"}, post: {text: %[1]s, profiles: [sandbox], variants: [{platform: x, text: %[1]s}, {platform: mastodon, text: %[1]s}]}}`, strings.Repeat("a", 40000)),
			"spec.post", "text and variants together may hold at most 100,000 characters"),
		Entry("RecurringPost with an evergreen post whose text and variants pass 100,000 characters", fmt.Sprintf(`
apiVersion: social.herald.dev/v1alpha1
kind: RecurringPost
metadata: {name: too-long-evergreen, namespace: demo}
spec: {recurrence: {frequency: Daily, start: "2030-01-01T09:00:00Z"}, evergreen: {posts: [{text: a, profiles: [sandbox]}, {text: %[1]s, profiles: [sandbox], variants: [{platform: x, text: %[1]s}, {platform: mastodon, text: %[1]s}]}]}}`, strings.Repeat("a", 40000)),
			"spec.evergreen.posts[1]", "text and variants together may hold at most 100,000 characters"),
		Entry("Workflow with a post template with two variants for one profile", `
apiVersion: social.herald.dev/v1alpha1
kind: Workflow
metadata: {name: twice-profile, namespace: demo}
spec: {trigger: {type: manual}, posts: [{text: hi, profiles: [sandbox], variants: [{profile: sandbox, text: a}, {platform: x, text: b}, {profile: sandbox, text: c}]}]}`,
			"spec.posts[0].variants", "variants name each profile and each platform at most once"),
		Entry("Workflow with a post template with two variants for one platform", `
apiVersion: social.herald.dev/v1alpha1
kind: Workflow
metadata: {name: twice-platform, namespace: demo}
spec: {trigger: {type: manual}, posts: [{text: hi, profiles: [sandbox]}, {text: hi, profiles: [sandbox], variants: [{platform: x, text: a}, {platform: x, text: b}]}]}`,
			"spec.posts[1].variants", "variants name each profile and each platform at most once"),
		Entry("Workflow whose post template's text and variants pass 100,000 characters", fmt.Sprintf(`
apiVersion: social.herald.dev/v1alpha1
kind: Workflow
metadata: {name: too-long, namespace: demo}
spec: {trigger: {type: manual}, posts: [{text: %[1]s, profiles: [sandbox], variants: [{platform: x, text: %[1]s}, {platform: mastodon, text: %[1]s}]}]}`, strings.Repeat("a", 40000)),
			"spec.posts[0]", "text and variants together may hold at most 100,000 characters"),
		Entry("Workflow with a schedule trigger and no schedule", `
apiVersion: social.herald.dev/v1alpha1
kind: Workflow
metadata: {name: no-schedule, namespace: demo}
spec: {trigger: {type: schedule}, posts: [{text: hi, profiles: [sandbox]}]}`, "spec.trigger", "needs schedule"),
		Entry("WorkflowRun without a workflowRef", `
apiVersion: social.herald.dev/v1alpha1
kind: WorkflowRun
metadata: {name: no-ref, namespace: demo}
spec: {inputs: {a: b}}`, "spec.workflowRef"),
		Entry("MCPClient without redirect URIs", `
apiVersion: social.herald.dev/v1alpha1
kind: MCPClient
metadata: {name: no-redirects}
spec: {clientName: x, redirectURIs: []}`, "spec.redirectURIs"),
		Entry("MCPGrant with a scope Herald does not have", `
apiVersion: social.herald.dev/v1alpha1
kind: MCPGrant
metadata: {name: bad-scope}
spec: {clientID: c, subject: dev, workspaces: [demo], scopes: [admin]}`, "spec.scopes[0]", "posts:read"),
	)

	It("refuses to change immutable fields", func() {
		ws := fromYAML(`
apiVersion: social.herald.dev/v1alpha1
kind: Workspace
metadata: {name: immutable-ns}
spec: {displayName: Immutable, namespace: immutable-a}`)
		Expect(k8sClient.Create(ctx, ws)).To(Succeed())
		patch := client.MergeFrom(ws.DeepCopy())
		Expect(unstructured.SetNestedField(ws.Object, "immutable-b", "spec", "namespace")).To(Succeed())
		err := k8sClient.Patch(ctx, ws, patch)
		Expect(apierrors.IsInvalid(err)).To(BeTrue(), "got %v", err)
		Expect(err.Error()).To(ContainSubstring("namespace cannot be changed"))

		grant := fromYAML(`
apiVersion: social.herald.dev/v1alpha1
kind: MCPGrant
metadata: {name: revoked-grant}
spec: {clientID: c, subject: dev, workspaces: [demo], scopes: ["posts:read"], revoked: true}`)
		Expect(k8sClient.Create(ctx, grant)).To(Succeed())
		patch = client.MergeFrom(grant.DeepCopy())
		Expect(unstructured.SetNestedField(grant.Object, false, "spec", "revoked")).To(Succeed())
		err = k8sClient.Patch(ctx, grant, patch)
		Expect(apierrors.IsInvalid(err)).To(BeTrue(), "got %v", err)
		Expect(err.Error()).To(ContainSubstring("cannot be restored"))
	})

	It("lets a grant created without revoked be edited, and then revoked", func() {
		grant := fromYAML(`
apiVersion: social.herald.dev/v1alpha1
kind: MCPGrant
metadata: {name: editable-grant}
spec: {clientID: c, subject: dev, workspaces: [demo], scopes: ["posts:read"]}`)
		Expect(k8sClient.Create(ctx, grant)).To(Succeed())
		patch := client.MergeFrom(grant.DeepCopy())
		Expect(unstructured.SetNestedStringSlice(grant.Object, []string{"demo", "team"}, "spec", "workspaces")).To(Succeed())
		Expect(k8sClient.Patch(ctx, grant, patch)).To(Succeed())
		patch = client.MergeFrom(grant.DeepCopy())
		Expect(unstructured.SetNestedField(grant.Object, true, "spec", "revoked")).To(Succeed())
		Expect(k8sClient.Patch(ctx, grant, patch)).To(Succeed())
	})

	It("fills documented defaults", func() {
		post := fromYAML(`
apiVersion: social.herald.dev/v1alpha1
kind: ScheduledPost
metadata: {name: defaults, namespace: demo}
spec: {text: hi, draft: true}`)
		Expect(k8sClient.Create(ctx, post)).To(Succeed())
		Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(post), post)).To(Succeed())
		Expect(post.Object["spec"]).To(HaveKeyWithValue("maxLateness", "15m"))
		Expect(post.Object["spec"]).To(HaveKeyWithValue("deletionPolicy", "Keep"))
	})
})
