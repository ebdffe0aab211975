package oauth_test

import (
	"bytes"
	"context"
	"strings"
	"sync"
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"go.uber.org/zap/zapcore"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/herald-dev/herald/api/v1alpha1"
	"github.com/herald-dev/herald/internal/scheme"
	"github.com/herald-dev/herald/internal/testenv"
	"github.com/herald-dev/herald/mcpserver/oauth"
)

const (
	namespace    = "herald-system"
	devPassword  = "correct horse battery staple"
	viewPassword = "viewer-password-1"
)

var (
	env       *envtest.Environment
	cfg       *rest.Config
	k8sClient client.Client
	mgr       manager.Manager
	ctx       context.Context
	cancel    context.CancelFunc
	logs      = &syncBuffer{}
	// secretsSeen collects every token, code, password and client secret the
	// tests handle; the last spec checks that none of them reached the logs.
	secretsSeen = &secretSet{}
)

func TestOAuth(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "OAuth Suite")
}

var _ = BeforeSuite(func() {
	logf.SetLogger(zap.New(zap.WriteTo(ioMulti{GinkgoWriter, logs}), zap.UseDevMode(true), zap.Level(zapcore.DebugLevel)))
	ctx, cancel = context.WithCancel(context.Background())

	var err error
	env, cfg, err = testenv.Start()
	Expect(err).NotTo(HaveOccurred())
	k8sClient, err = client.New(cfg, client.Options{Scheme: scheme.New()})
	Expect(err).NotTo(HaveOccurred())
	mgr, err = ctrl.NewManager(cfg, ctrl.Options{Scheme: scheme.New(), Metrics: metricsserver.Options{BindAddress: "0"}})
	Expect(err).NotTo(HaveOccurred())
	go func() {
		defer GinkgoRecover()
		Expect(mgr.Start(ctx)).To(Succeed())
	}()
	Expect(mgr.GetCache().WaitForCacheSync(ctx)).To(BeTrue())

	Expect(k8sClient.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: namespace}})).To(Succeed())
	Expect(oauth.EnsureLocalUser(ctx, k8sClient, namespace, "dev", "first-password")).To(Succeed())
	Expect(oauth.EnsureLocalUser(ctx, k8sClient, namespace, "viewer", viewPassword)).To(Succeed())
	Expect(oauth.EnsureLocalUser(ctx, k8sClient, namespace, "dev", devPassword)).To(Succeed()) // replaces the first line
	secretsSeen.add(devPassword, viewPassword, "first-password")

	for _, ws := range []v1alpha1.Workspace{
		{ObjectMeta: metav1.ObjectMeta{Name: "demo"}, Spec: v1alpha1.WorkspaceSpec{DisplayName: "Demo", Members: []v1alpha1.WorkspaceMember{{Subject: "dev", Role: v1alpha1.RoleOwner}}}},
		{ObjectMeta: metav1.ObjectMeta{Name: "team"}, Spec: v1alpha1.WorkspaceSpec{DisplayName: "Team", Members: []v1alpha1.WorkspaceMember{{Subject: "dev", Role: v1alpha1.RoleEditor}, {Subject: "viewer", Role: v1alpha1.RoleViewer}}}},
		{ObjectMeta: metav1.ObjectMeta{Name: "secret-ws"}, Spec: v1alpha1.WorkspaceSpec{DisplayName: "Not yours", Members: []v1alpha1.WorkspaceMember{{Subject: "someone-else", Role: v1alpha1.RoleOwner}}}},
	} {
		Expect(k8sClient.Create(ctx, &ws)).To(Succeed())
	}
})

var _ = AfterSuite(func() {
	By("checking that no token, code, password or client secret reached the logs")
	captured := logs.String()
	Expect(captured).To(ContainSubstring("token issued"), "the log capture must be working")
	seen := secretsSeen.all()
	Expect(len(seen)).To(BeNumerically(">", 20))
	for _, s := range seen {
		Expect(strings.Contains(captured, s)).To(BeFalse(), "a secret of %d characters appears in the logs", len(s))
	}
	if cancel != nil {
		cancel()
	}
	if env != nil {
		Expect(env.Stop()).To(Succeed())
	}
})

type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

type ioMulti struct {
	a, b interface{ Write([]byte) (int, error) }
}

func (m ioMulti) Write(p []byte) (int, error) {
	_, _ = m.a.Write(p)
	return m.b.Write(p)
}

type secretSet struct {
	mu sync.Mutex
	v  []string
}

func (s *secretSet) add(vs ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, v := range vs {
		if v != "" {
			s.v = append(s.v, v)
		}
	}
}

func (s *secretSet) all() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.v...)
}
