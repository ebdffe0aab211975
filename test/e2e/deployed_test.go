package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	. "github.com/onsi/gomega"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"sigs.k8s.io/controller-runtime/pkg/client"

	socialv1alpha1 "github.com/herald-dev/herald/api/v1alpha1"
	"github.com/herald-dev/herald/internal/controlplane"
	"github.com/herald-dev/herald/internal/publish/mastodon/mastodontest"
	"github.com/herald-dev/herald/internal/scheme"
	"github.com/herald-dev/herald/internal/signin"
	"github.com/herald-dev/herald/internal/testenv"
	"github.com/herald-dev/herald/mcpserver/oauth"
)

// The install's names, as config/default renders them.
const (
	installNS = "herald-system"
	installSA = "herald-controller-manager"
)

// deployment is herald started the way config/default deploys it: not in
// dev mode, with the Deployment's own arguments and environment, as its
// service account (a TokenRequest token, no impersonation) on an API server
// that enforces RBAC, with nothing but the install's RBAC granted to it.
type deployment struct {
	// The first replica.
	*replica
	admin     client.Client
	clientset *kubernetes.Clientset
	adminCfg  *rest.Config
	// adminKubeconfig is for kubectl.
	adminKubeconfig string

	// What every replica runs: the binary, the Deployment's arguments with
	// $(VAR) expanded, the container's environment, the pod's kubeconfig.
	bin, kubeconfig string
	args            []string
	vars            map[string]string
}

// replica is one herald process of the deployment, as one pod runs it.
type replica struct {
	*heraldProcess
	// readyURL is its readiness probe; metricsURL its /metrics.
	readyURL, metricsURL string
}

// renderInstall is `kubectl kustomize config/default`.
func renderInstall(t *testing.T) []*unstructured.Unstructured {
	t.Helper()
	objs, err := testenv.Install()
	if err != nil {
		t.Fatal(err)
	}
	return objs
}

// managerContainer is the Deployment's manager container (its args and
// env) and the service account its pods run as.
func managerContainer(g Gomega, objs []*unstructured.Unstructured) (args []string, env []corev1.EnvVar, serviceAccount string) {
	for _, u := range objs {
		if u.GetKind() != "Deployment" {
			continue
		}
		serviceAccount, _, _ = unstructured.NestedString(u.Object, "spec", "template", "spec", "serviceAccountName")
		containers, _, _ := unstructured.NestedSlice(u.Object, "spec", "template", "spec", "containers")
		for _, c := range containers {
			data, _ := json.Marshal(c)
			var ctr corev1.Container
			g.Expect(json.Unmarshal(data, &ctr)).To(Succeed())
			if ctr.Name == "manager" {
				return ctr.Args, ctr.Env, serviceAccount
			}
		}
	}
	g.Expect("a Deployment with a manager container").To(BeEmpty(), "config/default renders none")
	return nil, nil, ""
}

// serviceAccountToken is what `kubectl create token` prints.
func serviceAccountToken(g Gomega, cs *kubernetes.Clientset, namespace, name string) string {
	tr, err := cs.CoreV1().ServiceAccounts(namespace).CreateToken(context.Background(), name,
		&authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{}}, metav1.CreateOptions{})
	g.Expect(err).NotTo(HaveOccurred())
	return tr.Status.Token
}

// startDeployed starts a control plane with RBAC enforced, applies
// config/default but its Deployment, and runs herald with that Deployment's
// arguments and environment as its service account. Local addresses replace
// the pod's (listen, public URL, probes, metrics) and extra adds flags.
func startDeployed(t *testing.T, extra ...string) *deployment {
	t.Helper()
	return startDeployedAt(t, "", extra...)
}

// startDeployedAt is startDeployed with the replicas' public URL, such as
// the address of a Service in front of them.
func startDeployedAt(t *testing.T, publicURL string, extra ...string) *deployment {
	t.Helper()
	g := NewWithT(t)
	assets, err := controlplane.AssetsDir()
	g.Expect(err).NotTo(HaveOccurred())
	cluster, err := controlplane.Start(t.TempDir(), assets)
	g.Expect(err).NotTo(HaveOccurred())
	t.Cleanup(func() { _ = cluster.Stop() })
	d := &deployment{adminCfg: cluster.Config, adminKubeconfig: cluster.KubeconfigPath}
	d.admin, err = client.New(cluster.Config, client.Options{Scheme: scheme.New()})
	g.Expect(err).NotTo(HaveOccurred())
	d.clientset, err = kubernetes.NewForConfig(cluster.Config)
	g.Expect(err).NotTo(HaveOccurred())

	// Every object is created, the Deployment, Service, PodDisruptionBudget
	// and NetworkPolicy too: the API server validates them, though no
	// kubelet runs the pods (herald runs here instead).
	objs := renderInstall(t)
	configMaps := map[string]map[string]any{}
	for _, u := range objs {
		if u.GetKind() == "CustomResourceDefinition" { // the control plane installed them
			continue
		}
		g.Expect(d.admin.Create(context.Background(), u)).To(Succeed(), "%s %s", u.GetKind(), u.GetName())
		if u.GetKind() == "ConfigMap" {
			configMaps[u.GetName()], _, _ = unstructured.NestedMap(u.Object, "data")
		}
	}
	args, env, sa := managerContainer(g, objs)
	g.Expect(sa).To(Equal(installSA))

	// The pod's kubeconfig: the API server and a token of Herald's service account.
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	kc := clientcmdapi.NewConfig()
	kc.Clusters["install"] = &clientcmdapi.Cluster{Server: cluster.Config.Host, CertificateAuthorityData: cluster.Config.CAData}
	kc.AuthInfos["herald"] = &clientcmdapi.AuthInfo{Token: serviceAccountToken(g, d.clientset, installNS, installSA)}
	kc.Contexts["herald"] = &clientcmdapi.Context{Cluster: "install", AuthInfo: "herald"}
	kc.CurrentContext = "herald"
	g.Expect(clientcmd.WriteToFile(*kc, kubeconfig)).To(Succeed())

	// The container's environment as the kubelet makes it, and its
	// arguments with $(VAR) expanded from it.
	vars := map[string]string{}
	for _, e := range env {
		switch from := e.ValueFrom; {
		case from == nil:
			vars[e.Name] = e.Value
		case from.FieldRef != nil && from.FieldRef.FieldPath == "metadata.namespace":
			vars[e.Name] = installNS
		case from.FieldRef != nil && from.FieldRef.FieldPath == "spec.serviceAccountName":
			vars[e.Name] = sa
		case from.ConfigMapKeyRef != nil:
			v, ok := configMaps[from.ConfigMapKeyRef.Name][from.ConfigMapKeyRef.Key].(string)
			g.Expect(ok).To(BeTrue(), "%s: config/default has no ConfigMap %s with key %s", e.Name, from.ConfigMapKeyRef.Name, from.ConfigMapKeyRef.Key)
			vars[e.Name] = v
		default:
			g.Expect(e).To(BeNil(), "an environment source this test does not know")
		}
	}
	expanded := make([]string, len(args))
	for i, a := range args {
		expanded[i] = os.Expand(strings.NewReplacer("$(", "${", ")", "}").Replace(a), func(k string) string { return vars[k] })
	}
	g.Expect(expanded).To(ContainElement("--public-url="+vars["HERALD_PUBLIC_URL"]), "the public URL comes from the ConfigMap")
	d.bin, d.kubeconfig, d.args, d.vars = buildHerald(t), kubeconfig, expanded, vars
	d.replica = d.startReplica(t, publicURL, extra...)
	return d
}

