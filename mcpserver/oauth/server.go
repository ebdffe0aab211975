package oauth

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"time"

	"github.com/go-logr/logr"
	"github.com/ory/fosite"
	"github.com/ory/fosite/compose"
	"github.com/ory/fosite/handler/oauth2"
	"github.com/ory/fosite/token/jwt"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/client"
	logf "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/herald-dev/herald/api/v1alpha1"
	"github.com/herald-dev/herald/internal/connect"
	"github.com/herald-dev/herald/internal/inflight"
	"github.com/herald-dev/herald/internal/publish"
)

// Lifetimes of what the server issues.
const (
	AccessTokenLifetime  = 15 * time.Minute
	RefreshTokenLifetime = 30 * 24 * time.Hour
	CodeLifetime         = 5 * time.Minute
	LoginLifetime        = 12 * time.Hour
	// RefreshGracePeriod is how long a rotated refresh token still works, for
	// a client that retries a refresh whose answer it lost (see package doc).
	RefreshGracePeriod = 10 * time.Second
	// RotatedRefreshRetention is how long a rotated refresh token is kept to
	// detect its reuse; presented later, it is merely unknown (invalid_grant).
	RotatedRefreshRetention = 7 * 24 * time.Hour
	// UnusedClientTTL is how long a dynamically registered client may stay
	// without ever being approved before it is garbage-collected.
	UnusedClientTTL = time.Hour
)

// Config configures the authorization server.
type Config struct {
	// PublicURL is the base URL clients reach Herald at, such as
	// http://127.0.0.1:8080. The issuer and the MCP URL (PublicURL+"/mcp")
	// derive from it, never from a request's Host header.
	PublicURL string
	// Namespace is the operator's namespace, holding the users, key and token Secrets.
	Namespace string
	// DevMode relaxes cookies to plain names without Secure when PublicURL is
	// plain-http loopback, and treats localhost, 127.0.0.1 and [::1] as one host.
	DevMode bool
	// AllowedOrigins are browser origins, besides PublicURL's, that may call /mcp.
	AllowedOrigins []string
	// Clock tells the time for token expiry checks and clean-up; real by default.
	Clock clock.PassiveClock
	// OIDC, when set, offers sign-in through an upstream OpenID Connect provider.
	OIDC *OIDCConfig
	// MaxRegistrationsPerAddress bounds dynamic client registrations from one
	// client address per hour; 0 means 30. Behind a proxy every client has
	// the proxy's address, so raise it there.
	MaxRegistrationsPerAddress int
	// MaxUnusedClients bounds the dynamic clients that never completed a
	// sign-in (removed an hour after registering); registration is refused
	// while there are this many; 0 means 1000.
	MaxUnusedClients int
	// Recorder, when set, records events on grants (a refresh token used
	// twice within RefreshGracePeriod).
	Recorder events.EventRecorder
	// TrustedProxies are the networks of the proxies in front of Herald
	// (an ingress controller); from them, X-Forwarded-For says which
	// client the sign-in and registration limits count. Empty trusts no
	// proxy: every client behind one shares its address.
	TrustedProxies []netip.Prefix
	// Outbound fetches client ID metadata documents. It should be a
	// guarded client (internal/egress): the URL is whatever a client sends.
	// Herald never follows a redirect for a document, whatever the client's
	// own policy.
	Outbound *http.Client
	// Publishers verify an account connected on the connection pages
	// before it is saved.
	Publishers publish.Registry
	// PlatformApps names the Secret, in Namespace, holding the operator's
	// OAuth apps (x.clientID, x.clientSecret); empty connects no X account.
	PlatformApps string
	// Providers are the OAuth platforms connected with those apps; nil
	// means connect.Providers (tests point them at fakes).
	Providers map[v1alpha1.Platform]connect.Provider
	// InFlight records each clean-up sweep under way, so a shutdown that
	// overruns its grace period names it; nil records nothing.
	InFlight *inflight.Tracker
}

// Server is the authorization server plus the /mcp resource-server middleware.
type Server struct {
	cfg       Config
	public    *url.URL
	c         client.Client
	apiReader client.Reader
	clock     clock.PassiveClock

	keys     *keySet
	provider fosite.OAuth2Provider
	store    *store
	pages    *pages
	limiter  *loginLimiter
	// registrations counts dynamic client registrations per address.
	registrations *windowLimiter
	// tokenRequests counts requests to /oauth/token per address.
	tokenRequests *windowLimiter
	tokens        *tokenCache
	lastUse       *useRecorder
	clients       *clientDirectory
	mastodon      *connect.MastodonApps
	apps          connect.Apps
	providers     map[v1alpha1.Platform]connect.Provider
	oidc          *oidcLogin
}

