package e2e

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	"sigs.k8s.io/controller-runtime/pkg/client"

	socialv1alpha1 "github.com/herald-dev/herald/api/v1alpha1"
	"github.com/herald-dev/herald/internal/signin"
)

func insecureTLS() http.RoundTripper {
	return &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}} //nolint:gosec // Herald's self-signed metrics certificate
}

// attacksRefused tries, against the deployed herald, what a stranger, a
// viewer and an editor of another workspace could send, and expects each
// refused with nothing changed. docs/security.md maps threats to these.
func attacksRefused(t *testing.T, d *deployment) {
	ctx := context.Background()
	alice, err := signin.SignIn(ctx, signin.Options{BaseURL: d.baseURL, Username: "alice", Password: alicePassword, Workspaces: []string{"acme"}})
	NewWithT(t).Expect(err).NotTo(HaveOccurred())
	token := alice.Token.AccessToken

	t.Run("the sandbox feed is not served outside dev mode", func(t *testing.T) {
		g := NewWithT(t)
		resp, err := http.Get(d.baseURL + "/sandbox/")
		g.Expect(err).NotTo(HaveOccurred())
		resp.Body.Close()
		g.Expect(resp.StatusCode).To(Equal(http.StatusNotFound))
	})

	t.Run("metrics answer only callers the cluster authorizes", func(t *testing.T) {
		g := NewWithT(t)
		g.Expect(metricsGet(g, d.metricsURL, "")).To(Equal(http.StatusUnauthorized))
		g.Expect(metricsGet(g, d.metricsURL, "not-a-token")).To(Equal(http.StatusUnauthorized))
		g.Expect(metricsGet(g, d.metricsURL, bindMetricsReader(g, d, "stranger", false))).To(Equal(http.StatusForbidden))
		status, body := metricsBody(g, d.metricsURL, bindMetricsReader(g, d, "prometheus", true))
		g.Expect(status).To(Equal(http.StatusOK))
		// What the tool calls and the OAuth flow above left in the metrics.
		for _, series := range []string{
			`herald_mcp_calls_total{result="ok",tool="create_post"}`,
			`herald_mcp_call_duration_seconds_count{tool="publish_post"}`,
			`herald_oauth_tokens_issued_total{grant_type="authorization_code"}`,
			`herald_oauth_grants_approved_total`,
		} {
			g.Expect(body).To(ContainSubstring(series))
		}
		g.Expect(body).To(MatchRegexp(`herald_posts_published_total\{platform="mastodon"\} [1-9]`), "the posts published above")
		plain, err := http.Get(strings.Replace(d.metricsURL, "https://", "http://", 1))
		if err == nil {
			plain.Body.Close()
			g.Expect(plain.StatusCode).To(Equal(http.StatusBadRequest), "plain HTTP gets no metrics")
		}
	})

	t.Run("every answer carries a request id, and a proxy's well-formed one is kept", func(t *testing.T) {
		g := NewWithT(t)
		req, _ := http.NewRequest(http.MethodPost, d.baseURL+"/mcp", strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"ping"}`))
		resp, err := http.DefaultClient.Do(req)
		g.Expect(err).NotTo(HaveOccurred())
		resp.Body.Close()
		g.Expect(resp.Header.Get("X-Request-Id")).To(MatchRegexp(`^[0-9a-f]{16}$`))
		for sent, want := range map[string]string{"ingress-7f3a": "ingress-7f3a", "an id with spaces; and=more": ""} {
			req, _ = http.NewRequest(http.MethodGet, d.baseURL+"/.well-known/oauth-protected-resource/mcp", nil)
			req.Header.Set("X-Request-Id", sent)
			resp, err = http.DefaultClient.Do(req)
			g.Expect(err).NotTo(HaveOccurred())
			resp.Body.Close()
			if want != "" {
				g.Expect(resp.Header.Get("X-Request-Id")).To(Equal(want))
			} else {
				g.Expect(resp.Header.Get("X-Request-Id")).To(MatchRegexp(`^[0-9a-f]{16}$`))
			}
		}
	})

	t.Run("a client sending its body slowly is disconnected", func(t *testing.T) {
		g := NewWithT(t)
		conn, err := net.Dial("tcp", strings.TrimPrefix(d.baseURL, "http://"))
		g.Expect(err).NotTo(HaveOccurred())
		defer conn.Close()
		_, err = fmt.Fprintf(conn, "POST /oauth/token HTTP/1.1\r\nHost: %s\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 4096\r\n\r\ngrant_type=", strings.TrimPrefix(d.baseURL, "http://"))
		g.Expect(err).NotTo(HaveOccurred())
		// herald runs with --http-read-timeout=2s; a server without a read
		// bound would keep the connection until this deadline.
		g.Expect(conn.SetReadDeadline(time.Now().Add(20 * time.Second))).To(Succeed())
		_, err = io.ReadAll(conn)
		var ne net.Error
		g.Expect(errors.As(err, &ne) && ne.Timeout()).To(BeFalse(), "the connection was still open after 20 s: %v", err)
	})

	t.Run("oversized bodies are refused", func(t *testing.T) {
		g := NewWithT(t)
		big := bytes.Repeat([]byte(" "), 5<<20)
		req, _ := http.NewRequest(http.MethodPost, d.baseURL+"/mcp", bytes.NewReader(append([]byte(`{"jsonrpc":"2.0","id":1,"method":"ping"}`), big...)))
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json, text/event-stream")
		g.Expect(statusOf(g, req)).To(Equal(http.StatusRequestEntityTooLarge))

		reg := `{"client_name":"` + strings.Repeat("x", 100<<10) + `","redirect_uris":["http://127.0.0.1:1/cb"]}`
		resp, err := http.Post(d.baseURL+"/oauth/register", "application/json", strings.NewReader(reg))
		g.Expect(err).NotTo(HaveOccurred())
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		g.Expect(resp.StatusCode).To(Equal(http.StatusBadRequest))
		g.Expect(string(body)).To(ContainSubstring("under 64 KiB"))

		form := url.Values{"grant_type": {"authorization_code"}, "code": {strings.Repeat("x", 100<<10)}}
		resp, err = http.PostForm(d.baseURL+"/oauth/token", form)
		g.Expect(err).NotTo(HaveOccurred())
		resp.Body.Close()
		g.Expect(resp.StatusCode).To(BeNumerically(">=", 400))
		g.Expect(resp.StatusCode).To(BeNumerically("<", 500))
	})

	t.Run("deeply nested JSON is refused and the server carries on", func(t *testing.T) {
		g := NewWithT(t)
		nested := strings.Repeat("[", 1<<20) + strings.Repeat("]", 1<<20)
		status, body := rawMCP(g, d.baseURL, token, nested)
		g.Expect(status).To(Equal(http.StatusOK))
		g.Expect(string(body)).To(ContainSubstring(`"code":-32700`))

		reg := `{"client_name":` + strings.Repeat("[", 30000) + strings.Repeat("]", 30000) + `}`
		resp, err := http.Post(d.baseURL+"/oauth/register", "application/json", strings.NewReader(reg))
		g.Expect(err).NotTo(HaveOccurred())
		resp.Body.Close()
		g.Expect(resp.StatusCode).To(Equal(http.StatusBadRequest))

		g.Expect(toolCall(g, d.baseURL, token, "ocoya_get_me", nil).isError).To(BeFalse(), "still serving")
	})

	t.Run("a batch of more than 50 messages is refused whole", func(t *testing.T) {
		g := NewWithT(t)
		var msgs []string
		for i := range 51 {
			msgs = append(msgs, fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,"method":"tools/call","params":{"name":"ocoya_create_post","arguments":{"workspaceId":"acme","text":"batch %d"}}}`, i, i))
		}
		before := postsIn(g, d, "acme")
		status, body := rawMCP(g, d.baseURL, token, "["+strings.Join(msgs, ",")+"]")
		g.Expect(status).To(Equal(http.StatusOK))
		g.Expect(string(body)).To(ContainSubstring("a batch holds at most 50 messages"))
		g.Expect(postsIn(g, d, "acme")).To(Equal(before), "no message of the batch ran")
	})

	t.Run("forged and misplaced tokens are refused", func(t *testing.T) {
		g := NewWithT(t)
		parts := strings.Split(token, ".")
		g.Expect(parts).To(HaveLen(3))
		var header map[string]any
		hb, _ := base64.RawURLEncoding.DecodeString(parts[0])
		g.Expect(json.Unmarshal(hb, &header)).To(Succeed())
		kid := header["kid"]
		enc := func(v any) string { b, _ := json.Marshal(v); return base64.RawURLEncoding.EncodeToString(b) }

		none := enc(map[string]any{"alg": "none", "kid": kid, "typ": header["typ"]}) + "." + parts[1] + "."
		var jwks struct{ Keys []json.RawMessage }
		g.Expect(getJSON(ctx, d.baseURL+"/oauth/jwks", &jwks)).To(Succeed())
		g.Expect(jwks.Keys).NotTo(BeEmpty())
		hsInput := enc(map[string]any{"alg": "HS256", "kid": kid, "typ": header["typ"]}) + "." + parts[1]
		mac := hmac.New(sha256.New, jwks.Keys[0]) // the published public key as an HMAC secret
		mac.Write([]byte(hsInput))
		hs256 := hsInput + "." + base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
		foreign, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		esInput := parts[0] + "." + parts[1]
		digest := sha256.Sum256([]byte(esInput))
		r, s, _ := ecdsa.Sign(rand.Reader, foreign, digest[:])
		sig := append(r.FillBytes(make([]byte, 32)), s.FillBytes(make([]byte, 32))...)
		otherKey := esInput + "." + base64.RawURLEncoding.EncodeToString(sig)

		for name, forged := range map[string]string{"alg none": none, "HS256 keyed with the public key": hs256, "another key under our kid": otherKey} {
			status, _ := mcpCall(g, d.baseURL, forged, map[string]any{"jsonrpc": "2.0", "id": 1, "method": "tools/list"})
			g.Expect(status).To(Equal(http.StatusUnauthorized), name)
		}
		req, _ := http.NewRequest(http.MethodPost, d.baseURL+"/mcp?access_token="+url.QueryEscape(token), strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"tools/list"}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json, text/event-stream")
		g.Expect(statusOf(g, req)).To(Equal(http.StatusUnauthorized), "a token in the query string")

		req, _ = http.NewRequest(http.MethodPost, d.baseURL+"/mcp", strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"tools/list"}`))
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json, text/event-stream")
		req.Header.Set("Origin", "https://evil.example")
		g.Expect(statusOf(g, req)).To(Equal(http.StatusForbidden), "a page of another origin")

		g.Expect(toolCall(g, d.baseURL, token, "ocoya_get_me", nil).isError).To(BeFalse(), "the real token still works")
	})

	t.Run("sign-in and error pages cannot be framed", func(t *testing.T) {
		g := NewWithT(t)
		q := url.Values{"response_type": {"code"}, "client_id": {alice.ClientID}, "redirect_uri": {"http://127.0.0.1:1/callback"},
			"code_challenge": {"E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"}, "code_challenge_method": {"S256"}, "state": {"state-of-the-framing-test"},
			"resource": {d.baseURL + "/mcp"}}
		for name, target := range map[string]string{
			"sign-in page": d.baseURL + "/oauth/authorize?" + q.Encode(),
			"error page":   d.baseURL + "/oauth/authorize?client_id=nobody&response_type=code",
		} {
			resp, err := noRedirects.Get(target)
			g.Expect(err).NotTo(HaveOccurred())
			resp.Body.Close()
			g.Expect(resp.StatusCode).NotTo(BeElementOf(301, 302, 303, 307, 308), name)
			g.Expect(resp.Header.Get("X-Frame-Options")).To(Equal("DENY"), name)
			g.Expect(resp.Header.Get("Content-Security-Policy")).To(ContainSubstring("frame-ancestors 'none'"), name)
		}
	})

	t.Run("a workspace outside the grant does not exist, for every tool", func(t *testing.T) {
		g := NewWithT(t)
		// alice owns "other" too, but approved only acme for this client:
		// every tool aimed at other's real objects finds nothing.
		other := map[string]map[string]any{
			"get_workspace":             {},
			"list_social_profiles":      {},
			"get_social_profile":        {"profileId": "masto"},
			"get_social_connection_url": {"platform": "mastodon", "instance": "mastodon.social", "profileId": "masto"},
			"list_brand_kits":           {},
			"get_brand_kit":             {"brandKitId": "secret-kit"},
			"create_brand_kit":          {"brandKitId": "planted", "displayName": "Planted"},
			"update_brand_kit":          {"brandKitId": "secret-kit", "displayName": "Changed"},
			"delete_brand_kit":          {"brandKitId": "secret-kit"},
			"list_posts":                {},
			"get_post":                  {"postId": "secret-post"},
			"create_post":               {"text": "planted", "profileIds": []string{"masto"}},
			"update_post":               {"postId": "secret-post", "text": "changed"},
			"schedule_post":             {"postId": "secret-post", "scheduledAt": time.Now().Add(time.Hour).UTC().Format(time.RFC3339)},
			"publish_post":              {"postId": "secret-post"},
			"preview_post":              {"postId": "secret-post"},
			"retry_post":                {"postId": "secret-post"},
			"delete_post":               {"postId": "secret-post", "remove": true},
			"skip_occurrence":           {"recurringPostId": "secret-recurring", "at": secretRecurringStart},
			"approve_post":              {"postId": "secret-post"},
			"reject_post":               {"postId": "secret-post", "reason": "planted"},
			"list_workflows":            {},
			"get_workflow":              {"workflowId": "weekly"},
			"toggle_workflow":           {"workflowId": "weekly", "enabled": false},
			"run_workflow":              {"workflowId": "weekly"},
			"list_workflow_runs":        {},
			"get_workflow_run":          {"runId": "secret-run"},
		}
		before := snapshotOther(g, d)
		for _, tl := range listTools(g, d.baseURL, token) {
			short := strings.TrimPrefix(tl.Name, "ocoya_")
			if _, takesWorkspace := tl.InputSchema.Properties["workspaceId"]; !takesWorkspace {
				continue
			}
			args, ok := other[short]
			g.Expect(ok).To(BeTrue(), "%s takes a workspace: add it to this test", tl.Name)
			args["workspaceId"] = "other"
			r := toolCall(g, d.baseURL, token, tl.Name, args)
			g.Expect(r.status).To(Equal(http.StatusOK), tl.Name)
			g.Expect(r.isError).To(BeTrue(), "%s answered for another workspace: %s", tl.Name, r.text)
			g.Expect(r.text).To(ContainSubstring(`workspace \"other\" not found`), tl.Name)
			g.Expect(r.text).NotTo(ContainSubstring("secret-"), tl.Name)
		}
		g.Expect(snapshotOther(g, d)).To(Equal(before), "nothing of the other workspace changed")
	})

	t.Run("a viewer can write nothing", func(t *testing.T) {
		g := NewWithT(t)
		bob, err := signin.SignIn(ctx, signin.Options{BaseURL: d.baseURL, Username: "bob", Password: bobPassword, Workspaces: []string{"acme"}})
		g.Expect(err).NotTo(HaveOccurred())
		before := postsIn(g, d, "acme")
		writes := 0
		for _, tl := range listTools(g, d.baseURL, alice.Token.AccessToken) {
			if tl.Annotations.ReadOnlyHint != nil && *tl.Annotations.ReadOnlyHint {
				continue
			}
			writes++
			args := map[string]any{"workspaceId": "acme", "postId": "x", "text": "from a viewer", "profileIds": []string{"masto"},
				"brandKitId": "viewer-kit", "displayName": "Viewer", "workflowId": "weekly", "enabled": false,
				"scheduledAt": time.Now().Add(time.Hour).UTC().Format(time.RFC3339)}
			r := toolCall(g, d.baseURL, bob.Token.AccessToken, tl.Name, args)
			g.Expect(r.status == http.StatusForbidden || r.isError).To(BeTrue(), "a viewer called %s: %s", tl.Name, r.text)
		}
		g.Expect(writes).To(BeNumerically(">=", 10))

		// Capability URLs are shown by their site only.
		for _, r := range []toolResult{
			toolCall(g, d.baseURL, bob.Token.AccessToken, "ocoya_get_workflow", map[string]any{"workspaceId": "acme", "workflowId": "news"}),
			toolCall(g, d.baseURL, bob.Token.AccessToken, "ocoya_list_workflows", map[string]any{"workspaceId": "acme"}),
		} {
			g.Expect(r.isError).To(BeFalse(), r.text)
			g.Expect(r.text).To(ContainSubstring("https://feeds.example/…"))
			g.Expect(r.text).NotTo(ContainSubstring("s3cret-capability"))
		}
		g.Expect(d.out.String()).NotTo(ContainSubstring("s3cret-capability"), "nor in Herald's log")
		news := &socialv1alpha1.Workflow{}
		g.Expect(d.admin.Get(ctx, client.ObjectKey{Namespace: "acme", Name: "news"}, news)).To(Succeed())
		for _, c := range news.Status.Conditions {
			g.Expect(c.Message).NotTo(ContainSubstring("s3cret-capability"), "nor in the workflow's status")
		}
		g.Expect(postsIn(g, d, "acme")).To(Equal(before))
		wf := &socialv1alpha1.Workflow{}
		g.Expect(d.admin.Get(ctx, client.ObjectKey{Namespace: "acme", Name: "weekly"}, wf)).To(Succeed())
		g.Expect(wf.Spec.Enabled).To(BeTrue())
		g.Expect(d.admin.Get(ctx, client.ObjectKey{Namespace: "acme", Name: "viewer-kit"}, &socialv1alpha1.BrandKit{})).NotTo(Succeed())
	})

	// Last: it spends this address's token budget for a minute.
	t.Run("the token endpoint is rate limited per address", func(t *testing.T) {
		g := NewWithT(t)
		form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"guessed"}, "client_id": {alice.ClientID}}
		refused := 0
		for i := 0; i < 400 && refused == 0; i++ {
			resp, err := http.PostForm(d.baseURL+"/oauth/token", form)
			g.Expect(err).NotTo(HaveOccurred())
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			switch resp.StatusCode {
			case http.StatusTooManyRequests:
				refused = i + 1
				g.Expect(string(body)).To(ContainSubstring("temporarily_unavailable"))
			default:
				g.Expect(resp.StatusCode).To(Equal(http.StatusBadRequest), string(body))
			}
		}
		g.Expect(refused).To(BeNumerically(">", 250), "refused only past the budget")
		g.Expect(refused).To(BeNumerically("<=", 301))
		t.Logf("the token endpoint answered 429 at request %d", refused)
	})
}

