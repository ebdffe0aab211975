package connect

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/herald-dev/herald/api/v1alpha1"
	"github.com/herald-dev/herald/internal/egress"
)

// Provider is a platform whose accounts are connected with OAuth 2.0
// (authorization code with PKCE) through the operator's own app there.
type Provider struct {
	Platform v1alpha1.Platform
	// Name is how people call the platform.
	Name string
	// AuthorizeURL and TokenURL are the platform's OAuth endpoints.
	AuthorizeURL, TokenURL string
	// Scopes are what Herald asks the account for.
	Scopes []string
	// Developer is where the operator creates the app.
	Developer string
	// SecretInForm: the app authenticates with client_id and
	// client_secret in the form (LinkedIn) rather than with HTTP Basic (X).
	SecretInForm bool
	// UserinfoURL, when set, is read with a new access token for the
	// member's id: LinkedIn posts as urn:li:person:<sub>, kept as authorURN.
	UserinfoURL string
	// App names the operator's app in the apps Secret (its keys are
	// <App>.clientID and <App>.clientSecret); empty means Platform. Meta's
	// platforms share one.
	App string
	// APIURL is the platform's API, for Accounts.
	APIURL string
	// ScopeSeparator joins Scopes in the authorization request; empty
	// means a space.
	ScopeSeparator string
	// NoRefresh: the platform issues no refresh token, so Herald renews
	// nothing and the account is connected again when its token expires.
	NoRefresh bool
	// Accounts, when set, turns the tokens of an authorization into the
	// accounts the person may connect with them (the Pages they manage);
	// otherwise the tokens are the one account's.
	Accounts func(ctx context.Context, c *http.Client, p Provider, app OAuthApp, t Tokens, now time.Time) ([]Choice, error)
}

// appName is the prefix of the app's keys in the apps Secret.
func (p Provider) appName() string {
	if p.App != "" {
		return p.App
	}
	return string(p.Platform)
}

// X is X's OAuth 2.0 (https://docs.x.com/fundamentals/authentication/oauth-2-0):
// access tokens last two hours and refresh tokens are single-use, so every
// refresh brings a new one that must be kept.
var X = Provider{
	Platform: "x", Name: "X",
	AuthorizeURL: "https://x.com/i/oauth2/authorize", TokenURL: "https://api.x.com/2/oauth2/token",
	Scopes:    []string{"tweet.read", "tweet.write", "users.read", "media.write", "offline.access"},
	Developer: "https://developer.x.com/en/portal/dashboard",
}

// LinkedIn is LinkedIn's OAuth 2.0 (Sign In with LinkedIn using OpenID
// Connect, and Share on LinkedIn): access tokens last 60 days; refresh
// tokens, for apps LinkedIn enabled them for, a year, and are not rotated.
var LinkedIn = Provider{
	Platform: "linkedin", Name: "LinkedIn",
	AuthorizeURL: "https://www.linkedin.com/oauth/v2/authorization", TokenURL: "https://www.linkedin.com/oauth/v2/accessToken",
	Scopes:    []string{"openid", "profile", "w_member_social"},
	Developer: "https://www.linkedin.com/developers/apps", SecretInForm: true,
	UserinfoURL: "https://api.linkedin.com/v2/userinfo",
}

// Providers are the OAuth platforms Herald connects with the operator's apps.
var Providers = map[v1alpha1.Platform]Provider{X.Platform: X, LinkedIn.Platform: LinkedIn,
	Facebook.Platform: Facebook, Instagram.Platform: Instagram, Threads.Platform: Threads}

// Choices returns the accounts an authorization's tokens connect: those
// Accounts finds, or the one the tokens belong to.
func (p Provider) Choices(ctx context.Context, c *http.Client, app OAuthApp, t Tokens, now time.Time) ([]Choice, error) {
	if p.Accounts == nil {
		return []Choice{{Credentials: t.Credentials()}}, nil
	}
	return p.Accounts(ctx, c, p, app, t, now)
}

