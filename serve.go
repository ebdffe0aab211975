package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strings"
	"sync/atomic"
	"time"

	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/manager"

	"github.com/herald-dev/herald/internal/devmode"
	"github.com/herald-dev/herald/internal/egress"
	"github.com/herald-dev/herald/internal/inflight"
	"github.com/herald-dev/herald/internal/publish"
	"github.com/herald-dev/herald/internal/publish/sandbox"
	"github.com/herald-dev/herald/mcpserver"
	"github.com/herald-dev/herald/mcpserver/oauth"
)

// httpOptions are the flags of Herald's HTTP side: MCP, OAuth and the sandbox feed.
type httpOptions struct {
	listen         string
	publicURL      string
	namespace      string
	toolPrefix     string
	allowedOrigins string
	// Registration limits; see oauth.Config.
	maxRegistrationsPerAddress int
	maxUnusedClients           int
	// Messages per second, and at once, one approved connection may send.
	mcpRate  float64
	mcpBurst int
	// trustedProxies are the networks whose X-Forwarded-For is believed.
	trustedProxies string
	// Bounds of one HTTP request: reading it, writing its answer, and an
	// idle keep-alive connection.
	readTimeout, writeTimeout, idleTimeout time.Duration
	// Sign-in through an OpenID Connect provider, when oidc.Issuer is set.
	oidc oauth.OIDCConfig
}

func (h *httpOptions) bindFlags(fs *flag.FlagSet) {
	fs.StringVar(&h.listen, "listen", "127.0.0.1:8080", "Address serving MCP (/mcp), OAuth (/oauth/*, /.well-known/*) and, with --dev, the sandbox feed (/sandbox/). In a cluster, :8080.")
	fs.StringVar(&h.publicURL, "public-url", "http://127.0.0.1:8080", "Base URL clients reach Herald at; the MCP URL is this plus /mcp and tokens are bound to it.")
	fs.StringVar(&h.namespace, "namespace", envOr("POD_NAMESPACE", "herald-system"), "Herald's own namespace: the users, signing keys and OAuth sessions live in Secrets there.")
	fs.StringVar(&h.toolPrefix, "tool-prefix", "ocoya", "Prefix of every MCP tool name, so prompts written for the hosted product work unchanged.")
	fs.StringVar(&h.allowedOrigins, "allowed-origins", "", "Comma-separated browser origins, besides the public URL's, that may call /mcp.")
	fs.IntVar(&h.maxRegistrationsPerAddress, "max-registrations-per-address", 30, "OAuth client registrations accepted from one client address (an IPv6 /64) per hour.")
	fs.DurationVar(&h.readTimeout, "http-read-timeout", 30*time.Second, "Longest a client may take to send a request, body included; a slower one is disconnected.")
	fs.DurationVar(&h.writeTimeout, "http-write-timeout", 2*time.Minute, "Longest one answer may take; the MCP event stream (GET /mcp) is exempt.")
	fs.DurationVar(&h.idleTimeout, "http-idle-timeout", 2*time.Minute, "Longest an idle keep-alive connection stays open.")
	fs.StringVar(&h.trustedProxies, "trusted-proxies", "", "Comma-separated networks (CIDR) of the proxies in front of Herald, such as the ingress controller's pod range; from them X-Forwarded-For names the client whose failed sign-ins and registrations are counted. Unset, every client behind a proxy shares the proxy's address.")
	fs.Float64Var(&h.mcpRate, "mcp-rate", 20, "JSON-RPC messages per second one approved connection may send to /mcp, sustained (a batch counts each message); more are answered 429 with Retry-After. 0 sets no limit.")
	fs.IntVar(&h.mcpBurst, "mcp-burst", 100, "Messages one approved connection may send at once above --mcp-rate; at least 50, one full batch.")
	fs.StringVar(&h.oidc.Issuer, "oidc-issuer", "", "Issuer URL of an OpenID Connect provider people may sign in with, besides local users; empty offers local users only.")
	fs.StringVar(&h.oidc.Name, "oidc-name", "your organisation", "Name on the sign-in button: Sign in with <name>.")
	fs.StringVar(&h.oidc.ClientID, "oidc-client-id", "", "Herald's client id at the OpenID Connect provider; its redirect URI is the public URL plus /oauth/oidc/callback.")
	fs.StringVar(&h.oidc.ClientSecretName, "oidc-client-secret", "", "Secret in --namespace holding the provider's client secret under the key clientSecret; empty for a public client.")
	fs.StringVar(&h.oidc.SubjectClaim, "oidc-subject-claim", "email", "ID-token claim that names the person in Workspace members. email is accepted only when email_verified is true; any other claim's value is prefixed by the issuer's host.")
	fs.IntVar(&h.maxUnusedClients, "max-unused-clients", 1000, "Dynamically registered OAuth clients that never completed a sign-in (removed an hour after registering) Herald holds before it refuses new registrations.")
}

