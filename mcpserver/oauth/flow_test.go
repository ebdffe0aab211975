package oauth_test

import (
	"k8s.io/client-go/tools/events"
	"net/http"
	"net/url"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/herald-dev/herald/api/v1alpha1"
	"github.com/herald-dev/herald/mcpserver/oauth"
)

var _ = Describe("the authorization flow", func() {
	var h *harness
	var redirect string

	BeforeEach(func() {
		h = newHarness("")
		redirect = "http://127.0.0.1:43210/callback"
	})

	It("registers, signs in, approves one of two workspaces, issues, refreshes, rotates and revokes on reuse", func() {
		By("registering dynamically")
		clientID := register(h.base, "http://127.0.0.1/callback")
		var mc v1alpha1.MCPClient
		Expect(k8sClient.Get(ctx, client.ObjectKey{Name: clientID}, &mc)).To(Succeed())
		Expect(mc.Spec.Dynamic).To(BeTrue())

		By("authorizing on a different loopback port than registered (RFC 8252)")
		p := newPKCE(clientID, redirect)
		authURL := p.authorizeURL(h.base, nil)
		b := newBrowser()
		consent := b.login(authURL, "dev", devPassword)
		Expect(consent).To(ContainSubstring("Test Client"))
		Expect(consent).To(ContainSubstring(redirect))
		Expect(consent).To(ContainSubstring("Create, edit and delete posts, and schedule them at least 10 minutes ahead"))
		Expect(consent).To(ContainSubstring(`value="demo"`))
		Expect(consent).To(ContainSubstring(`value="team"`))
		Expect(consent).NotTo(ContainSubstring(`value="secret-ws"`))

		loc := b.decide(authURL, consent, "approve", "demo")
		Expect(loc.Scheme + "://" + loc.Host + loc.Path).To(Equal(redirect))
		Expect(loc.Query().Get("state")).To(Equal(p.state))
		Expect(loc.Query().Get("iss")).To(Equal(h.base))
		code := loc.Query().Get("code")
		Expect(code).NotTo(BeEmpty())
		secretsSeen.add(code)

		By("exchanging the code with the PKCE verifier")
		status, tok := exchange(h.base, p, code)
		Expect(status).To(Equal(http.StatusOK), "%v", tok)
		at := tok["access_token"].(string)
		rt := tok["refresh_token"].(string)
		Expect(tok["expires_in"]).To(BeNumerically("~", 900, 2))
		c := claims(at)
		Expect(c["aud"]).To(ConsistOf(h.mcpURL()))
		Expect(c["sub"]).To(Equal("dev"))
		Expect(c["client_id"]).To(Equal(clientID))
		Expect(c["workspaces"]).To(ConsistOf("demo"))
		Expect(c["scope"]).To(Equal("workspace:read posts:read posts:write brand_kits:write"))
		Expect(c["exp"].(float64) - c["iat"].(float64)).To(BeNumerically("~", 900, 2))
		grantName := c["grant"].(string)
		var g v1alpha1.MCPGrant
		Expect(k8sClient.Get(ctx, client.ObjectKey{Name: grantName}, &g)).To(Succeed())
		Expect(g.Spec.Workspaces).To(ConsistOf("demo"))
		Expect(g.Spec.Subject).To(Equal("dev"))
		Expect(g.Spec.ClientID).To(Equal(clientID))

		By("using the token on /mcp")
		st, _, caller := callMCP(h.base+"/mcp", at)
		Expect(st).To(Equal(http.StatusOK), "%v", caller)
		Expect(caller["Workspaces"]).To(ConsistOf("demo"))
		Expect(caller["Grant"]).To(Equal(grantName))
		Expect(caller["ClientName"]).To(Equal("Test Client"))

		By("refreshing, which rotates the refresh token")
		status, tok2 := refresh(h.base, clientID, rt)
		Expect(status).To(Equal(http.StatusOK), "%v", tok2)
		rt2 := tok2["refresh_token"].(string)
		Expect(rt2).NotTo(Equal(rt))
		Expect(claims(tok2["access_token"].(string))["workspaces"]).To(ConsistOf("demo"))

		By("reusing the old refresh token after the grace window")
		h.clock.Step(oauth.RefreshGracePeriod + time.Second)
		status, body := refresh(h.base, clientID, rt)
		Expect(status).To(Equal(http.StatusBadRequest))
		Expect(body["error"]).To(Equal("invalid_grant"))

		By("which revokes the whole grant")
		Eventually(func(g Gomega) {
			var got v1alpha1.MCPGrant
			g.Expect(k8sClient.Get(ctx, client.ObjectKey{Name: grantName}, &got)).To(Succeed())
			g.Expect(got.Spec.Revoked).To(BeTrue())
		}).WithTimeout(5 * time.Second).Should(Succeed())
		status, body = refresh(h.base, clientID, rt2)
		Expect(status).To(Equal(http.StatusBadRequest), "%v", body)
		Eventually(func() int { st, _, _ := callMCP(h.base+"/mcp", tok2["access_token"].(string)); return st }).
			WithTimeout(5 * time.Second).Should(Equal(http.StatusUnauthorized))
	})

	It("lets both uses of a refresh token within the grace window continue, and records it on the grant", func() {
		recorder := events.NewFakeRecorder(10)
		h := newHarnessWith("", mgr, func(c *oauth.Config) { c.Recorder = recorder })
		clientID := register(h.base, redirect)
		p := newPKCE(clientID, redirect)
		_, tok := exchange(h.base, p, authorize(h.base, p, "dev", devPassword, "team"))
		rt := tok["refresh_token"].(string)
		status, first := refresh(h.base, clientID, rt)
		Expect(status).To(Equal(http.StatusOK))
		status, second := refresh(h.base, clientID, rt) // a retry, or a copy of the token elsewhere
		Expect(status).To(Equal(http.StatusOK), "%v", second)
		By("neither use locks the other out")
		status, _ = refresh(h.base, clientID, first["refresh_token"].(string))
		Expect(status).To(Equal(http.StatusOK), "the first use's pair still works")
		status, _ = refresh(h.base, clientID, second["refresh_token"].(string))
		Expect(status).To(Equal(http.StatusOK), "the second use's pair works")
		Eventually(recorder.Events).Should(Receive(And(ContainSubstring(oauth.ReasonRefreshGraceUsed), ContainSubstring("delete this grant to end both"))))
	})

	It("refuses a missing or short state with a reason, before sign-in", func() {
		clientID := register(h.base, redirect)
		p := newPKCE(clientID, redirect)
		for _, state := range [][]string{nil, {"abc"}} {
			resp, _ := newBrowser().get(p.authorizeURL(h.base, url.Values{"state": state}))
			Expect(resp.StatusCode).To(Equal(http.StatusSeeOther))
			loc, err := url.Parse(resp.Header.Get("Location"))
			Expect(err).NotTo(HaveOccurred())
			Expect(loc.Query().Get("error")).To(Equal("invalid_state"))
			Expect(loc.Query().Get("error_description")).To(ContainSubstring("at least be 8 characters"))
		}
	})

	It("redirects a denial with access_denied, state and iss", func() {
		clientID := register(h.base, redirect)
		p := newPKCE(clientID, redirect)
		authURL := p.authorizeURL(h.base, nil)
		b := newBrowser()
		loc := b.decide(authURL, b.login(authURL, "dev", devPassword), "deny")
		Expect(loc.Query().Get("error")).To(Equal("access_denied"))
		Expect(loc.Query().Get("state")).To(Equal(p.state))
		Expect(loc.Query().Get("iss")).To(Equal(h.base))
		Expect(loc.Query().Has("code")).To(BeFalse())
	})

	It("caps a viewer's scopes to reading", func() {
		clientID := register(h.base, redirect)
		p := newPKCE(clientID, redirect)
		status, tok := exchange(h.base, p, authorize(h.base, p, "viewer", viewPassword, "team"))
		Expect(status).To(Equal(http.StatusOK))
		Expect(claims(tok["access_token"].(string))["scope"]).To(Equal("workspace:read posts:read"))
		st, hdr, _ := callMCP(h.base+"/mcp?need=posts:write", tok["access_token"].(string))
		Expect(st).To(Equal(http.StatusForbidden))
		Expect(hdr).To(ContainSubstring(`error="insufficient_scope"`))
		Expect(hdr).To(ContainSubstring(`scope="posts:write"`))
		Expect(hdr).To(ContainSubstring(`resource_metadata="` + h.base + `/.well-known/oauth-protected-resource/mcp"`))
	})

	It("says on the consent page which workspaces hold posts for approval, and lets an approver grant posts:approve", func() {
		ws := &v1alpha1.Workspace{ObjectMeta: metav1.ObjectMeta{Name: "reviewed"}, Spec: v1alpha1.WorkspaceSpec{DisplayName: "Reviewed",
			Approval: &v1alpha1.ApprovalPolicy{Required: v1alpha1.ApproveThroughMCP},
			Members:  []v1alpha1.WorkspaceMember{{Subject: "viewer", Role: v1alpha1.RoleApprover}}}}
		Expect(createIfMissing(ws)).To(Succeed())
		clientID := register(h.base, redirect)
		p := newPKCE(clientID, redirect)
		authURL := p.authorizeURL(h.base, url.Values{"scope": {"workspace:read posts:read posts:write posts:approve"}})
		b := newBrowser()
		var page string
		Eventually(func() string { page = b.login(authURL, "viewer", viewPassword); return page }, 10*time.Second, 100*time.Millisecond).
			Should(ContainSubstring("Reviewed"))
		Expect(page).To(ContainSubstring("posts made through this connection wait for an owner&#39;s or approver&#39;s approval before they are published"))
		Expect(page).To(ContainSubstring("you are approver"))
		code := b.decide(authURL, page, "approve", "reviewed").Query().Get("code")
		status, tok := exchange(h.base, p, code)
		Expect(status).To(Equal(http.StatusOK))
		Expect(claims(tok["access_token"].(string))["scope"]).To(Equal("workspace:read posts:read posts:approve"), "an approver reads and approves, and does not write")
	})

	It("caps an editor's scopes: no brand_kits:write", func() {
		clientID := register(h.base, redirect)
		p := newPKCE(clientID, redirect)
		_, tok := exchange(h.base, p, authorize(h.base, p, "dev", devPassword, "team"))
		Expect(claims(tok["access_token"].(string))["scope"]).To(Equal("workspace:read posts:read posts:write"))
	})

	It("refuses workspaces the user is not a member of and an empty choice", func() {
		clientID := register(h.base, redirect)
		p := newPKCE(clientID, redirect)
		authURL := p.authorizeURL(h.base, nil)
		b := newBrowser()
		consent := b.login(authURL, "dev", devPassword)
		resp, page := b.post(authURL, url.Values{"csrf_token": {csrfOf(consent)}, "action": {"approve"}, "workspace": {"secret-ws"}})
		Expect(resp.StatusCode).To(Equal(http.StatusBadRequest))
		Expect(page).To(ContainSubstring("not a member"))
		resp, page = b.post(authURL, url.Values{"csrf_token": {csrfOf(consent)}, "action": {"approve"}})
		Expect(resp.StatusCode).To(Equal(http.StatusBadRequest))
		Expect(page).To(ContainSubstring("Tick at least one workspace"))
	})
})

