// Package mcpserver is Herald's MCP server: the tool catalogue over Streamable
// HTTP, JSON-RPC batches, and every tool scoped to the caller's OAuth grant.
package mcpserver

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"
	"k8s.io/utils/clock"
	ctrlcache "sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	socialv1alpha1 "github.com/herald-dev/herald/api/v1alpha1"
	"github.com/herald-dev/herald/mcpserver/oauth"
)

// Caller is who a request comes from, as the OAuth middleware established it.
type Caller = oauth.Caller

// allowed reports whether the caller's grant carries scope; the empty scope
// (get_me) is carried by every valid token.
func allowed(c *Caller, scope socialv1alpha1.Scope) bool {
	return c != nil && (scope == "" || c.HasScope(scope))
}

// Options configure the MCP server.
type Options struct {
	// Client reads from the informer cache and writes to the API server.
	Client client.Client
	// APIReader reads around the cache, where an object just written must be seen.
	APIReader client.Reader
	// Cache, when set, feeds the index ocoya_list_posts pages through.
	Cache ctrlcache.Cache
	// ToolPrefix is put before every tool name with an underscore; default "ocoya".
	ToolPrefix string
	// PublicURL is Herald's public base URL; /mcp is appended for the endpoint.
	PublicURL string
	// AllowedOrigins may send browser requests besides the public URL's origin.
	AllowedOrigins []string
	// DevMode treats the loopback aliases of a loopback public URL as one origin.
	DevMode bool
	// Authenticate is the OAuth resource-server middleware (oauth.Server's
	// RequireToken); it answers 401 itself and otherwise puts the caller in the
	// request context, where oauth.CallerFrom finds it.
	Authenticate func(http.Handler) http.Handler
	// Clock tells the time; real by default.
	Clock clock.PassiveClock
	// Version is reported in the initialize result.
	Version string
}

// Server serves the MCP endpoint.
type Server struct {
	opts      Options
	client    client.Client
	clock     clock.PassiveClock
	tools     map[string]Tool
	readTools map[string]readTool
	index     *postIndex
	mcp       *server.MCPServer
	transport *server.StreamableHTTPServer
	sessions  *sessions
}

// New builds the server and registers the catalogue.
func New(o Options) (*Server, error) {
	if o.Client == nil || o.Authenticate == nil {
		return nil, fmt.Errorf("mcpserver: Client and Authenticate are required")
	}
	if o.ToolPrefix == "" {
		o.ToolPrefix = "ocoya"
	}
	if o.Clock == nil {
		o.Clock = clock.RealClock{}
	}
	if o.Version == "" {
		o.Version = "dev"
	}
	s := &Server{opts: o, client: o.Client, clock: o.Clock, tools: map[string]Tool{}, sessions: &sessions{}}
	if o.Cache != nil {
		idx, err := newPostIndex(context.Background(), o.Cache)
		if err != nil {
			return nil, err
		}
		s.index = idx
	}
	s.mcp = server.NewMCPServer("herald", o.Version,
		server.WithToolCapabilities(false),
		server.WithInputSchemaValidation(),
		server.WithRecovery(),
		server.WithInstructions(instructions(o.ToolPrefix)),
		server.WithToolFilter(s.visibleTools),
	)
	for _, t := range Catalogue(o.ToolPrefix) {
		s.tools[t.Name] = t
		s.mcp.AddTool(t.mcpTool(), s.callHandler(t))
	}
	var err error
	if s.readTools, err = compileReadTools(s.tools); err != nil {
		return nil, err
	}
	// The Host check against DNS rebinding stays on; Herald adds the Origin check.
	s.transport = server.NewStreamableHTTPServer(s.mcp, server.WithEndpointPath("/mcp"), server.WithSessionIdManager(s.sessions))
	return s, nil
}