// AuthCodeURL is where the person authorizes the operator's app.
func (p Provider) AuthCodeURL(app OAuthApp, redirectURI, state, challenge string) string {
	q := url.Values{
		"response_type": {"code"}, "client_id": {app.ClientID}, "redirect_uri": {redirectURI}, "scope": {strings.Join(p.Scopes, cmp.Or(p.ScopeSeparator, " "))},
		"state": {state}, "code_challenge": {challenge}, "code_challenge_method": {"S256"},
	}
	return p.AuthorizeURL + "?" + q.Encode()
}

// Tokens are an account's OAuth tokens as a platform issued them.
type Tokens struct {
	Access, Refresh string
	// ExpiresAt is when Access stops working; zero when the platform did not say.
	ExpiresAt time.Time
	// Account holds further keys the platform's adapter needs, learnt when
	// the account was connected (LinkedIn's authorURN).
	Account map[string][]byte
}

// Credentials are the Secret keys the tokens are kept under.
func (t Tokens) Credentials() map[string][]byte {
	out := map[string][]byte{"accessToken": []byte(t.Access)}
	maps.Copy(out, t.Account)
	if t.Refresh != "" {
		out["refreshToken"] = []byte(t.Refresh)
	}
	if !t.ExpiresAt.IsZero() {
		out["expiresAt"] = []byte(t.ExpiresAt.UTC().Format(time.RFC3339))
	}
	return out
}

// ExpiresAt reads the expiresAt key of a profile's Secret; ok is false
// when it is missing or unreadable.
func ExpiresAt(creds map[string][]byte) (time.Time, bool) {
	t, err := time.Parse(time.RFC3339, strings.TrimSpace(string(creds["expiresAt"])))
	return t, err == nil
}

func (p Provider) token(ctx context.Context, c *http.Client, app OAuthApp, form url.Values, now time.Time) (Tokens, error) {
	form.Set("client_id", app.ClientID)
	var basic *OAuthApp
	switch {
	case app.ClientSecret != "" && p.SecretInForm:
		form.Set("client_secret", app.ClientSecret)
	case app.ClientSecret != "":
		basic = &app // confidential clients authenticate with HTTP Basic
	}
	var out tokenAnswer
	if err := postForm(ctx, c, p.TokenURL, form, basic, &out); err != nil {
		return Tokens{}, err
	}
	if out.AccessToken == "" {
		return Tokens{}, fmt.Errorf("%s answered without an access_token", p.Name)
	}
	t := Tokens{Access: out.AccessToken, Refresh: out.RefreshToken}
	if out.ExpiresIn > 0 {
		t.ExpiresAt = now.Add(time.Duration(out.ExpiresIn) * time.Second)
	}
	return t, nil
}

// Exchange trades an authorization code for the account's tokens.
func (p Provider) Exchange(ctx context.Context, c *http.Client, app OAuthApp, redirectURI, code, verifier string, now time.Time) (Tokens, error) {
	t, err := p.token(ctx, c, app, url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {redirectURI}, "code_verifier": {verifier}}, now)
	if err != nil {
		return Tokens{}, fmt.Errorf("exchanging the authorization code with %s: %w", p.Name, err)
	}
	if p.UserinfoURL != "" {
		sub, err := userinfoSubject(ctx, c, p.UserinfoURL, t.Access)
		if err != nil {
			return Tokens{}, fmt.Errorf("reading the %s member the token belongs to: %w", p.Name, err)
		}
		t.Account = map[string][]byte{"authorURN": []byte("urn:li:person:" + sub)}
	}
	return t, nil
}

// userinfoSubject reads the OpenID Connect subject of an access token.
func userinfoSubject(ctx context.Context, c *http.Client, endpoint, access string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, endpoint, nil)
	if err != nil {
		return "", err
	}
	req.Header.Set("Authorization", "Bearer "+access)
	resp, err := c.Do(req)
	if err != nil {
		return "", fmt.Errorf("%s could not be reached: %s", HostOf(endpoint), egress.Describe(err))
	}
	defer resp.Body.Close()
	var me struct {
		Sub string `json:"sub"`
	}
	if resp.StatusCode != http.StatusOK || json.NewDecoder(io.LimitReader(resp.Body, maxPlatformAnswer)).Decode(&me) != nil || me.Sub == "" {
		return "", &PlatformError{Host: HostOf(endpoint), Status: resp.StatusCode, Message: "no member id (sub) in the answer"}
	}
	return me.Sub, nil
}

