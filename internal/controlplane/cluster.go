package controlplane

import (
	"bytes"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/herald-dev/herald/config"
)

// Cluster is a local kube-apiserver and etcd with Herald's CRDs installed: the
// embedded control plane of `make run`.
type Cluster struct {
	env *envtest.Environment
	// Config reaches the API server as a cluster administrator.
	Config *rest.Config
	// KubeconfigPath is the admin kubeconfig written for kubectl.
	KubeconfigPath string
}

// Start starts the control plane with etcd's data under dataDir/etcd, so a
// second start finds the objects of the first, and writes an admin kubeconfig
// to dataDir/kubeconfig.
func Start(dataDir, assetsDir string) (*Cluster, error) {
	etcdDir := filepath.Join(dataDir, "etcd")
	if err := os.MkdirAll(etcdDir, 0o700); err != nil {
		return nil, err
	}
	crds, err := CRDs()
	if err != nil {
		return nil, err
	}
	env := &envtest.Environment{
		BinaryAssetsDirectory: assetsDir,
		CRDs:                  crds,
		ControlPlane:          envtest.ControlPlane{Etcd: &envtest.Etcd{DataDir: etcdDir}},
	}
	cfg, err := env.Start()
	if err != nil {
		return nil, fmt.Errorf("starting kube-apiserver and etcd from %s: %w", assetsDir, err)
	}
	c := &Cluster{env: env, Config: cfg, KubeconfigPath: filepath.Join(dataDir, "kubeconfig")}

	user, err := env.AddUser(envtest.User{Name: "herald-admin", Groups: []string{"system:masters"}}, nil)
	if err == nil {
		var kubeconfig []byte
		if kubeconfig, err = user.KubeConfig(); err == nil {
			err = os.WriteFile(c.KubeconfigPath, kubeconfig, 0o600)
		}
	}
	if err != nil {
		_ = env.Stop()
		return nil, fmt.Errorf("writing the admin kubeconfig: %w", err)
	}
	return c, nil
}

// Stop stops the API server and etcd; etcd's data stays for the next start.
func (c *Cluster) Stop() error { return c.env.Stop() }

// CRDs returns Herald's CustomResourceDefinitions as generated into config/crd/bases.
func CRDs() ([]*apiextensionsv1.CustomResourceDefinition, error) {
	var crds []*apiextensionsv1.CustomResourceDefinition
	err := fs.WalkDir(config.CRDs, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := config.CRDs.ReadFile(path)
		if err != nil {
			return err
		}
		dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
		for {
			crd := &apiextensionsv1.CustomResourceDefinition{}
			if err := dec.Decode(crd); err == io.EOF {
				return nil
			} else if err != nil {
				return fmt.Errorf("%s: %w", path, err)
			}
			if crd.Name != "" {
				crds = append(crds, crd)
			}
		}
	})
	return crds, err
}
