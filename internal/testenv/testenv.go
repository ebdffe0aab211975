// Package testenv starts a real kube-apiserver and etcd with Herald's CRDs for
// tests, from the binaries hack/controlplane builds.
package testenv

import (
	"context"
	"flag"
	"fmt"
	"os"

	"github.com/go-logr/logr"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/herald-dev/herald/internal/controlplane"
	"github.com/herald-dev/herald/internal/scheme"
)

// Start starts an API server with Herald's CRDs installed. Call Stop on the
// returned environment when done.
func Start() (*envtest.Environment, *rest.Config, error) {
	assets, err := controlplane.AssetsDir()
	if err != nil {
		return nil, nil, err
	}
	crds, err := controlplane.CRDs()
	if err != nil {
		return nil, nil, err
	}
	env := &envtest.Environment{BinaryAssetsDirectory: assets, CRDs: crds, Scheme: scheme.New()}
	cfg, err := env.Start()
	if err != nil {
		return nil, nil, err
	}
	// Tests create thousands of objects; the client-side default of 5 QPS
	// would measure the limiter, not Herald.
	cfg.QPS, cfg.Burst = 1000, 2000
	return env, cfg, nil
}

// Benchmark is the main of a benchmark program: it parses the flags,
// silences the logs (the numbers are the output), starts an API server and
// runs run against it; a failure is printed under name and exits 1.
func Benchmark(name string, run func(ctx context.Context, cfg *rest.Config) error) {
	flag.Parse()
	ctrl.SetLogger(logr.Discard())
	err := func() error {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		env, cfg, err := Start()
		if err != nil {
			return err
		}
		defer func() { _ = env.Stop() }()
		return run(ctx, cfg)
	}()
	if err != nil {
		fmt.Fprintln(os.Stderr, name+":", err)
		os.Exit(1)
	}
}
