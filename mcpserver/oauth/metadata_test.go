package oauth_test

import (
	"encoding/json"
	"net/http"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/herald-dev/herald/api/v1alpha1"
	"github.com/herald-dev/herald/mcpserver/oauth"
)

func getJSON(u string, hostHeader string) (int, map[string]any) {
	req, _ := http.NewRequest(http.MethodGet, u, nil)
	if hostHeader != "" {
		req.Host = hostHeader
	}
	resp, err := http.DefaultClient.Do(req)
	Expect(err).NotTo(HaveOccurred())
	return decode(resp)
}

var _ = Describe("discovery", func() {
	It("serves RFC 9728 metadata on both paths", func() {
		h := newHarness("")
		for _, path := range []string{"/.well-known/oauth-protected-resource", "/.well-known/oauth-protected-resource/mcp"} {
			st, m := getJSON(h.base+path, "")
			Expect(st).To(Equal(http.StatusOK))
			Expect(m["resource"]).To(Equal(h.base + "/mcp"))
			Expect(m["authorization_servers"]).To(ConsistOf(h.base))
			Expect(m["scopes_supported"]).To(HaveLen(len(oauth.AllScopes)))
		}
	})

	It("serves RFC 8414 metadata", func() {
		h := newHarness("")
		st, m := getJSON(h.base+"/.well-known/oauth-authorization-server", "")
		Expect(st).To(Equal(http.StatusOK))
		Expect(m["issuer"]).To(Equal(h.base))
		Expect(m["code_challenge_methods_supported"]).To(ConsistOf("S256"))
		Expect(m["registration_endpoint"]).To(Equal(h.base + "/oauth/register"))
		Expect(m["revocation_endpoint"]).To(Equal(h.base + "/oauth/revoke"))
		Expect(m["token_endpoint_auth_methods_supported"]).To(ConsistOf("none", "client_secret_basic", "client_secret_post"))
		Expect(m["grant_types_supported"]).To(ConsistOf("authorization_code", "refresh_token"))
		Expect(m["response_types_supported"]).To(ConsistOf("code"))
		Expect(m["authorization_response_iss_parameter_supported"]).To(BeTrue())
	})

	It("takes the base from configuration, not the Host header, except dev-mode loopback aliases", func() {
		h := newHarness("")
		port := h.base[strings.LastIndex(h.base, ":")+1:]
		_, m := getJSON(h.base+"/.well-known/oauth-authorization-server", "evil.example")
		Expect(m["issuer"]).To(Equal(h.base))
		_, m = getJSON(h.base+"/.well-known/oauth-protected-resource/mcp", "localhost:"+port)
		Expect(m["resource"]).To(Equal("http://localhost:" + port + "/mcp"))
		_, m = getJSON(h.base+"/.well-known/oauth-protected-resource/mcp", "localhost:1")
		Expect(m["resource"]).To(Equal(h.base + "/mcp"))
	})

	It("publishes the signing key with its kid", func() {
		h := newHarness("")
		resp, err := http.Get(h.base + "/oauth/jwks")
		Expect(err).NotTo(HaveOccurred())
		defer resp.Body.Close()
		var set struct {
			Keys []map[string]any `json:"keys"`
		}
		Expect(json.NewDecoder(resp.Body).Decode(&set)).To(Succeed())
		Expect(set.Keys).To(HaveLen(1))
		Expect(set.Keys[0]).To(HaveKeyWithValue("alg", "ES256"))
		Expect(set.Keys[0]).To(HaveKeyWithValue("crv", "P-256"))
		Expect(set.Keys[0]).NotTo(HaveKey("d"))
		var sec corev1.Secret
		Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: namespace, Name: oauth.KeysSecretName}, &sec)).To(Succeed())
		Expect(set.Keys[0]["kid"]).To(Equal(string(sec.Data["current"])))
	})

	It("uses plain cookies without Secure on a plain-http public URL outside dev mode, which a browser sends back", func() {
		srv, err := oauth.New(oauth.Config{PublicURL: "http://herald.herald-system.svc:8080", Namespace: namespace}, mgr.GetClient(), mgr.GetAPIReader())
		Expect(err).NotTo(HaveOccurred())
		mux := http.NewServeMux()
		srv.Routes(mux)
		h := newHarness("")
		redirect := "https://claude.ai/api/mcp/auth_callback"
		clientID := register(h.base, redirect)
		rec := newRecorder()
		req, _ := http.NewRequest(http.MethodGet, newPKCE(clientID, redirect).authorizeURL("http://herald.herald-system.svc:8080", nil), nil)
		mux.ServeHTTP(rec, req)
		Expect(rec.Code).To(Equal(http.StatusOK), rec.Body.String())
		cookie := rec.Header().Get("Set-Cookie")
		Expect(cookie).To(HavePrefix("herald-csrf="))
		Expect(cookie).NotTo(ContainSubstring("Secure"))
		Expect(cookie).To(ContainSubstring("HttpOnly"))
	})

	It("uses __Host- cookies with Secure on an https public URL", func() {
		srv, err := oauth.New(oauth.Config{PublicURL: "https://herald.example.com", Namespace: namespace}, mgr.GetClient(), mgr.GetAPIReader())
		Expect(err).NotTo(HaveOccurred())
		mux := http.NewServeMux()
		srv.Routes(mux)
		h := newHarness("")
		redirect := "https://claude.ai/api/mcp/auth_callback"
		clientID := register(h.base, redirect)
		p := newPKCE(clientID, redirect)
		rec := newRecorder()
		req, _ := http.NewRequest(http.MethodGet, p.authorizeURL("https://herald.example.com", nil), nil)
		mux.ServeHTTP(rec, req)
		Expect(rec.Code).To(Equal(http.StatusOK), rec.Body.String())
		cookie := rec.Header().Get("Set-Cookie")
		Expect(cookie).To(HavePrefix("__Host-herald-csrf="))
		Expect(cookie).To(ContainSubstring("Secure"))
		Expect(cookie).To(ContainSubstring("HttpOnly"))
		Expect(cookie).To(ContainSubstring("SameSite=Lax"))
		Expect(cookie).To(ContainSubstring("Path=/"))
		Expect(cookie).NotTo(ContainSubstring("Domain="))
		Expect(rec.Header().Get("X-Frame-Options")).To(Equal("DENY"))
		Expect(rec.Header().Get("Content-Security-Policy")).To(ContainSubstring("frame-ancestors 'none'"))
	})

	It("uses plain cookie names without Secure on dev-mode loopback", func() {
		h := newHarness("")
		clientID := register(h.base, "http://127.0.0.1/cb")
		resp, _ := newBrowser().get(newPKCE(clientID, "http://127.0.0.1:9/cb").authorizeURL(h.base, nil))
		cookie := resp.Header.Get("Set-Cookie")
		Expect(cookie).To(HavePrefix("herald-csrf="))
		Expect(cookie).NotTo(ContainSubstring("Secure"))
		Expect(cookie).To(ContainSubstring("HttpOnly"))
	})
})

