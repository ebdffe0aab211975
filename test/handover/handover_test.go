// Package handover tests two Herald replicas with leader election against
// one API server while the leader stops, gracefully or hard, in the middle
// of publishing a post every 100 ms to an idempotent platform (Mastodon)
// and one without idempotency (Discord).
package handover

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	socialv1alpha1 "github.com/herald-dev/herald/api/v1alpha1"
	"github.com/herald-dev/herald/controllers"
	"github.com/herald-dev/herald/internal/leader"
	"github.com/herald-dev/herald/internal/ledger"
	"github.com/herald-dev/herald/internal/publish/discord/discordtest"
	"github.com/herald-dev/herald/internal/publish/mastodon/mastodontest"
	"github.com/herald-dev/herald/internal/publish/platformtest"
	"github.com/herald-dev/herald/internal/publish/registry"
	"github.com/herald-dev/herald/internal/scheme"
	"github.com/herald-dev/herald/internal/shard"
	"github.com/herald-dev/herald/internal/signin"
	"github.com/herald-dev/herald/internal/testenv"
	"github.com/herald-dev/herald/mcpserver"
	"github.com/herald-dev/herald/mcpserver/oauth"
)

const (
	heraldNS = "herald-system"
	user     = "handover"
	password = "handover-password"
	posts    = 30
)

var (
	cfg       *rest.Config
	k8sClient client.Client
	ctx       context.Context
	cancel    context.CancelFunc
	front     *frontDoor
)

// Short leases and claims, so a takeover after a hard stop takes seconds.
var (
	leaseDuration = 2 * time.Second
	renewDeadline = 1500 * time.Millisecond
	retryPeriod   = 250 * time.Millisecond
	timing        = controllers.Timing{CallTimeout: 2 * time.Second, WriteTimeout: time.Second, ClaimTTL: 4 * time.Second}
)

func TestHandover(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "Leader Handover Suite")
}

var _ = BeforeSuite(func() {
	logf.SetLogger(zap.New(zap.WriteTo(GinkgoWriter), zap.UseDevMode(true)))
	ctx, cancel = context.WithCancel(context.Background())
	env, c, err := testenv.Start()
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(func() { cancel(); Expect(env.Stop()).To(Succeed()) })
	cfg = c
	k8sClient, err = client.New(cfg, client.Options{Scheme: scheme.New()})
	Expect(err).NotTo(HaveOccurred())
	Expect(k8sClient.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: heraldNS}})).To(Succeed())
	Expect(oauth.EnsureLocalUser(ctx, k8sClient, heraldNS, user, password)).To(Succeed())
	front = newFrontDoor()
	DeferCleanup(front.Close)
})

// replica is one Herald process: its manager (leader election, the
// reconcilers, OAuth and MCP on a port of its own behind the front door),
// and a Process whose connections a hard stop cuts.
type replica struct {
	name   string
	proc   *testenv.Process
	lock   *leader.Lock
	stop   context.CancelFunc
	done   chan struct{}
	listen net.Listener
}

