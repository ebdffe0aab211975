// Package cluster installs Herald in a real single-node Kubernetes cluster
// (internal/cluster: containerd, runc, the kubelet, kube-proxy and a
// control plane, all in a network namespace of their own) exactly as
// config/default installs it, with an image made from the same static
// binary the Dockerfile builds, and proves that what the bundle runs
// serves MCP: both replicas Ready with one leader, MCP through the Service
// from a pod and from the machine, the OAuth flow, a post published once
// through a rolling restart, and a leader taking over when the other's pod
// is deleted.
package cluster

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	socialv1alpha1 "github.com/herald-dev/herald/api/v1alpha1"
	"github.com/herald-dev/herald/internal/cluster"
	"github.com/herald-dev/herald/internal/controlplane"
	"github.com/herald-dev/herald/internal/scheme"
	"github.com/herald-dev/herald/internal/signin"
	"github.com/herald-dev/herald/internal/testenv"
	"github.com/herald-dev/herald/mcpserver/oauth"
)

const (
	installNS  = "herald-system"
	deployment = "herald-controller-manager"
	// publicURL is what config/testdata/cluster sets: the Service's name,
	// which the test's clients resolve to its ClusterIP.
	publicHost = "herald-controller-manager.herald-system.svc"
	publicURL  = "http://" + publicHost + ":8080"
	password   = "alice-in-the-cluster"
	probeImage = "local/podtool:dev"
)

// observe prints what the test saw, for make test's report.
func observe(t *testing.T, format string, args ...any) {
	t.Helper()
	t.Logf("observed: "+format, args...)
}

func TestInARealCluster(t *testing.T) {
	g := NewWithT(t)
	if os.Geteuid() != 0 {
		t.Fatal("the real-cluster test runs as root: it starts containerd and a kubelet and makes a network namespace")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	root, err := controlplane.ModuleRoot()
	g.Expect(err).NotTo(HaveOccurred())
	cp, err := controlplane.AssetsDir()
	g.Expect(err).NotTo(HaveOccurred())
	node, err := cluster.NodeBinaries()
	g.Expect(err).NotTo(HaveOccurred())

	start := time.Now()
	c, err := cluster.Up(ctx, cluster.Options{Dir: filepath.Join(os.TempDir(), "herald-cluster-test"), ControlPlane: cp, Node: node, Log: testWriter{t}})
	g.Expect(err).NotTo(HaveOccurred())
	observe(t, "cluster up (node Ready, default service account) in %.1f s", time.Since(start).Seconds())
	t.Cleanup(func() { downLeavesNothing(t, c) })

	// Herald's image, from the same static binary the Dockerfile builds.
	bin := filepath.Join(t.TempDir(), "herald")
	g.Expect(cluster.BuildStatic(bin, ".")).To(Succeed())
	g.Expect(c.ImportImage(ctx, cluster.HeraldImage, bin)).To(Succeed())
	g.Expect(c.ImportImage(ctx, probeImage, filepath.Join(c.Dir, "bin", "podtool"), "get")).To(Succeed())

	// config/default through the test overlay, as a person would apply it.
	applied := time.Now()
	out, err := c.Kubectl(ctx, "apply", "--server-side", "-k", filepath.Join(root, "config", "testdata", "cluster"))
	g.Expect(err).NotTo(HaveOccurred(), out)
	out, err = c.Kubectl(ctx, "-n", installNS, "rollout", "status", "deployment/"+deployment, "--timeout=120s")
	g.Expect(err).NotTo(HaveOccurred(), "%s\n%s", out, describe(ctx, c))
	observe(t, "config/default rolled out, 2 replicas Ready, %.1f s after apply", time.Since(applied).Seconds())

	cfg, err := c.RESTConfig()
	g.Expect(err).NotTo(HaveOccurred())
	admin, err := client.New(cfg, client.Options{Scheme: scheme.New()})
	g.Expect(err).NotTo(HaveOccurred())
	h := &herald{t: t, c: c, admin: admin}
	h.http = &http.Client{Timeout: 15 * time.Second, Transport: &http.Transport{DialContext: h.dialService}}

	t.Run("both replicas Ready, one leader", func(t *testing.T) { h.oneLeader(NewWithT(t)) })
	t.Run("the dry-run install of dist/install.yaml and of the chart", func(t *testing.T) { h.artefactsApply(NewWithT(t), ctx, root) })
	t.Run("MCP through the Service, from a pod and from the machine", func(t *testing.T) { h.reachable(NewWithT(t), ctx) })

	h.seed(g, ctx)
	t.Run("the OAuth flow and a post published through the Service", func(t *testing.T) { h.signInAndPublish(NewWithT(t), ctx) })
	t.Run("a post due mid-rollout is published once", func(t *testing.T) { h.throughRollout(NewWithT(t), ctx) })
	t.Run("the leader's pod is deleted and the other takes over", func(t *testing.T) { h.takeover(NewWithT(t), ctx) })
}

type herald struct {
	t     *testing.T
	c     *cluster.Cluster
	admin client.Client
	http  *http.Client
	token string
}

// dialService resolves the Service's name to its ClusterIP, as cluster
// DNS would, and dials from inside the cluster's network.
func (h *herald) dialService(ctx context.Context, network, addr string) (net.Conn, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	if host == publicHost {
		svc := &corev1.Service{}
		if err := h.admin.Get(ctx, client.ObjectKey{Namespace: installNS, Name: deployment}, svc); err != nil {
			return nil, err
		}
		host = svc.Spec.ClusterIP
	}
	return h.c.DialContext(ctx, network, net.JoinHostPort(host, port))
}

func (h *herald) pods(g Gomega) []corev1.Pod {
	var pods corev1.PodList
	g.Expect(h.admin.List(context.Background(), &pods, client.InNamespace(installNS), client.MatchingLabels{"app.kubernetes.io/name": "herald"})).To(Succeed())
	return pods.Items
}

// leader is the pod holding Herald's lease.
func (h *herald) leader(g Gomega) string {
	lease := &coordinationv1.Lease{}
	g.Expect(h.admin.Get(context.Background(), client.ObjectKey{Namespace: installNS, Name: "herald.social.herald.dev"}, lease)).To(Succeed())
	g.Expect(lease.Spec.HolderIdentity).NotTo(BeNil())
	holder, _, _ := strings.Cut(*lease.Spec.HolderIdentity, "_")
	return holder
}

func ready(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue && p.DeletionTimestamp == nil
		}
	}
	return false
}

