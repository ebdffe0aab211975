package oauth_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	jose "github.com/go-jose/go-jose/v3"
	josejwt "github.com/go-jose/go-jose/v3/jwt"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"golang.org/x/oauth2"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/herald-dev/herald/api/v1alpha1"
	"github.com/herald-dev/herald/mcpserver/oauth"
)

var _ = Describe("refusals", func() {
	var (
		h        *harness
		redirect string
		clientID string
		p        *pkce
	)

	BeforeEach(func() {
		h = newHarness("")
		redirect = "http://127.0.0.1:6000/callback"
		clientID = register(h.base, redirect)
		p = newPKCE(clientID, redirect)
	})

	// authorizeErr opens the authorize URL and returns the error it redirects with.
	authorizeErr := func(extra url.Values) url.Values {
		resp, page := newBrowser().get(p.authorizeURL(h.base, extra))
		Expect(resp.StatusCode).To(Equal(http.StatusSeeOther), page)
		loc, err := url.Parse(resp.Header.Get("Location"))
		Expect(err).NotTo(HaveOccurred())
		Expect(loc.Host).To(Equal("127.0.0.1:6000"))
		Expect(loc.Query().Get("state")).To(Equal(p.state))
		return loc.Query()
	}

	It("refuses a request without PKCE before asking anyone to sign in", func() {
		q := authorizeErr(url.Values{"code_challenge": nil, "code_challenge_method": nil})
		Expect(q.Get("error")).To(Equal("invalid_request"))
		Expect(q.Get("error_description")).To(ContainSubstring("PKCE is required"))
	})

	It("refuses the plain PKCE method", func() {
		q := authorizeErr(url.Values{"code_challenge": {p.verifier}, "code_challenge_method": {"plain"}})
		Expect(q.Get("error")).To(Equal("invalid_request"))
		Expect(q.Get("error_description")).To(ContainSubstring("S256"))
	})

	It("refuses a foreign resource at authorization and at the token endpoint", func() {
		q := authorizeErr(url.Values{"resource": {"https://other.example/mcp"}})
		Expect(q.Get("error")).To(Equal("invalid_target"))
		Expect(q.Get("error_description")).To(ContainSubstring(h.mcpURL()))

		code := authorize(h.base, p, "dev", devPassword, "demo")
		status, body := postForm(h.base+"/oauth/token", url.Values{
			"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {redirect},
			"client_id": {clientID}, "code_verifier": {p.verifier}, "resource": {"https://other.example/mcp"},
		})
		Expect(status).To(Equal(http.StatusBadRequest))
		Expect(body["error"]).To(Equal("invalid_target"))
	})

	It("accepts the MCP URL and its loopback aliases as resource in dev mode", func() {
		alias := strings.Replace(h.mcpURL(), "127.0.0.1", "localhost", 1)
		for _, res := range []string{h.mcpURL(), alias} {
			p := newPKCE(clientID, redirect)
			authURL := p.authorizeURL(h.base, url.Values{"resource": {res}})
			b := newBrowser()
			loc := b.decide(authURL, b.login(authURL, "dev", devPassword), "approve", "demo")
			Expect(loc.Query().Get("code")).NotTo(BeEmpty(), loc.String())
			secretsSeen.add(loc.Query().Get("code"))
			status, tok := exchange(h.base, p, loc.Query().Get("code"))
			Expect(status).To(Equal(http.StatusOK))
			Expect(claims(tok["access_token"].(string))["aud"]).To(ConsistOf(h.mcpURL()))
		}
	})

	It("refuses a wrong verifier and a reused code, and revokes the grant on reuse", func() {
		code := authorize(h.base, p, "dev", devPassword, "demo")
		wrong := *p
		wrong.verifier = oauth2.GenerateVerifier()
		status, body := exchange(h.base, &wrong, code)
		Expect(status).To(Equal(http.StatusBadRequest))
		Expect(body["error"]).To(Equal("invalid_grant"))

		p2 := newPKCE(clientID, redirect)
		code2 := authorize(h.base, p2, "dev", devPassword, "demo")
		status, tok := exchange(h.base, p2, code2)
		Expect(status).To(Equal(http.StatusOK))
		status, body = exchange(h.base, p2, code2)
		Expect(status).To(Equal(http.StatusBadRequest))
		Expect(body["error"]).To(Equal("invalid_grant"))
		grant := claims(tok["access_token"].(string))["grant"].(string)
		Eventually(func() bool { return grantGone(grant) }).WithTimeout(5 * time.Second).Should(BeTrue())
	})

	It("refuses a code sent with a different redirect URI than authorized", func() {
		code := authorize(h.base, p, "dev", devPassword, "demo")
		other := *p
		other.redirect = "http://127.0.0.1:6001/callback"
		status, body := exchange(h.base, &other, code)
		Expect(status).To(Equal(http.StatusBadRequest))
		Expect(body["error"]).To(Equal("invalid_grant"))
	})

	It("shows an error page, never a redirect, for an unregistered redirect URI or client", func() {
		for _, extra := range []url.Values{
			{"redirect_uri": {"https://evil.example/callback"}},
			{"redirect_uri": {"http://127.0.0.1:6000/other-path"}},
			{"client_id": {"no-such-client"}},
		} {
			resp, page := newBrowser().get(p.authorizeURL(h.base, extra))
			Expect(resp.StatusCode).To(Equal(http.StatusBadRequest), page)
			Expect(resp.Header.Get("Location")).To(BeEmpty())
			Expect(page).To(ContainSubstring("nothing was shared"))
		}
	})

	It("asks the API server about an unknown client id once in a while, not on every request", func() {
		reads := &clientReads{Reader: mgr.GetAPIReader(), name: "made-up-client"}
		counted := newHarnessReading("", mgr, reads, func(*oauth.Config) {})
		for range 20 {
			resp, page := newBrowser().get(p.authorizeURL(counted.base, url.Values{"client_id": {"made-up-client"}}))
			Expect(resp.StatusCode).To(Equal(http.StatusBadRequest), page)
		}
		Expect(reads.count.Load()).To(BeEquivalentTo(1), "20 requests, one read of the API server")
		counted.clock.Step(6 * time.Second)
		resp, _ := newBrowser().get(p.authorizeURL(counted.base, url.Values{"client_id": {"made-up-client"}}))
		Expect(resp.StatusCode).To(Equal(http.StatusBadRequest))
		Expect(reads.count.Load()).To(BeEquivalentTo(2), "asked again once the miss is 5 s old")
	})

	It("never redirects a malformed request to the web address of a client nobody approved (no open redirect)", func() {
		evil := register(h.base, "https://evil.example/cb")
		q := newPKCE(evil, "https://evil.example/cb")
		u, err := url.Parse(q.authorizeURL(h.base, nil))
		Expect(err).NotTo(HaveOccurred())
		query := u.Query()
		query.Del("code_challenge") // malformed: no PKCE
		u.RawQuery = query.Encode()
		resp, page := newBrowser().get(u.String())
		Expect(resp.StatusCode).To(Equal(http.StatusBadRequest))
		Expect(resp.Header.Get("Location")).To(BeEmpty())
		Expect(page).To(ContainSubstring("PKCE is required"))

		By("a native app on loopback still gets its error back")
		Expect(authorizeErr(url.Values{"code_challenge_method": {"plain"}}).Get("error")).To(Equal("invalid_request"))
	})

	It("refuses a login or consent post without the CSRF token", func() {
		authURL := p.authorizeURL(h.base, nil)
		b := newBrowser()
		b.get(authURL)
		resp, page := b.post(authURL, url.Values{"username": {"dev"}, "password": {devPassword}})
		Expect(resp.StatusCode).To(Equal(http.StatusForbidden))
		Expect(page).To(ContainSubstring("Sign in again"))

		consent := b.login(authURL, "dev", devPassword)
		resp, page = b.post(authURL, url.Values{"action": {"approve"}, "workspace": {"demo"}})
		Expect(resp.StatusCode).To(Equal(http.StatusForbidden))
		Expect(page).To(ContainSubstring("expired"))
		By("a token from another browser does not count either")
		other := newBrowser()
		otherConsent := other.login(authURL, "dev", devPassword)
		resp, _ = b.post(authURL, url.Values{"csrf_token": {csrfOf(otherConsent)}, "action": {"approve"}, "workspace": {"demo"}})
		Expect(resp.StatusCode).To(Equal(http.StatusForbidden))
		Expect(csrfOf(consent)).NotTo(Equal(csrfOf(otherConsent)))
	})

	// fromAddr signs in through a trusted proxy (the harness's own
	// loopback address) that names the client's address.
	proxied := func() *harness {
		return newHarnessWith("", mgr, func(c *oauth.Config) { c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")} })
	}

	It("rate-limits failed sign-ins per user and address, without locking the user out elsewhere", func() {
		h := proxied()
		p := newPKCE(register(h.base, redirect), redirect)
		authURL := p.authorizeURL(h.base, nil)
		attacker := newBrowser().behindProxy("203.0.113.7")
		_, page := attacker.get(authURL)
		for i := 0; i < 5; i++ {
			var resp *http.Response
			resp, page = attacker.post(authURL, url.Values{"csrf_token": {csrfOf(page)}, "username": {"viewer"}, "password": {"wrong-guess"}})
			Expect(resp.StatusCode).To(Equal(http.StatusUnauthorized))
			Expect(page).To(ContainSubstring("Wrong user name or password"))
		}
		resp, page := attacker.post(authURL, url.Values{"csrf_token": {csrfOf(page)}, "username": {"viewer"}, "password": {viewPassword}})
		Expect(resp.StatusCode).To(Equal(http.StatusTooManyRequests), "the guesser is stopped, even with the right password")
		Expect(resp.Header.Get("Retry-After")).NotTo(BeEmpty())
		Expect(page).To(ContainSubstring("Too many failed sign-ins"))

		By("the user, from their own address, still signs in")
		Expect(newBrowser().behindProxy("198.51.100.20").login(authURL, "viewer", viewPassword)).To(ContainSubstring("Allow"))
		By("another user from the guesser's address is still served")
		resp, _ = attacker.post(authURL, url.Values{"csrf_token": {csrfOf(page)}, "username": {"dev"}, "password": {devPassword}})
		Expect(resp.StatusCode).To(Equal(http.StatusSeeOther))
		By("the budget comes back after the window")
		h.clock.Step(16 * time.Minute)
		Expect(newBrowser().behindProxy("203.0.113.7").login(authURL, "viewer", viewPassword)).To(ContainSubstring("Allow"))
	})

	It("rate-limits failed sign-ins per address across user names, counting an IPv6 client by its /64", func() {
		h := proxied()
		p := newPKCE(register(h.base, redirect), redirect)
		authURL := p.authorizeURL(h.base, nil)
		var page string
		for i := 0; i < 50; i++ {
			// One host rotating through its /64.
			b := newBrowser().behindProxy(fmt.Sprintf("2001:db8:1:2::%x", i+1))
			_, page = b.get(authURL)
			_, page = b.post(authURL, url.Values{"csrf_token": {csrfOf(page)}, "username": {fmt.Sprintf("nobody-%d", i)}, "password": {"x"}})
		}
		By("a password typed into the user name field is not logged")
		secretsSeen.add("nobody-0", "nobody-49")
		b := newBrowser().behindProxy("2001:db8:1:2::ffff")
		_, page = b.get(authURL)
		resp, _ := b.post(authURL, url.Values{"csrf_token": {csrfOf(page)}, "username": {"dev"}, "password": {devPassword}})
		Expect(resp.StatusCode).To(Equal(http.StatusTooManyRequests))
		Expect(newBrowser().behindProxy("2001:db8:1:3::1").login(authURL, "dev", devPassword)).To(ContainSubstring("Allow"), "another /64 is served")
	})

	It("ignores X-Forwarded-For from a peer that is not a trusted proxy", func() {
		authURL := p.authorizeURL(h.base, nil) // h trusts no proxy
		for i := 0; i < 5; i++ {
			b := newBrowser().behindProxy(fmt.Sprintf("192.0.2.%d", i+1)) // a client pretending to be many
			_, page := b.get(authURL)
			b.post(authURL, url.Values{"csrf_token": {csrfOf(page)}, "username": {"viewer"}, "password": {"wrong"}})
		}
		b := newBrowser().behindProxy("192.0.2.99")
		_, page := b.get(authURL)
		resp, _ := b.post(authURL, url.Values{"csrf_token": {csrfOf(page)}, "username": {"viewer"}, "password": {viewPassword}})
		Expect(resp.StatusCode).To(Equal(http.StatusTooManyRequests), "all five came from the one peer")
	})
})

var _ = Describe("the resource-server middleware", func() {
	var (
		h   *harness
		at  string
		mcp string
	)

	BeforeEach(func() {
		h = newHarness("")
		mcp = h.base + "/mcp"
		redirect := "http://127.0.0.1:7000/cb"
		clientID := register(h.base, redirect)
		p := newPKCE(clientID, redirect)
		_, tok := exchange(h.base, p, authorize(h.base, p, "dev", devPassword, "demo"))
		at = tok["access_token"].(string)
	})

	challenge := `Bearer resource_metadata="%s/.well-known/oauth-protected-resource/mcp", scope="` +
		"workspace:read social_profiles:read posts:read workflows:read posts:write posts:publish posts:approve workflows:run social_profiles:write brand_kits:write" + `"`

	It("answers 401 with the exact challenge when no token is sent", func() {
		st, hdr, _ := callMCP(mcp, "")
		Expect(st).To(Equal(http.StatusUnauthorized))
		Expect(hdr).To(Equal(strings.Replace(challenge, "%s", h.base, 1)))
	})

	It("tells an API key it is not accepted", func() {
		for _, auth := range []string{"Bearer sk-live-123456", "Basic ZGV2OnB3", "ApiKey abc"} {
			req, _ := http.NewRequest(http.MethodPost, mcp, nil)
			req.Header.Set("Authorization", auth)
			resp, err := http.DefaultClient.Do(req)
			Expect(err).NotTo(HaveOccurred())
			st, body := decode(resp)
			Expect(st).To(Equal(http.StatusUnauthorized))
			Expect(resp.Header.Get("WWW-Authenticate")).To(ContainSubstring(`error="invalid_token"`))
			Expect(resp.Header.Get("WWW-Authenticate")).To(HavePrefix(strings.Replace(challenge, "%s", h.base, 1)))
			Expect(body["error_description"]).To(ContainSubstring("API keys are not accepted"))
		}
	})

	It("refuses tokens in the query string even when valid", func() {
		st, hdr, body := callMCP(mcp+"?access_token="+url.QueryEscape(at), "")
		Expect(st).To(Equal(http.StatusUnauthorized))
		Expect(hdr).To(ContainSubstring(`error="invalid_request"`))
		Expect(body["error_description"]).To(ContainSubstring("query string"))
	})

	It("refuses an expired token", func() {
		st, _, _ := callMCP(mcp, at)
		Expect(st).To(Equal(http.StatusOK))                   // and now it is cached
		h.clock.Step(oauth.AccessTokenLifetime + time.Minute) // the fake clock started before the token was issued
		st, hdr, body := callMCP(mcp, at)
		Expect(st).To(Equal(http.StatusUnauthorized))
		Expect(hdr).To(ContainSubstring(`error="invalid_token"`))
		Expect(body["error_description"]).To(ContainSubstring("expired"))
	})

	It("refuses a token for another audience or issuer, signed with our own key", func() {
		var sec corev1.Secret
		Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: namespace, Name: oauth.KeysSecretName}, &sec)).To(Succeed())
		kid := string(sec.Data["current"])
		block, _ := pem.Decode(sec.Data["key-"+kid+".pem"])
		key, err := x509.ParseECPrivateKey(block.Bytes)
		Expect(err).NotTo(HaveOccurred())
		c := claims(at)
		forge := func(mut func(map[string]any)) string {
			m := map[string]any{}
			for k, v := range c {
				m[k] = v
			}
			mut(m)
			return sign(key, kid, m)
		}
		good := forge(func(map[string]any) {})
		st, _, _ := callMCP(mcp, good)
		Expect(st).To(Equal(http.StatusOK), "the forging helper must produce an acceptable token")
		for _, tok := range []string{
			forge(func(m map[string]any) { m["aud"] = []string{"https://other.example/mcp"} }),
			forge(func(m map[string]any) { m["iss"] = "https://other.example" }),
			forge(func(m map[string]any) { m["grant"] = "grant-nonexistent" }),
			forge(func(m map[string]any) { m["client_id"] = "someone-else" }),
			at[:len(at)-4] + "AAAA", // broken signature
		} {
			st, hdr, _ := callMCP(mcp, tok)
			Expect(st).To(Equal(http.StatusUnauthorized))
			Expect(hdr).To(ContainSubstring(`error="invalid_token"`))
		}
	})

	It("refuses a disallowed Origin with 403 and accepts allowed ones", func() {
		st, _, body := callMCP(mcp, at, "Origin", "https://evil.example")
		Expect(st).To(Equal(http.StatusForbidden))
		Expect(body["error_description"]).To(And(ContainSubstring("--allowed-origins"), ContainSubstring("evil.example")))
		for _, o := range []string{h.base, "https://allowed.example", strings.Replace(h.base, "127.0.0.1", "localhost", 1)} {
			st, _, _ = callMCP(mcp, at, "Origin", o)
			Expect(st).To(Equal(http.StatusOK), o)
		}
	})

	It("puts the caller in the context", func() {
		st, _, c := callMCP(mcp, at)
		Expect(st).To(Equal(http.StatusOK))
		Expect(c["Subject"]).To(Equal("dev"))
		Expect(c["Scopes"]).To(ConsistOf("workspace:read", "posts:read", "posts:write", "brand_kits:write"))
		By("and records the grant's last use")
		Eventually(func(g Gomega) {
			var grant v1alpha1.MCPGrant
			g.Expect(k8sClient.Get(ctx, client.ObjectKey{Name: claims(at)["grant"].(string)}, &grant)).To(Succeed())
			g.Expect(grant.Status.LastUsedAt).NotTo(BeNil())
		}).WithTimeout(5 * time.Second).Should(Succeed())
	})
})

func sign(key *ecdsa.PrivateKey, kid string, m map[string]any) string {
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: key}, (&jose.SignerOptions{}).WithHeader("kid", kid))
	Expect(err).NotTo(HaveOccurred())
	tok, err := josejwt.Signed(signer).Claims(m).CompactSerialize()
	Expect(err).NotTo(HaveOccurred())
	return tok
}

var _ = context.Background

// clientReads counts the reads of one MCPClient that go around the cache.
type clientReads struct {
	client.Reader
	name  string
	count atomic.Int32
}

func (r *clientReads) Get(ctx context.Context, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
	if _, ok := obj.(*v1alpha1.MCPClient); ok && key.Name == r.name {
		r.count.Add(1)
	}
	return r.Reader.Get(ctx, key, obj, opts...)
}
