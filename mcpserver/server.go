// Package mcpserver is Herald's MCP server: the tool catalogue over Streamable
// HTTP, JSON-RPC batches, and every tool scoped to the caller's OAuth grant.
package mcpserver

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"

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
	// Authenticate is the OAuth resource-server middleware (oauth.Server's
	// RequireToken); it checks the request's Origin and token, answers 401
	// or 403 itself, and otherwise puts the caller in the request context,
	// where oauth.CallerFrom finds it.
	Authenticate func(http.Handler) http.Handler
	// Clock tells the time; real by default.
	Clock clock.Clock
	// Version is reported in the initialize result.
	Version string
	// RateLimit bounds the messages each approved connection sends; the
	// zero value sets no limit.
	RateLimit RateLimit
	// MaxBatchAnswer bounds the answer to one JSON-RPC batch, in bytes;
	// 0 means DefaultMaxBatchAnswer.
	MaxBatchAnswer int
	// PublicURL is Herald's base URL, for the links tools give to Herald's
	// own pages (a post's approval page); empty gives none.
	PublicURL string
	// Outbound, when set, is the guarded client the preview reads the
	// first bytes of media files with, to check them as publishing will
	// (their format, size and aspect ratio); nil checks only their URLs.
	Outbound *http.Client
}

// Server serves the MCP endpoint.
type Server struct {
	opts      Options
	client    client.Client
	clock     clock.Clock
	tools     map[string]Tool
	readTools map[string]readTool
	// linkShowers are the sessions whose client shows links itself.
	linkShowers linkShowers
	index       *postIndex
	seen        *cacheEvents
	mcp         *server.MCPServer
	transport   *server.StreamableHTTPServer
	sessions    *sessions
	limiter     *grantLimiter
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
	if o.MaxBatchAnswer <= 0 {
		o.MaxBatchAnswer = DefaultMaxBatchAnswer
	}
	s := &Server{opts: o, client: o.Client, clock: o.Clock, tools: map[string]Tool{}, sessions: &sessions{},
		limiter: newGrantLimiter(o.RateLimit, o.Clock)}
	if o.Cache != nil {
		idx, err := newPostIndex(context.Background(), o.Cache, s.clock)
		if err != nil {
			return nil, err
		}
		s.index = idx
		s.seen = &cacheEvents{}
		if err := s.seen.watch(context.Background(), o.Cache, &socialv1alpha1.ScheduledPost{}, &socialv1alpha1.BrandKit{},
			&socialv1alpha1.Workflow{}, &socialv1alpha1.WorkflowRun{}); err != nil {
			return nil, err
		}
	}
	hooks := &server.Hooks{}
	hooks.AddAfterInitialize(s.linkShowers.afterInitialize)
	s.mcp = server.NewMCPServer("herald", o.Version,
		server.WithHooks(hooks),
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

// callHandler runs a tool for mcp-go. The caller's scopes were checked
// before mcp-go got the message (serveMCP), and the tool's declaration
// resolves the workspace for its scope.
func (s *Server) callHandler(t Tool) server.ToolHandlerFunc {
	return func(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		args := req.Params.RawArguments // as sent: no second encoding
		if len(args) == 0 {
			var err error
			if args, err = json.Marshal(req.Params.Arguments); err != nil {
				return mcp.NewToolResultError("arguments must be a JSON object"), nil
			}
		}
		out, err := t.handle(ctx, s, args)
		if err == nil {
			if ask := s.linkShowers.askToOpen(ctx, req, out); ask != nil {
				return ask, nil
			}
		}
		return result(out, err), nil
	}
}

// Handler serves /mcp: OAuth (with the Origin check), then serveMCP.
func (s *Server) Handler() http.Handler {
	return s.opts.Authenticate(http.HandlerFunc(s.serveMCP))
}
