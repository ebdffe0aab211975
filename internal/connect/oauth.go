package connect

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/herald-dev/herald/internal/egress"
)

// maxPlatformAnswer bounds what Herald reads of a platform's OAuth answer.
const maxPlatformAnswer = 1 << 20

// OAuthApp is the OAuth client Herald is at a platform.
type OAuthApp struct {
	ClientID, ClientSecret string
}

// tokenAnswer is an RFC 6749 token response, or its error.
type tokenAnswer struct {
	AccessToken      string `json:"access_token"`
	RefreshToken     string `json:"refresh_token"`
	ExpiresIn        int64  `json:"expires_in"`
	Scope            string `json:"scope"`
	Error            string `json:"error"`
	ErrorDescription string `json:"error_description"`
}

// postForm sends an OAuth form to a platform and decodes its JSON answer
// into out; an error answer becomes an error that quotes the platform.
func postForm(ctx context.Context, c *http.Client, endpoint string, form url.Values, basic *OAuthApp, out any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if basic != nil {
		req.SetBasicAuth(url.QueryEscape(basic.ClientID), url.QueryEscape(basic.ClientSecret))
	}
	return sendJSON(c, req, out)
}

// getJSON reads endpoint with query q into out.
func getJSON(ctx context.Context, c *http.Client, endpoint string, q url.Values, out any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, endpoint+"?"+q.Encode(), nil)
	if err != nil {
		return err
	}
	return sendJSON(c, req, out)
}

// sendJSON sends req and reads its JSON answer into out. A refusal is a
// *PlatformError in the platform's words: OAuth's error and
// error_description, or the Graph API's {"error": {"message"}}.
func sendJSON(c *http.Client, req *http.Request, out any) error {
	req.Header.Set("Accept", "application/json")
	endpoint := req.URL.Scheme + "://" + req.URL.Host + req.URL.Path
	resp, err := c.Do(req)
	if err != nil {
		return fmt.Errorf("%s could not be reached: %s", HostOf(endpoint), egress.Describe(err))
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxPlatformAnswer))
	if resp.StatusCode/100 != 2 {
		return &PlatformError{Host: HostOf(endpoint), Status: resp.StatusCode, Message: refusal(resp.StatusCode, body)}
	}
	if err := json.Unmarshal(body, out); err != nil {
		return fmt.Errorf("%s answered something other than JSON", HostOf(endpoint))
	}
	return nil
}

// refusal is what a platform's error body says.
func refusal(status int, body []byte) string {
	var oauthErr struct {
		Error            string `json:"error"`
		ErrorDescription string `json:"error_description"`
	}
	if json.Unmarshal(body, &oauthErr) == nil && oauthErr.Error != "" {
		return strings.TrimSuffix(strings.TrimSpace(oauthErr.Error+": "+oauthErr.ErrorDescription), ":")
	}
	var graphErr struct {
		Error struct {
			Message string `json:"message"`
		} `json:"error"`
	}
	if json.Unmarshal(body, &graphErr) == nil && graphErr.Error.Message != "" {
		return graphErr.Error.Message
	}
	return http.StatusText(status)
}

// PlatformError is a platform's refusal, in its own words.
type PlatformError struct {
	Host    string
	Status  int
	Message string
}

func (e *PlatformError) Error() string {
	return fmt.Sprintf("%s refused (HTTP %d): %s", e.Host, e.Status, e.Message)
}

// HostOf is the host of a platform URL, for messages.
func HostOf(raw string) string {
	if u, err := url.Parse(raw); err == nil && u.Host != "" {
		return u.Host
	}
	return "the platform"
}

// MastodonScopes are what Herald asks a Mastodon account for: reading the
// account (to verify it) and posting statuses with media.
const MastodonScopes = "read:accounts write:statuses write:media"

// MastodonApps registers Herald as an app on Mastodon instances, once per
// instance and redirect URI, and keeps the registration in a Secret in
// Herald's namespace, so every replica and every restart reuses it.
type MastodonApps struct {
	// HTTP is the guarded outbound client: the instance is any URL a
	// person types.
	HTTP      *http.Client
	Client    client.Client
	Reader    client.Reader
	Namespace string
	// Website is shown by the instance as the app's home page.
	Website string

	mu    sync.Mutex
	cache map[string]OAuthApp
}

func appSecretName(instance, redirectURI string) string {
	sum := sha256.Sum256([]byte(instance + "\n" + redirectURI))
	return "herald-mastodon-app-" + hex.EncodeToString(sum[:12])
}

