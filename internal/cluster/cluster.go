// Package cluster brings up a real single-node Kubernetes cluster on this
// machine for Herald's end-to-end test and `make cluster`: etcd,
// kube-apiserver, kube-controller-manager, kube-scheduler, a kubelet with
// containerd and runc, and kube-proxy, every one inside a network namespace
// of its own (the way kind gives each node its own), so the cluster's
// addresses, bridge and iptables rules never touch the machine's network.
// Images are made without a registry and imported into containerd.
package cluster

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/herald-dev/herald/internal/controlplane"
)

// Options say where the cluster's parts are.
type Options struct {
	// Dir holds the cluster's state: certificates, data, logs, pid files.
	Dir string
	// ControlPlane holds etcd, kube-apiserver and kubectl
	// (hack/controlplane/build.sh); Node holds kubelet, kube-proxy,
	// kube-scheduler and kube-controller-manager (build.sh node).
	ControlPlane, Node string
	// Detached leaves the processes running when this process ends
	// (make cluster); otherwise they die with it.
	Detached bool
	// Log receives progress lines; nil discards them.
	Log io.Writer
}

// Cluster is a running cluster.
type Cluster struct {
	Options
	ns netns
	// AdminKubeconfig is a cluster-admin kubeconfig; its server is reached
	// only from inside the namespace (Kubectl, RESTConfig).
	AdminKubeconfig string
	procs           []*exec.Cmd
	startedAt       time.Time
	spawns          chan spawnRequest
}

type spawnRequest struct {
	cmd  *exec.Cmd
	done chan error
}

// spawn starts cmd from the cluster's own locked thread, started on first
// use; it ends when Down closes spawns.
func (c *Cluster) spawn(cmd *exec.Cmd) error {
	if c.spawns == nil {
		c.spawns = make(chan spawnRequest)
		go func(requests chan spawnRequest) {
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			for r := range requests {
				r.done <- r.cmd.Start()
			}
		}(c.spawns)
	}
	done := make(chan error, 1)
	c.spawns <- spawnRequest{cmd, done}
	return <-done
}

// ensurePackages installs, from Debian's packages, what the node runs on.
func ensurePackages(log io.Writer) error {
	missing := false
	for _, p := range []string{"/usr/bin/containerd", "/usr/sbin/runc", "/usr/lib/cni/bridge", "/usr/sbin/iptables", "/usr/bin/nsenter", "/usr/bin/ctr", caBundle} {
		if _, err := os.Stat(p); err != nil {
			missing = true
		}
	}
	if !missing {
		return nil
	}
	fmt.Fprintln(log, ">> installing containerd, runc, the CNI plugins, iptables and CA certificates from Debian's packages")
	cmd := exec.Command("apt-get", "-o", "DPkg::Lock::Timeout=600", "install", "-y", "-q", "--no-install-recommends", "containerd", "runc", "containernetworking-plugins", "iptables", "util-linux", "ca-certificates")
	cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("apt-get install: %v: %s", err, out)
	}
	return nil
}

