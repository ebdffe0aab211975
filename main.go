// Command herald is the Herald operator: the reconcilers for Herald's custom
// resources and the MCP server (with its OAuth authorization server) that AI
// assistants connect to, in one process.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
	_ "time/tzdata" // workspaces name IANA zones; distroless images carry no zoneinfo

	"go.uber.org/zap/zapcore"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrlconfig "sigs.k8s.io/controller-runtime/pkg/client/config"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/herald-dev/herald/controllers"
	"github.com/herald-dev/herald/internal/connect"
	"github.com/herald-dev/herald/internal/controlplane"
	"github.com/herald-dev/herald/internal/devmode"
	"github.com/herald-dev/herald/internal/egress"
	"github.com/herald-dev/herald/internal/inflight"
	"github.com/herald-dev/herald/internal/leader"
	"github.com/herald-dev/herald/internal/memlimit"
	"github.com/herald-dev/herald/internal/publish"
	"github.com/herald-dev/herald/internal/publish/registry"
	"github.com/herald-dev/herald/internal/publish/sandbox"
	"github.com/herald-dev/herald/internal/scheme"
	"github.com/herald-dev/herald/mcpserver/oauth"
)

// options are the command-line flags.
type options struct {
	dev           bool
	dataDir       string
	metricsAddr   string
	metricsSecure bool
	probeAddr     string
	pprofAddr     string
	leaderElect   autoBool
	kubeAPIQPS    float64
	kubeAPIBurst  int
	maxConcurrent int
	postWorkers   int
	ledger        bool
	callsPerHost  int
	publishShards int
	publishTime   time.Duration
	retryBackoff  time.Duration
	shutdownGrace time.Duration
	egressAllow   string
	platformAPIs  string
	egressDeny    string
	outboundCAs   string
	platformApps  string
	secretsRole   string
	serviceAcct   string
	http          httpOptions
}