// App returns Herald's app on the instance, registering it first if needed
// (POST /api/v1/apps).
func (m *MastodonApps) App(ctx context.Context, instance, redirectURI string) (OAuthApp, error) {
	key := appSecretName(instance, redirectURI)
	m.mu.Lock()
	app, ok := m.cache[key]
	m.mu.Unlock()
	if ok {
		return app, nil
	}
	var sec corev1.Secret
	err := m.Reader.Get(ctx, client.ObjectKey{Namespace: m.Namespace, Name: key}, &sec)
	switch {
	case err == nil:
		app = OAuthApp{ClientID: string(sec.Data["clientID"]), ClientSecret: string(sec.Data["clientSecret"])}
	case apierrors.IsNotFound(err):
		var out struct {
			ClientID     string `json:"client_id"`
			ClientSecret string `json:"client_secret"`
		}
		form := url.Values{"client_name": {"Herald"}, "redirect_uris": {redirectURI}, "scopes": {MastodonScopes}, "website": {m.Website}}
		if err := postForm(ctx, m.HTTP, instance+"/api/v1/apps", form, nil, &out); err != nil {
			return OAuthApp{}, fmt.Errorf("registering Herald as an app on %s: %w", HostOf(instance), err)
		}
		if out.ClientID == "" || out.ClientSecret == "" {
			return OAuthApp{}, fmt.Errorf("registering Herald as an app on %s: the answer has no client_id and client_secret", HostOf(instance))
		}
		app = OAuthApp{ClientID: out.ClientID, ClientSecret: out.ClientSecret}
		sec = corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Namespace: m.Namespace, Name: key, Labels: map[string]string{labelManagedBy: managedBy},
				Annotations: map[string]string{"social.herald.dev/instance": instance, "social.herald.dev/redirect-uri": redirectURI}},
			Data: map[string][]byte{"clientID": []byte(app.ClientID), "clientSecret": []byte(app.ClientSecret)},
		}
		if err := m.Client.Create(ctx, &sec); err != nil && !apierrors.IsAlreadyExists(err) {
			return OAuthApp{}, fmt.Errorf("keeping the app registration on %s: %w", HostOf(instance), err)
		} else if apierrors.IsAlreadyExists(err) {
			// Another replica registered at the same moment: use its app,
			// so one registration is kept.
			return m.App(ctx, instance, redirectURI)
		}
	default:
		return OAuthApp{}, err
	}
	m.mu.Lock()
	if m.cache == nil {
		m.cache = map[string]OAuthApp{}
	}
	m.cache[key] = app
	m.mu.Unlock()
	return app, nil
}

// MastodonAuthorizeURL is where the person authorizes Herald on the instance.
func MastodonAuthorizeURL(instance string, app OAuthApp, redirectURI, state, challenge string) string {
	q := url.Values{
		"response_type": {"code"}, "client_id": {app.ClientID}, "redirect_uri": {redirectURI},
		"scope": {MastodonScopes}, "state": {state}, "code_challenge": {challenge}, "code_challenge_method": {"S256"},
	}
	return instance + "/oauth/authorize?" + q.Encode()
}

// MastodonExchange trades the authorization code for the account's access
// token (POST /oauth/token with the PKCE verifier).
func MastodonExchange(ctx context.Context, c *http.Client, instance string, app OAuthApp, redirectURI, code, verifier string) (string, error) {
	var out tokenAnswer
	form := url.Values{
		"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {redirectURI},
		"client_id": {app.ClientID}, "client_secret": {app.ClientSecret}, "code_verifier": {verifier}, "scope": {MastodonScopes},
	}
	if err := postForm(ctx, c, instance+"/oauth/token", form, nil, &out); err != nil {
		return "", fmt.Errorf("exchanging the authorization code with %s: %w", HostOf(instance), err)
	}
	if out.AccessToken == "" {
		return "", fmt.Errorf("exchanging the authorization code with %s: the answer has no access_token", HostOf(instance))
	}
	return out.AccessToken, nil
}

// Instance turns what a person typed (mastodon.social, https://fosstodon.org/)
// into an instance's base URL. Plain http is accepted only when allowHTTP
// (development, for local servers).
func Instance(raw string, allowHTTP bool) (string, error) {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return "", fmt.Errorf("the Mastodon instance is required, such as mastodon.social")
	}
	if !strings.Contains(raw, "://") {
		raw = "https://" + raw
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.User != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		return "", fmt.Errorf("%q is not a Mastodon instance; give its address, such as mastodon.social", raw)
	}
	if u.Scheme != "https" && !(u.Scheme == "http" && allowHTTP) {
		return "", fmt.Errorf("%q is not an https address; Mastodon instances are reached over https", raw)
	}
	return u.Scheme + "://" + strings.ToLower(u.Host), nil
}
