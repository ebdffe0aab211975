package oauth_test

import (
	"context"
	"net/http"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"golang.org/x/oauth2"
	ctrl "sigs.k8s.io/controller-runtime"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/herald-dev/herald/internal/scheme"
	"github.com/herald-dev/herald/mcpserver/oauth"
)

var _ = Describe("two replicas behind one URL", func() {
	It("authorizes on one and exchanges and refreshes on the other", func() {
		mgrB, err := ctrl.NewManager(cfg, ctrl.Options{Scheme: scheme.New(), Metrics: metricsserver.Options{BindAddress: "0"}})
		Expect(err).NotTo(HaveOccurred())
		ctxB, stopB := context.WithCancel(ctx)
		DeferCleanup(stopB)
		go func() {
			defer GinkgoRecover()
			Expect(mgrB.Start(ctxB)).To(Succeed())
		}()

		a := newHarness("")
		b := newHarnessOn(a.pub, mgrB) // same public URL, its own listener and cache

		redirect := "http://127.0.0.1:7200/cb"
		clientID := register(a.base, redirect)
		p := newPKCE(clientID, redirect)
		code := authorize(a.base, p, "dev", devPassword, "team")

		status, tok := exchange(b.base, p, code)
		Expect(status).To(Equal(http.StatusOK), "%v", tok)
		status, tok2 := refresh(b.base, clientID, tok["refresh_token"].(string))
		Expect(status).To(Equal(http.StatusOK), "%v", tok2)
		for _, r := range []*harness{a, b} {
			st, _, c := callMCP(r.base+"/mcp", tok2["access_token"].(string))
			Expect(st).To(Equal(http.StatusOK))
			Expect(c["Workspaces"]).To(ConsistOf("team"))
		}

		By("reusing the rotated refresh token on the first replica revokes the grant for both")
		a.clock.Step(oauth.RefreshGracePeriod + time.Second)
		status, body := refresh(a.base, clientID, tok["refresh_token"].(string))
		Expect(status).To(Equal(http.StatusBadRequest), "%v", body)
		Eventually(func() int { st, _, _ := callMCP(b.base+"/mcp", tok2["access_token"].(string)); return st }).
			WithTimeout(5 * time.Second).Should(Equal(http.StatusUnauthorized))
	})
})

var _ = Describe("golang.org/x/oauth2 as the client", func() {
	It("completes the flow with PKCE S256 and refreshes through a TokenSource", func() {
		h := newHarness("")
		redirect := "http://127.0.0.1:7300/callback"
		clientID := register(h.base, redirect)
		conf := &oauth2.Config{
			ClientID:    clientID,
			Endpoint:    oauth2.Endpoint{AuthURL: h.base + "/oauth/authorize", TokenURL: h.base + "/oauth/token", AuthStyle: oauth2.AuthStyleInParams},
			RedirectURL: redirect,
			Scopes:      []string{"workspace:read", "posts:read", "offline_access"},
		}
		verifier := oauth2.GenerateVerifier()
		authURL := conf.AuthCodeURL("x-oauth2-state", oauth2.S256ChallengeOption(verifier), oauth2.SetAuthURLParam("resource", h.mcpURL()))
		br := newBrowser()
		loc := br.decide(authURL, br.login(authURL, "dev", devPassword), "approve", "demo")
		Expect(loc.Query().Get("state")).To(Equal("x-oauth2-state"))
		code := loc.Query().Get("code")
		secretsSeen.add(code)

		tok, err := conf.Exchange(ctx, code, oauth2.VerifierOption(verifier), oauth2.SetAuthURLParam("resource", h.mcpURL()))
		Expect(err).NotTo(HaveOccurred())
		secretsSeen.add(tok.AccessToken, tok.RefreshToken)
		Expect(tok.RefreshToken).NotTo(BeEmpty())
		Expect(tok.Type()).To(Equal("Bearer"))

		resp, err := conf.Client(ctx, tok).Post(h.base+"/mcp", "application/json", strings.NewReader("{}"))
		Expect(err).NotTo(HaveOccurred())
		st, body := decode(resp)
		Expect(st).To(Equal(http.StatusOK))
		Expect(body["Scopes"]).To(ConsistOf("workspace:read", "posts:read"))

		By("refreshing an expired token transparently")
		tok.Expiry = tok.Expiry.Add(-24 * 60 * 60 * 1e9)
		fresh, err := conf.TokenSource(ctx, tok).Token()
		Expect(err).NotTo(HaveOccurred())
		secretsSeen.add(fresh.AccessToken, fresh.RefreshToken)
		Expect(fresh.RefreshToken).NotTo(Equal(tok.RefreshToken))

		By("a wrong verifier fails in the library too")
		_, err = conf.Exchange(ctx, code, oauth2.VerifierOption(oauth2.GenerateVerifier()))
		var re *oauth2.RetrieveError
		Expect(err).To(BeAssignableToTypeOf(re))
	})
})
