package e2e

import (
	"context"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"

	"github.com/herald-dev/herald/api/v1alpha1"
	"github.com/herald-dev/herald/internal/controlplane"
)

// nodeClients is Node.js 22 and the locked packages of test/e2e/clients, installed
// by hack/node/ensure.sh.
type nodeClients struct {
	// NodeDir holds bin/node; DepsDir holds node_modules.
	NodeDir, DepsDir string
	// SourceDir is test/e2e/clients in the checkout.
	SourceDir string
}

func ensureNodeClients(t *testing.T) *nodeClients {
	t.Helper()
	root, err := controlplane.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	src := filepath.Join(root, "test", "e2e", "clients")
	cmd := exec.Command(filepath.Join(root, "hack", "node", "ensure.sh"), src)
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("hack/node/ensure.sh: %v", err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) != 2 {
		t.Fatalf("hack/node/ensure.sh printed %q, want the node folder and the deps folder", out)
	}
	return &nodeClients{NodeDir: lines[0], DepsDir: lines[1], SourceDir: src}
}

// script copies a script of test/e2e/clients next to a node_modules link, so that
// Node resolves its imports from the installed packages.
func (n *nodeClients) script(t *testing.T, name string) string {
	t.Helper()
	dir := t.TempDir()
	data, err := os.ReadFile(filepath.Join(n.SourceDir, name))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(n.DepsDir, "node_modules"), filepath.Join(dir, "node_modules")); err != nil {
		t.Fatal(err)
	}
	return filepath.Join(dir, name)
}

// command runs node (22, from the cache) with PATH leading to it.
func (n *nodeClients) command(ctx context.Context, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, filepath.Join(n.NodeDir, "bin", "node"), args...)
	cmd.Env = append(os.Environ(), "PATH="+filepath.Join(n.NodeDir, "bin")+string(os.PathListSeparator)+os.Getenv("PATH"))
	cmd.WaitDelay = 5 * time.Second
	return cmd
}

// runTSClient runs ts-client.mjs against h with the extra environment and
// returns its summary, failing t unless the script succeeded.
func runTSClient(t *testing.T, node *nodeClients, h *heraldMCP, env ...string) tsSummary {
	t.Helper()
	g := NewWithT(t)
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Second)
	defer cancel()
	cmd := node.command(ctx, node.script(t, "ts-client.mjs"), h.MCPURL)
	cmd.Env = append(cmd.Env, "HERALD_USERNAME="+devUser, "HERALD_PASSWORD="+h.Password, "HERALD_WORKSPACE=demo")
	cmd.Env = append(cmd.Env, env...)
	stderr := &syncBuffer{}
	cmd.Stderr = stderr
	start := time.Now()
	out, runErr := cmd.Output()
	t.Logf("ts-client ran %.1fs", time.Since(start).Seconds())

	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	var s tsSummary
	g.Expect(json.Unmarshal([]byte(lines[len(lines)-1]), &s)).To(Succeed(), "ts-client printed no summary:\n%s\nstderr:\n%s", out, stderr)
	g.Expect(s.Error).To(BeEmpty())
	g.Expect(runErr).NotTo(HaveOccurred(), "stderr:\n%s", stderr)
	g.Expect(s.OK).To(BeTrue())
	return s
}

