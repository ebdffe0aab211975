package mcpserver

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/jsonschema-go/jsonschema"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	socialv1alpha1 "github.com/herald-dev/herald/api/v1alpha1"
	"github.com/herald-dev/herald/internal/publish/platformtest"
	"github.com/herald-dev/herald/internal/scheme"
	"github.com/herald-dev/herald/internal/testenv"
	"github.com/herald-dev/herald/mcpserver/oauth"
)

// The suite serves the MCP endpoint over real HTTP, reading from a real
// informer cache of a real API server. Callers are established by a stand-in
// for the OAuth middleware (which has its own suite): a bearer token that is
// the caller's JSON, so each test says exactly which grant it holds.
var (
	env       *envtest.Environment
	cfg       *rest.Config
	k8sClient client.Client
	mcpURL    string
	ctx       context.Context
	cancel    context.CancelFunc
	srv       *Server
)

func TestMCPServer(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "MCP Server Suite")
}

func testAuthenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		c := &Caller{}
		if !ok || json.Unmarshal([]byte(token), c) != nil {
			w.Header().Set("WWW-Authenticate", `Bearer resource_metadata="http://127.0.0.1/.well-known/oauth-protected-resource/mcp"`)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		next.ServeHTTP(w, r.WithContext(oauth.WithCaller(r.Context(), c)))
	})
}

var _ = BeforeSuite(func() {
	logf.SetLogger(zap.New(zap.WriteTo(GinkgoWriter), zap.UseDevMode(true)))
	ctx, cancel = context.WithCancel(context.Background())
	var err error
	env, cfg, err = testenv.Start()
	Expect(err).NotTo(HaveOccurred())
	k8sClient, err = client.New(cfg, client.Options{Scheme: scheme.New()})
	Expect(err).NotTo(HaveOccurred())

	mgr, err := ctrl.NewManager(cfg, ctrl.Options{Scheme: scheme.New(), Metrics: metricsserver.Options{BindAddress: "0"}})
	Expect(err).NotTo(HaveOccurred())
	srv, err = New(Options{
		Client: mgr.GetClient(), APIReader: mgr.GetAPIReader(), Cache: mgr.GetCache(),
		Authenticate: testAuthenticate, PublicURL: "https://herald.example.com",
		Outbound: &http.Client{Timeout: 5 * time.Second, Transport: platformtest.Loopback{}},
	})
	Expect(err).NotTo(HaveOccurred())
	go func() {
		defer GinkgoRecover()
		Expect(mgr.Start(ctx)).To(Succeed())
	}()
	Expect(mgr.GetCache().WaitForCacheSync(ctx)).To(BeTrue())

	ts := httptest.NewServer(srv.Handler())
	DeferCleanup(ts.Close)
	mcpURL = ts.URL + "/mcp"

	seedWorkspace("acme", "dev", socialv1alpha1.RoleOwner)
	seedWorkspace("other", "someone-else", socialv1alpha1.RoleOwner)
})

var _ = AfterSuite(func() {
	cancel()
	if env != nil {
		Expect(env.Stop()).To(Succeed())
	}
})

// seedWorkspace creates a workspace with its namespace and two profiles.
func seedWorkspace(name, member string, role socialv1alpha1.WorkspaceRole) {
	Expect(k8sClient.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}})).To(Succeed())
	Expect(k8sClient.Create(ctx, &socialv1alpha1.Workspace{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: socialv1alpha1.WorkspaceSpec{DisplayName: strings.ToUpper(name[:1]) + name[1:], TimeZone: "UTC",
			Members: []socialv1alpha1.WorkspaceMember{{Subject: member, Role: role}, {Subject: "viewer", Role: socialv1alpha1.RoleViewer}}},
	})).To(Succeed())
	Expect(k8sClient.Create(ctx, &socialv1alpha1.SocialProfile{
		ObjectMeta: metav1.ObjectMeta{Namespace: name, Name: "sandbox"},
		Spec:       socialv1alpha1.SocialProfileSpec{Platform: socialv1alpha1.Platform("sandbox"), Handle: "@" + name},
	})).To(Succeed())
	Expect(k8sClient.Create(ctx, &socialv1alpha1.SocialProfile{
		ObjectMeta: metav1.ObjectMeta{Namespace: name, Name: "x-main"},
		Spec: socialv1alpha1.SocialProfileSpec{Platform: socialv1alpha1.Platform("x"), Handle: name,
			CredentialsSecretRef: &socialv1alpha1.LocalObjectReference{Name: "x"}},
	})).To(Succeed())
}

// grant is a caller holding scopes in workspaces.
func grant(subject string, workspaces []string, scopes ...socialv1alpha1.Scope) *Caller {
	return &Caller{Subject: subject, ClientID: "test-client", Grant: "test-grant", Scopes: scopes, Workspaces: workspaces}
}

func allScopes() []socialv1alpha1.Scope {
	return append([]socialv1alpha1.Scope(nil), oauth.AllScopes...)
}

