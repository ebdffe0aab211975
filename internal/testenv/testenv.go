// Package testenv starts a real kube-apiserver and etcd with Herald's CRDs for
// tests, from the binaries hack/controlplane builds.
package testenv

import (
	"k8s.io/client-go/rest"
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
