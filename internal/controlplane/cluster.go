package controlplane

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"time"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/herald-dev/herald/config"
)

// Cluster is a local etcd and kube-apiserver with Herald's CRDs installed:
// the embedded control plane of `make run`.
type Cluster struct {
	// Config reaches the API server as a cluster administrator.
	Config *rest.Config
	// KubeconfigPath is the admin kubeconfig written for kubectl.
	KubeconfigPath string
	// Leftovers names the processes an earlier Herald left running on the
	// data folder, which Start stopped first.
	Leftovers []string

	dataDir string
	procs   []*process // in start order
}

// How long each part may take to come up. A first start on a loaded
// machine takes seconds; a process that exits fails the start at once.
const (
	etcdReadyTimeout      = time.Minute
	apiServerReadyTimeout = 2 * time.Minute
	crdReadyTimeout       = time.Minute
	stopGrace             = 15 * time.Second
)

// Start starts the control plane with etcd's data under dataDir/etcd, so a
// second start finds the objects of the first, and writes an admin kubeconfig
// to dataDir/kubeconfig. It first stops what an earlier Herald left running
// on dataDir, and refuses a control plane it did not record there.
//
// The processes end when Herald does: Stop ends them in order, and the
// kernel kills them if Herald dies first.
func Start(dataDir, assetsDir string) (*Cluster, error) {
	dataDir, err := filepath.Abs(dataDir)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Join(dataDir, "etcd"), 0o700); err != nil {
		return nil, err
	}
	c := &Cluster{dataDir: dataDir, KubeconfigPath: filepath.Join(dataDir, "kubeconfig")}
	if c.Leftovers, err = stopLeftovers(dataDir); err != nil {
		return nil, err
	}
	certs := pki{dir: filepath.Join(dataDir, "pki")}
	if err := certs.ensure(); err != nil {
		return nil, fmt.Errorf("making the control plane's certificates in %s: %w", certs.dir, err)
	}
	ports, err := freePorts(3)
	if err != nil {
		return nil, err
	}
	if err := c.start(assetsDir, certs, ports[0], ports[1], ports[2]); err != nil {
		_ = c.Stop()
		return nil, err
	}
	return c, nil
}

func (c *Cluster) start(assetsDir string, certs pki, etcdPort, peerPort, apiPort int) error {
	etcdURL := "http://127.0.0.1:" + strconv.Itoa(etcdPort)
	etcd, err := c.run("etcd", filepath.Join(assetsDir, "etcd"),
		"--data-dir="+filepath.Join(c.dataDir, "etcd"),
		"--listen-client-urls="+etcdURL,
		"--advertise-client-urls="+etcdURL,
		"--listen-peer-urls=http://127.0.0.1:"+strconv.Itoa(peerPort),
		// A killed process loses nothing the kernel has; only a crash of
		// the machine could cost the last writes of a development cluster.
		"--unsafe-no-fsync=true",
		"--log-level=warn",
	)
	if err != nil {
		return err
	}
	if err := waitReady(etcd, etcdReadyTimeout, http.DefaultClient, etcdURL+"/health"); err != nil {
		return err
	}

	apiURL := "https://127.0.0.1:" + strconv.Itoa(apiPort)
	apiServer, err := c.run("kube-apiserver", filepath.Join(assetsDir, "kube-apiserver"),
		"--etcd-servers="+etcdURL,
		"--bind-address=127.0.0.1",
		"--secure-port="+strconv.Itoa(apiPort),
		"--tls-cert-file="+certs.path(servingCertFile),
		"--tls-private-key-file="+certs.path(servingKeyFile),
		"--client-ca-file="+certs.path(caCertFile),
		"--authorization-mode=RBAC",
		"--service-account-issuer="+apiURL+"/",
		"--service-account-key-file="+certs.path(saPublicFile),
		"--service-account-signing-key-file="+certs.path(saKeyFile),
		"--service-cluster-ip-range=10.0.0.0/24",
		"--allow-privileged=true",
		// No controller manager runs to make the default service accounts
		// the admission plugin would wait for.
		"--disable-admission-plugins=ServiceAccount",
	)
	if err != nil {
		return err
	}
	if c.Config, err = adminConfig(apiURL, certs); err != nil {
		return err
	}
	transport, err := rest.TransportFor(c.Config)
	if err != nil {
		return err
	}
	if err := waitReady(apiServer, apiServerReadyTimeout, &http.Client{Transport: transport, Timeout: 5 * time.Second}, apiURL+"/readyz"); err != nil {
		return err
	}
	if err := installCRDs(c.Config); err != nil {
		return err
	}
	return writeKubeconfig(c.KubeconfigPath, c.Config)
}

// run starts one binary and records it in the pid file.
func (c *Cluster) run(name, bin string, args ...string) (*process, error) {
	if fi, err := os.Stat(bin); err != nil || fi.Mode()&0o111 == 0 {
		return nil, fmt.Errorf("no executable %s at %s", name, bin)
	}
	p, err := startProcess(name, bin, args)
	if err != nil {
		return nil, err
	}
	c.procs = append(c.procs, p)
	if err := writePIDFile(c.dataDir, c.procs); err != nil {
		return nil, fmt.Errorf("recording the control plane's processes in %s: %w", c.dataDir, err)
	}
	return p, nil
}