// tsSummary is what test/e2e/clients/ts-client.mjs prints.
type tsSummary struct {
	OK                   bool   `json:"ok"`
	Error                string `json:"error"`
	RegisteredClientID   string `json:"registeredClientId"`
	AuthorizationRequest struct {
		Endpoint            string `json:"endpoint"`
		CodeChallengeMethod string `json:"codeChallengeMethod"`
		HasCodeChallenge    bool   `json:"hasCodeChallenge"`
		Resource            string `json:"resource"`
		Scope               string `json:"scope"`
		ClientID            string `json:"clientId"`
	} `json:"authorizationRequest"`
	ConsentWorkspaces []string `json:"consentWorkspaces"`
	ConsentClientHost string   `json:"consentClientHost"`
	Me                struct {
		Client     string `json:"client"`
		ClientName string `json:"clientName"`
	} `json:"me"`
	Elicitations []struct {
		Mode, URL, Message string
	} `json:"elicitations"`
	ConnectionLink struct {
		URL    string `json:"url"`
		Opened string `json:"opened"`
	} `json:"connectionLink"`
	Redirect   map[string]string `json:"redirect"`
	TokenType  string            `json:"tokenType"`
	ServerName string            `json:"serverName"`
	ToolCount  int               `json:"toolCount"`
	ToolNames  []string          `json:"toolNames"`
	Workspaces []string          `json:"workspaces"`
	Post       struct {
		ID             string   `json:"id"`
		DraftPhase     string   `json:"draftPhase"`
		ScheduledDraft bool     `json:"scheduledDraft"`
		ScheduledAt    string   `json:"scheduledAt"`
		Phases         []string `json:"phases"`
		Phase          string   `json:"phase"`
		Deliveries     []struct {
			ProfileID   string `json:"profileId"`
			Phase       string `json:"phase"`
			URL         string `json:"url"`
			PublishedAt string `json:"publishedAt"`
		} `json:"deliveries"`
	} `json:"post"`
	Recurring struct {
		ID                string   `json:"id"`
		ScheduledAt       string   `json:"scheduledAt"`
		NextOccurrences   []string `json:"nextOccurrences"`
		Upcoming          []string `json:"upcoming"`
		Skipped           string   `json:"skipped"`
		Skip              []string `json:"skip"`
		AfterSkip         []string `json:"afterSkip"`
		UpcomingAfterSkip []string `json:"upcomingAfterSkip"`
		Read              []string `json:"read"`
	} `json:"recurring"`
	Batch struct {
		Status     int      `json:"status"`
		IDs        []string `json:"ids"`
		Errors     []any    `json:"errors"`
		ToolCount  int      `json:"toolCount"`
		PingOK     bool     `json:"pingOk"`
		Workspaces []string `json:"workspaces"`
	} `json:"batch"`
}

