// Command herald is the Herald operator: the reconcilers for Herald's custom
// resources and the MCP server (with its OAuth authorization server) that AI
// assistants connect to, in one process.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"
	_ "time/tzdata" // workspaces name IANA zones; distroless images carry no zoneinfo

	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrlconfig "sigs.k8s.io/controller-runtime/pkg/client/config"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/herald-dev/herald/controllers"
	"github.com/herald-dev/herald/internal/controlplane"
	"github.com/herald-dev/herald/internal/devmode"
	"github.com/herald-dev/herald/internal/publish/registry"
	"github.com/herald-dev/herald/internal/publish/sandbox"
	"github.com/herald-dev/herald/internal/scheme"
)

// options are the command-line flags.
type options struct {
	dev           bool
	dataDir       string
	metricsAddr   string
	probeAddr     string
	leaderElect   bool
	kubeAPIQPS    float64
	kubeAPIBurst  int
	maxConcurrent int
	postWorkers   int
	http          httpOptions
}

func main() {
	var o options
	flag.BoolVar(&o.dev, "dev", false, "Development mode: when no cluster is configured (no --kubeconfig, no KUBECONFIG, not in a pod) start a local kube-apiserver and etcd under --data-dir, and create the demo workspaces.")
	flag.StringVar(&o.dataDir, "data-dir", ".herald", "Development mode: folder for the embedded control plane's data and the admin kubeconfig.")
	flag.StringVar(&o.metricsAddr, "metrics-bind-address", "0", "Address of the Prometheus metrics endpoint, such as :8443; 0 disables it.")
	flag.StringVar(&o.probeAddr, "health-probe-bind-address", ":8081", "Address of the /healthz and /readyz endpoints.")
	flag.BoolVar(&o.leaderElect, "leader-elect", false, "Elect one active controller among replicas, so several can run for availability.")
	flag.Float64Var(&o.kubeAPIQPS, "kube-api-qps", 2000, "Requests per second Herald may send to the Kubernetes API server (client side; sized so publishing is bounded by the API server, see docs/benchmarks.md); the server's priority and fairness still applies.")
	flag.IntVar(&o.kubeAPIBurst, "kube-api-burst", 4000, "Burst above --kube-api-qps the client allows.")
	flag.IntVar(&o.maxConcurrent, "max-concurrent-reconciles", 4, "Objects of one kind reconciled in parallel.")
	flag.IntVar(&o.postWorkers, "post-workers", 20, "ScheduledPosts reconciled in parallel; each holds a worker for the length of its platform call, so this bounds the platform calls in flight.")
	zapOpts := zap.Options{Development: true, TimeEncoder: nil}
	o.http.bindFlags(flag.CommandLine)
	zapOpts.BindFlags(flag.CommandLine)
	flag.Parse()
	ctrl.SetLogger(zap.New(zap.UseFlagOptions(&zapOpts)))

	ctx := ctrl.SetupSignalHandler()
	if err := run(ctx, o); err != nil {
		if ctx.Err() != nil {
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

	cfg, stop, err := restConfig(o)
	if err != nil {
		return err
	}
	defer stop()
	cfg.QPS, cfg.Burst = float32(o.kubeAPIQPS), o.kubeAPIBurst

	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                 scheme.New(),
		Metrics:                metricsserver.Options{BindAddress: o.metricsAddr},
		Cache:                  controllers.CacheOptions(),
		HealthProbeBindAddress: o.probeAddr,
		LeaderElection:         o.leaderElect,
		LeaderElectionID:       "herald.social.herald.dev",
	})
	if err != nil {
		return fmt.Errorf("creating the manager: %w", err)
	}
	// The sandbox feed records what the sandbox publisher posts; Herald's
	// HTTP listener serves it at /sandbox/.
	sandboxFeed := &sandbox.Feed{BaseURL: strings.TrimSuffix(o.http.publicURL, "/")}
	publishers := registry.Default(&http.Client{Timeout: 30 * time.Second}, sandboxFeed)
	if err := controllers.Setup(mgr, controllers.Options{
		MaxConcurrentReconciles: o.maxConcurrent,
		PostWorkers:             o.postWorkers,
		Publishers:              publishers,
	}); err != nil {
		return err
	}
	if err := mgr.AddHealthzCheck("healthz", healthz.Ping); err != nil {
		return err
	}
	if err := mgr.AddReadyzCheck("readyz", healthz.Ping); err != nil {
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
	if err := setupHTTP(setupCtx, mgr, o.http, o.dev, sandboxFeed); err != nil {
		return err
	}

	log.Info("starting the manager")
	return mgr.Start(ctx)
}

// restConfig finds the cluster to run against. In development mode with no
// cluster configured it starts the embedded control plane; the returned stop
// function shuts it down.
func restConfig(o options) (*rest.Config, func(), error) {
	nothing := func() {}
	configured := flag.Lookup(ctrlconfig.KubeconfigFlagName).Value.String() != "" ||
		os.Getenv("KUBECONFIG") != "" || os.Getenv("KUBERNETES_SERVICE_HOST") != ""
	if !o.dev || configured {
		cfg, err := ctrl.GetConfig()
		if err != nil {
			return nil, nothing, fmt.Errorf("finding the cluster: %w (without one, run with --dev to start an embedded control plane)", err)
		}
		return cfg, nothing, nil
	}

	log := ctrl.Log.WithName("controlplane")
	assets, err := controlplane.AssetsDir()
	if err != nil {
		return nil, nothing, err
	}
	start := time.Now()
	cluster, err := controlplane.Start(o.dataDir, assets)
	if err != nil {
		return nil, nothing, err
	}
	kubeconfig, _ := filepath.Abs(cluster.KubeconfigPath)
	log.Info("embedded control plane is up", "took", time.Since(start).Round(10*time.Millisecond).String(), "data", o.dataDir)
	fmt.Fprintf(os.Stderr, `
  Herald is running on an embedded control plane.
  kubeconfig: %s
  try:        kubectl --kubeconfig %s get herald -A

`, kubeconfig, cluster.KubeconfigPath)
	return cluster.Config, func() {
		if err := cluster.Stop(); err != nil && !errors.Is(err, context.Canceled) {
			log.Error(err, "stopping the embedded control plane")
			return
		}
		log.Info("embedded control plane stopped; its data stays in " + o.dataDir)
	}, nil
}
