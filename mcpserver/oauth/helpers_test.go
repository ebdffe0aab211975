package oauth_test

import (
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"golang.org/x/oauth2"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	testclock "k8s.io/utils/clock/testing"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/manager"

	"github.com/herald-dev/herald/api/v1alpha1"
	"github.com/herald-dev/herald/mcpserver/oauth"
)

// harness is one Herald replica: an oauth.Server on a real loopback listener
// with /mcp behind RequireToken, answering with the Caller it was given.
type harness struct {
	srv   *oauth.Server
	ts    *httptest.Server
	base  string // where this replica listens
	pub   string // its configured public URL
	clock *testclock.FakeClock
}

func newHarness(publicURL string) *harness { return newHarnessOn(publicURL, mgr) }

// newHarnessOn builds a replica on m's cache, so a test can give two
// replicas separate informers as separate pods would have.
func newHarnessOn(publicURL string, m manager.Manager) *harness {
	return newHarnessWith(publicURL, m, func(*oauth.Config) {})
}

// newHarnessWith builds a replica whose configuration edit changed first.
func newHarnessWith(publicURL string, m manager.Manager, edit func(*oauth.Config)) *harness {
	return newHarnessReading(publicURL, m, m.GetAPIReader(), edit)
}

// newHarnessReading builds a replica that reads around the cache with reader.
func newHarnessReading(publicURL string, m manager.Manager, reader client.Reader, edit func(*oauth.Config)) *harness {
	ts := httptest.NewUnstartedServer(nil)
	h := &harness{ts: ts, base: "http://" + ts.Listener.Addr().String(), clock: testclock.NewFakeClock(time.Now())}
	h.pub = publicURL
	if h.pub == "" {
		h.pub = h.base
	}
	var err error
	cfg := oauth.Config{PublicURL: h.pub, Namespace: namespace, DevMode: true, Clock: h.clock, AllowedOrigins: []string{"https://allowed.example"}}
	edit(&cfg)
	h.srv, err = oauth.New(cfg, m.GetClient(), reader)
	Expect(err).NotTo(HaveOccurred())
	mux := http.NewServeMux()
	h.srv.Routes(mux)
	mux.Handle("/mcp", h.srv.RequireToken(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, ok := oauth.CallerFrom(r.Context())
		Expect(ok).To(BeTrue())
		if need := r.URL.Query().Get("need"); need != "" && !c.HasScope(v1alpha1.Scope(need)) {
			oauth.WriteInsufficientScope(w, v1alpha1.Scope(need))
			return
		}
		_ = json.NewEncoder(w).Encode(c)
	})))
	ts.Config.Handler = mux
	ts.Start()
	DeferCleanup(ts.Close)
	return h
}

func (h *harness) mcpURL() string { return h.pub + "/mcp" }

// register performs RFC 7591 registration and returns the client_id.
func register(base string, redirectURIs ...string) string {
	status, body := postJSON(base+"/oauth/register", map[string]any{"client_name": "Test Client", "redirect_uris": redirectURIs})
	Expect(status).To(Equal(http.StatusCreated), "%v", body)
	return body["client_id"].(string)
}

func postJSON(u string, v any) (int, map[string]any) {
	b, _ := json.Marshal(v)
	resp, err := http.Post(u, "application/json", strings.NewReader(string(b)))
	Expect(err).NotTo(HaveOccurred())
	return decode(resp)
}

func postForm(u string, form url.Values) (int, map[string]any) {
	resp, err := http.PostForm(u, form)
	Expect(err).NotTo(HaveOccurred())
	return decode(resp)
}

func decode(resp *http.Response) (int, map[string]any) {
	defer resp.Body.Close()
	body := map[string]any{}
	raw, _ := io.ReadAll(resp.Body)
	_ = json.Unmarshal(raw, &body)
	return resp.StatusCode, body
}

// pkce is one client's authorization attempt.
type pkce struct {
	clientID, redirect, verifier, state string
}

func newPKCE(clientID, redirect string) *pkce {
	return &pkce{clientID: clientID, redirect: redirect, verifier: oauth2.GenerateVerifier(), state: "state-" + oauth2.GenerateVerifier()[:10]}
}

func (p *pkce) authorizeURL(base string, extra url.Values) string {
	q := url.Values{
		"response_type": {"code"}, "client_id": {p.clientID}, "redirect_uri": {p.redirect}, "state": {p.state},
		"code_challenge": {oauth2.S256ChallengeFromVerifier(p.verifier)}, "code_challenge_method": {"S256"},
		"scope": {"workspace:read posts:read posts:write brand_kits:write"},
	}
	for k, v := range extra {
		if len(v) == 0 {
			q.Del(k)
		} else {
			q[k] = v
		}
	}
	return base + "/oauth/authorize?" + q.Encode()
}