var log = logf.Log.WithName("oauth")

// logFor is the request's logger (with its request id, when the HTTP
// server set one) named for the authorization server.
func logFor(ctx context.Context) logr.Logger {
	return logf.FromContext(ctx).WithName("oauth")
}

// New builds the server. It loads or creates the signing keys Secret, so the
// API server must be reachable; c may be a cached client, apiReader must not be.
func New(cfg Config, c client.Client, apiReader client.Reader) (*Server, error) {
	public, err := parsePublicURL(cfg.PublicURL)
	if err != nil {
		return nil, err
	}
	if cfg.Namespace == "" {
		return nil, errors.New("oauth: Namespace is empty; set it to the operator's namespace, where the users and token Secrets live")
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.RealClock{}
	}
	if cfg.MaxRegistrationsPerAddress < 0 || cfg.MaxUnusedClients < 0 {
		return nil, fmt.Errorf("oauth: registration limits must be positive, or 0 for the defaults")
	}
	if cfg.MaxRegistrationsPerAddress == 0 {
		cfg.MaxRegistrationsPerAddress = defaultMaxRegistrationsPerAddr
	}
	if cfg.MaxUnusedClients == 0 {
		cfg.MaxUnusedClients = defaultMaxUnusedClients
	}
	s := &Server{cfg: cfg, public: public, c: c, apiReader: apiReader, clock: cfg.Clock}

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if s.keys, err = loadOrCreateKeys(ctx, c, apiReader, cfg.Namespace); err != nil {
		return nil, err
	}
	s.clients = &clientDirectory{
		c: c, r: apiReader, unknown: newUnknownClients(cfg.Clock), ns: cfg.Namespace, audience: s.mcpURL(),
		docs: newMetadataDocuments(cfg.Outbound, cfg.Clock, cfg.DevMode),
	}
	s.apps = connect.Apps{Reader: apiReader, Namespace: cfg.Namespace, Secret: cfg.PlatformApps}
	if s.providers = cfg.Providers; s.providers == nil {
		s.providers = connect.Providers
	}
	s.mastodon = &connect.MastodonApps{HTTP: cfg.Outbound, Client: c, Reader: apiReader, Namespace: cfg.Namespace, Website: public.String()}
	s.store = &store{c: c, r: apiReader, ns: cfg.Namespace, clock: cfg.Clock, mcpURL: s.mcpURL(), onReuse: s.revokeGrantByName, onGrace: s.noteGraceUse, userRemoved: s.userRemoved, clients: s.clients}
	s.pages = mustParsePages()
	s.limiter = newLoginLimiter(cfg.Clock)
	s.registrations = newWindowLimiter(cfg.Clock, registrationWindow)
	s.tokenRequests = newWindowLimiter(cfg.Clock, tokenWindow)
	s.tokens = newTokenCache()
	s.lastUse = newUseRecorder()
	s.provider = s.newProvider()
	if cfg.OIDC != nil {
		if cfg.OIDC.Issuer == "" || cfg.OIDC.ClientID == "" {
			return nil, errors.New("oauth: OIDC needs Issuer and ClientID; set both or leave OIDC unset")
		}
		s.oidc = &oidcLogin{cfg: *cfg.OIDC}
	}
	return s, nil
}

func (s *Server) newProvider() fosite.OAuth2Provider {
	fc := &fosite.Config{
		AccessTokenLifespan:   AccessTokenLifetime,
		RefreshTokenLifespan:  RefreshTokenLifetime,
		AuthorizeCodeLifespan: CodeLifetime,
		// Every MCP client needs refresh tokens, and most never ask for offline_access.
		RefreshTokenScopes:             []string{},
		GlobalSecret:                   s.keys.hmacSecret,
		EnforcePKCE:                    true,
		EnablePKCEPlainChallengeMethod: false,
		AccessTokenIssuer:              s.issuer(),
		JWTScopeClaimKey:               jwt.JWTScopeFieldString,
		ScopeStrategy:                  fosite.ExactScopeStrategy,
		// fosite insists on a state of at least 8 characters (values below 1
		// fall back to 8); every MCP client we know sends a longer random one.
		MinParameterEntropy:        fosite.MinParameterEntropy,
		SendDebugMessagesToClients: false,
	}
	strategy := &compose.CommonStrategy{CoreStrategy: &oauth2.DefaultJWTStrategy{
		Signer:          newKidSigner(s.keys),
		HMACSHAStrategy: compose.NewOAuth2HMACStrategy(fc),
		Config:          fc,
	}}
	return compose.Compose(fc, s.store, strategy,
		compose.OAuth2AuthorizeExplicitFactory,
		compose.OAuth2RefreshTokenGrantFactory,
		compose.OAuth2PKCEFactory,
		compose.OAuth2TokenRevocationFactory,
	)
}