// Stop stops the API server, then etcd; etcd's data stays for the next start.
func (c *Cluster) Stop() error {
	var errs []error
	for i := len(c.procs) - 1; i >= 0; i-- {
		errs = append(errs, c.procs[i].stop(stopGrace))
	}
	if err := os.Remove(filepath.Join(c.dataDir, pidFileName)); err != nil && !errors.Is(err, os.ErrNotExist) {
		errs = append(errs, err)
	}
	c.procs = nil
	return errors.Join(errs...)
}

// PIDs returns the process ids of the running control plane, etcd first.
func (c *Cluster) PIDs() []int {
	pids := make([]int, 0, len(c.procs))
	for _, p := range c.procs {
		pids = append(pids, p.cmd.Process.Pid)
	}
	return pids
}

// waitReady polls url until it answers 200, failing at once when the
// process exits: a process that cannot start is not helped by waiting.
func waitReady(p *process, timeout time.Duration, hc *http.Client, url string) error {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	var last string
	for {
		resp, err := hc.Get(url)
		if err == nil {
			body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			last = fmt.Sprintf("%s answered %d: %s", url, resp.StatusCode, bytes.TrimSpace(body))
		} else {
			last = err.Error()
		}
		select {
		case <-p.exited:
			return p.failure()
		case <-deadline.C:
			return fmt.Errorf("%s was not ready within %s (%s); the end of its output:\n%s", p.name, timeout, last, p.output.lastLines(10))
		case <-tick.C:
		}
	}
}

func adminConfig(apiURL string, certs pki) (*rest.Config, error) {
	read := func(file string) ([]byte, error) { return os.ReadFile(certs.path(file)) }
	ca, err := read(caCertFile)
	if err != nil {
		return nil, err
	}
	cert, err := read(adminCertFile)
	if err != nil {
		return nil, err
	}
	key, err := read(adminKeyFile)
	if err != nil {
		return nil, err
	}
	if _, err := tls.X509KeyPair(cert, key); err != nil {
		return nil, fmt.Errorf("the admin certificate in %s: %w", certs.dir, err)
	}
	if !x509.NewCertPool().AppendCertsFromPEM(ca) {
		return nil, fmt.Errorf("the CA certificate in %s does not parse", certs.dir)
	}
	return &rest.Config{
		Host:            apiURL,
		TLSClientConfig: rest.TLSClientConfig{CAData: ca, CertData: cert, KeyData: key},
		QPS:             100,
		Burst:           200,
	}, nil
}

func writeKubeconfig(path string, cfg *rest.Config) error {
	const name = "herald"
	kubeconfig := clientcmdapi.Config{
		Clusters: map[string]*clientcmdapi.Cluster{name: {Server: cfg.Host, CertificateAuthorityData: cfg.CAData}},
		AuthInfos: map[string]*clientcmdapi.AuthInfo{"herald-admin": {
			ClientCertificateData: cfg.CertData, ClientKeyData: cfg.KeyData,
		}},
		Contexts:       map[string]*clientcmdapi.Context{name: {Cluster: name, AuthInfo: "herald-admin"}},
		CurrentContext: name,
	}
	data, err := clientcmd.Write(kubeconfig)
	if err != nil {
		return err
	}
	return os.WriteFile(path, data, 0o600)
}

// installCRDs creates or updates Herald's CRDs and waits until the API
// server serves each.
func installCRDs(cfg *rest.Config) error {
	crds, err := CRDs()
	if err != nil {
		return err
	}
	s := runtime.NewScheme()
	if err := apiextensionsv1.AddToScheme(s); err != nil {
		return err
	}
	c, err := client.New(cfg, client.Options{Scheme: s})
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), crdReadyTimeout)
	defer cancel()
	for _, crd := range crds {
		err := c.Create(ctx, crd)
		if apierrors.IsAlreadyExists(err) {
			existing := &apiextensionsv1.CustomResourceDefinition{}
			if err = c.Get(ctx, client.ObjectKeyFromObject(crd), existing); err == nil {
				existing.Spec = crd.Spec
				err = c.Update(ctx, existing)
			}
		}
		if err != nil {
			return fmt.Errorf("installing the CRD %s: %w", crd.Name, err)
		}
	}
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for _, crd := range crds {
		for !established(ctx, c, crd.Name) {
			select {
			case <-ctx.Done():
				return fmt.Errorf("the CRD %s was not established within %s", crd.Name, crdReadyTimeout)
			case <-tick.C:
			}
		}
	}
	return nil
}

func established(ctx context.Context, c client.Client, name string) bool {
	crd := &apiextensionsv1.CustomResourceDefinition{}
	if err := c.Get(ctx, client.ObjectKey{Name: name}, crd); err != nil {
		return false
	}
	for _, cond := range crd.Status.Conditions {
		if cond.Type == apiextensionsv1.Established && cond.Status == apiextensionsv1.ConditionTrue {
			return true
		}
	}
	return false
}

// freePorts finds n loopback ports nothing listens on.
func freePorts(n int) ([]int, error) {
	var ports []int
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		defer l.Close()
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

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
