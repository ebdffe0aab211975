// Package rbac runs Herald's reconcilers and authorization server as the
// install runs them: as its service account, with only the RBAC that
// config/default grants, on a real API server that enforces it.
package rbac

import (
	"context"
	"io"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	socialv1alpha1 "github.com/herald-dev/herald/api/v1alpha1"
	"github.com/herald-dev/herald/controllers"
	"github.com/herald-dev/herald/internal/publish/mastodon/mastodontest"
	"github.com/herald-dev/herald/internal/publish/platformtest"
	"github.com/herald-dev/herald/internal/publish/registry"
	"github.com/herald-dev/herald/internal/scheme"
	"github.com/herald-dev/herald/internal/testenv"
	"github.com/herald-dev/herald/mcpserver/oauth"
)

const (
	heraldNS = "herald-system"
	heraldSA = "herald-controller-manager"
)

// installRBAC applies what `kubectl kustomize config/default` renders,
// but the Deployment and the CRDs (envtest installed those).
func installRBAC(t *testing.T, g *WithT, c client.Client) {
	objs, err := testenv.Install()
	g.Expect(err).NotTo(HaveOccurred())
	applied := 0
	for _, u := range objs {
		switch u.GetKind() {
		case "Deployment", "CustomResourceDefinition":
			continue
		}
		g.Expect(c.Create(context.Background(), u)).To(Succeed(), "%s %s", u.GetKind(), u.GetName())
		applied++
	}
	t.Logf("applied %d objects of config/default", applied)
}

// asHerald is cfg acting as Herald's service account.
func asHerald(cfg *rest.Config) *rest.Config {
	c := rest.CopyConfig(cfg)
	c.Impersonate = rest.ImpersonationConfig{
		UserName: "system:serviceaccount:" + heraldNS + ":" + heraldSA,
		Groups:   []string{"system:serviceaccounts", "system:serviceaccounts:" + heraldNS, "system:authenticated"},
	}
	return c
}

