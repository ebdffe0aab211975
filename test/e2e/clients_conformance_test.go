package e2e

import (
	"context"
	"encoding/json"
	"io/fs"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	. "github.com/onsi/gomega"
)

// conformanceScenarios are the server scenarios of @modelcontextprotocol/conformance
// that Herald must pass (issue 5).
var conformanceScenarios = []string{"server-initialize", "ping", "tools-list", "dns-rebinding-protection"}

// tokenProxy serves Herald's MCP endpoint on another loopback port and adds the
// bearer token the conformance suite cannot obtain itself. It behaves as a
// transparent front: a Host or Origin naming the proxy is rewritten to name Herald
// (as a person's browser would have named Herald), any other Host or Origin — such
// as the DNS-rebinding scenario's evil.example.com — reaches Herald untouched.
func tokenProxy(t *testing.T, h *heraldMCP, accessToken string) string {
	t.Helper()
	target, err := url.Parse(h.Base)
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	self := "http://" + l.Addr().String()
	selfHost := l.Addr().String()
	proxy := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(target)
			if r.In.Host != selfHost {
				r.Out.Host = r.In.Host
			}
			if o := r.In.Header.Get("Origin"); o == self {
				r.Out.Header.Set("Origin", h.Base)
			}
			r.Out.Header.Set("Authorization", "Bearer "+accessToken)
		},
		FlushInterval: -1, // stream SSE answers as they come
	}
	srv := &http.Server{Handler: proxy, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	})
	return self + "/mcp"
}

// conformanceCheck is one entry of the suite's checks.json.
type conformanceCheck struct {
	ID           string          `json:"id"`
	Name         string          `json:"name"`
	Status       string          `json:"status"`
	ErrorMessage string          `json:"errorMessage"`
	Details      json.RawMessage `json:"details"`
}

// TestConformanceSuite runs the official MCP conformance suite's server scenarios
// against Herald, through a proxy that adds a token obtained with the real OAuth flow.
func TestConformanceSuite(t *testing.T) {
	node := ensureNodeClients(t)
	h := startHeraldMCP(t)
	tok := oauthLogin(t, h, "demo")
	proxied := tokenProxy(t, h, tok.AccessToken)
	cli := filepath.Join(node.DepsDir, "node_modules", "@modelcontextprotocol", "conformance", "dist", "index.js")

	for _, scenario := range conformanceScenarios {
		t.Run(scenario, func(t *testing.T) {
			g := NewWithT(t)
			outDir := t.TempDir()
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			cmd := node.command(ctx, cli, "server", "--url", proxied, "--scenario", scenario, "--output-dir", outDir)
			cmd.Dir = outDir
			cmd.Env = append(cmd.Env, "NO_COLOR=1")
			out, runErr := cmd.CombinedOutput()
			t.Logf("conformance %s:\n%s", scenario, out)

			var checks []conformanceCheck
			g.Expect(filepath.WalkDir(outDir, func(path string, d fs.DirEntry, err error) error {
				if err != nil || d.Name() != "checks.json" {
					return err
				}
				data, err := os.ReadFile(path)
				if err != nil {
					return err
				}
				var some []conformanceCheck
				if err := json.Unmarshal(data, &some); err != nil {
					return err
				}
				checks = append(checks, some...)
				return nil
			})).To(Succeed())
			g.Expect(checks).NotTo(BeEmpty(), "the suite wrote no checks.json")
			for _, c := range checks {
				g.Expect(c.Status).NotTo(Equal("FAILURE"), "%s (%s): %s\ndetails: %s", c.ID, c.Name, c.ErrorMessage, c.Details)
			}
			g.Expect(checks).To(ContainElement(HaveField("Status", "SUCCESS")))
			if scenario == "dns-rebinding-protection" {
				// Refused by Herald's Origin check, not by a missing token or a broken proxy.
				g.Expect(checks).To(ContainElement(And(
					HaveField("ID", "localhost-host-rebinding-rejected"),
					WithTransform(func(c conformanceCheck) int {
						var d struct {
							StatusCode int `json:"statusCode"`
						}
						_ = json.Unmarshal(c.Details, &d)
						return d.StatusCode
					}, Equal(http.StatusForbidden)))))
			}
			g.Expect(runErr).NotTo(HaveOccurred(), "the suite exited non-zero")
		})
	}
}