// Routes registers discovery and the /oauth/* endpoints on mux.
func (s *Server) Routes(mux *http.ServeMux) {
	mux.HandleFunc("GET /.well-known/oauth-protected-resource", s.handleResourceMetadata)
	mux.HandleFunc("GET /.well-known/oauth-protected-resource/mcp", s.handleResourceMetadata)
	mux.HandleFunc("GET /.well-known/oauth-authorization-server", s.handleServerMetadata)
	mux.HandleFunc("POST /oauth/register", s.handleRegister)
	mux.HandleFunc("GET /oauth/authorize", s.handleAuthorize)
	mux.HandleFunc("POST /oauth/authorize", s.handleAuthorize)
	mux.HandleFunc("POST /oauth/token", s.handleToken)
	mux.HandleFunc("POST /oauth/revoke", s.handleRevoke)
	mux.HandleFunc("GET /oauth/jwks", s.handleJWKS)
	mux.HandleFunc("GET /approve/{workspace}/{post}", s.handleApproval)
	mux.HandleFunc("POST /approve/{workspace}/{post}", s.handleApproval)
	mux.HandleFunc("GET "+ConnectCallbackPath, s.handleConnectCallback)
	mux.HandleFunc("POST "+ConnectChoosePath, s.handleConnectChoose)
	mux.HandleFunc("GET /connect/{workspace}/{platform}", s.handleConnect)
	mux.HandleFunc("POST /connect/{workspace}/{platform}", s.handleConnect)
	if s.oidc != nil {
		mux.HandleFunc("GET /oauth/oidc/start", s.handleOIDCStart)
		mux.HandleFunc("GET /oauth/oidc/callback", s.handleOIDCCallback)
	}
}

func parsePublicURL(raw string) (*url.URL, error) {
	u, err := url.Parse(strings.TrimSuffix(raw, "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("oauth: PublicURL %q is not an absolute http(s) URL without query; set --public-url to the address clients use, such as https://herald.example.com", raw)
	}
	return u, nil
}

// issuer is the canonical issuer: the public URL.
func (s *Server) issuer() string { return s.public.String() }

// mcpURL is the canonical resource: the MCP endpoint.
func (s *Server) mcpURL() string { return s.public.String() + "/mcp" }

// devLoopback reports whether dev mode's loopback aliasing applies.
func (s *Server) devLoopback() bool {
	return s.cfg.DevMode && s.public.Scheme == "http" && isLoopbackHost(s.public.Hostname())
}

func isLoopbackHost(h string) bool {
	if h == "localhost" {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

// baseFor is the base URL to show a request: the public URL, or in dev mode
// the loopback alias the request used, so that a user who typed localhost
// sees consistent metadata and is not refused.
func (s *Server) baseFor(r *http.Request) string {
	if !s.devLoopback() {
		return s.public.String()
	}
	host, port, err := net.SplitHostPort(r.Host)
	if err != nil || port != s.public.Port() || !isLoopbackHost(host) {
		return s.public.String()
	}
	return s.public.Scheme + "://" + r.Host + s.public.Path
}

// isOurResource reports whether a resource indicator or audience names the MCP URL.
func (s *Server) isOurResource(v string) bool {
	if v == s.mcpURL() {
		return true
	}
	if !s.devLoopback() {
		return false
	}
	u, err := url.Parse(v)
	if err != nil || u.Scheme != s.public.Scheme || u.Port() != s.public.Port() || !isLoopbackHost(u.Hostname()) {
		return false
	}
	return u.Path == s.public.Path+"/mcp" && u.RawQuery == "" && u.Fragment == ""
}

// isOurIssuer reports whether a token's iss is this server (or a dev alias).
func (s *Server) isOurIssuer(v string) bool {
	return v == s.issuer() || (s.devLoopback() && s.isOurResource(v+"/mcp"))
}