// startReplica starts a replica; withLedger claims first attempts in the
// publishing ledger (as herald does by default) instead of in each post's
// status; shards, when not 0, splits the posts among the replicas by
// namespace.
func startReplica(name string, withLedger bool, shards int) *replica {
	r := &replica{name: name, proc: &testenv.Process{}, done: make(chan struct{})}
	conn := r.proc.Config(cfg)
	cs, err := kubernetes.NewForConfig(conn)
	Expect(err).NotTo(HaveOccurred())
	inner, err := resourcelock.New(resourcelock.LeasesResourceLock, heraldNS, "herald.social.herald.dev", cs.CoreV1(), cs.CoordinationV1(),
		resourcelock.ResourceLockConfig{Identity: name})
	Expect(err).NotTo(HaveOccurred())
	r.lock = &leader.Lock{Interface: inner, LeaseDuration: leaseDuration}
	grace := 15 * time.Second
	mgr, err := ctrl.NewManager(conn, ctrl.Options{
		Scheme: scheme.New(), Metrics: metricsserver.Options{BindAddress: "0"}, Cache: controllers.CacheOptions(),
		LeaderElection: true, LeaderElectionResourceLockInterface: r.lock, LeaderElectionReleaseOnCancel: true,
		LeaseDuration: &leaseDuration, RenewDeadline: &renewDeadline, RetryPeriod: &retryPeriod,
		GracefulShutdownTimeout: &grace,
		Controller:              config.Controller{SkipNameValidation: ptr.To(true)}, // two managers in one process
	})
	Expect(err).NotTo(HaveOccurred())
	publishers := registry.Default(&http.Client{Timeout: 5 * time.Second, Transport: r.proc.Transport(http.DefaultTransport)}, nil)
	var ledgerOpts controllers.LedgerOptions
	if withLedger {
		// Freshness inside the test's short lease, as the default is
		// inside herald's.
		ledgerOpts = controllers.LedgerOptions{Namespace: heraldNS, Fresh: leaseDuration / 2}
	}
	Expect(controllers.Setup(mgr, controllers.Options{
		MaxConcurrentReconciles: 2, PostWorkers: 8, Publishers: publishers, Timing: timing,
		Retry:    controllers.RetryPolicy{MaxAttempts: 5, Backoff: 500 * time.Millisecond, MaxBackoff: 2 * time.Second},
		Identity: name, Leading: r.lock.Leading, Ledger: ledgerOpts,
		Shards: controllers.ShardOptions{Count: shards, Namespace: heraldNS,
			LeaseDuration: leaseDuration, RenewDeadline: renewDeadline, RetryPeriod: retryPeriod},
	})).To(Succeed())

	authz, err := oauth.New(oauth.Config{PublicURL: front.URL, Namespace: heraldNS, DevMode: true}, mgr.GetClient(), mgr.GetAPIReader())
	Expect(err).NotTo(HaveOccurred())
	Expect(mgr.Add(authz)).To(Succeed())
	mcp, err := mcpserver.New(mcpserver.Options{Client: mgr.GetClient(), APIReader: mgr.GetAPIReader(), Cache: mgr.GetCache(), Authenticate: authz.RequireToken})
	Expect(err).NotTo(HaveOccurred())
	mux := http.NewServeMux()
	mux.Handle("/mcp", mcp.Handler())
	authz.Routes(mux)
	r.listen, err = net.Listen("tcp", "127.0.0.1:0")
	Expect(err).NotTo(HaveOccurred())
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	front.add(name, "http://"+r.listen.Addr().String())

	mctx, stop := context.WithCancel(ctx)
	r.stop = stop
	go func() {
		defer GinkgoRecover()
		defer close(r.done)
		go func() {
			if mgr.GetCache().WaitForCacheSync(mctx) {
				_ = srv.Serve(r.listen)
			}
		}()
		_ = mgr.Start(mctx) // a replica that loses its lease ends with an error, as herald exits
		_ = srv.Close()
		front.remove(name)
	}()
	return r
}

// gracefulStop is a SIGTERM: calls in flight finish and their outcomes are
// written, then the lease is released.
func (r *replica) gracefulStop() {
	r.stop()
	Eventually(r.done, 30*time.Second).Should(BeClosed())
}

// hardStop is a SIGKILL: from now on nothing the replica does reaches the
// API server or a platform, and it never releases its lease.
func (r *replica) hardStop() {
	r.proc.Kill()
	front.remove(r.name)
	r.stop()
	Eventually(r.done, 30*time.Second).Should(BeClosed())
}

// frontDoor is the Service in front of the replicas: one public URL (the
// audience of the tokens), forwarded to a replica that is up.
type frontDoor struct {
	*httptest.Server
	mu       sync.Mutex
	backends map[string]*url.URL
}

func newFrontDoor() *frontDoor {
	f := &frontDoor{backends: map[string]*url.URL{}}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		var target *url.URL
		for _, u := range f.backends {
			target = u
			break
		}
		f.mu.Unlock()
		if target == nil {
			http.Error(w, "no replica is up", http.StatusServiceUnavailable)
			return
		}
		httputil.NewSingleHostReverseProxy(target).ServeHTTP(w, r)
	}))
	return f
}

func (f *frontDoor) add(name, base string) {
	u, _ := url.Parse(base)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.backends[name] = u
}