func main() {
	var o options
	flag.BoolVar(&o.dev, "dev", false, "Development mode: when no cluster is configured (no --kubeconfig, no KUBECONFIG, not in a pod) start a local kube-apiserver and etcd under --data-dir, and create the demo workspaces.")
	flag.StringVar(&o.dataDir, "data-dir", ".herald", "Development mode: folder for the embedded control plane's data and the admin kubeconfig.")
	flag.StringVar(&o.metricsAddr, "metrics-bind-address", "0", "Address of the Prometheus metrics endpoint, such as :8443; 0 disables it. It is served over HTTPS to callers the cluster authenticates and authorizes for GET /metrics (the herald-metrics-reader ClusterRole), unless --metrics-secure=false.")
	flag.BoolVar(&o.metricsSecure, "metrics-secure", true, "Serve the metrics endpoint over HTTPS with Kubernetes authentication and authorization; false serves plain HTTP to anyone who can reach it.")
	flag.StringVar(&o.probeAddr, "health-probe-bind-address", ":8081", "Address of the /healthz and /readyz endpoints.")
	flag.StringVar(&o.pprofAddr, "pprof-bind-address", "", "Address of Go's profiling endpoints (/debug/pprof/), such as 127.0.0.1:6060, for finding where memory or CPU goes; empty disables them. They are unauthenticated: bind them to loopback or a port no one else reaches.")
	flag.Var(&o.leaderElect, "leader-elect", "Elect one active controller among replicas, so several can run for availability. On by default against a cluster, off for the embedded control plane of --dev.")
	flag.Float64Var(&o.kubeAPIQPS, "kube-api-qps", 2000, "Requests per second Herald may send to the Kubernetes API server (client side; sized so publishing is bounded by the API server, see docs/benchmarks.md); the server's priority and fairness still applies.")
	flag.IntVar(&o.kubeAPIBurst, "kube-api-burst", 4000, "Burst above --kube-api-qps the client allows.")
	flag.IntVar(&o.maxConcurrent, "max-concurrent-reconciles", 4, "Objects of one kind reconciled in parallel.")
	flag.IntVar(&o.postWorkers, "post-workers", 20, "ScheduledPosts reconciled in parallel; each holds a worker for the length of its platform call, so this bounds the platform calls in flight.")
	flag.BoolVar(&o.ledger, "publish-ledger", true, "Claim the first attempt of each delivery ahead of time in the publishing ledger (ConfigMaps in --namespace), many claims per write, and send it from memory at its due instant; outcomes are written to each post's status afterwards. False claims every attempt in its post's status, one write before each platform call.")
	flag.IntVar(&o.publishShards, "publish-shards", 1, "Split publishing among the replicas by workspace: each namespace belongs to one of this many shards, each with its own Lease (herald-publish-shard-<i>) and ledger in --namespace, and every replica publishes the posts of about its share of them; a failed replica's shards move to the others when their Leases expire. Every replica must use the same number; after a change, each new shard adopts its part of the old ledgers (see docs/operations.md). 1 publishes everything from one replica at a time; 0 from the leader alone (not to be mixed with replicas that shard).")
	flag.IntVar(&o.callsPerHost, "calls-per-host", controllers.DefaultLedger.CallsPerHost, "Platform calls the publishing ledger's dispatcher makes at once to one host (with --publish-ledger).")
	flag.DurationVar(&o.publishTime, "publish-timeout", controllers.DefaultTiming.CallTimeout, "Longest one platform call may take, media uploads included. A call in flight at shutdown finishes within it, and a claim lasts twice it and its status writes, so another replica takes over an interrupted delivery after that.")
	flag.DurationVar(&o.retryBackoff, "retry-backoff", controllers.DefaultRetryPolicy.Backoff, "Wait before the second attempt of a delivery that failed retryably; it doubles with each further attempt, up to 15 minutes.")
	flag.StringVar(&o.secretsRole, "workspace-secrets-role", "", "ClusterRole granting get on Secrets that each Workspace binds to Herald's service account in its namespace (the install's herald-workspace-secrets), so Herald reads the Secrets of workspace namespaces only. Empty: no RoleBindings are made, for a Herald that may read Secrets anyway.")
	flag.StringVar(&o.serviceAcct, "service-account", os.Getenv("POD_SERVICE_ACCOUNT"), "Herald's service account, in --namespace, that the workspace RoleBindings name.")
	flag.StringVar(&o.egressAllow, "egress-allow", "", "Comma-separated networks (CIDR) Herald may connect to although they are internal, such as a self-hosted Mastodon inside the cluster (10.96.12.0/24) or 127.0.0.0/8 for local fakes; make run allows loopback. Media, feed, profile-endpoint and webhook URLs never reach other loopback, private, link-local or reserved addresses.")
	flag.StringVar(&o.platformAPIs, "platform-api", "", "Comma-separated platform=URL pairs that send a platform's API calls to URL instead of its public host, such as instagram=https://graph-proxy.internal,threads=https://threads-proxy.internal for an API gateway or egress proxy. Only platforms with a fixed host (x, linkedin, telegram, facebook, instagram, threads, pinterest, tiktok, youtube) can be moved; the URL is still subject to --egress-allow.")
	flag.StringVar(&o.egressDeny, "egress-deny", "", "Comma-separated further networks (CIDR) Herald must not connect to, such as the cluster's service and pod ranges when they are public addresses.")
	flag.StringVar(&o.outboundCAs, "outbound-ca-file", "", "PEM file of further certificate authorities Herald trusts, besides the system's, for its outbound HTTPS: platform APIs, media, feeds, webhooks and client ID metadata documents (a self-hosted Mastodon with a private CA, a TLS-inspecting proxy).")
	flag.StringVar(&o.platformApps, "platform-apps-secret", "", "Secret in --namespace holding the operator's OAuth apps for connecting X, LinkedIn, Facebook, Instagram and Threads accounts on Herald's pages and renewing their tokens: x.clientID, x.clientSecret, linkedin.clientID, linkedin.clientSecret, meta.clientID, meta.clientSecret (Facebook and Instagram), threads.clientID, threads.clientSecret. Each app's redirect URI is the public URL plus /connect/callback. Empty: those accounts are connected with kubectl and their tokens are not renewed.")
	flag.DurationVar(&o.shutdownGrace, "graceful-shutdown-timeout", 0, "Longest Herald waits at shutdown for reconciles and requests under way; 0 means long enough for a platform call in flight to finish and record its outcome (--publish-timeout and its status writes, plus 15 seconds). A pod's terminationGracePeriodSeconds must exceed it.")
	// Errors here are for people to read; a stack trace is asked for with
	// --zap-stacktrace-level.
	zapOpts := zap.Options{Development: true, StacktraceLevel: zapcore.DPanicLevel}
	o.http.bindFlags(flag.CommandLine)
	zapOpts.BindFlags(flag.CommandLine)
	flag.Parse()
	ctrl.SetLogger(zap.New(zap.UseFlagOptions(&zapOpts)))
	if limit, err := memlimit.Set(); err != nil {
		ctrl.Log.Info("could not read the container's memory limit; the Go runtime keeps its default", "error", err.Error())
	} else if limit > 0 {
		ctrl.Log.Info("the Go runtime's memory limit follows the container's", "bytes", limit)
	}

	ctx := ctrl.SetupSignalHandler()
	if err := run(ctx, o); err != nil {
		var stopping *shutdownError
		if ctx.Err() != nil && !errors.As(err, &stopping) {
			// Ctrl-C during start-up: what failed was only interrupted.
			ctrl.Log.Info("stopped during start-up", "interrupted", err.Error())
			return
		}
		ctrl.Log.Error(err, "herald stopped")
		os.Exit(1)
	}
}