// startReplica runs one more herald as a pod of the deployment would,
// serving at its own loopback port with publicURL (its own base URL when
// empty), and waits until its readiness probe answers 200.
func (d *deployment) startReplica(t *testing.T, publicURL string, extra ...string) *replica {
	t.Helper()
	g := NewWithT(t)
	p := &heraldProcess{out: &syncBuffer{}, done: make(chan error, 1)}
	p.baseURL = fmt.Sprintf("http://127.0.0.1:%d", freePort(t))
	if publicURL == "" {
		publicURL = p.baseURL
	}
	r := &replica{heraldProcess: p, metricsURL: fmt.Sprintf("https://127.0.0.1:%d/metrics", freePort(t))}
	probes := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	r.readyURL = "http://" + probes + "/readyz"
	local := []string{"--listen", strings.TrimPrefix(p.baseURL, "http://"), "--public-url", publicURL,
		"--health-probe-bind-address", probes,
		"--metrics-bind-address", strings.TrimSuffix(strings.TrimPrefix(r.metricsURL, "https://"), "/metrics"),
		// The platform fakes run on this machine's loopback, as an in-cluster
		// Mastodon would run at an address an operator allows.
		"--egress-allow=127.0.0.0/8"}
	p.cmd = exec.Command(d.bin, append(append(append([]string{}, d.args...), local...), extra...)...)
	p.cmd.Env = append(os.Environ(), "KUBECONFIG="+d.kubeconfig)
	for k, v := range d.vars {
		p.cmd.Env = append(p.cmd.Env, k+"="+v)
	}
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	g.Expect(p.cmd.Start()).To(Succeed())
	go func() { p.done <- p.cmd.Wait() }()
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("herald output:\n%s", p.out.String())
		}
		if p.cmd.ProcessState == nil {
			_ = p.cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-p.done:
			case <-time.After(60 * time.Second):
				_ = p.cmd.Process.Kill()
			}
		}
	})

	start := time.Now()
	g.Eventually(func(g Gomega) {
		select {
		case err := <-p.done:
			p.done <- err
			StopTrying(fmt.Sprintf("herald exited: %v\n%s", err, p.out.String())).Now()
		default:
		}
		g.Expect(r.ready()).To(BeTrue(), "the readiness probe")
	}, 2*time.Minute, 250*time.Millisecond).Should(Succeed())
	// Ready means MCP answers: the probe turns ready only once it does.
	resp, err := http.Post(p.baseURL+"/mcp", "application/json", strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"ping"}`))
	g.Expect(err).NotTo(HaveOccurred())
	resp.Body.Close()
	g.Expect(resp.StatusCode).To(Equal(http.StatusUnauthorized))
	t.Logf("herald as deployed serves MCP %.1fs after start", time.Since(start).Seconds())
	return r
}

// ready is what the kubelet's readiness probe sees.
func (r *replica) ready() bool {
	resp, err := http.Get(r.readyURL)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// toolResult is one tools/call answer, error or not.
type toolResult struct {
	status     int
	isError    bool
	text       string
	structured map[string]any
}

func toolCall(g Gomega, base, token, name string, args map[string]any) toolResult {
	status, body := mcpCall(g, base, token, map[string]any{"jsonrpc": "2.0", "id": 1, "method": "tools/call",
		"params": map[string]any{"name": name, "arguments": args}})
	r := toolResult{status: status, text: string(body)}
	if status != http.StatusOK {
		return r
	}
	var resp struct {
		Result struct {
			IsError           bool                    `json:"isError"`
			Content           []struct{ Text string } `json:"content"`
			StructuredContent map[string]any          `json:"structuredContent"`
		} `json:"result"`
	}
	g.Expect(json.Unmarshal(body, &resp)).To(Succeed(), string(body))
	r.isError, r.structured = resp.Result.IsError, resp.Result.StructuredContent
	return r
}

// secretRecurringStart is when the other workspace's recurring post starts:
// far enough ahead that it makes no post while the test runs.
var secretRecurringStart = time.Now().AddDate(1, 0, 0).UTC().Format(time.RFC3339)

// TestAsDeployed runs herald as config/default deploys it. It uses every
// tool and the OAuth flow, so nothing the install should grant is missing
// (Herald's service account is refused nothing), and attacks each of
// Herald's doors the way a stranger, a viewer or an editor could.
func TestAsDeployed(t *testing.T) {
	d := startDeployed(t, "--http-read-timeout=2s")
	masto := mastodontest.New(t, "deployed-token")
	seedWorkspaces(t, NewWithT(t), d.admin, masto)
	t.Run("every tool and the OAuth flow, refused nothing", func(t *testing.T) { everyTool(t, d, masto) })
	t.Run("an editor's post waits for an approver, then publishes once", func(t *testing.T) { approvalGate(t, d, masto) })
	t.Run("an approver decides on the approval page in Chromium: approved publishes once, rejected never", func(t *testing.T) { approvalPageInChromium(t, d, masto) })
	t.Run("the service account may do what Herald needs and no more", func(t *testing.T) { canI(t, d) })
	t.Run("a workspace's namespace is made, adopted and let go with the namespace verbs granted", func(t *testing.T) { namespaceLifecycle(t, d) })
	t.Run("attacks refused", func(t *testing.T) { attacksRefused(t, d) }) // last: it spends the token endpoint's rate limit
}

// approvalGate: in a workspace that requires approval for posts made
// through MCP, an editor's post due in seconds is not published at its
// time; once an approver approves it through the tool, it is published,
// once.
func approvalGate(t *testing.T, d *deployment, masto *mastodontest.Fake) {
	g := NewWithT(t)
	erin, ann := approvalMembers(g, d)

	before := len(masto.StatusPosts())
	due := time.Now().Add(3 * time.Second).UTC().Truncate(time.Second).Add(time.Second)
	var id string
	g.Eventually(func(g Gomega) {
		p := tool(g, d.baseURL, erin, "ocoya_create_post", map[string]any{"workspaceId": "acme", "text": "Launch, once approved", "profileIds": []string{"masto"},
			"scheduledAt": due.Format(time.RFC3339)})["post"].(map[string]any)
		id = p["id"].(string)
		g.Expect(p["phase"]).To(Equal("AwaitingApproval"))
	}, 10*time.Second, 250*time.Millisecond).Should(Succeed())
	get := func(g Gomega) map[string]any {
		return tool(g, d.baseURL, ann, "ocoya_get_post", map[string]any{"workspaceId": "acme", "postId": id})["post"].(map[string]any)
	}
	g.Consistently(func(g Gomega) {
		g.Expect(get(g)["phase"]).To(Equal("AwaitingApproval"))
		g.Expect(masto.StatusPosts()).To(HaveLen(before))
	}, time.Until(due.Add(2*time.Second)), 250*time.Millisecond).Should(Succeed(), "not published at its time without approval")

	refused := toolCall(g, d.baseURL, erin, "ocoya_approve_post", map[string]any{"workspaceId": "acme", "postId": id})
	g.Expect(refused.status).To(Equal(http.StatusForbidden), "an editor's grant never holds posts:approve: %s", refused.text)
	g.Expect(refused.text).To(ContainSubstring("posts:approve"))
	tool(g, d.baseURL, ann, "ocoya_approve_post", map[string]any{"workspaceId": "acme", "postId": id})
	g.Eventually(func(g Gomega) { g.Expect(get(g)["phase"]).To(Equal("Published")) }, time.Minute, 250*time.Millisecond).Should(Succeed())
	g.Consistently(masto.StatusPosts, time.Second, 100*time.Millisecond).Should(HaveLen(before+1), "published once")
	t.Logf("observed: post %s due %s, held back until ann approved it, then published once", id, due.Format(time.RFC3339))
}

// The approval test's people: erin, an editor of acme, and ann, who
// approves there.
const (
	erinPassword = "erin-password"
	annPassword  = "ann-password"
)

// approvalMembers makes workspace acme require approval for posts made
// through MCP, with erin as an editor and ann as an approver (once, however
// often it is called), and signs both in to acme through OAuth.
func approvalMembers(g Gomega, d *deployment) (erin, ann string) {
	ctx := context.Background()
	for user, pw := range map[string]string{"erin": erinPassword, "ann": annPassword} {
		g.Expect(oauth.EnsureLocalUser(ctx, d.admin, installNS, user, pw)).To(Succeed())
	}
	ws := &socialv1alpha1.Workspace{}
	g.Expect(d.admin.Get(ctx, client.ObjectKey{Name: "acme"}, ws)).To(Succeed())
	if ws.RoleOf("ann") != socialv1alpha1.RoleApprover {
		ws.Spec.Approval = &socialv1alpha1.ApprovalPolicy{Required: socialv1alpha1.ApproveThroughMCP}
		ws.Spec.Members = append(ws.Spec.Members, socialv1alpha1.WorkspaceMember{Subject: "erin", Role: socialv1alpha1.RoleEditor},
			socialv1alpha1.WorkspaceMember{Subject: "ann", Role: socialv1alpha1.RoleApprover})
		g.Expect(d.admin.Update(ctx, ws)).To(Succeed())
	}
	token := func(user, pw string) string {
		res, err := signin.SignIn(ctx, signin.Options{BaseURL: d.baseURL, Username: user, Password: pw, Workspaces: []string{"acme"}})
		g.Expect(err).NotTo(HaveOccurred(), user)
		return res.Token.AccessToken
	}
	g.Eventually(func() string { erin = token("erin", erinPassword); return erin }, 10*time.Second, 250*time.Millisecond).ShouldNot(BeEmpty())
	return erin, token("ann", annPassword)
}

// approvalPageInChromium: erin, an editor, schedules two posts through the
// MCP tool in a workspace that requires approval; ann opens the approvalUrl
// the tool gave in real Chromium, signs in to Herald there, approves the
// first (which is then published, once) and rejects the second with a
// reason (it is canceled, says who and why, and is never published).
func approvalPageInChromium(t *testing.T, d *deployment, masto *mastodontest.Fake) {
	g := NewWithT(t)
	g.Expect(testenv.EnsureChromium()).To(Succeed())
	erin, _ := approvalMembers(g, d)
	before := len(masto.StatusPosts())
	due := time.Now().Add(2 * time.Second).UTC().Truncate(time.Second).Add(time.Second)
	schedule := func(text string) (id, page string) {
		p := tool(g, d.baseURL, erin, "ocoya_create_post", map[string]any{"workspaceId": "acme", "text": text, "profileIds": []string{"masto"},
			"scheduledAt": due.Format(time.RFC3339)})["post"].(map[string]any)
		g.Expect(p["phase"]).To(Equal("AwaitingApproval"))
		g.Expect(p["approvalUrl"]).To(HavePrefix(d.baseURL+"/approve/acme/"), "the link to give an approver")
		return p["id"].(string), p["approvalUrl"].(string)
	}
	get := func(g Gomega, id string) map[string]any {
		return tool(g, d.baseURL, erin, "ocoya_get_post", map[string]any{"workspaceId": "acme", "postId": id})["post"].(map[string]any)
	}
	approveID, approvePage := schedule("Approved on the page, in Chromium")
	rejectID, rejectPage := schedule("Rejected on the page, in Chromium")

	bctx, stop := testenv.Chromium(context.Background(), t.TempDir())
	defer stop()
	g.Expect(chromedp.Do(bctx, chromedp.Navigate(approvePage))).To(Succeed())
	step, cancelStep := context.WithTimeout(bctx, 90*time.Second)
	defer cancelStep()
	g.Expect(chromedp.Do(step, testenv.SignIn("ann", annPassword, `#approve`))).To(Succeed())
	shown, err := chromedp.Run(step, chromedp.Text(chromedp.CSS(`body`)))
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(shown).To(ContainSubstring("Approved on the page, in Chromium"), "the text as Mastodon would publish it")
	g.Expect(shown).To(ContainSubstring("waits for approval by an owner or approver of workspace acme"))
	g.Consistently(func(g Gomega) {
		g.Expect(get(g, approveID)["phase"]).To(Equal("AwaitingApproval"))
		g.Expect(masto.StatusPosts()).To(HaveLen(before))
	}, time.Until(due.Add(time.Second)), 250*time.Millisecond).Should(Succeed(), "due, and not published before ann decides")

	g.Expect(chromedp.Do(step, chromedp.Click(chromedp.CSS(`#approve`)), chromedp.WaitNotPresent(chromedp.CSS(`#approve`)))).To(Succeed())
	decided, err := chromedp.Run(step, chromedp.Text(chromedp.CSS(`#status`)))
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(decided).To(ContainSubstring("approved by ann"))
	g.Eventually(func(g Gomega) { g.Expect(get(g, approveID)["phase"]).To(Equal("Published")) }, time.Minute, 250*time.Millisecond).Should(Succeed())
	g.Consistently(masto.StatusPosts, time.Second, 100*time.Millisecond).Should(HaveLen(before+1), "published once")
	g.Expect(masto.Statuses()[len(masto.Statuses())-1]).To(ContainSubstring("Approved on the page, in Chromium"))

	g.Expect(chromedp.Do(step, chromedp.Navigate(rejectPage), chromedp.WaitVisible(chromedp.CSS(`#reject`)),
		chromedp.Click(chromedp.CSS(`#reject`)), chromedp.WaitVisible(chromedp.CSS(`.err`)))).To(Succeed())
	refused, err := chromedp.Run(step, chromedp.Text(chromedp.CSS(`.err`)))
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(refused).To(ContainSubstring("Give a reason"), "a rejection says why, for the author")
	g.Expect(chromedp.Do(step,
		chromedp.SendKeys(chromedp.CSS(`#reason`), "Not on brand: no launch before Friday"),
		chromedp.Click(chromedp.CSS(`#reject`)), chromedp.WaitNotPresent(chromedp.CSS(`#reject`)),
	)).To(Succeed())
	decided, err = chromedp.Run(step, chromedp.Text(chromedp.CSS(`#status`)))
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(decided).To(Equal("The post was rejected by ann: Not on brand: no launch before Friday"))
	g.Eventually(func(g Gomega) {
		rejected := get(g, rejectID)
		g.Expect(rejected["phase"]).To(Equal("Canceled"))
		g.Expect(rejected["rejected"]).To(Equal("rejected by ann: Not on brand: no launch before Friday"), "the author sees who and why")
	}, 30*time.Second, 250*time.Millisecond).Should(Succeed())
	g.Consistently(masto.StatusPosts, 2*time.Second, 100*time.Millisecond).Should(HaveLen(before+1), "a rejected post is never published")
	for _, text := range masto.Statuses() {
		g.Expect(text).NotTo(ContainSubstring("Rejected on the page"))
	}
	t.Logf("observed: ann approved %s on the page (published once) and rejected %s with a reason (never published)", approveID, rejectID)
}