// TestTypeScriptSDKClient: the official TypeScript SDK client connects to Herald on
// its own (discovery, dynamic registration, PKCE, resource), a person approves one
// workspace, and the client drafts a post, schedules it five seconds ahead, sees it
// Published by the sandbox platform, and sends a JSON-RPC batch.
func TestTypeScriptSDKClient(t *testing.T) {
	g := NewWithT(t)
	node := ensureNodeClients(t)
	h := startHeraldMCP(t)

	s := runTSClient(t, node, h)
	// The SDK's own auth() found and used everything Herald advertises.
	g.Expect(s.RegisteredClientID).NotTo(BeEmpty(), "dynamic client registration")
	g.Expect(s.AuthorizationRequest.Endpoint).To(Equal(h.Base + "/oauth/authorize"))
	g.Expect(s.AuthorizationRequest.CodeChallengeMethod).To(Equal("S256"))
	g.Expect(s.AuthorizationRequest.HasCodeChallenge).To(BeTrue())
	g.Expect(s.AuthorizationRequest.Resource).To(Equal(h.MCPURL), "RFC 8707 resource")
	g.Expect(strings.Fields(s.AuthorizationRequest.Scope)).To(ContainElements("posts:write", "posts:read"), "the scopes of the 401 challenge")
	g.Expect(s.ConsentWorkspaces).To(ConsistOf("demo", "team"))
	g.Expect(s.Redirect).To(HaveKeyWithValue("iss", h.Base), "RFC 9207 iss")
	g.Expect(strings.ToLower(s.TokenType)).To(Equal("bearer"))

	// The grant holds only the approved workspace.
	g.Expect(s.ServerName).To(Equal("herald"))
	g.Expect(s.ToolCount).To(Equal(29))
	g.Expect(s.ToolNames).To(ContainElements("ocoya_create_post", "ocoya_schedule_post", "ocoya_get_post", "ocoya_run_workflow"))
	g.Expect(s.Workspaces).To(Equal([]string{"demo"}))

	// Drafted, scheduled five seconds ahead, Published at (not before) the due time.
	g.Expect(s.Post.ID).NotTo(BeEmpty())
	g.Expect(s.Post.DraftPhase).To(Equal("Draft"))
	g.Expect(s.Post.ScheduledDraft).To(BeFalse())
	g.Expect(s.Post.Phases).NotTo(HaveExactElements("Published"), "the post was seen before it published")
	g.Expect(s.Post.Phase).To(Equal("Published"))
	g.Expect(s.Post.Deliveries).To(HaveLen(1))
	d := s.Post.Deliveries[0]
	g.Expect(d.ProfileID).To(Equal("sandbox"))
	g.Expect(d.Phase).To(Equal("Published"))
	g.Expect(d.URL).To(ContainSubstring("/sandbox/"))
	due, err := time.Parse(time.RFC3339, s.Post.ScheduledAt)
	g.Expect(err).NotTo(HaveOccurred())
	published, err := time.Parse(time.RFC3339, d.PublishedAt)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(published).NotTo(BeTemporally("<", due), "published before its scheduled time")
	g.Expect(published).To(BeTemporally("<", due.Add(30*time.Second)))

	// A weekly recurring post: five occurrences shown, a week apart at the
	// first one's Berlin wall-clock time; the one skipped leaves every list.
	r := s.Recurring
	g.Expect(r.ID).NotTo(BeEmpty())
	g.Expect(r.NextOccurrences).To(HaveLen(5))
	berlin, err := time.LoadLocation("Europe/Berlin")
	g.Expect(err).NotTo(HaveOccurred())
	first, err := time.Parse(time.RFC3339, r.ScheduledAt)
	g.Expect(err).NotTo(HaveOccurred())
	for i, at := range r.NextOccurrences {
		want := first.In(berlin).AddDate(0, 0, 7*i)
		want = time.Date(want.Year(), want.Month(), want.Day(), first.In(berlin).Hour(), first.In(berlin).Minute(), 0, 0, berlin)
		g.Expect(at).To(Equal(want.Format(time.RFC3339)), "occurrence %d", i)
	}
	g.Expect(r.Upcoming).To(HaveExactElements(r.NextOccurrences), "ocoya_list_posts lists the same occurrences (within 30 days: all but the sixth)")
	g.Expect(r.Skipped).To(Equal(r.NextOccurrences[1]))
	g.Expect(r.Skip).To(Equal([]string{r.Skipped}))
	g.Expect(r.AfterSkip).To(HaveLen(5))
	g.Expect(r.AfterSkip[:4]).To(Equal(append([]string{r.NextOccurrences[0]}, r.NextOccurrences[2:]...)), "the skipped one is gone")
	sixth, err := time.Parse(time.RFC3339, r.AfterSkip[4])
	g.Expect(err).NotTo(HaveOccurred())
	fifth, _ := time.Parse(time.RFC3339, r.NextOccurrences[4])
	g.Expect(sixth.Sub(fifth)).To(Equal(7*24*time.Hour), "the sixth and last comes in")
	g.Expect(r.UpcomingAfterSkip).NotTo(ContainElement(r.Skipped))
	g.Expect(r.UpcomingAfterSkip).To(ContainElements(r.NextOccurrences[0], r.NextOccurrences[2]))
	g.Expect(r.Read).To(Equal(r.AfterSkip), "ocoya_get_post reads what skip_occurrence wrote")

	// The batch array was answered with an array, in order, the notification left out.
	g.Expect(s.Batch.Status).To(Equal(200))
	g.Expect(s.Batch.IDs).To(Equal([]string{"b1", "b2", "b3"}))
	g.Expect(s.Batch.Errors).To(BeEmpty())
	g.Expect(s.Batch.ToolCount).To(Equal(29))
	g.Expect(s.Batch.PingOK).To(BeTrue())
	g.Expect(s.Batch.Workspaces).To(Equal([]string{"demo"}))
}

