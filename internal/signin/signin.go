// Package signin completes Herald's OAuth flow without a browser: it registers
// a client, answers the login and consent forms over HTTP as a person would,
// and exchanges the code with PKCE. Benchmarks, end-to-end tests and scripted
// clients use it to hold a real access token.
package signin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"

	"golang.org/x/oauth2"
)

// Options say who signs in and what they approve.
type Options struct {
	// BaseURL is Herald's public URL, such as http://127.0.0.1:8080.
	BaseURL string
	// Username and Password of a local user.
	Username, Password string
	// Workspaces to tick on the consent page.
	Workspaces []string
	// Scopes to request; empty requests every scope Herald supports.
	Scopes []string
	// ClientName is shown on the consent page.
	ClientName string
	// Transport makes the flow's connections; nil is http.DefaultTransport.
	// A test that reaches Herald through a network of its own sets it.
	Transport http.RoundTripper
}

// Result is the outcome of a sign-in.
type Result struct {
	Token    *oauth2.Token
	ClientID string
	Config   *oauth2.Config
}

// redirectURI is a loopback redirect; the flow never follows it, it only
// reads the code from the Location header.
const redirectURI = "http://127.0.0.1:1/callback"

var (
	formAction = regexp.MustCompile(`<form[^>]*action="([^"]*)"`)
	csrfField  = regexp.MustCompile(`name="csrf_token" value="([^"]*)"`)
)

// SignIn runs the whole flow and returns a token bound to BaseURL/mcp.
func SignIn(ctx context.Context, o Options) (*Result, error) {
	base := strings.TrimSuffix(o.BaseURL, "/")
	if o.ClientName == "" {
		o.ClientName = "Herald sign-in"
	}
	client := &http.Client{Transport: o.Transport}
	ctx = context.WithValue(ctx, oauth2.HTTPClient, client) // the code exchange, too
	clientID, err := register(ctx, client, base, o.ClientName)
	if err != nil {
		return nil, err
	}
	scopes := o.Scopes
	if len(scopes) == 0 {
		if scopes, err = supportedScopes(ctx, client, base); err != nil {
			return nil, err
		}
	}
	cfg := &oauth2.Config{
		ClientID:    clientID,
		RedirectURL: redirectURI,
		Scopes:      scopes,
		Endpoint:    oauth2.Endpoint{AuthURL: base + "/oauth/authorize", TokenURL: base + "/oauth/token", AuthStyle: oauth2.AuthStyleInParams},
	}
	verifier := oauth2.GenerateVerifier()
	resource := oauth2.SetAuthURLParam("resource", base+"/mcp")
	authURL := cfg.AuthCodeURL(oauth2.GenerateVerifier(), oauth2.S256ChallengeOption(verifier), resource)

	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar, Transport: o.Transport, CheckRedirect: func(req *http.Request, _ []*http.Request) error {
		if strings.HasPrefix(req.URL.String(), redirectURI) {
			return http.ErrUseLastResponse
		}
		return nil
	}}
	page, err := fetch(ctx, browser, http.MethodGet, authURL, nil)
	if err != nil {
		return nil, err
	}
	page, err = submit(ctx, browser, base, page, url.Values{"username": {o.Username}, "password": {o.Password}})
	if err != nil {
		return nil, fmt.Errorf("signing in: %w", err)
	}
	consent := url.Values{"action": {"approve"}, "workspace": o.Workspaces}
	page, err = submit(ctx, browser, base, page, consent)
	if err != nil {
		return nil, fmt.Errorf("approving: %w", err)
	}
	if page.location == "" {
		return nil, fmt.Errorf("approving did not redirect back with a code (status %d): %s", page.status, snippet(page.body))
	}
	loc, err := url.Parse(page.location)
	if err != nil {
		return nil, err
	}
	code := loc.Query().Get("code")
	if code == "" {
		return nil, fmt.Errorf("redirected without a code: %s", loc.Query().Encode())
	}
	tok, err := cfg.Exchange(ctx, code, oauth2.VerifierOption(verifier), resource)
	if err != nil {
		return nil, fmt.Errorf("exchanging the code: %w", err)
	}
	return &Result{Token: tok, ClientID: clientID, Config: cfg}, nil
}

type page struct {
	status   int
	body     string
	location string
}

func fetch(ctx context.Context, c *http.Client, method, u string, form url.Values) (page, error) {
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return page{}, err
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := c.Do(req)
	if err != nil {
		return page{}, err
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return page{status: resp.StatusCode, body: string(data), location: resp.Header.Get("Location")}, nil
}

// submit fills the page's form (action and CSRF token) with values and posts it.
func submit(ctx context.Context, c *http.Client, base string, p page, values url.Values) (page, error) {
	action, csrf := formAction.FindStringSubmatch(p.body), csrfField.FindStringSubmatch(p.body)
	if action == nil || csrf == nil {
		return page{}, fmt.Errorf("expected a form (status %d): %s", p.status, snippet(p.body))
	}
	values.Set("csrf_token", html.UnescapeString(csrf[1]))
	return fetch(ctx, c, http.MethodPost, base+html.UnescapeString(action[1]), values)
}

func register(ctx context.Context, c *http.Client, base, name string) (string, error) {
	body := fmt.Sprintf(`{"client_name":%q,"redirect_uris":[%q],"token_endpoint_auth_method":"none"}`, name, redirectURI)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/oauth/register", strings.NewReader(body))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var out struct {
		ClientID string `json:"client_id"`
		Error    string `json:"error_description"`
	}
	if err := decodeJSON(resp.Body, &out); err != nil || out.ClientID == "" {
		return "", fmt.Errorf("registering a client: status %d %s %v", resp.StatusCode, out.Error, err)
	}
	return out.ClientID, nil
}

func supportedScopes(ctx context.Context, c *http.Client, base string) ([]string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/.well-known/oauth-protected-resource/mcp", nil)
	if err != nil {
		return nil, err
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var out struct {
		Scopes []string `json:"scopes_supported"`
	}
	if err := decodeJSON(resp.Body, &out); err != nil {
		return nil, err
	}
	if len(out.Scopes) == 0 {
		return nil, errors.New("the protected-resource metadata lists no scopes")
	}
	return out.Scopes, nil
}

func snippet(s string) string {
	if len(s) > 300 {
		return s[:300] + "…"
	}
	return s
}

func decodeJSON(r io.Reader, v any) error { return json.NewDecoder(io.LimitReader(r, 1<<20)).Decode(v) }