func everyTool(t *testing.T, d *deployment, masto *mastodontest.Fake) {
	g := NewWithT(t)
	ctx := context.Background()
	alice, err := signin.SignIn(ctx, signin.Options{BaseURL: d.baseURL, Username: "alice", Password: alicePassword, Workspaces: []string{"acme"}})
	g.Expect(err).NotTo(HaveOccurred(), "the OAuth flow as deployed")
	token := alice.Token.AccessToken
	ok := func(name string, args map[string]any) map[string]any { return tool(g, d.baseURL, token, name, args) }
	used := map[string]bool{}
	call := func(name string, args map[string]any) map[string]any {
		used[name] = true
		return ok("ocoya_"+name, args)
	}
	acme := func(kv ...any) map[string]any {
		m := map[string]any{"workspaceId": "acme"}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i].(string)] = kv[i+1]
		}
		return m
	}

	call("get_me", nil)
	g.Expect(call("list_workspaces", nil)["workspaces"]).To(HaveLen(1))
	call("get_workspace", acme())
	g.Eventually(func(g Gomega) {
		p := ok("ocoya_get_social_profile", acme("profileId", "masto"))["profile"].(map[string]any)
		g.Expect(p["ready"]).To(BeTrue(), "%v", p)
	}, time.Minute, 250*time.Millisecond).Should(Succeed(), "the profile is verified through the workspace's RoleBinding")
	call("get_social_profile", acme("profileId", "masto"))
	call("list_social_profiles", acme())

	// An account connected on Herald's page, by its service account: the
	// Secret and the profile are written through the workspace's RoleBinding.
	link := call("get_social_connection_url", acme("platform", "webhook", "profileId", "newsletter"))["url"].(string)
	status, page, err := signin.Connect(ctx, signin.ConnectOptions{URL: link, Username: "alice", Password: alicePassword,
		Fields: url.Values{"url": {"https://hooks.example.com/herald"}, "name": {"newsletter"}, "signingSecret": {"a-signing-secret-for-the-receiver"}}})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(status).To(Equal(http.StatusOK), page)
	g.Expect(page).To(ContainSubstring("Connected newsletter as profile newsletter."))
	g.Eventually(func(g Gomega) {
		p := ok("ocoya_get_social_profile", acme("profileId", "newsletter"))["profile"].(map[string]any)
		g.Expect(p["connection"]).To(Equal("connected"), "%v", p)
	}, time.Minute, 250*time.Millisecond).Should(Succeed(), "the connected profile is verified")

	call("create_brand_kit", acme("brandKitId", "summer", "displayName", "Summer"))
	call("update_brand_kit", acme("brandKitId", "summer", "voice", "warm"))
	call("get_brand_kit", acme("brandKitId", "summer"))
	call("list_brand_kits", acme())

	draft := call("create_post", acme("text", "A draft", "profileIds", []string{"masto"}))["post"].(map[string]any)["id"].(string)
	call("get_post", acme("postId", draft))
	call("update_post", acme("postId", draft, "text", "A better draft"))
	call("preview_post", acme("postId", draft))
	call("schedule_post", acme("postId", draft, "scheduledAt", time.Now().Add(time.Hour).UTC().Format(time.RFC3339)))
	call("list_posts", acme())

	published := call("publish_post", acme("text", "Published as deployed", "profileIds", []string{"masto"}))["post"].(map[string]any)["id"].(string)
	g.Eventually(func() any {
		return ok("ocoya_get_post", acme("postId", published))["post"].(map[string]any)["phase"]
	}, time.Minute, 250*time.Millisecond).Should(Equal("Published"))
	g.Expect(masto.StatusPosts()).To(HaveLen(1), "published once")

	// Media at an internal address are never fetched: the delivery fails
	// naming the rule, and retrying fails the same way.
	ssrf := call("create_post", acme("text", "With a picture", "profileIds", []string{"masto"},
		"media", []map[string]any{{"url": "http://169.254.169.254/latest/meta-data/picture.png", "type": "image"}},
		"scheduledAt", time.Now().UTC().Format(time.RFC3339)))["post"].(map[string]any)["id"].(string)
	failed := func() map[string]any {
		var d map[string]any
		g.Eventually(func(g Gomega) {
			p := ok("ocoya_get_post", acme("postId", ssrf))["post"].(map[string]any)
			g.Expect(p["phase"]).To(Equal("Failed"), "%v", p)
			d = p["deliveries"].([]any)[0].(map[string]any)
		}, time.Minute, 250*time.Millisecond).Should(Succeed())
		return d
	}
	g.Expect(failed()["error"]).To(ContainSubstring("internal address, which Herald does not connect to"))
	call("retry_post", acme("postId", ssrf))
	g.Expect(failed()["error"]).To(ContainSubstring("internal address"))
	g.Expect(masto.StatusPosts()).To(HaveLen(1), "nothing published with an internal picture")

	// A weekly post: its occurrences are listed, one is skipped, then it stops.
	weekly := call("create_post", acme("text", "Tip of the week", "profileIds", []string{"masto"},
		"scheduledAt", time.Now().Add(24*time.Hour).UTC().Format(time.RFC3339),
		"recurrence", map[string]any{"frequency": "Weekly", "count": 3}))["recurringPost"].(map[string]any)
	next := weekly["nextOccurrences"].([]any)
	g.Expect(next).To(HaveLen(3))
	g.Expect(call("list_posts", acme())["upcoming"]).To(HaveLen(3))
	skipped := call("skip_occurrence", acme("recurringPostId", weekly["id"], "at", next[1]))["recurringPost"].(map[string]any)
	g.Expect(skipped["nextOccurrences"]).To(Equal([]any{next[0], next[2]}))
	g.Expect(ok("ocoya_get_post", acme("postId", weekly["id"]))["recurringPost"].(map[string]any)["skip"]).To(HaveLen(1))
	call("delete_post", acme("postId", weekly["id"], "remove", true))

	// With approval required for posts made through MCP, a post waits for
	// an owner's approval (alice's), and another is rejected.
	ws := &socialv1alpha1.Workspace{}
	g.Expect(d.admin.Get(ctx, client.ObjectKey{Name: "acme"}, ws)).To(Succeed())
	ws.Spec.Approval = &socialv1alpha1.ApprovalPolicy{Required: socialv1alpha1.ApproveThroughMCP}
	g.Expect(d.admin.Update(ctx, ws)).To(Succeed())
	later := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	var waiting string
	g.Eventually(func(g Gomega) {
		p := ok("ocoya_create_post", acme("text", "Needs approval", "profileIds", []string{"masto"}, "scheduledAt", later))["post"].(map[string]any)
		waiting = p["id"].(string)
		g.Expect(p["phase"]).To(Equal("AwaitingApproval"))
	}, 10*time.Second, 250*time.Millisecond).Should(Succeed(), "the cache has the workspace's policy")
	g.Expect(call("approve_post", acme("postId", waiting))["post"].(map[string]any)["approval"]).To(ContainSubstring("approved by alice"))
	refused := ok("ocoya_create_post", acme("text", "Off brand", "profileIds", []string{"masto"}, "scheduledAt", later))["post"].(map[string]any)["id"].(string)
	g.Expect(call("reject_post", acme("postId", refused, "reason", "off brand"))["post"].(map[string]any)["phase"]).To(Equal("Canceled"))
	g.Expect(d.admin.Get(ctx, client.ObjectKey{Name: "acme"}, ws)).To(Succeed())
	ws.Spec.Approval = nil
	g.Expect(d.admin.Update(ctx, ws)).To(Succeed())

	call("list_workflows", acme())
	call("get_workflow", acme("workflowId", "weekly"))
	call("toggle_workflow", acme("workflowId", "weekly", "enabled", false))
	call("toggle_workflow", acme("workflowId", "weekly", "enabled", true))
	run := call("run_workflow", acme("workflowId", "weekly"))["run"].(map[string]any)["id"].(string)
	call("get_workflow_run", acme("runId", run))
	call("list_workflow_runs", acme())

	call("delete_post", acme("postId", draft, "remove", true))
	call("delete_brand_kit", acme("brandKitId", "summer"))

	// Every tool the server lists was used above.
	status, body := mcpCall(g, d.baseURL, token, map[string]any{"jsonrpc": "2.0", "id": 1, "method": "tools/list"})
	g.Expect(status).To(Equal(http.StatusOK))
	var list struct {
		Result struct{ Tools []struct{ Name string } } `json:"result"`
	}
	g.Expect(json.Unmarshal(body, &list)).To(Succeed())
	for _, tl := range list.Result.Tools {
		g.Expect(used).To(HaveKey(strings.TrimPrefix(tl.Name, "ocoya_")), "the deployed test uses every tool")
	}
	g.Expect(used).To(HaveLen(len(list.Result.Tools)))

	g.Expect(strings.ToLower(d.out.String())).NotTo(ContainSubstring("forbidden"), "the install's RBAC refused Herald something")
	t.Logf("as deployed: %d tools used, 1 post published once, the OAuth flow completed; the service account was refused nothing", len(used))
}