// TestTypeScriptSDKClientMetadataDocument: the official TypeScript SDK identifies
// its client by a client ID metadata document on an https site Herald is told to
// trust (--outbound-ca-file), instead of registering. Herald fetches the document,
// shows its host on the consent page, sends the code to the port-less localhost
// redirect URI the document lists on the port the client listens on, and records
// the client as an MCPClient once the person approved it.
func TestTypeScriptSDKClientMetadataDocument(t *testing.T) {
	g := NewWithT(t)
	node := ensureNodeClients(t)

	var docURL string
	site := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/oauth/client-metadata.json" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "max-age=600")
		_ = json.NewEncoder(w).Encode(map[string]any{
			"client_id": docURL, "client_name": "Herald e2e (TypeScript SDK, metadata document)",
			"redirect_uris": []string{"http://localhost/callback"}, "token_endpoint_auth_method": "none",
			"grant_types": []string{"authorization_code", "refresh_token"}, "response_types": []string{"code"},
		})
	}))
	defer site.Close()
	docURL = site.URL + "/oauth/client-metadata.json"
	caFile := filepath.Join(t.TempDir(), "site-ca.pem")
	g.Expect(os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: site.Certificate().Raw}), 0o600)).To(Succeed())

	h := startHeraldMCP(t, "--outbound-ca-file="+caFile)
	s := runTSClient(t, node, h, "HERALD_CLIENT_METADATA_URL="+docURL)

	// The SDK saves the URL as its client information; that nothing was
	// registered dynamically is checked on the cluster below.
	g.Expect(s.RegisteredClientID).To(Equal(docURL))
	g.Expect(s.AuthorizationRequest.ClientID).To(Equal(docURL))
	g.Expect(s.ConsentClientHost).To(Equal(strings.TrimPrefix(site.URL, "https://")))
	g.Expect(s.Redirect).To(HaveKeyWithValue("iss", h.Base))
	g.Expect(s.ToolCount).To(Equal(29))
	g.Expect(s.Workspaces).To(Equal([]string{"demo"}))
	g.Expect(s.Me.Client).To(Equal(docURL))
	g.Expect(s.Me.ClientName).To(Equal("Herald e2e (TypeScript SDK, metadata document)"))

	// The client shows links itself: asked for a connection link, Herald
	// first asked the client to show it (URL-mode elicitation), then
	// answered with the link and what the person chose.
	link := h.Base + "/connect/demo/mastodon?instance=mastodon.social"
	g.Expect(s.Elicitations).To(HaveLen(1))
	g.Expect(s.Elicitations[0].Mode).To(Equal("url"))
	g.Expect(s.Elicitations[0].URL).To(Equal(link))
	g.Expect(s.Elicitations[0].Message).To(ContainSubstring("connect your mastodon account"))
	g.Expect(s.ConnectionLink.URL).To(Equal(link))
	g.Expect(s.ConnectionLink.Opened).To(Equal("accept"))

	c := kubeClient(g, h.Kubeconfig)
	var clients v1alpha1.MCPClientList
	g.Expect(c.List(context.Background(), &clients)).To(Succeed())
	var recorded []string
	for _, mc := range clients.Items {
		if mc.Spec.MetadataDocumentURL != "" {
			recorded = append(recorded, mc.Spec.MetadataDocumentURL)
			g.Expect(mc.Status.LastAuthorizedAt).NotTo(BeNil())
		}
		g.Expect(mc.Spec.Dynamic).To(BeFalse(), "nothing registered dynamically: %s", mc.Name)
	}
	g.Expect(recorded).To(Equal([]string{docURL}))
}