func (h *herald) oneLeader(g Gomega) {
	var names []string
	for _, p := range h.pods(g) {
		g.Expect(ready(&p)).To(BeTrue(), "pod %s", p.Name)
		names = append(names, p.Name)
	}
	g.Expect(names).To(HaveLen(2))
	g.Eventually(func(g Gomega) { g.Expect(names).To(ContainElement(h.leader(g))) }, time.Minute, 250*time.Millisecond).Should(Succeed())
	observe(h.t, "replicas %v Ready, leader %s", names, h.leader(g))
}

// artefactsApply: dist/install.yaml and the chart, as helm template renders
// it, are accepted by the real cluster (server-side dry run over the
// install in place).
func (h *herald) artefactsApply(g Gomega, ctx context.Context, root string) {
	chart, err := testenv.HelmTemplate(installNS, map[string]any{"serviceMonitor": map[string]any{"enabled": false}})
	g.Expect(err).NotTo(HaveOccurred())
	for name, manifest := range map[string][]byte{"dist/install.yaml": nil, "charts/herald": chart} {
		args := []string{"apply", "--server-side", "--dry-run=server", "--force-conflicts", "--field-manager=" + strings.ReplaceAll(name, "/", "-")}
		cmd := h.c.Command(ctx, filepath.Join(h.c.ControlPlane, "kubectl"), append([]string{"--kubeconfig=" + h.c.AdminKubeconfig}, append(args, "-f", "-")...)...)
		if manifest == nil {
			data, err := os.ReadFile(filepath.Join(root, "dist", "install.yaml"))
			g.Expect(err).NotTo(HaveOccurred())
			manifest = data
		}
		cmd.Stdin = bytes.NewReader(manifest)
		out, err := cmd.CombinedOutput()
		g.Expect(err).NotTo(HaveOccurred(), "%s: %s", name, out)
		g.Expect(string(out)).To(ContainSubstring("deployment.apps/herald-controller-manager serverside-applied (server dry run)"), name)
	}
	observe(h.t, "dist/install.yaml and the chart apply to the real cluster (server-side dry run)")
}