const alicePassword = "alice-password"

// seedWorkspaces is what a platform team applies after installing: users,
// two workspaces and what is in them. alice owns both; bob views acme.
func seedWorkspaces(t *testing.T, g *WithT, admin client.Client, masto *mastodontest.Fake) {
	t.Helper()
	ctx := context.Background()
	g.Expect(oauth.EnsureLocalUser(ctx, admin, installNS, "alice", alicePassword)).To(Succeed())
	g.Expect(oauth.EnsureLocalUser(ctx, admin, installNS, "bob", bobPassword)).To(Succeed())
	for _, ws := range []string{"acme", "other"} {
		members := []socialv1alpha1.WorkspaceMember{{Subject: "alice", Role: socialv1alpha1.RoleOwner}}
		if ws == "acme" {
			members = append(members, socialv1alpha1.WorkspaceMember{Subject: "bob", Role: socialv1alpha1.RoleViewer})
		}
		g.Expect(admin.Create(ctx, &socialv1alpha1.Workspace{ObjectMeta: metav1.ObjectMeta{Name: ws},
			Spec: socialv1alpha1.WorkspaceSpec{DisplayName: ws, Members: members}})).To(Succeed())
		g.Eventually(func() error {
			return admin.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ws, Name: "masto"}, StringData: map[string]string{"accessToken": masto.Token}})
		}, time.Minute, 100*time.Millisecond).Should(Succeed(), "the workspace's namespace is made")
		objs := []client.Object{
			&socialv1alpha1.SocialProfile{ObjectMeta: metav1.ObjectMeta{Namespace: ws, Name: "masto"},
				Spec: socialv1alpha1.SocialProfileSpec{Platform: "mastodon", Handle: "@herald@fake.example", Endpoint: masto.URL,
					CredentialsSecretRef: &socialv1alpha1.LocalObjectReference{Name: "masto"}}},
			&socialv1alpha1.Workflow{ObjectMeta: metav1.ObjectMeta{Namespace: ws, Name: "weekly"},
				Spec: socialv1alpha1.WorkflowSpec{Enabled: true, Trigger: socialv1alpha1.WorkflowTrigger{Type: socialv1alpha1.TriggerManual},
					Posts: []socialv1alpha1.PostTemplate{{Text: "Weekly news", Profiles: []string{"masto"}, Draft: true}}}},
		}
		if ws == "acme" {
			objs = append(objs, &socialv1alpha1.Workflow{ObjectMeta: metav1.ObjectMeta{Namespace: ws, Name: "news"},
				Spec: socialv1alpha1.WorkflowSpec{Enabled: true, Trigger: socialv1alpha1.WorkflowTrigger{Type: socialv1alpha1.TriggerFeed,
					Feed: &socialv1alpha1.FeedTrigger{URL: privateFeedURL}},
					Posts: []socialv1alpha1.PostTemplate{{Text: "{{ .Item.Title }}", Profiles: []string{"masto"}, Draft: true}}}})
		}
		if ws == "other" {
			objs = append(objs,
				&socialv1alpha1.BrandKit{ObjectMeta: metav1.ObjectMeta{Namespace: ws, Name: "secret-kit"}, Spec: socialv1alpha1.BrandKitSpec{DisplayName: "Other's kit"}},
				&socialv1alpha1.ScheduledPost{ObjectMeta: metav1.ObjectMeta{Namespace: ws, Name: "secret-post"},
					Spec: socialv1alpha1.ScheduledPostSpec{Text: "Other's draft", Profiles: []string{"masto"}, Draft: true}},
				&socialv1alpha1.WorkflowRun{ObjectMeta: metav1.ObjectMeta{Namespace: ws, Name: "secret-run"},
					Spec: socialv1alpha1.WorkflowRunSpec{WorkflowRef: socialv1alpha1.LocalObjectReference{Name: "weekly"}}},
				&socialv1alpha1.RecurringPost{ObjectMeta: metav1.ObjectMeta{Namespace: ws, Name: "secret-recurring"},
					Spec: socialv1alpha1.RecurringPostSpec{Enabled: true, Recurrence: socialv1alpha1.Recurrence{Frequency: socialv1alpha1.FrequencyWeekly, Start: secretRecurringStart},
						Post: &socialv1alpha1.PostContent{Text: "Other's weekly", Profiles: []string{"masto"}}}})
		}
		for _, o := range objs {
			g.Expect(admin.Create(ctx, o)).To(Succeed(), "%T %s", o, o.GetName())
		}
	}
	g.Eventually(func(g Gomega) {
		for _, ws := range []string{"acme", "other"} {
			w := &socialv1alpha1.Workspace{}
			g.Expect(admin.Get(ctx, client.ObjectKey{Name: ws}, w)).To(Succeed())
			g.Expect(meta.IsStatusConditionTrue(w.Status.Conditions, socialv1alpha1.ConditionReady)).To(BeTrue(), "%s: %v", ws, w.Status.Conditions)
		}
	}, time.Minute, 250*time.Millisecond).Should(Succeed())
}

