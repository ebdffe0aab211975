package cluster

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// The cluster's fixed names and ranges: one such cluster per machine, all of
// it inside its network namespace.
const (
	netnsName   = "herald-cluster"
	bridgeName  = "herald0"
	nodeIP      = "10.244.0.1" // the bridge: the node, its kube-apiserver and kubelet
	podCIDR     = "10.244.0.0/24"
	serviceCIDR = "10.96.0.0/16"
	// KubernetesServiceIP is the ClusterIP of the default kubernetes Service.
	KubernetesServiceIP = "10.96.0.1"
	// NodeName is the one node's name.
	NodeName      = "herald-node"
	apiserverPort = "6443"
	// PauseImage is the sandbox image, made by the harness, never pulled.
	PauseImage = "registry.k8s.io/pause:3.10"
)

// APIServerURL is where the API server serves, inside the namespace.
const APIServerURL = "https://" + nodeIP + ":" + apiserverPort

func writeFile(path, content string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, []byte(content), 0o644)
}

// kubeconfig writes a kubeconfig for the client certificate name.
func (c *Cluster) kubeconfig(name string) (string, error) {
	pki := c.path("pki")
	path := c.path("kubeconfig", name+".yaml")
	return path, writeFile(path, fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: herald-cluster
  cluster: {server: %q, certificate-authority: %q}
users:
- name: %s
  user: {client-certificate: %q, client-key: %q}
contexts:
- name: herald-cluster
  context: {cluster: herald-cluster, user: %s}
current-context: herald-cluster
`, APIServerURL, filepath.Join(pki, "ca.crt"), name, filepath.Join(pki, name+".crt"), filepath.Join(pki, name+".key"), name))
}

// containerdConfig is containerd's configuration: its own folders and
// socket, CRI settings this machine kind needs (each found by a failure:
// without restrict_oom_score_adj every sandbox fails to start), the CNI
// configuration of the harness.
func (c *Cluster) containerdConfig() string {
	return fmt.Sprintf(`version = 2
root = %q
state = %q
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper"]

[grpc]
  address = %q

[ttrpc]
  address = %q

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = %q
  restrict_oom_score_adj = true
  disable_apparmor = true
  netns_mounts_under_state_dir = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
        Root = %q
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = %q
`, c.path("containerd", "root"), c.path("containerd", "state"), c.containerdSocket(), c.path("containerd", "ttrpc.sock"),
		PauseImage, c.path("containerd", "runc"), c.path("cni", "conf"))
}

func (c *Cluster) containerdSocket() string { return c.path("containerd", "containerd.sock") }

// cniConfig connects pods to the node's bridge; pod addresses come from
// the pod range, their leases kept in the harness's folder.
func (c *Cluster) cniConfig() string {
	return fmt.Sprintf(`{
  "cniVersion": "0.4.0",
  "name": "herald-cluster",
  "plugins": [
    {"type": "bridge", "bridge": %q, "isGateway": false, "ipMasq": false, "hairpinMode": true,
     "ipam": {"type": "host-local", "dataDir": %q, "ranges": [[{"subnet": %q, "rangeStart": "10.244.0.10", "gateway": %q}]],
              "routes": [{"dst": "0.0.0.0/0"}]}},
    {"type": "portmap", "capabilities": {"portMappings": true}}
  ]
}
`, bridgeName, c.path("cni", "ipam"), podCIDR, nodeIP)
}

// kubeletConfig is the kubelet's configuration for this machine kind:
// cgroup v1 with cgroupfs, no swap check, no iptables chains of its own,
// no image garbage collection or eviction to speak of.
func (c *Cluster) kubeletConfig() string {
	pki := c.path("pki")
	return fmt.Sprintf(`apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: %s
port: 10250
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: 10248
cgroupDriver: cgroupfs
failCgroupV1: false
failSwapOn: false
makeIPTablesUtilChains: false
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
evictionHard: {memory.available: "1Mi", nodefs.available: "1%%", nodefs.inodesFree: "1%%", imagefs.available: "1%%"}
containerRuntimeEndpoint: unix://%s
podLogsDir: %s
tlsCertFile: %s
tlsPrivateKeyFile: %s
authentication:
  x509: {clientCAFile: %s}
  webhook: {enabled: false}
  anonymous: {enabled: false}
authorization: {mode: AlwaysAllow}
resolvConf: /etc/resolv.conf
serializeImagePulls: false
registerNode: true
`, nodeIP, c.containerdSocket(), c.path("pod-logs"), filepath.Join(pki, "kubelet.crt"), filepath.Join(pki, "kubelet.key"), filepath.Join(pki, "ca.crt"))
}

// proxyConfig is kube-proxy's: iptables inside the namespace, no
// conntrack sysctls (the namespace cannot set them).
func (c *Cluster) proxyConfig(kubeconfig string) string {
	return fmt.Sprintf(`apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
mode: iptables
clusterCIDR: %s
hostnameOverride: %s
bindAddress: 127.0.0.1
healthzBindAddress: 127.0.0.1:10256
metricsBindAddress: 127.0.0.1:10249
conntrack: {maxPerCore: 0}
clientConnection: {kubeconfig: %q}
`, podCIDR, NodeName, kubeconfig)
}

// apiserverArgs are the kube-apiserver's flags: the node's address, RBAC
// and Node authorization, service-account tokens signed by the harness's key.
func (c *Cluster) apiserverArgs() []string {
	pki := c.path("pki")
	f := func(name string) string { return filepath.Join(pki, name) }
	return []string{
		"--etcd-servers=http://127.0.0.1:2379",
		"--bind-address=" + nodeIP, "--advertise-address=" + nodeIP, "--secure-port=" + apiserverPort,
		"--service-cluster-ip-range=" + serviceCIDR,
		"--client-ca-file=" + f("ca.crt"), "--tls-cert-file=" + f("apiserver.crt"), "--tls-private-key-file=" + f("apiserver.key"),
		"--kubelet-client-certificate=" + f("apiserver-kubelet-client.crt"), "--kubelet-client-key=" + f("apiserver-kubelet-client.key"),
		"--kubelet-certificate-authority=" + f("ca.crt"), "--kubelet-preferred-address-types=InternalIP",
		"--service-account-issuer=https://kubernetes.default.svc.cluster.local",
		"--service-account-key-file=" + f("sa.pub"), "--service-account-signing-key-file=" + f("sa.key"),
		"--authorization-mode=Node,RBAC", "--enable-admission-plugins=NodeRestriction",
		"--allow-privileged=false", "--profiling=false",
	}
}

func (c *Cluster) path(parts ...string) string {
	return filepath.Join(append([]string{c.Dir}, parts...)...)
}

// sans are the names and addresses the API server's certificate serves.
var apiserverSANs = strings.Fields("kubernetes kubernetes.default kubernetes.default.svc kubernetes.default.svc.cluster.local localhost 127.0.0.1 " +
	KubernetesServiceIP + " " + nodeIP)

// HeraldImage is the reference Herald's image is imported under; the
// cluster test overlay (config/testdata/cluster) uses it.
const HeraldImage = "local/herald:dev"
