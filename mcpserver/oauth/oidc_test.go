package oauth_test

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v3"
	josejwt "github.com/go-jose/go-jose/v3/jwt"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	testclock "k8s.io/utils/clock/testing"

	"github.com/herald-dev/herald/api/v1alpha1"
	"github.com/herald-dev/herald/mcpserver/oauth"
)

// tinyOIDC is an OpenID provider reduced to what a login needs: discovery,
// keys, an authorize endpoint that signs in one fixed user at once, and a
// token endpoint that answers with an RS256 ID token.
type tinyOIDC struct {
	ts       *httptest.Server
	key      *rsa.PrivateKey
	email    string
	verified any // the email_verified claim as sent; nil leaves it out
	mu       sync.Mutex
	nonces   map[string]string // code -> nonce
}

func newTinyOIDC(email string, verified any) *tinyOIDC {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	Expect(err).NotTo(HaveOccurred())
	o := &tinyOIDC{key: key, email: email, verified: verified, nonces: map[string]string{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, _ *http.Request) {
		_ = json.NewEncoder(w).Encode(map[string]any{
			"issuer": o.ts.URL, "authorization_endpoint": o.ts.URL + "/authorize", "token_endpoint": o.ts.URL + "/token",
			"jwks_uri": o.ts.URL + "/jwks", "id_token_signing_alg_values_supported": []string{"RS256"},
			"response_types_supported": []string{"code"}, "subject_types_supported": []string{"public"},
		})
	})
	mux.HandleFunc("GET /jwks", func(w http.ResponseWriter, _ *http.Request) {
		_ = json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &key.PublicKey, KeyID: "k1", Algorithm: "RS256", Use: "sig"}}})
	})
	mux.HandleFunc("GET /authorize", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		Expect(q.Get("code_challenge_method")).To(Equal("S256"))
		code := "upstream-" + q.Get("state")
		o.mu.Lock()
		o.nonces[code] = q.Get("nonce")
		o.mu.Unlock()
		http.Redirect(w, r, q.Get("redirect_uri")+"?code="+url.QueryEscape(code)+"&state="+url.QueryEscape(q.Get("state")), http.StatusFound)
	})
	mux.HandleFunc("POST /token", func(w http.ResponseWriter, r *http.Request) {
		Expect(r.ParseForm()).To(Succeed())
		Expect(r.PostForm.Get("code_verifier")).NotTo(BeEmpty())
		user, pass, _ := r.BasicAuth()
		if user != "herald" || pass != "upstream-secret" {
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write([]byte(`{"error":"invalid_client"}`))
			return
		}
		o.mu.Lock()
		nonce := o.nonces[r.PostForm.Get("code")]
		o.mu.Unlock()
		signer, _ := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: key}, (&jose.SignerOptions{}).WithHeader("kid", "k1"))
		claims := map[string]any{
			"iss": o.ts.URL, "aud": "herald", "sub": "u-1", "email": o.email,
			"nonce": nonce, "iat": time.Now().Unix(), "exp": time.Now().Add(5 * time.Minute).Unix(),
		}
		if o.verified != nil {
			claims["email_verified"] = o.verified
		}
		idt, _ := josejwt.Signed(signer).Claims(claims).CompactSerialize()
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"access_token": "upstream-at", "token_type": "Bearer", "id_token": idt, "expires_in": 300})
	})
	o.ts = httptest.NewServer(mux)
	DeferCleanup(o.ts.Close)
	return o
}

// oidcHarness is a replica with upstream sign-in configured.
func oidcHarness(o *tinyOIDC, subjectClaim ...string) *harness {
	Expect(createIfMissing(&v1alpha1.Workspace{
		ObjectMeta: metav1.ObjectMeta{Name: "oidc-ws"},
		Spec:       v1alpha1.WorkspaceSpec{DisplayName: "OIDC", Members: []v1alpha1.WorkspaceMember{{Subject: "ada@example.com", Role: v1alpha1.RoleEditor}}},
	})).To(Succeed())
	Expect(createIfMissing(secretWith("upstream-oidc", "clientSecret", "upstream-secret"))).To(Succeed())
	secretsSeen.add("upstream-secret")
	ts := httptest.NewUnstartedServer(nil)
	h := &harness{ts: ts, base: "http://" + ts.Listener.Addr().String(), clock: testclock.NewFakeClock(time.Now())}
	h.pub = h.base
	var err error
	h.srv, err = oauth.New(oauth.Config{PublicURL: h.pub, Namespace: namespace, DevMode: true, Clock: h.clock,
		OIDC: &oauth.OIDCConfig{Name: "Tiny IdP", Issuer: o.ts.URL, ClientID: "herald", ClientSecretName: "upstream-oidc", SubjectClaim: strings.Join(subjectClaim, "")}},
		mgr.GetClient(), mgr.GetAPIReader())
	Expect(err).NotTo(HaveOccurred())
	mux := http.NewServeMux()
	h.srv.Routes(mux)
	ts.Config.Handler = mux
	ts.Start()
	DeferCleanup(ts.Close)
	return h
}