// Up starts a cluster and waits until its node is Ready and the default
// service account exists. On failure it tears down what it started.
func Up(ctx context.Context, o Options) (_ *Cluster, err error) {
	if o.Log == nil {
		o.Log = io.Discard
	}
	c := &Cluster{Options: o, ns: netns{netnsName}, startedAt: time.Now()}
	if err := ensurePackages(o.Log); err != nil {
		return nil, err
	}
	if err := c.ns.create(); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			c.tailLogs(20)
			err = errors.Join(err, c.Down())
		}
	}()
	if err := os.RemoveAll(o.Dir); err != nil {
		return nil, err
	}
	if err := c.writeConfig(); err != nil {
		return nil, err
	}
	cp, node := o.ControlPlane, o.Node
	if err := c.start(ctx, "etcd", filepath.Join(cp, "etcd"), "--data-dir="+c.path("etcd"), "--unsafe-no-fsync",
		"--listen-client-urls=http://127.0.0.1:2379", "--advertise-client-urls=http://127.0.0.1:2379",
		"--listen-peer-urls=http://127.0.0.1:2380", "--initial-advertise-peer-urls=http://127.0.0.1:2380",
		"--initial-cluster=default=http://127.0.0.1:2380", "--listen-metrics-urls=http://127.0.0.1:2381"); err != nil {
		return nil, err
	}
	if err := c.start(ctx, "kube-apiserver", filepath.Join(cp, "kube-apiserver"), c.apiserverArgs()...); err != nil {
		return nil, err
	}
	if err := c.start(ctx, "containerd", "/usr/bin/containerd", "--config="+c.path("containerd", "config.toml")); err != nil {
		return nil, err
	}
	cfg, err := c.RESTConfig()
	if err != nil {
		return nil, err
	}
	transport, err := rest.TransportFor(cfg)
	if err != nil {
		return nil, err
	}
	api := &http.Client{Transport: transport, Timeout: 5 * time.Second}
	if err := c.waitFor(ctx, "the API server", func() error { return get(api, cfg.Host+"/readyz") }); err != nil {
		return nil, err
	}
	fmt.Fprintf(o.Log, ">> API server ready after %.1f s\n", time.Since(c.startedAt).Seconds())
	if err := c.waitFor(ctx, "containerd", func() error { _, err := os.Stat(c.containerdSocket()); return err }); err != nil {
		return nil, err
	}
	if err := c.ImportImage(ctx, PauseImage, filepath.Join(c.Dir, "bin", "podtool"), "pause"); err != nil {
		return nil, err
	}
	kc := func(n string) string { return c.path("kubeconfig", n+".yaml") }
	if err := c.start(ctx, "kube-controller-manager", filepath.Join(node, "kube-controller-manager"),
		"--kubeconfig="+kc("controller-manager"), "--authentication-kubeconfig="+kc("controller-manager"), "--authorization-kubeconfig="+kc("controller-manager"),
		"--bind-address=127.0.0.1", "--leader-elect=false", "--use-service-account-credentials=true",
		"--service-account-private-key-file="+c.path("pki", "sa.key"), "--root-ca-file="+c.path("pki", "ca.crt"),
		"--cluster-signing-cert-file="+c.path("pki", "ca.crt"), "--cluster-signing-key-file="+c.path("pki", "ca.key"),
		"--controllers=*"); err != nil {
		return nil, err
	}
	if err := c.start(ctx, "kube-scheduler", filepath.Join(node, "kube-scheduler"),
		"--kubeconfig="+kc("scheduler"), "--authentication-kubeconfig="+kc("scheduler"), "--authorization-kubeconfig="+kc("scheduler"),
		"--bind-address=127.0.0.1", "--leader-elect=false"); err != nil {
		return nil, err
	}
	if err := c.start(ctx, "kubelet", filepath.Join(node, "kubelet"), "--config="+c.path("kubelet", "config.yaml"),
		"--kubeconfig="+kc("node"), "--root-dir="+c.path("kubelet", "root"), "--cert-dir="+c.path("kubelet", "pki"),
		"--hostname-override="+NodeName, "--node-ip="+nodeIP, "--v=1"); err != nil {
		return nil, err
	}
	if err := c.start(ctx, "kube-proxy", filepath.Join(node, "kube-proxy"), "--config="+c.path("kube-proxy", "config.yaml")); err != nil {
		return nil, err
	}
	if err := c.waitFor(ctx, "the node to be Ready", func() error {
		out, err := c.Kubectl(ctx, "get", "node", NodeName, "-o", `jsonpath={.status.conditions[?(@.type=="Ready")].status}`)
		if err != nil || strings.TrimSpace(out) != "True" {
			return fmt.Errorf("node Ready=%q: %v", out, err)
		}
		return nil
	}); err != nil {
		return nil, err
	}
	fmt.Fprintf(o.Log, ">> node %s Ready after %.1f s\n", NodeName, time.Since(c.startedAt).Seconds())
	if err := c.waitFor(ctx, "the default service account", func() error {
		_, err := c.Kubectl(ctx, "get", "serviceaccount", "default", "-n", "default")
		return err
	}); err != nil {
		return nil, err
	}
	fmt.Fprintf(o.Log, ">> cluster up in %.1f s (state in %s)\n", time.Since(c.startedAt).Seconds(), o.Dir)
	return c, nil
}