func run(ctx context.Context, o options) error {
	log := ctrl.Log.WithName("herald")

	cfg, embedded, stop, err := restConfig(o)
	if err != nil {
		return err
	}
	defer stop()
	cfg.QPS, cfg.Burst = float32(o.kubeAPIQPS), o.kubeAPIBurst

	// Calls in flight finish and write their outcomes before the process
	// exits, within timing.InFlight(); the grace period waits for them.
	timing := controllers.DefaultTiming
	timing.CallTimeout, timing.ClaimTTL = o.publishTime, 0 // the claim follows the call's bound
	timing = timing.WithDefaults()
	grace := o.shutdownGrace
	if grace <= 0 {
		grace = timing.InFlight() + 15*time.Second
	}
	inFlight := inflight.New(clock.RealClock{})
	identity := controllers.ProcessIdentity()
	mgrOpts := ctrl.Options{
		Scheme:                  scheme.New(),
		Metrics:                 metricsOptions(o, cfg),
		Cache:                   controllers.CacheOptions(),
		HealthProbeBindAddress:  o.probeAddr,
		PprofBindAddress:        o.pprofAddr,
		GracefulShutdownTimeout: &grace,
	}
	var leading func() bool
	if o.leaderElect.or(!embedded) {
		lock, err := leaderLock(cfg, o.http.namespace, identity)
		if err != nil {
			return err
		}
		leading = lock.Leading
		mgrOpts.LeaderElection = true
		mgrOpts.LeaderElectionResourceLockInterface = lock
		mgrOpts.LeaseDuration = &lock.LeaseDuration
		mgrOpts.LeaderElectionReleaseOnCancel = true
	}
	mgr, err := ctrl.NewManager(cfg, mgrOpts)
	if err != nil {
		return fmt.Errorf("creating the manager: %w", err)
	}
	// The sandbox feed records what the sandbox publisher posts; Herald's
	// HTTP listener serves it at /sandbox/.
	sandboxFeed := &sandbox.Feed{BaseURL: strings.TrimSuffix(o.http.publicURL, "/")}
	// Every URL a user can aim goes through one guarded client.
	policy, err := egressPolicy(o)
	if err != nil {
		return err
	}
	outbound := policy.Client(30 * time.Second)
	if o.outboundCAs != "" {
		if err := egress.TrustFile(outbound, o.outboundCAs); err != nil {
			return fmt.Errorf("--outbound-ca-file: %w", err)
		}
	}
	publishers := registry.Default(outbound, sandboxFeed)
	apis, err := parsePlatformAPIs(o.platformAPIs)
	if err == nil {
		err = registry.Relocate(publishers, apis)
	}
	if err != nil {
		return fmt.Errorf("--platform-api: %w", err)
	}
	if err := controllers.Setup(mgr, controllers.Options{
		MaxConcurrentReconciles: o.maxConcurrent,
		PostWorkers:             o.postWorkers,
		Ledger:                  ledgerOptions(o),
		Shards:                  controllers.ShardOptions{Count: o.publishShards, Namespace: o.http.namespace},
		Publishers:              publishers,
		Timing:                  timing,
		Retry:                   controllers.RetryPolicy{Backoff: o.retryBackoff},
		Identity:                identity,
		Leading:                 leading,
		RetryHint:               "the MCP tool " + o.http.toolPrefix + "_retry_post",
		InFlight:                inFlight,
		FeedClient:              outbound,
		ReservedNamespaces:      []string{o.http.namespace},
		SecretsAccess:           secretsAccess(o, embedded),
		Refresher: &connect.Refresher{HTTP: outbound, Providers: connect.Providers,
			Apps:        connect.Apps{Reader: mgr.GetAPIReader(), Namespace: o.http.namespace, Secret: o.platformApps},
			RedirectURI: strings.TrimSuffix(o.http.publicURL, "/") + oauth.ConnectCallbackPath},
	}); err != nil {
		return err
	}
	if err := mgr.AddHealthzCheck("healthz", healthz.Ping); err != nil {
		return err
	}

	if o.dev {
		c, err := client.New(cfg, client.Options{Scheme: mgr.GetScheme()})
		if err != nil {
			return err
		}
		seedCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		if err := devmode.Seed(seedCtx, c); err != nil {
			return err
		}
	}
	setupCtx, cancelSetup := context.WithTimeout(ctx, 30*time.Second)
	defer cancelSetup()
	if err := setupHTTP(setupCtx, mgr, o.http, o.dev, sandboxFeed, inFlight, outbound, publishers, o.platformApps); err != nil {
		return err
	}

	log.Info("starting the manager")
	if err := mgr.Start(ctx); err != nil {
		if still := inFlight.Running(); len(still) > 0 {
			// The manager gave up waiting: say what it gave up on. The
			// deferred stop still ends the embedded control plane.
			log.Error(err, "shutdown overran its grace period; what was still running is cut off", "grace", grace.String(), "running", still)
		}
		return &shutdownError{err}
	}
	return nil
}