var _ = Describe("grants as resources", func() {
	It("stops a deleted grant's tokens within seconds and refuses its refresh tokens", func() {
		h := newHarness("")
		redirect := "http://127.0.0.1:5555/cb"
		clientID := register(h.base, redirect)
		p := newPKCE(clientID, redirect)
		_, tok := exchange(h.base, p, authorize(h.base, p, "dev", devPassword, "demo", "team"))
		at := tok["access_token"].(string)
		st, _, caller := callMCP(h.base+"/mcp", at)
		Expect(st).To(Equal(http.StatusOK))
		Expect(caller["Workspaces"]).To(ConsistOf("demo", "team"))

		grant := &v1alpha1.MCPGrant{}
		grant.Name = claims(at)["grant"].(string)
		Expect(k8sClient.Delete(ctx, grant)).To(Succeed())
		Eventually(func() int { st, _, _ := callMCP(h.base+"/mcp", at); return st }).
			WithTimeout(5 * time.Second).WithPolling(50 * time.Millisecond).Should(Equal(http.StatusUnauthorized))
		status, body := refresh(h.base, clientID, tok["refresh_token"].(string))
		Expect(status).To(Equal(http.StatusBadRequest))
		Expect(body["error"]).To(Equal("invalid_grant"))
	})

	It("narrows a token to the grant's current workspaces", func() {
		h := newHarness("")
		redirect := "http://127.0.0.1:5555/cb"
		clientID := register(h.base, redirect)
		p := newPKCE(clientID, redirect)
		_, tok := exchange(h.base, p, authorize(h.base, p, "dev", devPassword, "demo", "team"))
		at := tok["access_token"].(string)
		var g v1alpha1.MCPGrant
		Expect(k8sClient.Get(ctx, client.ObjectKey{Name: claims(at)["grant"].(string)}, &g)).To(Succeed())
		g.Spec.Workspaces = []string{"team"}
		Expect(k8sClient.Update(ctx, &g)).To(Succeed())
		Eventually(func() any { _, _, c := callMCP(h.base+"/mcp", at); return c["Workspaces"] }).
			WithTimeout(5 * time.Second).Should(ConsistOf("team"))
	})

	It("updates the user's live grant when the client is approved again", func() {
		h := newHarness("")
		redirect := "http://127.0.0.1:5555/cb"
		clientID := register(h.base, redirect)
		p := newPKCE(clientID, redirect)
		_, tok1 := exchange(h.base, p, authorize(h.base, p, "dev", devPassword, "demo"))
		p2 := newPKCE(clientID, redirect)
		_, tok2 := exchange(h.base, p2, authorize(h.base, p2, "dev", devPassword, "team"))
		g1 := claims(tok1["access_token"].(string))["grant"]
		Expect(claims(tok2["access_token"].(string))["grant"]).To(Equal(g1))
		var g v1alpha1.MCPGrant
		Expect(k8sClient.Get(ctx, client.ObjectKey{Name: g1.(string)}, &g)).To(Succeed())
		Expect(g.Spec.Workspaces).To(ConsistOf("team"))
	})

	It("revokes the grant when its refresh token is revoked (RFC 7009)", func() {
		h := newHarness("")
		redirect := "http://127.0.0.1:5555/cb"
		clientID := register(h.base, redirect)
		p := newPKCE(clientID, redirect)
		_, tok := exchange(h.base, p, authorize(h.base, p, "dev", devPassword, "demo"))
		resp, err := http.PostForm(h.base+"/oauth/revoke", url.Values{"token": {tok["refresh_token"].(string)}, "client_id": {clientID}})
		Expect(err).NotTo(HaveOccurred())
		Expect(resp.StatusCode).To(Equal(http.StatusOK))
		resp.Body.Close()
		Eventually(func() int { st, _, _ := callMCP(h.base+"/mcp", tok["access_token"].(string)); return st }).
			WithTimeout(5 * time.Second).Should(Equal(http.StatusUnauthorized))
		By("an unknown token is fine too, per RFC 7009")
		resp, err = http.PostForm(h.base+"/oauth/revoke", url.Values{"token": {"nonsense"}, "client_id": {clientID}})
		Expect(err).NotTo(HaveOccurred())
		Expect(resp.StatusCode).To(Equal(http.StatusOK))
		resp.Body.Close()
	})
})

func grantGone(name string) bool {
	var g v1alpha1.MCPGrant
	err := k8sClient.Get(ctx, client.ObjectKey{Name: name}, &g)
	return apierrors.IsNotFound(err) || (err == nil && g.Spec.Revoked)
}
