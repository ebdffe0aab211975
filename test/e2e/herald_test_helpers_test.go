package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	"golang.org/x/oauth2"
)

// heraldMCP is `herald --dev` serving MCP and OAuth on a free loopback port, the way
// a person runs it with `make run`.
type heraldMCP struct {
	*heraldProcess
	// Base is the public URL (http://127.0.0.1:<port>); MCPURL is Base + "/mcp".
	Base, MCPURL string
	// Password is the dev user's password (HERALD_DEV_PASSWORD).
	Password string
	// Kubeconfig is the embedded control plane's admin kubeconfig.
	Kubeconfig string
}

const devUser = "dev"

// startHeraldMCP builds herald, starts it in dev mode on an embedded control plane
// and waits until /mcp answers (with 401: it wants a token). The process is
// interrupted in t.Cleanup. flags are added to its command line.
func startHeraldMCP(t *testing.T, flags ...string) *heraldMCP {
	t.Helper()
	dataDir := t.TempDir()
	p := startHerald(t, buildHerald(t), dataDir, flags...)
	h := &heraldMCP{heraldProcess: p, Base: p.baseURL, MCPURL: p.baseURL + "/mcp", Password: devPassword, Kubeconfig: filepath.Join(dataDir, "kubeconfig")}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("herald output:\n%s", h.out.String())
		}
	})

	start := time.Now()
	NewWithT(t).Eventually(func(g Gomega) {
		select {
		case err := <-h.done:
			h.done <- err
			StopTrying(fmt.Sprintf("herald exited: %v", err)).Now()
		default:
		}
		resp, err := http.Post(h.MCPURL, "application/json", strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"ping"}`))
		g.Expect(err).NotTo(HaveOccurred())
		resp.Body.Close()
		g.Expect(resp.StatusCode).To(Equal(http.StatusUnauthorized))
	}, 120*time.Second, 250*time.Millisecond).Should(Succeed(), "herald output:\n%s", h.out.String())
	t.Logf("herald serves %s %.1fs after start", h.MCPURL, time.Since(start).Seconds())
	return h
}

// formBrowser plays the person at the browser: it keeps cookies, answers Herald's
// login and consent forms, and stops at the redirect to the client's redirect URI.
type formBrowser struct {
	client *http.Client
}

func newFormBrowser(redirectURI string) *formBrowser {
	jar, _ := cookiejar.New(nil)
	return &formBrowser{client: &http.Client{
		Jar:     jar,
		Timeout: 20 * time.Second,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if strings.HasPrefix(req.URL.String(), redirectURI) {
				return http.ErrUseLastResponse
			}
			if len(via) > 10 {
				return fmt.Errorf("too many redirects")
			}
			return nil
		},
	}}
}

var (
	formActionRE = regexp.MustCompile(`<form[^>]*\baction="([^"]*)"`)
	csrfRE       = regexp.MustCompile(`name="csrf_token"\s+value="([^"]*)"`)
	workspaceRE  = regexp.MustCompile(`name="workspace"\s+value="([^"]*)"`)
)

// page is one HTML page the browser landed on.
type page struct {
	url  *url.URL
	code int
	body string
	// redirect is the Location of a redirect to the redirect URI, when it stopped there.
	redirect *url.URL
}

func (b *formBrowser) do(ctx context.Context, method, target string, form url.Values) (*page, error) {
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequestWithContext(ctx, method, target, body)
	if err != nil {
		return nil, err
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := b.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	p := &page{url: resp.Request.URL, code: resp.StatusCode, body: string(data)}
	if resp.StatusCode >= 300 && resp.StatusCode < 400 {
		if p.redirect, err = resp.Location(); err != nil {
			return nil, err
		}
	}
	return p, nil
}

func (p *page) form(what string) (action string, csrf string, err error) {
	a, c := formActionRE.FindStringSubmatch(p.body), csrfRE.FindStringSubmatch(p.body)
	if a == nil || c == nil {
		return "", "", fmt.Errorf("no %s form with a csrf_token (HTTP %d at %s):\n%.2000s", what, p.code, p.url, p.body)
	}
	u, err := p.url.Parse(html.UnescapeString(a[1]))
	if err != nil {
		return "", "", err
	}
	return u.String(), html.UnescapeString(c[1]), nil
}

// consentResult is what the browser saw on the way: the workspaces the consent page
// offered and the query of the redirect to the client.
type consentResult struct {
	Offered  []string
	Redirect url.Values
}

// authorize opens authURL, signs in and approves only workspace. It returns the
// query Herald redirected to the client with (code, state, iss).
func (b *formBrowser) authorize(ctx context.Context, authURL, user, password, workspace string) (*consentResult, error) {
	p, err := b.do(ctx, http.MethodGet, authURL, nil)
	if err != nil {
		return nil, err
	}
	if p.redirect != nil {
		return nil, fmt.Errorf("the authorization request was refused: %s", p.redirect)
	}
	action, csrf, err := p.form("login")
	if err != nil {
		return nil, err
	}
	if p, err = b.do(ctx, http.MethodPost, action, url.Values{"csrf_token": {csrf}, "username": {user}, "password": {password}}); err != nil {
		return nil, err
	}
	res := &consentResult{}
	for _, m := range workspaceRE.FindAllStringSubmatch(p.body, -1) {
		res.Offered = append(res.Offered, html.UnescapeString(m[1]))
	}
	if action, csrf, err = p.form("consent"); err != nil {
		return nil, err
	}
	if len(res.Offered) == 0 {
		return nil, fmt.Errorf("the consent page offers no workspace:\n%.2000s", p.body)
	}
	if p, err = b.do(ctx, http.MethodPost, action, url.Values{"csrf_token": {csrf}, "workspace": {workspace}, "action": {"approve"}}); err != nil {
		return nil, err
	}
	if p.redirect == nil {
		return nil, fmt.Errorf("consent did not redirect to the client (HTTP %d):\n%.2000s", p.code, p.body)
	}
	res.Redirect = p.redirect.Query()
	if e := res.Redirect.Get("error"); e != "" {
		return res, fmt.Errorf("authorization failed: %s: %s", e, res.Redirect.Get("error_description"))
	}
	return res, nil
}

func getJSON(ctx context.Context, target string, into any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		return fmt.Errorf("GET %s: %s: %s", target, resp.Status, b)
	}
	return json.NewDecoder(resp.Body).Decode(into)
}