func instructions(prefix string) string {
	return fmt.Sprintf("Herald publishes social media posts for the workspaces this connection was approved for. "+
		"Start with %s to see those workspaces, then %s for the profile ids to post to. "+
		"Times are RFC 3339 with an offset, such as 2026-07-01T09:00:00Z.",
		prefixed(prefix, "list_workspaces"), prefixed(prefix, "list_social_profiles"))
}

// visibleTools hides the tools whose scope the caller's grant lacks.
func (s *Server) visibleTools(ctx context.Context, tools []mcp.Tool) []mcp.Tool {
	caller, ok := oauth.CallerFrom(ctx)
	if !ok {
		return nil
	}
	out := tools[:0:0]
	for _, t := range tools {
		if allowed(caller, s.tools[t.Name].Scope) {
			out = append(out, t)
		}
	}
	return out
}

func (s *Server) callHandler(t Tool) server.ToolHandlerFunc {
	return func(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		caller, ok := oauth.CallerFrom(ctx)
		if !ok || !allowed(caller, t.Scope) {
			return mcp.NewToolResultError(fmt.Sprintf("%s needs the %s scope; reconnect and approve it", t.Name, t.Scope)), nil
		}
		args := req.Params.RawArguments // as sent: no second encoding
		if len(args) == 0 {
			var err error
			if args, err = json.Marshal(req.Params.Arguments); err != nil {
				return mcp.NewToolResultError("arguments must be a JSON object"), nil
			}
		}
		out, err := t.handle(ctx, s, args)
		return result(out, err), nil
	}
}

// Handler serves /mcp: the Origin check, then OAuth, then scope checks and batches.
func (s *Server) Handler() http.Handler {
	return s.checkOrigin(s.opts.Authenticate(http.HandlerFunc(s.serveMCP)))
}

// checkOrigin refuses browser requests from other sites; requests without an
// Origin (non-browser clients) pass.
func (s *Server) checkOrigin(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		origin := r.Header.Get("Origin")
		if origin != "" && !s.originAllowed(origin) {
			http.Error(w, fmt.Sprintf("Forbidden: requests from origin %q are not allowed; add it to --allowed-origins if it is yours", origin), http.StatusForbidden)
			return
		}
		next.ServeHTTP(w, r)
	})
}

func (s *Server) originAllowed(origin string) bool {
	if slices.Contains(s.opts.AllowedOrigins, origin) {
		return true
	}
	pub, err := url.Parse(s.opts.PublicURL)
	if err != nil {
		return false
	}
	o, err := url.Parse(origin)
	if err != nil {
		return false
	}
	if strings.EqualFold(o.Scheme+"://"+o.Host, pub.Scheme+"://"+pub.Host) {
		return true
	}
	return s.opts.DevMode && isLoopback(pub.Hostname()) && isLoopback(o.Hostname()) && o.Port() == pub.Port() && o.Scheme == pub.Scheme
}

func isLoopback(host string) bool {
	return host == "localhost" || host == "127.0.0.1" || host == "::1"
}

// rpcProbe is what Herald reads of a JSON-RPC message before mcp-go does.
type rpcProbe struct {
	JSONRPC string          `json:"jsonrpc"`
	ID      json.RawMessage `json:"id"`
	Method  string          `json:"method"`
	Params  struct {
		Name      string          `json:"name"`
		Arguments json.RawMessage `json:"arguments"`
		Meta      json.RawMessage `json:"_meta"`
		Task      json.RawMessage `json:"task"`
	} `json:"params"`
}

// probe reads msg's method and tool; ok is false when msg is not a JSON
// object, which mcp-go then answers.
func probe(msg json.RawMessage) (p rpcProbe, ok bool) {
	return p, json.Unmarshal(msg, &p) == nil
}

// neededScope is the scope a JSON-RPC message needs before it reaches mcp-go:
// tools/call needs its tool's scope; everything else any valid token.
func (s *Server) neededScope(p rpcProbe) socialv1alpha1.Scope {
	if p.Method != string(mcp.MethodToolsCall) {
		return ""
	}
	if t, ok := s.tools[p.Params.Name]; ok {
		return t.Scope
	}
	return ""
}