// ErrReconnect wraps a refusal to renew tokens that only connecting the
// account again can cure: the refresh token was revoked, used or expired.
var ErrReconnect = errors.New("reconnect required")

// Refresh renews the tokens with a refresh token. A refusal of the token
// itself is ErrReconnect; anything else may pass.
func (p Provider) Refresh(ctx context.Context, c *http.Client, app OAuthApp, refreshToken string, now time.Time) (Tokens, error) {
	t, err := p.token(ctx, c, app, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refreshToken}}, now)
	var pe *PlatformError
	if errors.As(err, &pe) && (pe.Status == http.StatusBadRequest || pe.Status == http.StatusUnauthorized) {
		return Tokens{}, fmt.Errorf("%w: %s refused to renew the access token: %s", ErrReconnect, p.Name, pe.Message)
	}
	if err != nil {
		return Tokens{}, fmt.Errorf("renewing the access token with %s: %w", p.Name, err)
	}
	if t.Refresh == "" {
		t.Refresh = refreshToken // platforms that do not rotate keep the old one working
	}
	return t, nil
}

// Apps reads the operator's OAuth apps from a Secret in Herald's
// namespace: for each platform, the keys <platform>.clientID and (for a
// confidential app) <platform>.clientSecret.
type Apps struct {
	Reader    client.Reader
	Namespace string
	// Secret is the Secret's name; empty means no app is configured.
	Secret string
}

// App returns the operator's app on the platform, or an error saying how
// to configure it.
func (a Apps) App(ctx context.Context, p Provider, redirectURI string) (OAuthApp, error) {
	missing := fmt.Errorf("connecting %s accounts needs the operator's %s app: create one at %s with the redirect URI %s, "+
		"put its client ID and secret under %s.clientID and %s.clientSecret in a Secret in namespace %s, and start Herald with --platform-apps-secret naming it",
		p.Name, p.Name, p.Developer, redirectURI, p.appName(), p.appName(), a.Namespace)
	if a.Secret == "" || a.Reader == nil {
		return OAuthApp{}, missing
	}
	var sec corev1.Secret
	if err := a.Reader.Get(ctx, client.ObjectKey{Namespace: a.Namespace, Name: a.Secret}, &sec); err != nil {
		if apierrors.IsNotFound(err) {
			return OAuthApp{}, missing
		}
		return OAuthApp{}, err
	}
	app := OAuthApp{ClientID: strings.TrimSpace(string(sec.Data[p.appName()+".clientID"])), ClientSecret: strings.TrimSpace(string(sec.Data[p.appName()+".clientSecret"]))}
	if app.ClientID == "" {
		return OAuthApp{}, missing
	}
	return app, nil
}

// Refresher renews the access tokens of profiles on OAuth platforms.
type Refresher struct {
	HTTP      *http.Client
	Apps      Apps
	Providers map[v1alpha1.Platform]Provider
	// RedirectURI is the one registered with the apps, for messages.
	RedirectURI string
}

// Refreshes reports whether profiles on the platform have tokens to renew.
func (r *Refresher) Refreshes(p v1alpha1.Platform) bool {
	if r == nil {
		return false
	}
	pr, ok := r.Providers[p]
	return ok && !pr.NoRefresh
}

// Refresh renews a profile's tokens with its refresh token.
func (r *Refresher) Refresh(ctx context.Context, platform v1alpha1.Platform, refreshToken string, now time.Time) (Tokens, error) {
	p := r.Providers[platform]
	app, err := r.Apps.App(ctx, p, r.RedirectURI)
	if err != nil {
		return Tokens{}, err
	}
	return p.Refresh(ctx, r.HTTP, app, refreshToken, now)
}