// reachable: MCP's discovery document answers through the Service's
// ClusterIP, from a pod (through kube-proxy's rules for pods) and from the
// machine (for the node's own connections).
func (h *herald) reachable(g Gomega, ctx context.Context) {
	svc := &corev1.Service{}
	g.Expect(h.admin.Get(ctx, client.ObjectKey{Namespace: installNS, Name: deployment}, svc)).To(Succeed())
	url := fmt.Sprintf("http://%s:8080/.well-known/oauth-protected-resource/mcp", svc.Spec.ClusterIP)
	probe := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "mcp-probe"},
		Spec: corev1.PodSpec{RestartPolicy: corev1.RestartPolicyNever, Containers: []corev1.Container{{
			Name: "get", Image: probeImage, ImagePullPolicy: corev1.PullNever, Args: []string{url}}}},
	}
	g.Expect(h.admin.Create(ctx, probe)).To(Succeed())
	g.Eventually(func(g Gomega) {
		g.Expect(h.admin.Get(ctx, client.ObjectKeyFromObject(probe), probe)).To(Succeed())
		g.Expect(probe.Status.Phase).To(Equal(corev1.PodSucceeded))
	}, 90*time.Second, 250*time.Millisecond).Should(Succeed(), "%s", describe(ctx, h.c))
	logs, err := h.c.Kubectl(ctx, "-n", "default", "logs", "mcp-probe")
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(logs).To(And(ContainSubstring("200 OK"), ContainSubstring(publicURL+"/mcp")), "the pod read the discovery document")

	resp, err := h.http.Get(publicURL + "/.well-known/oauth-protected-resource/mcp")
	g.Expect(err).NotTo(HaveOccurred())
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	g.Expect(resp.StatusCode).To(Equal(http.StatusOK), string(body))
	observe(h.t, "MCP discovery through the Service %s: 200 from pod %s and from the machine", svc.Spec.ClusterIP, probe.Name)
}

// seed makes a local user, a workspace with the user as owner, and a
// sandbox profile.
func (h *herald) seed(g Gomega, ctx context.Context) {
	g.Expect(oauth.EnsureLocalUser(ctx, h.admin, installNS, "alice", password)).To(Succeed())
	g.Expect(h.admin.Create(ctx, &socialv1alpha1.Workspace{ObjectMeta: metav1.ObjectMeta{Name: "acme"},
		Spec: socialv1alpha1.WorkspaceSpec{DisplayName: "Acme", Members: []socialv1alpha1.WorkspaceMember{{Subject: "alice", Role: socialv1alpha1.RoleOwner}}}})).To(Succeed())
	g.Eventually(func() error {
		return h.admin.Create(ctx, &socialv1alpha1.SocialProfile{ObjectMeta: metav1.ObjectMeta{Namespace: "acme", Name: "sandbox"},
			Spec: socialv1alpha1.SocialProfileSpec{Platform: "sandbox", Handle: "@acme"}})
	}, time.Minute, 250*time.Millisecond).Should(Succeed(), "Herald makes the workspace's namespace")
}

func (h *herald) signInAndPublish(g Gomega, ctx context.Context) {
	res, err := signin.SignIn(ctx, signin.Options{BaseURL: publicURL, Username: "alice", Password: password, Workspaces: []string{"acme"}, Transport: h.http.Transport})
	g.Expect(err).NotTo(HaveOccurred(), "the OAuth flow through the Service")
	h.token = res.Token.AccessToken
	g.Eventually(func(g Gomega) {
		p := h.tool(g, "ocoya_get_social_profile", map[string]any{"workspaceId": "acme", "profileId": "sandbox"})["profile"].(map[string]any)
		g.Expect(p["ready"]).To(BeTrue(), "%v", p)
	}, time.Minute, 250*time.Millisecond).Should(Succeed())
	id := h.tool(g, "ocoya_publish_post", map[string]any{"workspaceId": "acme", "text": "Hello from a real cluster", "profileIds": []string{"sandbox"}})["post"].(map[string]any)["id"].(string)
	d := h.publishedOnce(g, id)
	observe(h.t, "signed in through the Service; post %s published to the sandbox (%s)", id, d["url"])
}

