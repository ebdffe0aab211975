package controllers

import (
	"context"
	"net/http"
	"net/netip"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/selection"
	"k8s.io/client-go/rest"
	clocktesting "k8s.io/utils/clock/testing"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	socialv1alpha1 "github.com/herald-dev/herald/api/v1alpha1"
	"github.com/herald-dev/herald/internal/connect"
	"github.com/herald-dev/herald/internal/egress"
	"github.com/herald-dev/herald/internal/publish"
	"github.com/herald-dev/herald/internal/publish/facebook"
	"github.com/herald-dev/herald/internal/publish/instagram"
	"github.com/herald-dev/herald/internal/publish/meta"
	"github.com/herald-dev/herald/internal/publish/meta/metatest"
	"github.com/herald-dev/herald/internal/publish/pinterest"
	"github.com/herald-dev/herald/internal/publish/pinterest/pinteresttest"
	"github.com/herald-dev/herald/internal/publish/platformtest"
	"github.com/herald-dev/herald/internal/publish/registry"
	"github.com/herald-dev/herald/internal/publish/sandbox"
	"github.com/herald-dev/herald/internal/publish/threads"
	"github.com/herald-dev/herald/internal/publish/tiktok"
	"github.com/herald-dev/herald/internal/publish/tiktok/tiktoktest"
	"github.com/herald-dev/herald/internal/publish/x"
	"github.com/herald-dev/herald/internal/publish/x/xtest"
	"github.com/herald-dev/herald/internal/publish/youtube"
	"github.com/herald-dev/herald/internal/publish/youtube/youtubetest"
	"github.com/herald-dev/herald/internal/scheme"
	"github.com/herald-dev/herald/internal/testenv"
)

// The suite runs the reconcilers against a real kube-apiserver and etcd.
var (
	env       *envtest.Environment
	cfg       *rest.Config
	k8sClient client.Client
	// watchClient is k8sClient's counterpart that interceptors wrap.
	watchClient client.WithWatch
	ctx         context.Context
	cancel      context.CancelFunc

	// fakeClock is the reconcilers' clock: tests step it to make posts due.
	fakeClock = clocktesting.NewFakeClock(time.Date(2026, 7, 1, 8, 0, 0, 0, time.UTC))
	// sandboxFeed records what the suite's sandbox publisher published.
	sandboxFeed = &sandbox.Feed{BaseURL: "http://127.0.0.1:8080"}
	// testRetry keeps retry waits short enough to step through.
	testRetry = RetryPolicy{MaxAttempts: 3, Backoff: time.Second, MaxBackoff: 10 * time.Second}
)

// LabelTestManager marks posts, workflows and runs that belong to a test's
// own manager or reconciler (the crash and schedule tests); the suite's
// manager does not see them.
const LabelTestManager = "test.herald.dev/manager"

func TestControllers(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "Controllers Suite")
}

// testPublishers returns every adapter, sending only to loopback (samples
// name real instances, such as mastodon.social, which a test must never
// reach); X's goes to fakeX.
func testPublishers() publish.Registry {
	c := &http.Client{Timeout: 2 * time.Second, Transport: platformtest.Loopback{}}
	r := registry.Default(c, sandboxFeed)
	if fakeX != nil {
		r[publish.Platform("x")] = &x.Publisher{Client: c, BaseURL: fakeX.URL}
	}
	if fakeMeta != nil {
		host := meta.Host{BaseURL: fakeMeta.URL}
		r[publish.Platform("facebook")] = &facebook.Publisher{Client: c, Host: host}
		r[publish.Platform("instagram")] = &instagram.Publisher{Client: c, Host: host, Poll: 10 * time.Millisecond}
		r[publish.Platform("threads")] = &threads.Publisher{Client: c, Host: meta.Host{BaseURL: fakeMeta.URL, Version: meta.ThreadsVersion}, Poll: 10 * time.Millisecond}
	}
	if fakePinterest != nil {
		r[publish.Platform("pinterest")] = &pinterest.Publisher{Client: c, BaseURL: fakePinterest.URL}
		r[publish.Platform("tiktok")] = &tiktok.Publisher{Client: c, BaseURL: fakeTikTok.URL, Poll: 10 * time.Millisecond}
		r[publish.Platform("youtube")] = &youtube.Publisher{Client: c, BaseURL: fakeYouTube.URL}
	}
	return r
}

// The suite's Pinterest (one board), TikTok and YouTube (which also serves
// the videos it is sent).
var (
	fakePinterest *pinteresttest.Fake
	fakeTikTok    *tiktoktest.Fake
	fakeYouTube   *youtubetest.Fake
)