var rpcID atomic.Int64

// send sends a raw body and returns the HTTP response and its body.
func send(c *Caller, body string, headers ...string) (*http.Response, []byte) {
	return sendTo(mcpURL, c, body, headers...)
}

// sendTo is send to another server's MCP URL.
func sendTo(url string, c *Caller, body string, headers ...string) (*http.Response, []byte) {
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	Expect(err).NotTo(HaveOccurred())
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	req.Header.Set("MCP-Protocol-Version", "2025-06-18")
	if c != nil {
		token, _ := json.Marshal(c)
		req.Header.Set("Authorization", "Bearer "+string(token))
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	Expect(err).NotTo(HaveOccurred())
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	Expect(err).NotTo(HaveOccurred())
	return resp, data
}

type rpcResponse struct {
	ID     json.RawMessage `json:"id"`
	Result json.RawMessage `json:"result"`
	Error  *struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

type toolResult struct {
	IsError           bool             `json:"isError"`
	Content           []map[string]any `json:"content"`
	StructuredContent map[string]any   `json:"structuredContent"`
}

func (r toolResult) text() string {
	var b strings.Builder
	for _, c := range r.Content {
		if t, ok := c["text"].(string); ok {
			b.WriteString(t)
		}
	}
	return b.String()
}

// testSession is the session id the tests' calls carry, as clients do
// after initialize.
var testSession = (&sessions{}).Generate()

// rpc sends one JSON-RPC request on a session and decodes the response.
func rpc(c *Caller, method string, params any, headers ...string) rpcResponse {
	body, _ := json.Marshal(map[string]any{"jsonrpc": "2.0", "id": rpcID.Add(1), "method": method, "params": params})
	if headers == nil {
		headers = []string{"Mcp-Session-Id", testSession}
	}
	resp, data := send(c, string(body), headers...)
	Expect(resp.StatusCode).To(Equal(http.StatusOK), string(data))
	var out rpcResponse
	Expect(json.Unmarshal(bytes.TrimSpace(sseOrJSON(data)), &out)).To(Succeed(), string(data))
	return out
}

func sseOrJSON(data []byte) []byte {
	if bytes.HasPrefix(bytes.TrimSpace(data), []byte("event:")) || bytes.HasPrefix(bytes.TrimSpace(data), []byte("data:")) {
		return lastSSEData(data)
	}
	return data
}

// lastSSEData returns the data of the last event in an SSE body: the
// response, after any notifications sent while the request ran.
func lastSSEData(body []byte) []byte {
	var last []byte
	sc := bufio.NewScanner(bytes.NewReader(body))
	sc.Buffer(make([]byte, 64<<10), maxBody)
	for sc.Scan() {
		if data, ok := bytes.CutPrefix(sc.Bytes(), []byte("data:")); ok {
			last = append([]byte(nil), bytes.TrimSpace(data)...)
		}
	}
	return last
}

// call calls a tool and returns its result.
func call(c *Caller, tool string, args map[string]any) toolResult {
	out := rpc(c, "tools/call", map[string]any{"name": "ocoya_" + tool, "arguments": args})
	Expect(out.Error).To(BeNil(), "protocol error calling %s", tool)
	var r toolResult
	Expect(json.Unmarshal(out.Result, &r)).To(Succeed())
	return r
}

// ok calls a tool that must succeed and returns its structured content,
// checked against the tool's output schema.
func ok(c *Caller, tool string, args map[string]any) map[string]any {
	r := call(c, tool, args)
	ExpectWithOffset(1, r.IsError).To(BeFalse(), "%s failed: %s", tool, r.text())
	ExpectWithOffset(1, r.StructuredContent).NotTo(BeNil())
	ExpectWithOffset(1, outputSchema(tool).Validate(r.StructuredContent)).To(Succeed(), "%s's structured content does not match its output schema", tool)
	return r.StructuredContent
}

// outputSchema resolves a tool's declared output schema.
func outputSchema(tool string) *jsonschema.Resolved {
	for _, t := range catalogue() {
		if t.Name != tool {
			continue
		}
		s := &jsonschema.Schema{}
		ExpectWithOffset(2, json.Unmarshal(t.OutputSchema, s)).To(Succeed())
		resolved, err := s.Resolve(nil)
		ExpectWithOffset(2, err).NotTo(HaveOccurred())
		return resolved
	}
	Fail("no tool " + tool)
	return nil
}

// fails calls a tool that must answer with a tool error and returns its text.
func fails(c *Caller, tool string, args map[string]any) string {
	r := call(c, tool, args)
	ExpectWithOffset(1, r.IsError).To(BeTrue(), "%s should have failed, got %v", tool, r.StructuredContent)
	return r.text()
}

// argsIn is a tool call's arguments for workspace ws, with the rest given
// as name, value pairs.
func argsIn(ws string, kv ...any) map[string]any {
	m := map[string]any{"workspaceId": ws}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i].(string)] = kv[i+1]
	}
	return m
}