// shutdownError is the manager failing once it ran, rather than Herald
// failing to start.
type shutdownError struct{ error }

func (e *shutdownError) Unwrap() error { return e.error }

// restConfig finds the cluster to run against. In development mode with no
// cluster configured it takes the data folder and starts the embedded
// control plane there (embedded is then true); the returned stop function
// shuts it down and lets the folder go.
func restConfig(o options) (cfg *rest.Config, embedded bool, stop func(), err error) {
	nothing := func() {}
	configured := flag.Lookup(ctrlconfig.KubeconfigFlagName).Value.String() != "" ||
		os.Getenv("KUBECONFIG") != "" || os.Getenv("KUBERNETES_SERVICE_HOST") != ""
	if !o.dev || configured {
		cfg, err := ctrl.GetConfig()
		if err != nil {
			return nil, false, nothing, fmt.Errorf("finding the cluster: %w (without one, run with --dev to start an embedded control plane)", err)
		}
		return cfg, false, nothing, nil
	}

	log := ctrl.Log.WithName("controlplane")
	folder, err := controlplane.LockFolder(o.dataDir, controlplane.Instance{
		PID: os.Getpid(), MCPEndpoint: strings.TrimSuffix(o.http.publicURL, "/") + "/mcp", Started: time.Now(),
	})
	if err != nil {
		return nil, false, nothing, err
	}
	assets, err := controlplane.AssetsDir()
	if err != nil {
		_ = folder.Unlock()
		return nil, false, nothing, err
	}
	start := time.Now()
	cluster, err := controlplane.Start(o.dataDir, assets)
	if err != nil {
		_ = folder.Unlock()
		return nil, false, nothing, err
	}
	if len(cluster.Leftovers) > 0 {
		log.Info("stopped the control plane an earlier Herald left running on this data folder", "stopped", cluster.Leftovers, "data", o.dataDir)
	}
	kubeconfig, _ := filepath.Abs(cluster.KubeconfigPath)
	log.Info("embedded control plane is up", "took", time.Since(start).Round(10*time.Millisecond).String(), "data", o.dataDir)
	fmt.Fprintf(os.Stderr, `
  Herald is running on an embedded control plane.
  kubeconfig: %s
  try:        kubectl --kubeconfig %s get herald -A

`, kubeconfig, cluster.KubeconfigPath)
	return cluster.Config, true, func() {
		defer folder.Unlock()
		if err := cluster.Stop(); err != nil {
			log.Error(err, "stopping the embedded control plane")
			return
		}
		log.Info("embedded control plane stopped; its data stays in " + o.dataDir)
	}, nil
}

// +kubebuilder:rbac:groups=authentication.k8s.io,resources=tokenreviews,verbs=create
// +kubebuilder:rbac:groups=authorization.k8s.io,resources=subjectaccessreviews,verbs=create