const bobPassword = "bob-password"

// privateFeedURL is a feed whose path is its password: a capability URL.
const privateFeedURL = "https://feeds.example/private/s3cret-capability/atom.xml"

// metricsGet asks /metrics with an optional bearer token; the certificate
// is the self-signed one Herald makes when none is mounted.
func metricsGet(g Gomega, url, token string) int {
	status, _ := metricsBody(g, url, token)
	return status
}

func metricsBody(g Gomega, url, token string) (int, string) {
	hc := &http.Client{Timeout: 10 * time.Second, Transport: insecureTLS()}
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := hc.Do(req)
	g.Expect(err).NotTo(HaveOccurred())
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode == http.StatusOK {
		g.Expect(string(body)).To(ContainSubstring("controller_runtime_reconcile_total"))
	}
	return resp.StatusCode, string(body)
}

// bindMetricsReader makes a service account and, when bound, binds the
// install's metrics-reader ClusterRole to it, as a Prometheus is set up.
func bindMetricsReader(g Gomega, d *deployment, name string, bound bool) string {
	ctx := context.Background()
	g.Expect(d.admin.Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: installNS, Name: name}})).To(Succeed())
	if bound {
		g.Expect(d.admin.Create(ctx, &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: name},
			RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "herald-metrics-reader"},
			Subjects: []rbacv1.Subject{{Kind: "ServiceAccount", Namespace: installNS, Name: name}}})).To(Succeed())
	}
	return serviceAccountToken(g, d.clientset, installNS, name)
}