func TestHeraldUnderItsOwnRBAC(t *testing.T) {
	g := NewWithT(t)
	ctrl.SetLogger(zap.New(zap.WriteTo(io.Discard)))
	env, cfg, err := testenv.Start()
	g.Expect(err).NotTo(HaveOccurred())
	t.Cleanup(func() { _ = env.Stop() })
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	admin, err := client.New(cfg, client.Options{Scheme: scheme.New()})
	g.Expect(err).NotTo(HaveOccurred())
	installRBAC(t, g, admin)

	herald := asHerald(cfg)
	mgr, err := ctrl.NewManager(herald, ctrl.Options{Scheme: scheme.New(), Metrics: metricsserver.Options{BindAddress: "0"}, Cache: controllers.CacheOptions()})
	g.Expect(err).NotTo(HaveOccurred())
	masto := mastodontest.New(t, "rbac-token")
	g.Expect(controllers.Setup(mgr, controllers.Options{
		MaxConcurrentReconciles: 2,
		Publishers:              registry.Default(platformtest.Client(), nil),
		ReservedNamespaces:      []string{heraldNS},
		SecretsAccess:           controllers.SecretsAccess{ClusterRole: "herald-workspace-secrets", ServiceAccount: heraldSA, Namespace: heraldNS},
	})).To(Succeed())
	// The authorization server keeps its users, keys and sessions in
	// Secrets of Herald's own namespace, by the install's Role there.
	authz, err := oauth.New(oauth.Config{PublicURL: "http://127.0.0.1:1", Namespace: heraldNS}, mgr.GetClient(), mgr.GetAPIReader())
	g.Expect(err).NotTo(HaveOccurred(), "the authorization server starts as Herald's service account")
	g.Expect(mgr.Add(authz)).To(Succeed())
	go func() { _ = mgr.Start(ctx) }()

	By := func(what string) { t.Log(what) }

	By("a workspace's profile is verified: Herald reads its Secret through the RoleBinding the Workspace made")
	g.Expect(admin.Create(ctx, &socialv1alpha1.Workspace{ObjectMeta: metav1.ObjectMeta{Name: "acme"},
		Spec: socialv1alpha1.WorkspaceSpec{DisplayName: "Acme"}})).To(Succeed())
	g.Eventually(func() error {
		return admin.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "acme", Name: "masto"}, StringData: map[string]string{"accessToken": masto.Token}})
	}, 20*time.Second, 100*time.Millisecond).Should(Succeed(), "the workspace's namespace exists")
	g.Expect(admin.Create(ctx, &socialv1alpha1.SocialProfile{ObjectMeta: metav1.ObjectMeta{Namespace: "acme", Name: "masto"},
		Spec: socialv1alpha1.SocialProfileSpec{Platform: "mastodon", Handle: "@herald@fake.example", Endpoint: masto.URL,
			CredentialsSecretRef: &socialv1alpha1.LocalObjectReference{Name: "masto"}}})).To(Succeed())
	g.Eventually(func(g Gomega) {
		p := &socialv1alpha1.SocialProfile{}
		g.Expect(admin.Get(ctx, client.ObjectKey{Namespace: "acme", Name: "masto"}, p)).To(Succeed())
		c := meta.FindStatusCondition(p.Status.Conditions, socialv1alpha1.ConditionReady)
		g.Expect(c).NotTo(BeNil())
		g.Expect(c.Status).To(Equal(metav1.ConditionTrue), c.Message)
	}, 30*time.Second, 100*time.Millisecond).Should(Succeed())
	rb := &rbacv1.RoleBinding{}
	g.Expect(admin.Get(ctx, client.ObjectKey{Namespace: "acme", Name: controllers.WorkspaceSecretsBinding}, rb)).To(Succeed())
	g.Expect(rb.RoleRef.Name).To(Equal("herald-workspace-secrets"))

	By("Herald cannot read Secrets anywhere else, nor list them in a workspace")
	direct, err := client.New(herald, client.Options{Scheme: scheme.New()})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(admin.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "bystander"}})).To(Succeed())
	g.Expect(admin.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "bystander", Name: "db"}, StringData: map[string]string{"password": "x"}})).To(Succeed())
	for _, key := range []client.ObjectKey{{Namespace: "bystander", Name: "db"}, {Namespace: "kube-system", Name: "anything"}, {Namespace: "default", Name: "anything"}} {
		err := direct.Get(ctx, key, &corev1.Secret{})
		g.Expect(apierrors.IsForbidden(err)).To(BeTrue(), "reading Secret %s: %v", key, err)
	}
	g.Expect(apierrors.IsForbidden(direct.List(ctx, &corev1.SecretList{}))).To(BeTrue(), "listing Secrets cluster-wide")
	g.Expect(apierrors.IsForbidden(direct.List(ctx, &corev1.SecretList{}, client.InNamespace("acme")))).To(BeTrue(), "listing a workspace's Secrets")
	g.Expect(direct.Get(ctx, client.ObjectKey{Namespace: "acme", Name: "masto"}, &corev1.Secret{})).To(Succeed())

	By("a Workspace may not take Herald's own namespace")
	g.Expect(admin.Create(ctx, &socialv1alpha1.Workspace{ObjectMeta: metav1.ObjectMeta{Name: "takeover"},
		Spec: socialv1alpha1.WorkspaceSpec{DisplayName: "Takeover", Namespace: heraldNS}})).To(Succeed())
	g.Eventually(func(g Gomega) {
		ws := &socialv1alpha1.Workspace{}
		g.Expect(admin.Get(ctx, client.ObjectKey{Name: "takeover"}, ws)).To(Succeed())
		c := meta.FindStatusCondition(ws.Status.Conditions, socialv1alpha1.ConditionReady)
		g.Expect(c).NotTo(BeNil())
		g.Expect(c.Reason).To(Equal(controllers.ReasonNamespaceNotAllowed))
		g.Expect(c.Message).To(ContainSubstring("is Herald's own"))
	}, 20*time.Second, 100*time.Millisecond).Should(Succeed())
	err = admin.Get(ctx, client.ObjectKey{Namespace: heraldNS, Name: controllers.WorkspaceSecretsBinding}, &rbacv1.RoleBinding{})
	g.Expect(apierrors.IsNotFound(err)).To(BeTrue(), "no RoleBinding in Herald's namespace: %v", err)

	By("a deleted Workspace that adopted a namespace takes its RoleBinding away")
	g.Expect(admin.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "adopted"}})).To(Succeed())
	g.Expect(admin.Create(ctx, &socialv1alpha1.Workspace{ObjectMeta: metav1.ObjectMeta{Name: "adopter"},
		Spec: socialv1alpha1.WorkspaceSpec{DisplayName: "Adopter", Namespace: "adopted"}})).To(Succeed())
	g.Eventually(func() error {
		return admin.Get(ctx, client.ObjectKey{Namespace: "adopted", Name: controllers.WorkspaceSecretsBinding}, &rbacv1.RoleBinding{})
	}, 20*time.Second, 100*time.Millisecond).Should(Succeed())
	g.Expect(admin.Delete(ctx, &socialv1alpha1.Workspace{ObjectMeta: metav1.ObjectMeta{Name: "adopter"}})).To(Succeed())
	g.Eventually(func() bool {
		err := admin.Get(ctx, client.ObjectKey{Namespace: "adopted", Name: controllers.WorkspaceSecretsBinding}, &rbacv1.RoleBinding{})
		return apierrors.IsNotFound(err)
	}, 20*time.Second, 100*time.Millisecond).Should(BeTrue())
	g.Expect(admin.Get(ctx, client.ObjectKey{Name: "adopted"}, &corev1.Namespace{})).To(Succeed(), "a namespace Herald did not create stays")
}