func (f *frontDoor) remove(name string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.backends, name)
}

// leaderIs waits until r holds the lease.
func leaderIs(r *replica) {
	Eventually(r.lock.Leading, 30*time.Second, 50*time.Millisecond).Should(BeTrue(), "%s leads", r.name)
}

// scenario is one run: a namespace with a Mastodon and a Discord profile,
// and posts due every 100 ms to both.
type scenario struct {
	ns    string
	masto *mastodontest.Fake
	disc  *discordtest.Fake
	posts []*socialv1alpha1.ScheduledPost
}

func newScenario(name string) *scenario {
	s := &scenario{ns: name, masto: mastodontest.New(GinkgoTB(), "tok-"+name), disc: discordtest.New(GinkgoTB())}
	// Every call takes a moment, so some are in flight when the leader stops.
	slow := func(platformtest.Request) *platformtest.Fault {
		return &platformtest.Fault{Delay: 60 * time.Millisecond}
	}
	s.masto.Inject("POST /api/v1/statuses", slow)
	s.disc.Inject(discordtest.ExecuteRoute, slow)
	Expect(k8sClient.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}})).To(Succeed())
	Expect(k8sClient.Create(ctx, &socialv1alpha1.Workspace{ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: socialv1alpha1.WorkspaceSpec{DisplayName: name, Members: []socialv1alpha1.WorkspaceMember{{Subject: user, Role: socialv1alpha1.RoleOwner}}}})).To(Succeed())
	secret := func(n string, data map[string]string) {
		Expect(k8sClient.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: name, Name: n}, StringData: data})).To(Succeed())
	}
	secret("masto", map[string]string{"accessToken": s.masto.Token})
	secret("disc", map[string]string{"webhookURL": s.disc.WebhookURL()})
	for _, p := range []socialv1alpha1.SocialProfile{
		{ObjectMeta: metav1.ObjectMeta{Namespace: name, Name: "masto"}, Spec: socialv1alpha1.SocialProfileSpec{Platform: socialv1alpha1.Platform("mastodon"),
			Handle: "@herald@fake.example", Endpoint: s.masto.URL, CredentialsSecretRef: &socialv1alpha1.LocalObjectReference{Name: "masto"}}},
		{ObjectMeta: metav1.ObjectMeta{Namespace: name, Name: "disc"}, Spec: socialv1alpha1.SocialProfileSpec{Platform: socialv1alpha1.Platform("discord"),
			Handle: "Herald", CredentialsSecretRef: &socialv1alpha1.LocalObjectReference{Name: "disc"}}},
	} {
		p.Spec.PostsPerHour = ptr.To[int32](100000) // the test is about handover, not Herald's own rate limits
		Expect(k8sClient.Create(ctx, &p)).To(Succeed())
	}
	return s
}

// scenarioName names a scenario's namespace after how it claims.
func scenarioName(name string, withLedger bool) string {
	if withLedger {
		return name + "-ledger"
	}
	return name
}

// schedule creates the posts, due every 100 ms from a second from now.
func (s *scenario) schedule() {
	start := time.Now().Add(time.Second)
	for i := range posts {
		p := &socialv1alpha1.ScheduledPost{
			ObjectMeta: metav1.ObjectMeta{Namespace: s.ns, Name: fmt.Sprintf("p-%02d", i)},
			Spec: socialv1alpha1.ScheduledPostSpec{Text: fmt.Sprintf("%s post %02d", s.ns, i), Profiles: []string{"masto", "disc"},
				ScheduledAt: start.Add(time.Duration(i) * 100 * time.Millisecond).UTC().Format(time.RFC3339Nano)},
		}
		Expect(k8sClient.Create(ctx, p)).To(Succeed())
		s.posts = append(s.posts, p)
	}
}

// deliveries returns every post's delivery to profile, by post name.
func (s *scenario) deliveries(g Gomega, profile string) map[string]socialv1alpha1.Delivery {
	out := map[string]socialv1alpha1.Delivery{}
	for _, p := range s.posts {
		got := &socialv1alpha1.ScheduledPost{}
		g.Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(p), got)).To(Succeed())
		for _, d := range got.Status.Deliveries {
			if d.Profile == profile {
				out[p.Name] = d
			}
		}
	}
	return out
}

