package oauth

import (
	"context"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// OIDCConfig adds sign-in through an upstream OpenID Connect provider, next
// to local users. Its redirect URI is PublicURL + "/oauth/oidc/callback".
type OIDCConfig struct {
	// Name labels the button: "Sign in with <Name>".
	Name string
	// Issuer is the provider's issuer URL (discovery is fetched from it).
	Issuer string
	// ClientID is Herald's client at the provider.
	ClientID string
	// ClientSecretName names the Secret in Config.Namespace holding the client
	// secret under ClientSecretKey (default "clientSecret"). Empty: a public client.
	ClientSecretName string
	ClientSecretKey  string
	// SubjectClaim is the ID-token claim that becomes the Herald subject (the
	// value Workspace members list). Default "email": the address itself,
	// accepted only when email_verified is true. Any other claim's value
	// becomes "<issuer host>/<value>", such as "idp.example.com/248289761001",
	// so it can never name a local user (whose names hold neither @ nor /).
	SubjectClaim string
}

const oidcFlowLifetime = 10 * time.Minute

// oidcLogin holds the provider, discovered on first use so that a provider
// that is down does not stop Herald from starting.
type oidcLogin struct {
	cfg      OIDCConfig
	mu       sync.Mutex
	provider *oidc.Provider
}

func (o *oidcLogin) get(ctx context.Context) (*oidc.Provider, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.provider != nil {
		return o.provider, nil
	}
	p, err := oidc.NewProvider(ctx, o.cfg.Issuer)
	if err != nil {
		return nil, err
	}
	o.provider = p
	return p, nil
}

func (s *Server) oauth2Config(ctx context.Context, r *http.Request, p *oidc.Provider) (*oauth2.Config, error) {
	conf := &oauth2.Config{
		ClientID: s.oidc.cfg.ClientID, Endpoint: p.Endpoint(),
		RedirectURL: s.baseFor(r) + "/oauth/oidc/callback",
		Scopes:      []string{oidc.ScopeOpenID, "email", "profile"},
	}
	if name := s.oidc.cfg.ClientSecretName; name != "" {
		key := s.oidc.cfg.ClientSecretKey
		if key == "" {
			key = "clientSecret"
		}
		var sec corev1.Secret
		if err := s.apiReader.Get(ctx, client.ObjectKey{Namespace: s.cfg.Namespace, Name: name}, &sec); err != nil {
			return nil, fmt.Errorf("reading the OIDC client secret from Secret %s/%s: %w", s.cfg.Namespace, name, err)
		}
		conf.ClientSecret = strings.TrimSpace(string(sec.Data[key]))
	}
	return conf, nil
}

// oidcFlow is what the browser carries, signed, between start and callback.
type oidcFlow struct {
	State    string `json:"s"`
	Nonce    string `json:"n"`
	Verifier string `json:"v"`
	Return   string `json:"r"`
	Expires  int64  `json:"e"`
}

// handleOIDCStart sends the browser to the provider, remembering in a signed
// cookie where to come back to (only ever an /oauth/authorize URL).
func (s *Server) handleOIDCStart(w http.ResponseWriter, r *http.Request) {
	ret := r.URL.Query().Get("return")
	if !strings.HasPrefix(ret, "/oauth/authorize?") {
		s.pages.errorPage(w, http.StatusBadRequest, "Cannot sign in", "This sign-in link is incomplete; go back to the app and connect again.")
		return
	}
	p, err := s.oidc.get(r.Context())
	if err != nil {
		logFor(r.Context()).Error(err, "OIDC discovery failed", "issuer", s.oidc.cfg.Issuer)
		s.pages.errorPage(w, http.StatusBadGateway, "Cannot sign in", "The identity provider cannot be reached right now; try again in a moment or sign in with a local account.")
		return
	}
	conf, err := s.oauth2Config(r.Context(), r, p)
	if err != nil {
		logFor(r.Context()).Error(err, "OIDC configuration incomplete")
		s.pages.errorPage(w, http.StatusInternalServerError, "Cannot sign in", "Sign-in through the identity provider is misconfigured; tell the operator.")
		return
	}
	f := oidcFlow{State: randomToken(16), Nonce: randomToken(16), Verifier: oauth2.GenerateVerifier(), Return: ret, Expires: s.clock.Now().Add(oidcFlowLifetime).Unix()}
	body, _ := json.Marshal(f)
	payload := base64.RawURLEncoding.EncodeToString(body)
	s.setCookie(w, "oidc", payload+"."+s.mac("oidc", payload), oidcFlowLifetime)
	http.Redirect(w, r, conf.AuthCodeURL(f.State, oidc.Nonce(f.Nonce), oauth2.S256ChallengeOption(f.Verifier)), http.StatusFound)
}

// handleOIDCCallback finishes the provider's flow and signs the user in.
func (s *Server) handleOIDCCallback(w http.ResponseWriter, r *http.Request) {
	fail := func(status int, msg string) {
		s.pages.errorPage(w, status, "Sign-in failed", msg)
	}
	f, ok := s.readOIDCFlow(r)
	if !ok || subtle.ConstantTimeCompare([]byte(r.URL.Query().Get("state")), []byte(f.State)) != 1 {
		fail(http.StatusBadRequest, "This sign-in took too long or was started in another browser; go back to the app and connect again.")
		return
	}
	s.setCookie(w, "oidc", "", -time.Second)
	if e := r.URL.Query().Get("error"); e != "" {
		fail(http.StatusUnauthorized, "The identity provider refused the sign-in ("+e+"); try again or use a local account.")
		return
	}
	ctx := r.Context()
	p, err := s.oidc.get(ctx)
	if err != nil {
		fail(http.StatusBadGateway, "The identity provider cannot be reached right now; try again in a moment.")
		return
	}
	conf, err := s.oauth2Config(ctx, r, p)
	if err != nil {
		logFor(r.Context()).Error(err, "OIDC configuration incomplete")
		fail(http.StatusInternalServerError, "Sign-in through the identity provider is misconfigured; tell the operator.")
		return
	}
	tok, err := conf.Exchange(ctx, r.URL.Query().Get("code"), oauth2.VerifierOption(f.Verifier))
	if err != nil {
		logFor(r.Context()).Info("OIDC code exchange failed", "issuer", s.oidc.cfg.Issuer, "reason", oauthErrorCode(err))
		fail(http.StatusBadGateway, "The identity provider did not accept the sign-in; try again.")
		return
	}
	raw, _ := tok.Extra("id_token").(string)
	idt, err := p.VerifierContext(ctx, &oidc.Config{ClientID: conf.ClientID, Now: s.clock.Now}).Verify(ctx, raw)
	if err != nil || idt.Nonce != f.Nonce {
		logFor(r.Context()).Info("OIDC ID token rejected", "issuer", s.oidc.cfg.Issuer)
		fail(http.StatusUnauthorized, "The identity provider's answer could not be verified; try again.")
		return
	}
	subject, err := s.oidcSubject(idt)
	if err != nil {
		fail(http.StatusUnauthorized, err.Error())
		return
	}
	logFor(r.Context()).Info("signed in through OIDC", "user", subject, "issuer", s.oidc.cfg.Issuer)
	s.setLogin(w, subject)
	http.Redirect(w, r, f.Return, http.StatusSeeOther)
}

func (s *Server) readOIDCFlow(r *http.Request) (oidcFlow, bool) {
	var f oidcFlow
	c, err := r.Cookie(s.cookieName("oidc"))
	if err != nil {
		return f, false
	}
	payload, sig, ok := strings.Cut(c.Value, ".")
	if !ok || sig != s.mac("oidc", payload) {
		return f, false
	}
	body, err := base64.RawURLEncoding.DecodeString(payload)
	if err != nil || json.Unmarshal(body, &f) != nil || s.clock.Now().Unix() >= f.Expires || !strings.HasPrefix(f.Return, "/oauth/authorize?") {
		return f, false
	}
	return f, true
}

func (s *Server) oidcSubject(idt *oidc.IDToken) (string, error) {
	claim := s.oidc.cfg.SubjectClaim
	if claim == "" {
		claim = "email"
	}
	var all map[string]any
	if err := idt.Claims(&all); err != nil {
		return "", fmt.Errorf("the identity provider's answer has unreadable claims; try again")
	}
	v, _ := all[claim].(string)
	if v == "" {
		return "", fmt.Errorf("the identity provider did not share your %s; allow it to, or ask the operator to change the subject claim", claim)
	}
	if claim != "email" {
		// Any other claim is the provider's to say, not a proof of an
		// address: it is named by the provider, so it can never be taken
		// for a local user or for another provider's user.
		return issuerHost(s.oidc.cfg.Issuer) + "/" + v, nil
	}
	// Only an address the provider says it verified (the JSON value true,
	// not a missing claim or the string "true") names a person.
	if verified, ok := all["email_verified"].(bool); !ok || !verified {
		return "", fmt.Errorf("your e-mail address %s is not verified at the identity provider; verify it there and try again", v)
	}
	return v, nil
}

// issuerHost is the host (and port) of an issuer URL, which prefixes the
// subjects it names.
func issuerHost(issuer string) string {
	if u, err := url.Parse(issuer); err == nil && u.Host != "" {
		return u.Host
	}
	return issuer
}

// oauthErrorCode keeps a provider's error code for the log, not its body.
func oauthErrorCode(err error) string {
	if re, ok := err.(*oauth2.RetrieveError); ok {
		return re.ErrorCode
	}
	return "transport error"
}

// oidcStartURL is the link on the login page.
func oidcStartURL(authorizeRequestURI string) string {
	return "/oauth/oidc/start?return=" + url.QueryEscape(authorizeRequestURI)
}