// fakeMeta is the suite's Graph API and Threads API: Facebook, Instagram
// and Threads profiles all publish there, so tests tell their posts apart
// by text.
var fakeMeta *metatest.Fake

// fakeX is X's OAuth server and account endpoint for the suite, and
// testRefresher renews X tokens there with the operator's app, kept in
// Secret appsSecret in namespace appsNamespace.
var (
	fakeX         *xtest.Fake
	testRefresher *connect.Refresher
)

const appsNamespace, appsSecret = "herald-apps", "platform-apps"

func startFakeX() {
	fakeX = xtest.New(GinkgoTB(), "x-app-client", "x-app-secret")
	Expect(k8sClient.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: appsNamespace}})).To(Succeed())
	createSecret(appsNamespace, appsSecret, map[string]string{"x.clientID": fakeX.ClientID, "x.clientSecret": fakeX.ClientSecret})
	provider := connect.X
	provider.AuthorizeURL, provider.TokenURL = fakeX.URL+"/i/oauth2/authorize", fakeX.URL+"/2/oauth2/token"
	testRefresher = &connect.Refresher{HTTP: &http.Client{Timeout: 2 * time.Second, Transport: platformtest.Loopback{}},
		Apps:      connect.Apps{Reader: k8sClient, Namespace: appsNamespace, Secret: appsSecret},
		Providers: map[socialv1alpha1.Platform]connect.Provider{"x": provider}}
}

// newTestManager builds a manager like main.go's. selector limits which
// ScheduledPosts it reconciles, so several managers can share the API
// server; restCfg, when given, is the connection it uses.
// testFeedClient reaches the fake feeds on 127.0.0.1, as an operator
// allows a network with --egress-allow, and no other internal address.
var testFeedClient = egress.Policy{Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}}.Client(10 * time.Second)

func newTestManager(selector labels.Selector, publishers publish.Registry, restCfg ...*rest.Config) ctrl.Manager {
	cacheOpts := CacheOptions()
	cacheOpts.ByObject = map[client.Object]cache.ByObject{&socialv1alpha1.ScheduledPost{}: {Label: selector},
		&socialv1alpha1.Workflow{}: {Label: selector}, &socialv1alpha1.WorkflowRun{}: {Label: selector},
		&socialv1alpha1.RecurringPost{}: {Label: selector}}
	conn := cfg
	if len(restCfg) > 0 {
		conn = restCfg[0]
	}
	mgr, err := ctrl.NewManager(conn, ctrl.Options{
		Scheme:     scheme.New(),
		Metrics:    metricsserver.Options{BindAddress: "0"},
		Cache:      cacheOpts,
		Controller: config.Controller{SkipNameValidation: ptr.To(true)}, // one process, several managers
	})
	Expect(err).NotTo(HaveOccurred())
	Expect(Setup(mgr, Options{MaxConcurrentReconciles: 2, PostWorkers: 4, Clock: fakeClock, Publishers: publishers, Retry: testRetry,
		FeedClient: testFeedClient, Refresher: testRefresher})).To(Succeed())
	return mgr
}

var _ = BeforeSuite(func() {
	logf.SetLogger(zap.New(zap.WriteTo(GinkgoWriter), zap.UseDevMode(true)))
	ctx, cancel = context.WithCancel(context.Background())

	var err error
	env, cfg, err = testenv.Start()
	Expect(err).NotTo(HaveOccurred())

	k8sClient, err = client.New(cfg, client.Options{Scheme: scheme.New()})
	Expect(err).NotTo(HaveOccurred())
	watchClient, err = client.NewWithWatch(cfg, client.Options{Scheme: scheme.New()})
	Expect(err).NotTo(HaveOccurred())

	startFakeX()
	fakeMeta = metatest.New(GinkgoTB())
	fakePinterest = pinteresttest.New(GinkgoTB())
	fakeTikTok, fakeYouTube = tiktoktest.New(GinkgoTB()), youtubetest.New(GinkgoTB())
	notIsolated, err := labels.NewRequirement(LabelTestManager, selection.DoesNotExist, nil)
	Expect(err).NotTo(HaveOccurred())
	mgr := newTestManager(labels.NewSelector().Add(*notIsolated), testPublishers())
	go func() {
		defer GinkgoRecover()
		Expect(mgr.Start(ctx)).To(Succeed())
	}()
})

var _ = AfterSuite(func() {
	cancel()
	if env != nil {
		Expect(env.Stop()).To(Succeed())
	}
})