// publishedOnce waits until the post is Published with one delivery made
// by one attempt, and one Published event.
func (h *herald) publishedOnce(g Gomega, id string) map[string]any {
	var delivery map[string]any
	g.Eventually(func(g Gomega) {
		p := h.tool(g, "ocoya_get_post", map[string]any{"workspaceId": "acme", "postId": id})["post"].(map[string]any)
		g.Expect(p["phase"]).To(Equal("Published"), "%v", p)
		ds := p["deliveries"].([]any)
		g.Expect(ds).To(HaveLen(1))
		delivery = ds[0].(map[string]any)
	}, 2*time.Minute, 250*time.Millisecond).Should(Succeed())
	g.Expect(delivery["attempts"]).To(BeNumerically("==", 1), "one call to the platform")
	out, err := h.c.Kubectl(context.Background(), "-n", "acme", "get", "events.events.k8s.io", "-o", "json")
	g.Expect(err).NotTo(HaveOccurred())
	published := countPublished(g, out, id)
	g.Expect(published).To(Equal(1), "one Published event for post %s", id)
	return delivery
}

func countPublished(g Gomega, eventsJSON, id string) int {
	var list struct {
		Items []struct {
			Reason    string `json:"reason"`
			Regarding struct {
				Name string `json:"name"`
			} `json:"regarding"`
			Series *struct {
				Count int `json:"count"`
			} `json:"series"`
		} `json:"items"`
	}
	g.Expect(json.Unmarshal([]byte(eventsJSON), &list)).To(Succeed())
	n := 0
	for _, e := range list.Items {
		if e.Regarding.Name == id && e.Reason == "Published" {
			n++
			if e.Series != nil {
				n += e.Series.Count - 1
			}
		}
	}
	return n
}

// throughRollout: a post due while `kubectl rollout restart` replaces
// both pods is published once.
func (h *herald) throughRollout(g Gomega, ctx context.Context) {
	before := map[string]bool{}
	for _, p := range h.pods(g) {
		before[p.Name] = true
	}
	// Due 1.5 s after the restart begins: the rollout replaces one pod,
	// then the other, which has taken 2.4 to 6 s here.
	due := time.Now().Add(1500 * time.Millisecond).UTC().Truncate(time.Millisecond)
	id := h.tool(g, "ocoya_create_post", map[string]any{"workspaceId": "acme", "text": "Due mid-rollout", "profileIds": []string{"sandbox"},
		"scheduledAt": due.Format("2006-01-02T15:04:05.000Z07:00")})["post"].(map[string]any)["id"].(string)
	started := time.Now()
	out, err := h.c.Kubectl(ctx, "-n", installNS, "rollout", "restart", "deployment/"+deployment)
	g.Expect(err).NotTo(HaveOccurred(), out)
	out, err = h.c.Kubectl(ctx, "-n", installNS, "rollout", "status", "deployment/"+deployment, "--timeout=150s")
	g.Expect(err).NotTo(HaveOccurred(), out)
	finished := time.Now()
	for _, p := range h.pods(g) {
		if ready(&p) {
			g.Expect(before).NotTo(HaveKey(p.Name), "every pod was replaced")
		}
	}
	g.Expect(due).To(And(BeTemporally(">", started), BeTemporally("<", finished)), "the post fell due during the rollout")
	d := h.publishedOnce(g, id)
	at, err := time.Parse(time.RFC3339, d["publishedAt"].(string)) // whole seconds
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(at).NotTo(BeTemporally("<", due.Truncate(time.Second)), "published before it was due")
	observe(h.t, "rollout restart replaced both pods in %.1f s; post %s, due %.1f s into it (%s), published once in the second %s",
		finished.Sub(started).Seconds(), id, due.Sub(started).Seconds(), due.Format("15:04:05.000"), at.Format("15:04:05"))
}