// waitPublished waits until n of the posts are published to Mastodon.
func (s *scenario) waitPublished(n int) {
	Eventually(func(g Gomega) {
		published := 0
		for _, d := range s.deliveries(g, "masto") {
			if d.Phase == socialv1alpha1.DeliveryPublished {
				published++
			}
		}
		g.Expect(published).To(BeNumerically(">=", n))
	}, 60*time.Second, 50*time.Millisecond).Should(Succeed())
}

// discordTexts counts the messages Discord received, by text.
func (s *scenario) discordTexts() map[string]int {
	out := map[string]int{}
	for _, r := range s.disc.Find(discordtest.ExecuteRoute) {
		var body struct{ Content string }
		_ = json.Unmarshal(r.Body, &body)
		out[body.Content]++
	}
	return out
}

// settled waits until every delivery is final and returns them.
func (s *scenario) settled() (masto, disc map[string]socialv1alpha1.Delivery) {
	final := func(d socialv1alpha1.Delivery) bool {
		return d.Phase != socialv1alpha1.DeliveryPending && d.Phase != socialv1alpha1.DeliveryPublishing && d.Phase != socialv1alpha1.DeliveryRetrying
	}
	Eventually(func(g Gomega) {
		masto, disc = s.deliveries(g, "masto"), s.deliveries(g, "disc")
		g.Expect(masto).To(HaveLen(posts))
		g.Expect(disc).To(HaveLen(posts))
		for name, d := range masto {
			g.Expect(final(d)).To(BeTrue(), "%s to Mastodon is %s", name, d.Phase)
		}
		for name, d := range disc {
			g.Expect(final(d)).To(BeTrue(), "%s to Discord is %s", name, d.Phase)
		}
	}, 90*time.Second, 100*time.Millisecond).Should(Succeed())
	return masto, disc
}

// mcpAnswers checks that the front door (whichever replica is up) answers
// a tool call.
func mcpAnswers(ns string) {
	res, err := signin.SignIn(ctx, signin.Options{BaseURL: front.URL, Username: user, Password: password, Workspaces: []string{ns}})
	Expect(err).NotTo(HaveOccurred())
	body := fmt.Sprintf(`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"ocoya_list_posts","arguments":{"workspaceId":%q}}}`, ns)
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, front.URL+"/mcp", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+res.Token.AccessToken)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	resp, err := http.DefaultClient.Do(req)
	Expect(err).NotTo(HaveOccurred())
	defer resp.Body.Close()
	var out struct {
		Result struct {
			IsError           bool `json:"isError"`
			StructuredContent struct {
				Posts []map[string]any `json:"posts"`
			} `json:"structuredContent"`
		} `json:"result"`
	}
	Expect(json.NewDecoder(resp.Body).Decode(&out)).To(Succeed())
	Expect(out.Result.IsError).To(BeFalse())
	Expect(out.Result.StructuredContent.Posts).NotTo(BeEmpty())
}

var _ = Describe("Two replicas with leader election, claiming in each post's status", func() { handover(false) })

var _ = Describe("Two replicas with leader election, claiming in the publishing ledger", func() { handover(true) })

// inFlightInLedger returns the posts of namespace ns whose Discord
// delivery the ledger named holds claimed without an outcome or a
// release: sent, maybe, by a holder that died (in flight, or inside the
// window claimed ahead).
func inFlightInLedger(name, ns string) map[string]bool {
	head := &corev1.ConfigMap{}
	Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: heraldNS, Name: name}, head)).To(Succeed())
	claimed, answered := map[string]bool{}, map[string]bool{}
	for _, name := range strings.Fields(head.Data["segments"]) {
		seg := &corev1.ConfigMap{}
		Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: heraldNS, Name: name}, seg)).To(Succeed())
		for _, line := range strings.Split(strings.TrimSpace(seg.Data["records"]), "\n") {
			var rec ledger.Record
			Expect(json.Unmarshal([]byte(line), &rec)).To(Succeed())
			if rec.Profile != "disc" || rec.Namespace != ns {
				continue
			}
			if rec.Kind == ledger.Claim {
				claimed[rec.Name] = true
			} else {
				answered[rec.Name] = true
			}
		}
	}
	for name := range answered {
		delete(claimed, name)
	}
	return claimed
}