// browser is a person's browser: it keeps cookies and lets the test follow
// (or inspect) each redirect.
type browser struct{ c *http.Client }

func newBrowser() *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{c: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// behindProxy makes the browser's requests arrive through a proxy that
// says the client is at addr (X-Forwarded-For).
func (b *browser) behindProxy(addr string) *browser {
	b.c.Transport = forwardedFor{addr}
	return b
}

type forwardedFor struct{ addr string }

func (f forwardedFor) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("X-Forwarded-For", f.addr)
	return http.DefaultTransport.RoundTrip(r)
}

func (b *browser) get(u string) (*http.Response, string) {
	resp, err := b.c.Get(u)
	Expect(err).NotTo(HaveOccurred())
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp, string(raw)
}

func (b *browser) post(u string, form url.Values) (*http.Response, string) {
	resp, err := b.c.PostForm(u, form)
	Expect(err).NotTo(HaveOccurred())
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp, string(raw)
}

var csrfRE = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)

func csrfOf(page string) string {
	m := csrfRE.FindStringSubmatch(page)
	Expect(m).To(HaveLen(2), "no csrf_token in page:\n%s", page)
	return m[1]
}

// login signs in on the authorize URL and returns the consent page.
func (b *browser) login(authURL, user, password string) string {
	resp, page := b.get(authURL)
	Expect(resp.StatusCode).To(Equal(http.StatusOK), page)
	Expect(page).To(ContainSubstring(`name="username"`))
	resp, page = b.post(authURL, url.Values{"csrf_token": {csrfOf(page)}, "username": {user}, "password": {password}})
	Expect(resp.StatusCode).To(Equal(http.StatusSeeOther), page)
	resp, page = b.get(authURL)
	Expect(resp.StatusCode).To(Equal(http.StatusOK), page)
	Expect(page).To(ContainSubstring(`name="action" value="approve"`))
	return page
}

// decide posts the consent form and returns where the browser was sent.
func (b *browser) decide(authURL, consentPage, action string, workspaces ...string) *url.URL {
	resp, page := b.post(authURL, url.Values{"csrf_token": {csrfOf(consentPage)}, "action": {action}, "workspace": workspaces})
	Expect(resp.StatusCode).To(Equal(http.StatusSeeOther), page)
	loc, err := url.Parse(resp.Header.Get("Location"))
	Expect(err).NotTo(HaveOccurred())
	return loc
}

// authorize runs login and approval and returns the code.
func authorize(base string, p *pkce, user, password string, workspaces ...string) string {
	authURL := p.authorizeURL(base, nil)
	b := newBrowser()
	loc := b.decide(authURL, b.login(authURL, user, password), "approve", workspaces...)
	Expect(loc.Query().Get("error")).To(BeEmpty(), loc.String())
	Expect(loc.Query().Get("state")).To(Equal(p.state))
	code := loc.Query().Get("code")
	Expect(code).NotTo(BeEmpty())
	secretsSeen.add(code)
	return code
}

func exchange(base string, p *pkce, code string) (int, map[string]any) {
	status, body := postForm(base+"/oauth/token", url.Values{
		"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {p.redirect},
		"client_id": {p.clientID}, "code_verifier": {p.verifier},
	})
	remember(body)
	return status, body
}

func refresh(base, clientID, rt string) (int, map[string]any) {
	status, body := postForm(base+"/oauth/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}, "client_id": {clientID}})
	remember(body)
	return status, body
}

func remember(body map[string]any) {
	for _, k := range []string{"access_token", "refresh_token"} {
		if s, ok := body[k].(string); ok {
			secretsSeen.add(s)
		}
	}
}

// claims decodes a JWT's payload without verifying it.
func claims(token string) map[string]any {
	parts := strings.Split(token, ".")
	Expect(parts).To(HaveLen(3))
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	Expect(err).NotTo(HaveOccurred())
	out := map[string]any{}
	Expect(json.Unmarshal(raw, &out)).To(Succeed())
	return out
}

// callMCP calls /mcp with a bearer token and returns status, the
// WWW-Authenticate header and the decoded body.
func callMCP(u, token string, hdr ...string) (int, string, map[string]any) {
	req, _ := http.NewRequest(http.MethodPost, u, strings.NewReader("{}"))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	Expect(err).NotTo(HaveOccurred())
	status, body := decode(resp)
	return status, resp.Header.Get("WWW-Authenticate"), body
}

func newRecorder() *httptest.ResponseRecorder { return httptest.NewRecorder() }

func createIfMissing(obj client.Object) error {
	return client.IgnoreAlreadyExists(k8sClient.Create(ctx, obj))
}

func secretWith(name, key, value string) *corev1.Secret {
	return &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name}, StringData: map[string]string{key: value}}
}