// canI asks the API server, as `kubectl auth can-i --as` does, what
// Herald's service account may do.
func canI(t *testing.T, d *deployment) {
	g := NewWithT(t)
	assets, err := controlplane.AssetsDir()
	g.Expect(err).NotTo(HaveOccurred())
	as := "--as=system:serviceaccount:" + installNS + ":" + installSA
	for _, c := range []struct {
		verb, resource, namespace string
		want                      bool
	}{
		{"create", "scheduledposts.social.herald.dev", "acme", true},
		{"update", "scheduledposts.social.herald.dev", "acme", true},
		{"delete", "scheduledposts.social.herald.dev", "acme", true},
		{"patch", "scheduledposts.social.herald.dev/status", "acme", true},
		{"patch", "scheduledposts.social.herald.dev", "acme", true},
		{"create", "brandkits.social.herald.dev", "acme", true},
		{"patch", "brandkits.social.herald.dev", "acme", true},
		{"delete", "brandkits.social.herald.dev", "acme", true},
		{"patch", "workflows.social.herald.dev", "acme", true},
		{"create", "workflowruns.social.herald.dev", "acme", true},
		{"create", "recurringposts.social.herald.dev", "acme", true},
		{"patch", "recurringposts.social.herald.dev", "acme", true},
		{"patch", "recurringposts.social.herald.dev/status", "acme", true},
		{"update", "recurringposts.social.herald.dev/finalizers", "acme", true},
		{"create", "mcpgrants.social.herald.dev", "", true},
		{"create", "events.events.k8s.io", "acme", true},
		{"update", "leases.coordination.k8s.io", installNS, true},
		{"get", "secrets", installNS, true},
		{"get", "secrets", "acme", true},
		{"create", "secrets", "acme", true},
		{"update", "secrets", "acme", true},
		{"create", "socialprofiles.social.herald.dev", "acme", true},
		{"create", "namespaces", "", true},
		{"patch", "namespaces", "", true},
		{"delete", "namespaces", "", true},
		{"update", "namespaces", "", false},
		{"create", "secrets", "bystander", false},
		{"list", "secrets", "acme", false},
		{"watch", "secrets", "acme", false},
		{"get", "secrets", "bystander", false},
		{"get", "secrets", "kube-system", false},
		{"list", "secrets", "", false},
		{"create", "pods", "acme", false},
		{"create", "clusterrolebindings.rbac.authorization.k8s.io", "", false},
		{"escalate", "clusterroles.rbac.authorization.k8s.io", "", false},
		{"create", "roles.rbac.authorization.k8s.io", "acme", false},
		{"delete", "customresourcedefinitions.apiextensions.k8s.io", "", false},
	} {
		args := []string{"--kubeconfig", d.adminKubeconfig, "auth", "can-i", c.verb, c.resource, as}
		if resource, sub, ok := strings.Cut(c.resource, "/"); ok { // kubectl reads resource/x as a name
			args = []string{"--kubeconfig", d.adminKubeconfig, "auth", "can-i", c.verb, resource, "--subresource=" + sub, as}
		}
		if c.namespace != "" {
			args = append(args, "-n", c.namespace)
		} else {
			args = append(args, "--all-namespaces")
		}
		out, _ := exec.Command(filepath.Join(assets, "kubectl"), args...).Output() // exit 1 is "no"
		got := strings.TrimSpace(string(out)) == "yes"
		g.Expect(got).To(Equal(c.want), "kubectl auth can-i %s %s -n %q as Herald: %s", c.verb, c.resource, c.namespace, out)
	}
}