func handover(withLedger bool) {
	It("hand over on a graceful stop: every post published exactly once to both platforms", func() {
		s := newScenario(scenarioName("graceful", withLedger))
		a := startReplica(scenarioName("replica-a", withLedger), withLedger, 0)
		leaderIs(a)
		b := startReplica(scenarioName("replica-b", withLedger), withLedger, 0)
		DeferCleanup(b.gracefulStop)
		s.schedule()

		s.waitPublished(posts / 3)
		start := time.Now()
		a.gracefulStop()
		leaderIs(b)
		fmt.Printf("\nobserved: graceful handover: replica-b led %.1fs after replica-a began to stop\n", time.Since(start).Seconds())

		masto, disc := s.settled()
		for name, d := range masto {
			Expect(d.Phase).To(Equal(socialv1alpha1.DeliveryPublished), name)
		}
		for name, d := range disc {
			Expect(d.Phase).To(Equal(socialv1alpha1.DeliveryPublished), "%s: a graceful stop finishes its calls and writes them", name)
		}
		Expect(s.masto.Statuses()).To(HaveLen(posts), "one status per post")
		texts := s.discordTexts()
		Expect(texts).To(HaveLen(posts))
		for text, n := range texts {
			Expect(n).To(Equal(1), "%q was sent %d times", text, n)
		}
		mcpAnswers(s.ns)
	})

	It("hand over on a hard stop: once on Mastodon, once or Unknown on Discord, Unknown only for calls in flight", func() {
		s := newScenario(scenarioName("hard", withLedger))
		a := startReplica(scenarioName("replica-c", withLedger), withLedger, 0)
		leaderIs(a)
		b := startReplica(scenarioName("replica-d", withLedger), withLedger, 0)
		DeferCleanup(b.gracefulStop)
		s.schedule()

		s.waitPublished(posts / 3)
		a.hardStop()
		inFlight := s.inFlightAt(a, withLedger, controllers.DefaultLedgerName)
		leaderIs(b)
		s.onceOrUnknown(inFlight)
		mcpAnswers(s.ns)
	})
}

// inFlightAt returns the posts whose Discord call may have been in flight
// when r was killed: r had recorded its claim (the call may or may not
// have left) and never wrote the outcome, in the post's status or, with
// the ledger, in the ledger named.
func (s *scenario) inFlightAt(r *replica, withLedger bool, ledgerName string) map[string]bool {
	inFlight, reached := map[string]bool{}, 0
	written := s.deliveries(Default, "disc")
	for name, d := range written {
		if d.ClaimedBy == r.name && d.Phase != socialv1alpha1.DeliveryPublished {
			inFlight[name] = true
		}
	}
	if withLedger {
		// Claimed in the ledger, answered nowhere: the holder's last
		// ledger write is all it left.
		for name := range inFlightInLedger(ledgerName, s.ns) {
			if d, ok := written[name]; !ok || d.Phase == socialv1alpha1.DeliveryPending {
				inFlight[name] = true
			}
		}
	}
	for text := range s.discordTexts() {
		if inFlight["p-"+text[len(text)-2:]] {
			reached++
		}
	}
	fmt.Printf("\nobserved: hard stop: %d Discord calls of %s were in flight when %s was killed (%d had reached Discord)\n", len(inFlight), s.ns, r.name, reached)
	return inFlight
}