// metricsOptions serves /metrics as the cluster's own components do: over
// HTTPS, answering only callers whose token the API server accepts and
// who may GET /metrics (TokenReview and SubjectAccessReview).
func metricsOptions(o options, cfg *rest.Config) metricsserver.Options {
	opts := metricsserver.Options{BindAddress: o.metricsAddr}
	if o.metricsSecure {
		opts.SecureServing = true
		opts.FilterProvider = metricsFilter
	}
	return opts
}

// ledgerOptions places the publishing ledger in Herald's namespace, or
// nowhere without --publish-ledger.
func ledgerOptions(o options) controllers.LedgerOptions {
	if !o.ledger {
		return controllers.LedgerOptions{}
	}
	return controllers.LedgerOptions{Namespace: o.http.namespace, CallsPerHost: o.callsPerHost}
}

// secretsAccess is the RoleBinding each workspace namespace gets; the
// embedded control plane's Herald is its administrator and needs none.
func secretsAccess(o options, embedded bool) controllers.SecretsAccess {
	if embedded || o.secretsRole == "" {
		return controllers.SecretsAccess{}
	}
	if o.serviceAcct == "" {
		ctrl.Log.Info("--workspace-secrets-role is set but --service-account is not; no workspace RoleBindings are made")
		return controllers.SecretsAccess{}
	}
	return controllers.SecretsAccess{ClusterRole: o.secretsRole, ServiceAccount: o.serviceAcct, Namespace: o.http.namespace}
}

// egressPolicy reads --egress-allow and --egress-deny.
func egressPolicy(o options) (egress.Policy, error) {
	allow, err := egress.ParsePrefixes(o.egressAllow)
	if err != nil {
		return egress.Policy{}, fmt.Errorf("--egress-allow: %w", err)
	}
	deny, err := egress.ParsePrefixes(o.egressDeny)
	if err != nil {
		return egress.Policy{}, fmt.Errorf("--egress-deny: %w", err)
	}
	if len(allow) > 0 {
		ctrl.Log.WithName("egress").Info("internal networks allowed", "networks", fmt.Sprint(allow))
	}
	return egress.Policy{Allow: allow, Deny: deny}, nil
}

// leaderLock is the Lease replicas elect a leader with, in Herald's own
// namespace, wrapped so the publishing reconciler can ask before each send
// whether this process still holds it.
func leaderLock(cfg *rest.Config, namespace, identity string) (*leader.Lock, error) {
	cs, err := kubernetes.NewForConfig(rest.CopyConfig(cfg))
	if err != nil {
		return nil, err
	}
	lock, err := resourcelock.New(resourcelock.LeasesResourceLock, namespace, "herald.social.herald.dev",
		cs.CoreV1(), cs.CoordinationV1(), resourcelock.ResourceLockConfig{Identity: identity})
	if err != nil {
		return nil, fmt.Errorf("making the leader election lock: %w", err)
	}
	return &leader.Lock{Interface: lock, LeaseDuration: 15 * time.Second}, nil
}

// autoBool is a boolean flag whose default depends on where Herald runs:
// unset, it takes the value or() is given.
type autoBool struct{ set, value bool }

func (b *autoBool) String() string {
	if !b.set {
		return "auto"
	}
	return strconv.FormatBool(b.value)
}

func (b *autoBool) Set(s string) error {
	v, err := strconv.ParseBool(s)
	if err != nil {
		return fmt.Errorf("%q is not true or false", s)
	}
	b.set, b.value = true, v
	return nil
}

func (b *autoBool) IsBoolFlag() bool { return true }

// or returns the flag's value, or fallback when it was not set.
func (b *autoBool) or(fallback bool) bool {
	if !b.set {
		return fallback
	}
	return b.value
}

// parsePlatformAPIs reads --platform-api's platform=URL pairs.
func parsePlatformAPIs(v string) (map[publish.Platform]string, error) {
	out := map[publish.Platform]string{}
	for _, pair := range strings.Split(v, ",") {
		pair = strings.TrimSpace(pair)
		if pair == "" {
			continue
		}
		platform, base, ok := strings.Cut(pair, "=")
		if !ok || platform == "" || base == "" {
			return nil, fmt.Errorf("%q is not platform=URL, such as instagram=https://graph-proxy.internal", pair)
		}
		if _, dup := out[publish.Platform(platform)]; dup {
			return nil, fmt.Errorf("platform %s is named twice", platform)
		}
		out[publish.Platform(platform)] = base
	}
	return out, nil
}