// writeConfig writes the certificates, kubeconfigs and component
// configurations, and builds the pod helper binary.
func (c *Cluster) writeConfig() error {
	pki := c.path("pki")
	if err := os.MkdirAll(pki, 0o700); err != nil {
		return err
	}
	ca, err := newAuthority(pki)
	if err != nil {
		return err
	}
	certs := []struct {
		name, cn string
		orgs     []string
		hosts    []string
	}{
		{"apiserver", "kube-apiserver", nil, apiserverSANs},
		{"apiserver-kubelet-client", "kube-apiserver-kubelet-client", []string{"system:masters"}, nil},
		{"admin", "herald-cluster-admin", []string{"system:masters"}, nil},
		{"controller-manager", "system:kube-controller-manager", nil, nil},
		{"scheduler", "system:kube-scheduler", nil, nil},
		{"kube-proxy", "system:kube-proxy", nil, nil},
		{"node", "system:node:" + NodeName, []string{"system:nodes"}, nil},
		{"kubelet", NodeName, nil, []string{NodeName, nodeIP}},
	}
	for _, cert := range certs {
		if err := ca.issue(cert.name, cert.cn, cert.orgs, cert.hosts...); err != nil {
			return err
		}
	}
	if err := serviceAccountKeys(pki); err != nil {
		return err
	}
	for _, name := range []string{"admin", "controller-manager", "scheduler", "kube-proxy", "node"} {
		path, err := c.kubeconfig(name)
		if err != nil {
			return err
		}
		if name == "admin" {
			c.AdminKubeconfig = path
		}
	}
	files := map[string]string{
		c.path("containerd", "config.toml"):         c.containerdConfig(),
		c.path("cni", "conf", "10-herald.conflist"): c.cniConfig(),
		c.path("kubelet", "config.yaml"):            c.kubeletConfig(),
		c.path("kube-proxy", "config.yaml"):         c.proxyConfig(c.path("kubeconfig", "kube-proxy.yaml")),
	}
	for path, content := range files {
		if err := writeFile(path, content); err != nil {
			return err
		}
	}
	for _, d := range []string{"logs", "pids", "pod-logs", "bin"} {
		if err := os.MkdirAll(c.path(d), 0o755); err != nil {
			return err
		}
	}
	return BuildStatic(c.path("bin", "podtool"), "./hack/cluster/podtool")
}

// start runs a component inside the namespace, its output in logs/NAME.log
// and its process id in pids/NAME.pid.
func (c *Cluster) start(ctx context.Context, name, binary string, args ...string) error {
	log, err := os.Create(c.path("logs", name+".log"))
	if err != nil {
		return err
	}
	defer log.Close()
	cmd := c.ns.command(context.Background(), binary, args...)
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if !c.Detached {
		// The kernel signals a child when the thread that started it
		// ends, not the process: children are started from one thread
		// that lives as long as the cluster.
		cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL // nsenter execs the binary, which keeps it
		if err := c.spawn(cmd); err != nil {
			return fmt.Errorf("starting %s: %w", name, err)
		}
	} else if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting %s: %w", name, err)
	}
	c.procs = append(c.procs, cmd)
	go func() { _ = cmd.Wait() }()
	fmt.Fprintf(c.Log, "   %s started (pid %d), log %s\n", name, cmd.Process.Pid, log.Name())
	return os.WriteFile(c.path("pids", name+".pid"), []byte(strconv.Itoa(cmd.Process.Pid)), 0o644)
}