// onceOrUnknown waits until every delivery is final and checks the
// outcome of a hard stop: every post once on Mastodon; on Discord once, or
// Unknown and sent at most once where its call was in flight at the kill.
func (s *scenario) onceOrUnknown(inFlight map[string]bool) {
	masto, disc := s.settled()
	for name, d := range masto {
		Expect(d.Phase).To(Equal(socialv1alpha1.DeliveryPublished), "%s: Mastodon recognises the resend by its key", name)
	}
	Expect(s.masto.Statuses()).To(HaveLen(posts), "exactly one status per post")
	texts := s.discordTexts()
	unknown := 0
	for name, d := range disc {
		text := fmt.Sprintf("%s post %s", s.ns, strings.TrimPrefix(name, "p-"))
		switch d.Phase {
		case socialv1alpha1.DeliveryPublished:
			Expect(texts[text]).To(Equal(1), "%s published once", name)
		case socialv1alpha1.DeliveryUnknown:
			unknown++
			Expect(inFlight).To(HaveKey(name), "%s is Unknown, so its call must have been in flight at the kill", name)
			Expect(texts[text]).To(BeNumerically("<=", 1), "%s was sent at most once, and never again", name)
		default:
			Fail(fmt.Sprintf("%s to Discord ended %s: %s", name, d.Phase, d.LastError))
		}
	}
	for text, n := range texts {
		Expect(n).To(Equal(1), "%q was sent %d times", text, n)
	}
	fmt.Printf("\nobserved: hard stop: %d of %d Discord deliveries of %s Unknown, every one in flight at the kill; none lost, none twice\n", unknown, posts, s.ns)
}

const shardCount = 2

// shardHolders returns who holds each shard's Lease, by shard.
func shardHolders() []string {
	out := make([]string, shardCount)
	for i := range shardCount {
		l := &coordinationv1.Lease{}
		if err := k8sClient.Get(ctx, client.ObjectKey{Namespace: heraldNS, Name: fmt.Sprintf("%s-%d", controllers.ShardLeasePrefix, i)}, l); err == nil && l.Spec.HolderIdentity != nil {
			out[i] = *l.Spec.HolderIdentity
		}
	}
	return out
}

// ledgerHolder returns the holder the ledger of shard i names.
func ledgerHolder(i int) string {
	head := &corev1.ConfigMap{}
	if err := k8sClient.Get(ctx, client.ObjectKey{Namespace: heraldNS, Name: controllers.ShardLedgerName(controllers.DefaultLedgerName, i, shardCount)}, head); err != nil {
		return ""
	}
	return head.Data["holder"]
}

var _ = Describe("Two replicas splitting the posts into shards by namespace", func() {
	It("publish in parallel, each its own shards; a killed replica's shard moves: once on Mastodon, once or Unknown on Discord", func() {
		// One namespace in each shard.
		var names [shardCount]string
		for k := 0; names[0] == "" || names[1] == ""; k++ {
			n := fmt.Sprintf("sharded-%d", k)
			if i := shard.Of(n, shardCount); names[i] == "" {
				names[i] = n
			}
		}
		scenarios := []*scenario{newScenario(names[0]), newScenario(names[1])}
		a := startReplica("replica-e", true, shardCount)
		b := startReplica("replica-f", true, shardCount)
		DeferCleanup(b.gracefulStop)
		Eventually(shardHolders, 30*time.Second, 50*time.Millisecond).Should(ConsistOf(a.name, b.name), "each replica holds one shard")
		for _, s := range scenarios {
			s.schedule()
		}
		for _, s := range scenarios {
			s.waitPublished(posts / 3)
		}
		// Each shard was published by the replica holding it, through its
		// own ledger.
		holders := shardHolders()
		for i, h := range holders {
			Expect(ledgerHolder(i)).To(Equal(h), "shard %d's ledger is held by its Lease's holder", i)
		}
		killed := slices.Index(holders, a.name)
		Expect(killed).NotTo(Equal(-1))

		a.hardStop()
		inFlight := scenarios[killed].inFlightAt(a, true, controllers.ShardLedgerName(controllers.DefaultLedgerName, killed, shardCount))
		start := time.Now()
		Eventually(shardHolders, 30*time.Second, 50*time.Millisecond).Should(ConsistOf(b.name, b.name), "the killed replica's shard moves")
		fmt.Printf("\nobserved: sharded hard stop: %s took shard %d over %.1fs after %s was killed\n", b.name, killed, time.Since(start).Seconds(), a.name)
		scenarios[killed].onceOrUnknown(inFlight)
		scenarios[1-killed].onceOrUnknown(map[string]bool{})
		mcpAnswers(scenarios[0].ns)
	})
})