// takeover: the leader's pod is deleted; the other replica takes the
// lease and publishes.
func (h *herald) takeover(g Gomega, ctx context.Context) {
	var old string
	g.Eventually(func(g Gomega) {
		old = h.leader(g)
		p := &corev1.Pod{}
		g.Expect(h.admin.Get(ctx, client.ObjectKey{Namespace: installNS, Name: old}, p)).To(Succeed())
		g.Expect(ready(p)).To(BeTrue())
	}, time.Minute, 250*time.Millisecond).Should(Succeed())
	deleted := time.Now()
	g.Expect(h.admin.Delete(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: installNS, Name: old}})).To(Succeed())
	var next string
	g.Eventually(func(g Gomega) {
		next = h.leader(g)
		g.Expect(next).NotTo(Or(Equal(old), BeEmpty()))
		p := &corev1.Pod{}
		g.Expect(h.admin.Get(ctx, client.ObjectKey{Namespace: installNS, Name: next}, p)).To(Succeed(), "the lease is held by a pod of the Deployment")
	}, 2*time.Minute, 100*time.Millisecond).Should(Succeed())
	took := time.Since(deleted)
	id := h.tool(g, "ocoya_publish_post", map[string]any{"workspaceId": "acme", "text": "After the takeover", "profileIds": []string{"sandbox"}})["post"].(map[string]any)["id"].(string)
	h.publishedOnce(g, id)
	observe(h.t, "leader pod %s deleted; %s took the lease %.1f s later and published %s once", old, next, took.Seconds(), id)
}

// tool calls one MCP tool through the Service and returns its structured content.
func (h *herald) tool(g Gomega, name string, args map[string]any) map[string]any {
	body, _ := json.Marshal(map[string]any{"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": map[string]any{"name": name, "arguments": args}})
	req, _ := http.NewRequest(http.MethodPost, publicURL+"/mcp", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	req.Header.Set("Authorization", "Bearer "+h.token)
	resp, err := h.http.Do(req)
	g.ExpectWithOffset(1, err).NotTo(HaveOccurred())
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	g.ExpectWithOffset(1, resp.StatusCode).To(Equal(http.StatusOK), string(data))
	var out struct {
		Result struct {
			IsError           bool             `json:"isError"`
			StructuredContent map[string]any   `json:"structuredContent"`
			Content           []map[string]any `json:"content"`
		} `json:"result"`
	}
	g.ExpectWithOffset(1, json.Unmarshal(data, &out)).To(Succeed(), string(data))
	g.ExpectWithOffset(1, out.Result.IsError).To(BeFalse(), "%s: %v", name, out.Result.Content)
	return out.Result.StructuredContent
}

// describe is what a failure shows: the pods and the namespace's events.
func describe(ctx context.Context, c *cluster.Cluster) string {
	pods, _ := c.Kubectl(ctx, "get", "pods", "-A", "-o", "wide")
	events, _ := c.Kubectl(ctx, "get", "events", "-A", "--sort-by=.lastTimestamp")
	logs, _ := c.Kubectl(ctx, "-n", installNS, "logs", "-l", "app.kubernetes.io/name=herald", "--tail=30", "--prefix")
	return "pods:\n" + pods + "\nevents:\n" + events + "\nherald logs:\n" + logs
}

// downLeavesNothing tears the cluster down and checks that no process,
// mount, network namespace, link, iptables rule or folder of it is left.
func downLeavesNothing(t *testing.T, c *cluster.Cluster) {
	g := NewWithT(t)
	start := time.Now()
	g.Expect(c.Down()).To(Succeed())
	out, _ := exec.Command("pgrep", "-af", c.Dir).Output()
	g.Expect(strings.TrimSpace(string(out))).To(BeEmpty(), "processes left")
	mounts, err := os.ReadFile("/proc/self/mountinfo")
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(string(mounts)).NotTo(ContainSubstring(c.Dir), "mounts left")
	netns, _ := exec.Command("ip", "netns", "list").Output()
	g.Expect(string(netns)).NotTo(ContainSubstring("herald-cluster"), "network namespace left")
	links, _ := exec.Command("ip", "-o", "addr").Output()
	g.Expect(string(links)).NotTo(ContainSubstring("10.244."), "a cluster address in the machine's own network")
	rules, _ := exec.Command("iptables-save").Output()
	g.Expect(string(rules)).NotTo(ContainSubstring("KUBE-"), "iptables rules in the machine's own network")
	for _, dir := range []string{c.Dir, "/run/containerd/runc/k8s.io", "/run/containerd/s"} {
		_, err = os.Stat(dir)
		g.Expect(os.IsNotExist(err)).To(BeTrue(), "%s is left", dir)
	}
	observe(t, "teardown in %.1f s left no processes, mounts, network namespace, addresses, iptables rules or folder", time.Since(start).Seconds())
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