// waitFor polls check until it succeeds, for at most two minutes.
func (c *Cluster) waitFor(ctx context.Context, what string, check func() error) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	var last error
	for {
		if last = check(); last == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for %s: %v (component logs in %s)", what, last, c.path("logs"))
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// get asks for url and expects 200.
func get(c *http.Client, url string) error {
	resp, err := c.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return fmt.Errorf("%s: %s: %s", url, resp.Status, body)
	}
	return nil
}

// RESTConfig is a cluster-admin client configuration whose connections are
// made inside the cluster's namespace.
func (c *Cluster) RESTConfig() (*rest.Config, error) {
	cfg, err := clientcmd.BuildConfigFromFlags("", c.AdminKubeconfig)
	if err != nil {
		return nil, err
	}
	cfg.Dial = c.ns.DialContext
	cfg.QPS, cfg.Burst = 50, 100
	return cfg, nil
}

// DialContext dials from inside the cluster's namespace: how the machine
// reaches a ClusterIP or a pod.
func (c *Cluster) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	return c.ns.DialContext(ctx, network, addr)
}

// Command is a command run inside the cluster's namespace.
func (c *Cluster) Command(ctx context.Context, name string, args ...string) *exec.Cmd {
	return c.ns.command(ctx, name, args...)
}

// Kubectl runs kubectl as cluster admin and returns its output.
func (c *Cluster) Kubectl(ctx context.Context, args ...string) (string, error) {
	cmd := c.ns.command(ctx, filepath.Join(c.ControlPlane, "kubectl"), append([]string{"--kubeconfig=" + c.AdminKubeconfig}, args...)...)
	out, err := cmd.Output()
	if err != nil {
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			return string(out), fmt.Errorf("kubectl %s: %v: %s", strings.Join(args, " "), err, exit.Stderr)
		}
		return string(out), err
	}
	return string(out), nil
}

// DefaultDir is where make cluster keeps the cluster's state: one cluster
// per machine, as its ports, bridge and ranges are fixed.
var DefaultDir = filepath.Join(os.TempDir(), "herald-cluster")

// NodeBinaries builds (once per version, into the cache) and locates
// kubelet, kube-proxy, kube-scheduler and kube-controller-manager.
func NodeBinaries() (string, error) {
	root, err := controlplane.ModuleRoot()
	if err != nil {
		return "", err
	}
	cmd := exec.Command(filepath.Join(root, "hack", "controlplane", "build.sh"), "node")
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("hack/controlplane/build.sh node: %w", err)
	}
	return strings.TrimSpace(string(out)), nil
}

// WriteKubectl writes DIR/kubectl, a kubectl that runs inside the
// cluster's namespace as cluster admin, for a person at the shell.
func (c *Cluster) WriteKubectl() (string, error) {
	path := c.path("kubectl")
	script := fmt.Sprintf("#!/bin/sh\n# kubectl for the cluster of make cluster, run inside its network namespace.\nexec nsenter --net=%s -- %s --kubeconfig=%s \"$@\"\n",
		c.ns.path(), filepath.Join(c.ControlPlane, "kubectl"), c.AdminKubeconfig)
	return path, os.WriteFile(path, []byte(script), 0o755)
}

// tailLogs writes the last lines of each component's log to Log: what a
// failed start-up shows before its folder is removed.
func (c *Cluster) tailLogs(lines int) {
	logs, _ := filepath.Glob(c.path("logs", "*.log"))
	for _, l := range logs {
		data, err := os.ReadFile(l)
		if err != nil {
			continue
		}
		all := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
		fmt.Fprintf(c.Log, "--- %s (last %d lines)\n%s\n", filepath.Base(l), lines, strings.Join(all[max(0, len(all)-lines):], "\n"))
	}
}