func statusOf(g Gomega, req *http.Request) int {
	resp, err := http.DefaultClient.Do(req)
	g.Expect(err).NotTo(HaveOccurred())
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode
}

// rawMCP posts body to /mcp as it is.
func rawMCP(g Gomega, base, token, body string) (int, []byte) {
	req, _ := http.NewRequest(http.MethodPost, base+"/mcp", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	resp, err := http.DefaultClient.Do(req)
	g.Expect(err).NotTo(HaveOccurred())
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, out
}

type listedTool struct {
	Name        string
	InputSchema struct {
		Properties map[string]json.RawMessage `json:"properties"`
	} `json:"inputSchema"`
	Annotations struct {
		ReadOnlyHint *bool `json:"readOnlyHint"`
	} `json:"annotations"`
}

func listTools(g Gomega, base, token string) []listedTool {
	status, body := mcpCall(g, base, token, map[string]any{"jsonrpc": "2.0", "id": 1, "method": "tools/list"})
	g.Expect(status).To(Equal(http.StatusOK), string(body))
	var list struct {
		Result struct{ Tools []listedTool } `json:"result"`
	}
	g.Expect(json.Unmarshal(body, &list)).To(Succeed())
	g.Expect(list.Result.Tools).NotTo(BeEmpty())
	return list.Result.Tools
}

// postsIn names the ScheduledPosts of a workspace with their generation.
func postsIn(g Gomega, d *deployment, namespace string) map[string]int64 {
	var list socialv1alpha1.ScheduledPostList
	g.Expect(d.admin.List(context.Background(), &list, client.InNamespace(namespace))).To(Succeed())
	out := map[string]int64{}
	for _, p := range list.Items {
		out[p.Name] = p.Generation
	}
	return out
}

// snapshotOther is every object of the "other" workspace with its
// generation, and the workflow's enabled flag.
func snapshotOther(g Gomega, d *deployment) map[string]any {
	ctx := context.Background()
	out := map[string]any{}
	for name, gen := range postsIn(g, d, "other") {
		out["post/"+name] = gen
	}
	var kits socialv1alpha1.BrandKitList
	g.Expect(d.admin.List(ctx, &kits, client.InNamespace("other"))).To(Succeed())
	for _, k := range kits.Items {
		out["brandkit/"+k.Name] = k.Generation
	}
	var runs socialv1alpha1.WorkflowRunList
	g.Expect(d.admin.List(ctx, &runs, client.InNamespace("other"))).To(Succeed())
	for _, r := range runs.Items {
		out["run/"+r.Name] = r.Generation
	}
	var recurring socialv1alpha1.RecurringPostList
	g.Expect(d.admin.List(ctx, &recurring, client.InNamespace("other"))).To(Succeed())
	for _, r := range recurring.Items {
		out["recurring/"+r.Name] = r.Generation
	}
	wf := &socialv1alpha1.Workflow{}
	g.Expect(d.admin.Get(ctx, client.ObjectKey{Namespace: "other", Name: "weekly"}, wf)).To(Succeed())
	out["workflow/weekly"] = fmt.Sprintf("generation %d, enabled %t", wf.Generation, wf.Spec.Enabled)
	return out
}

var noRedirects = &http.Client{Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