// namespaceLifecycle has the deployed Herald write namespaces every way it
// does, under its service account: it creates a new workspace's namespace
// and deletes it with the workspace, and labels a namespace it adopts and
// takes the label off again, leaving the namespace. Each is a create, a
// patch or a delete; a verb the ClusterRole lacks would leave a workspace
// never Ready or never deleted.
func namespaceLifecycle(t *testing.T, d *deployment) {
	g := NewWithT(t)
	ctx := context.Background()
	ready := func(name string) {
		g.Eventually(func(g Gomega) {
			w := &socialv1alpha1.Workspace{}
			g.Expect(d.admin.Get(ctx, client.ObjectKey{Name: name}, w)).To(Succeed())
			g.Expect(meta.IsStatusConditionTrue(w.Status.Conditions, socialv1alpha1.ConditionReady)).To(BeTrue(), "%s: %v", name, w.Status.Conditions)
		}, time.Minute, 250*time.Millisecond).Should(Succeed())
	}
	deleted := func(name string) {
		g.Expect(d.admin.Delete(ctx, &socialv1alpha1.Workspace{ObjectMeta: metav1.ObjectMeta{Name: name}})).To(Succeed())
		g.Eventually(func() bool {
			return apierrors.IsNotFound(d.admin.Get(ctx, client.ObjectKey{Name: name}, &socialv1alpha1.Workspace{}))
		}, time.Minute, 250*time.Millisecond).Should(BeTrue(), "workspace %s is let go", name)
	}

	g.Expect(d.admin.Create(ctx, &socialv1alpha1.Workspace{ObjectMeta: metav1.ObjectMeta{Name: "short-lived"},
		Spec: socialv1alpha1.WorkspaceSpec{DisplayName: "Short-lived"}})).To(Succeed())
	ready("short-lived")
	deleted("short-lived")
	made := &corev1.Namespace{}
	err := d.admin.Get(ctx, client.ObjectKey{Name: "short-lived"}, made)
	g.Expect(apierrors.IsNotFound(err) || !made.DeletionTimestamp.IsZero()).To(BeTrue(), "the namespace Herald made goes with the workspace: %v", err)

	g.Expect(d.admin.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "team-existing", Labels: map[string]string{"team": "blue"}}})).To(Succeed())
	g.Expect(d.admin.Create(ctx, &socialv1alpha1.Workspace{ObjectMeta: metav1.ObjectMeta{Name: "adopter"},
		Spec: socialv1alpha1.WorkspaceSpec{DisplayName: "Adopter", Namespace: "team-existing"}})).To(Succeed())
	ready("adopter")
	adopted := &corev1.Namespace{}
	g.Expect(d.admin.Get(ctx, client.ObjectKey{Name: "team-existing"}, adopted)).To(Succeed())
	g.Expect(adopted.Labels).To(HaveKeyWithValue(socialv1alpha1.LabelWorkspace, "adopter"))
	deleted("adopter")
	g.Expect(d.admin.Get(ctx, client.ObjectKey{Name: "team-existing"}, adopted)).To(Succeed())
	g.Expect(adopted.DeletionTimestamp.IsZero()).To(BeTrue(), "an adopted namespace stays")
	g.Expect(adopted.Labels).To(Equal(map[string]string{"team": "blue", corev1.LabelMetadataName: "team-existing"}), "only Herald's label is taken off")
	err = d.admin.Get(ctx, client.ObjectKey{Namespace: "team-existing", Name: "herald-workspace-secrets"}, &rbacv1.RoleBinding{})
	g.Expect(apierrors.IsNotFound(err)).To(BeTrue(), "the Secrets RoleBinding goes: %v", err)
}