var _ = Describe("upstream OpenID Connect sign-in", func() {
	// follow walks redirects by hand so the test sees each hop.
	follow := func(b *browser, u string, hops int) (*http.Response, string) {
		resp, page := b.get(u)
		for i := 0; i < hops && resp.StatusCode >= 300 && resp.StatusCode < 400; i++ {
			next, err := url.Parse(resp.Header.Get("Location"))
			Expect(err).NotTo(HaveOccurred())
			base, _ := url.Parse(u)
			u = base.ResolveReference(next).String()
			resp, page = b.get(u)
		}
		return resp, page
	}

	It("signs a user in through the provider and shows consent for their workspaces", func() {
		o := newTinyOIDC("ada@example.com", true)
		h := oidcHarness(o)
		redirect := "http://127.0.0.1:7600/cb"
		clientID := register(h.base, redirect)
		p := newPKCE(clientID, redirect)
		authURL := p.authorizeURL(h.base, nil)
		b := newBrowser()
		_, login := b.get(authURL)
		Expect(login).To(ContainSubstring("Sign in with Tiny IdP"))
		start := h.base + "/oauth/oidc/start?return=" + url.QueryEscape(authURL[len(h.base):])
		resp, consent := follow(b, start, 4)
		Expect(resp.StatusCode).To(Equal(http.StatusOK), consent)
		Expect(consent).To(ContainSubstring("Signed in as <strong>ada@example.com</strong>"))
		Expect(consent).To(ContainSubstring(`value="oidc-ws"`))
		loc := b.decide(authURL, consent, "approve", "oidc-ws")
		code := loc.Query().Get("code")
		secretsSeen.add(code)
		status, tok := exchange(h.base, p, code)
		Expect(status).To(Equal(http.StatusOK))
		Expect(claims(tok["access_token"].(string))["sub"]).To(Equal("ada@example.com"))
	})

	It("names the subject of any other claim by its issuer, so it is never a local user's name", func() {
		o := newTinyOIDC("ada@example.com", true)
		h := oidcHarness(o, "sub")
		redirect := "http://127.0.0.1:7600/cb"
		p := newPKCE(register(h.base, redirect), redirect)
		authURL := p.authorizeURL(h.base, nil)
		b := newBrowser()
		b.get(authURL)
		start := h.base + "/oauth/oidc/start?return=" + url.QueryEscape(authURL[len(h.base):])
		resp, consent := follow(b, start, 4)
		Expect(resp.StatusCode).To(Equal(http.StatusOK), consent)
		Expect(consent).To(ContainSubstring("Signed in as <strong>" + strings.TrimPrefix(o.ts.URL, "http://") + "/u-1</strong>"))
	})

	It("refuses an e-mail not verified (false, missing or the string \"true\"), a forged state and a return URL elsewhere", func() {
		for _, verified := range []any{false, nil, "true"} {
			o := newTinyOIDC("eve@example.com", verified)
			h := oidcHarness(o)
			b := newBrowser()
			resp, page := follow(b, h.base+"/oauth/oidc/start?return="+url.QueryEscape("/oauth/authorize?client_id=x"), 2)
			Expect(resp.StatusCode).To(Equal(http.StatusUnauthorized), "email_verified %#v: %s", verified, page)
			Expect(page).To(ContainSubstring("not verified"))
		}
		o := newTinyOIDC("eve@example.com", false)
		h := oidcHarness(o)
		b := newBrowser()
		var resp *http.Response
		var page string

		resp, page = b.get(h.base + "/oauth/oidc/callback?code=x&state=forged")
		Expect(resp.StatusCode).To(Equal(http.StatusBadRequest))
		Expect(page).To(ContainSubstring("connect again"))

		resp, _ = b.get(h.base + "/oauth/oidc/start?return=" + url.QueryEscape("https://evil.example/"))
		Expect(resp.StatusCode).To(Equal(http.StatusBadRequest))
	})
})