// oauthLogin does what an MCP client does by itself, written out with
// golang.org/x/oauth2: RFC 9728 and RFC 8414 discovery, RFC 7591 registration,
// the authorization code flow with PKCE S256 and the RFC 8707 resource, with the
// forms answered by a formBrowser that approves only workspace.
func oauthLogin(t *testing.T, h *heraldMCP, workspace string) *oauth2.Token {
	t.Helper()
	g := NewWithT(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	var prm struct {
		Resource             string   `json:"resource"`
		AuthorizationServers []string `json:"authorization_servers"`
		ScopesSupported      []string `json:"scopes_supported"`
	}
	g.Expect(getJSON(ctx, h.Base+"/.well-known/oauth-protected-resource/mcp", &prm)).To(Succeed())
	g.Expect(prm.Resource).To(Equal(h.MCPURL))
	g.Expect(prm.AuthorizationServers).NotTo(BeEmpty())
	var asm struct {
		AuthorizationEndpoint string   `json:"authorization_endpoint"`
		TokenEndpoint         string   `json:"token_endpoint"`
		RegistrationEndpoint  string   `json:"registration_endpoint"`
		CodeChallengeMethods  []string `json:"code_challenge_methods_supported"`
	}
	g.Expect(getJSON(ctx, prm.AuthorizationServers[0]+"/.well-known/oauth-authorization-server", &asm)).To(Succeed())
	g.Expect(asm.CodeChallengeMethods).To(ContainElement("S256"))

	redirectURI := fmt.Sprintf("http://127.0.0.1:%d/callback", freePort(t))
	reg, _ := json.Marshal(map[string]any{
		"client_name":                "Herald e2e (Go, golang.org/x/oauth2)",
		"redirect_uris":              []string{redirectURI},
		"grant_types":                []string{"authorization_code", "refresh_token"},
		"response_types":             []string{"code"},
		"token_endpoint_auth_method": "none",
	})
	resp, err := http.Post(asm.RegistrationEndpoint, "application/json", bytes.NewReader(reg))
	g.Expect(err).NotTo(HaveOccurred())
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	g.Expect(resp.StatusCode).To(Equal(http.StatusCreated), "registration: %s", body)
	var client struct {
		ClientID string `json:"client_id"`
	}
	g.Expect(json.Unmarshal(body, &client)).To(Succeed())
	g.Expect(client.ClientID).NotTo(BeEmpty())

	cfg := &oauth2.Config{
		ClientID:    client.ClientID,
		Endpoint:    oauth2.Endpoint{AuthURL: asm.AuthorizationEndpoint, TokenURL: asm.TokenEndpoint, AuthStyle: oauth2.AuthStyleInParams},
		RedirectURL: redirectURI,
		Scopes:      prm.ScopesSupported,
	}
	verifier, state := oauth2.GenerateVerifier(), rand.Text()
	authURL := cfg.AuthCodeURL(state, oauth2.S256ChallengeOption(verifier), oauth2.SetAuthURLParam("resource", prm.Resource))
	res, err := newFormBrowser(redirectURI).authorize(ctx, authURL, devUser, h.Password, workspace)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(res.Redirect.Get("state")).To(Equal(state))
	tok, err := cfg.Exchange(ctx, res.Redirect.Get("code"), oauth2.VerifierOption(verifier), oauth2.SetAuthURLParam("resource", prm.Resource))
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(tok.AccessToken).NotTo(BeEmpty())
	return tok
}