var _ = Describe("dynamic client registration", func() {
	It("creates an MCPClient for the redirect URIs real clients use", func() {
		h := newHarness("")
		st, body := postJSON(h.base+"/oauth/register", map[string]any{
			"client_name": "Claude",
			"redirect_uris": []string{"https://claude.ai/api/mcp/auth_callback", "https://claude.com/api/mcp/auth_callback",
				"https://vscode.dev/redirect", "cursor://anysphere.cursor-mcp/oauth/callback", "http://localhost:6274/callback", "http://127.0.0.1/callback"},
			"grant_types": []string{"authorization_code", "refresh_token"}, "response_types": []string{"code"},
			"token_endpoint_auth_method": "none",
		})
		Expect(st).To(Equal(http.StatusCreated), "%v", body)
		Expect(body).NotTo(HaveKey("client_secret"))
		var mc v1alpha1.MCPClient
		Expect(k8sClient.Get(ctx, client.ObjectKey{Name: body["client_id"].(string)}, &mc)).To(Succeed())
		Expect(mc.Spec.ClientName).To(Equal("Claude"))
		Expect(mc.Spec.RedirectURIs).To(HaveLen(6))
		Expect(mc.Spec.Dynamic).To(BeTrue())
	})

	It("refuses other redirect URIs with invalid_redirect_uri and a reason", func() {
		h := newHarness("")
		for _, u := range []string{"http://evil.example/cb", "javascript:alert(1)", "https://claude.ai/cb#x"} {
			st, body := postJSON(h.base+"/oauth/register", map[string]any{"redirect_uris": []string{u}})
			Expect(st).To(Equal(http.StatusBadRequest))
			Expect(body["error"]).To(Equal("invalid_redirect_uri"))
			Expect(body["error_description"]).NotTo(BeEmpty())
		}
		st, body := postJSON(h.base+"/oauth/register", map[string]any{"redirect_uris": []string{"https://a.example/cb"}, "grant_types": []string{"client_credentials"}})
		Expect(st).To(Equal(http.StatusBadRequest))
		Expect(body["error"]).To(Equal("invalid_client_metadata"))
	})

	It("names a client that gives no name, and refuses a name the consent page could not show plainly", func() {
		h := newHarness("")
		st, body := postJSON(h.base+"/oauth/register", map[string]any{"redirect_uris": []string{"http://127.0.0.1/cb"}})
		Expect(st).To(Equal(http.StatusCreated), "%v", body)
		Expect(body["client_name"]).To(Equal("Unnamed MCP client"), "client_name is optional in a registration")
		for name, want := range map[string]string{
			"Claude\nby Anthropic":   "control character U+000A",
			"Claude\u202eedoC":       "control character U+202E",
			strings.Repeat("é", 201): "has 201 characters; at most 200",
		} {
			st, body := postJSON(h.base+"/oauth/register", map[string]any{"client_name": name, "redirect_uris": []string{"http://127.0.0.1/cb"}})
			Expect(st).To(Equal(http.StatusBadRequest), name)
			Expect(body["error"]).To(Equal("invalid_client_metadata"), name)
			Expect(body["error_description"]).To(ContainSubstring(want), name)
		}
		st, body = postJSON(h.base+"/oauth/register", map[string]any{"client_name": strings.Repeat("é", 200), "redirect_uris": []string{"http://127.0.0.1/cb"}})
		Expect(st).To(Equal(http.StatusCreated), "%v", body)
	})

	It("registers confidential clients whose secret works only hashed", func() {
		h := newHarness("")
		redirect := "http://127.0.0.1:7100/cb"
		st, body := postJSON(h.base+"/oauth/register", map[string]any{"redirect_uris": []string{redirect}, "token_endpoint_auth_method": "client_secret_basic"})
		Expect(st).To(Equal(http.StatusCreated), "%v", body)
		secret := body["client_secret"].(string)
		secretsSeen.add(secret)
		clientID := body["client_id"].(string)
		var sec corev1.Secret
		Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: namespace, Name: "herald-client-" + clientID}, &sec)).To(Succeed())
		Expect(string(sec.Data["clientSecret"])).NotTo(ContainSubstring(secret))

		p := newPKCE(clientID, redirect)
		code := authorize(h.base, p, "dev", devPassword, "demo")
		status, tok := exchange(h.base, p, code) // no secret
		Expect(status).To(Equal(http.StatusUnauthorized), "%v", tok)
		req, _ := http.NewRequest(http.MethodPost, h.base+"/oauth/token", strings.NewReader(
			"grant_type=authorization_code&redirect_uri="+redirect+"&code_verifier="+p.verifier+"&code="+code))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth(clientID, secret)
		resp, err := http.DefaultClient.Do(req)
		Expect(err).NotTo(HaveOccurred())
		status, tok = decode(resp)
		Expect(status).To(Equal(http.StatusOK), "%v", tok)
		remember(tok)
	})
})