func envOr(key, fallback string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return fallback
}

// oidcConfig is nil unless --oidc-issuer is set.
func (h *httpOptions) oidcConfig() *oauth.OIDCConfig {
	if h.oidc.Issuer == "" {
		return nil
	}
	c := h.oidc
	return &c
}

func (h *httpOptions) origins() []string {
	var out []string
	for _, o := range strings.Split(h.allowedOrigins, ",") {
		if o = strings.TrimSpace(o); o != "" {
			out = append(out, o)
		}
	}
	return out
}

// setupHTTP builds the authorization server and the MCP server and adds the
// listener to the manager. In dev mode it also creates the local user.
func setupHTTP(ctx context.Context, mgr manager.Manager, h httpOptions, dev bool, feed *sandbox.Feed, inFlight *inflight.Tracker, outbound *http.Client, publishers publish.Registry, platformApps string) error {
	if dev {
		password, generated := os.Getenv("HERALD_DEV_PASSWORD"), false
		if password == "" {
			password, generated = randomPassword(), true
		}
		// The manager's client reads from caches that start later; these
		// writes happen before, so they go straight to the API server.
		direct, err := client.New(mgr.GetConfig(), client.Options{Scheme: mgr.GetScheme()})
		if err != nil {
			return err
		}
		if err := devmode.EnsureNamespace(ctx, direct, h.namespace); err != nil {
			return err
		}
		if err := oauth.EnsureLocalUser(ctx, direct, h.namespace, devmode.DevUser, password); err != nil {
			return err
		}
		printDevInstructions(h, password, generated)
	}

	if u, err := url.Parse(h.publicURL); err == nil && u.Scheme == "http" && !dev {
		ctrl.Log.WithName("oauth").Info("the public URL is plain http: passwords, sign-in cookies and tokens cross the network unencrypted; serve Herald behind TLS (config/components/ingress, cert-manager) outside a trusted network", "publicURL", h.publicURL)
	}
	proxies, err := egress.ParsePrefixes(h.trustedProxies)
	if err != nil {
		return fmt.Errorf("--trusted-proxies: %w", err)
	}
	authz, err := oauth.New(oauth.Config{
		PublicURL: h.publicURL, Namespace: h.namespace, DevMode: dev, AllowedOrigins: h.origins(),
		MaxRegistrationsPerAddress: h.maxRegistrationsPerAddress, MaxUnusedClients: h.maxUnusedClients, TrustedProxies: proxies,
		Recorder: mgr.GetEventRecorder("herald-oauth"), OIDC: h.oidcConfig(), Outbound: outbound, Publishers: publishers, PlatformApps: platformApps,
		InFlight: inFlight,
	}, mgr.GetClient(), mgr.GetAPIReader())
	if err != nil {
		return fmt.Errorf("starting the authorization server: %w", err)
	}
	if err := mgr.Add(authz); err != nil {
		return err
	}
	mcp, err := mcpserver.New(mcpserver.Options{
		Client: mgr.GetClient(), APIReader: mgr.GetAPIReader(), Cache: mgr.GetCache(), ToolPrefix: h.toolPrefix,
		Authenticate: authz.RequireToken, RateLimit: mcpserver.RateLimit{Rate: h.mcpRate, Burst: h.mcpBurst}, PublicURL: h.publicURL,
		Outbound: outbound,
	})
	if err != nil {
		return err
	}

	mux := http.NewServeMux()
	mux.Handle("/mcp", streamsUnbounded(mcp.Handler()))
	authz.Routes(mux)
	if dev {
		// The feed shows every workspace's sandbox posts to whoever asks:
		// a development aid, not served by a deployed Herald.
		mux.Handle("/sandbox/", feed.Handler("/sandbox"))
	}
	l := &listener{addr: h.listen, handler: withRequestID(mux), cache: mgr.GetCache(), inFlight: inFlight, opts: h}
	// Ready means this replica answers MCP with every object in its
	// caches; a Service sends it requests only then, and stops as soon as
	// it begins to shut down.
	if err := mgr.AddReadyzCheck("mcp", l.ready); err != nil {
		return err
	}
	return mgr.Add(l)
}

// listener serves Herald's HTTP side on every replica, once the informer
// caches have synced, so the first request already sees every object.
type listener struct {
	addr     string
	handler  http.Handler
	cache    cache.Cache
	inFlight *inflight.Tracker
	opts     httpOptions
	serving  atomic.Bool
}

func (l *listener) ready(*http.Request) error {
	if !l.serving.Load() {
		return errors.New("not serving MCP: waiting for the informer caches to sync, or shutting down")
	}
	return nil
}

func (l *listener) NeedLeaderElection() bool { return false }

func (l *listener) Start(ctx context.Context) error {
	if !l.cache.WaitForCacheSync(ctx) {
		return errors.New("the informer caches did not sync")
	}
	ln, err := net.Listen("tcp", l.addr)
	if err != nil {
		return fmt.Errorf("listening on %s (change it with --listen): %w", l.addr, err)
	}
	// Every phase of a connection is bounded, so slow or idle clients
	// cannot hold descriptors.
	srv := &http.Server{Handler: l.handler, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: l.opts.readTimeout,
		WriteTimeout: l.opts.writeTimeout, IdleTimeout: l.opts.idleTimeout, MaxHeaderBytes: 64 << 10}
	drained := make(chan struct{})
	go func() {
		defer close(drained)
		<-ctx.Done()
		l.serving.Store(false)
		defer l.inFlight.Begin("HTTP requests finishing")()
		shutdown, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdown)
	}()
	l.serving.Store(true)
	ctrl.Log.WithName("http").Info("serving MCP", "url", "http://"+ln.Addr().String()+"/mcp")
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	<-drained // Serve returns at once; the requests under way finish here
	return nil
}

// streamsUnbounded lifts the write and read deadlines of the MCP event
// stream (GET /mcp), which stays open for as long as the client listens.
func streamsUnbounded(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet {
			rc := http.NewResponseController(w)
			_ = rc.SetWriteDeadline(time.Time{})
			_ = rc.SetReadDeadline(time.Time{})
		}
		next.ServeHTTP(w, r)
	})
}

// requestIDPattern is what a proxy's X-Request-Id must look like to be kept:
// anything else (or none) gets an id of Herald's own.
var requestIDPattern = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

// withRequestID gives each request an id, answered in X-Request-Id and
// carried by every log line written for the request, so a person can find
// what Herald logged about a failed call.
func withRequestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get("X-Request-Id")
		if !requestIDPattern.MatchString(id) {
			b := make([]byte, 8)
			_, _ = rand.Read(b)
			id = hex.EncodeToString(b)
		}
		w.Header().Set("X-Request-Id", id)
		ctx := logf.IntoContext(r.Context(), ctrl.Log.WithValues("requestID", id))
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

func randomPassword() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func printDevInstructions(h httpOptions, password string, generated bool) {
	mcpURL := strings.TrimSuffix(h.publicURL, "/") + "/mcp"
	shown := "(from HERALD_DEV_PASSWORD)"
	if generated {
		shown = password + "   (generated; set HERALD_DEV_PASSWORD to choose one)"
	}
	fmt.Fprintf(os.Stderr, `
  MCP endpoint: %[1]s
  sign in as:   %[2]s / %[3]s

  Claude Code:  claude mcp add --transport http herald %[1]s
  Cursor / VS Code (mcp.json):
    { "mcpServers": { "herald": { "url": "%[1]s" } } }

`, mcpURL, devmode.DevUser, shown)
}
