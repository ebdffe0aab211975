package mcpserver

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	logf "sigs.k8s.io/controller-runtime/pkg/log"

	socialv1alpha1 "github.com/herald-dev/herald/api/v1alpha1"
	"github.com/herald-dev/herald/internal/metrics"
)

// Tool is one MCP tool, declared once: its contract (name, description,
// schemas, annotations, required scope) and its handler. Listing, scope
// filtering, docs and schema snapshots all read the catalogue of these.
type Tool struct {
	// Name without the prefix, such as "list_posts".
	Name string
	// Title is a short human name.
	Title string
	// Description is written for a language model: what the tool does, when to
	// call it and what to call first.
	Description string
	// Scope the token must carry; empty means any valid token.
	Scope socialv1alpha1.Scope
	// ReadOnly, Destructive and Idempotent become the MCP tool annotations.
	ReadOnly, Destructive, Idempotent bool
	// OpensLink: the answer is a link the person opens, which Herald asks
	// a client that shows links to show (see linkAnswer). mcp-go's
	// transport carries that exchange, so such a call never takes the
	// fast paths.
	OpensLink bool

	InputSchema, OutputSchema json.RawMessage
	handle                    func(ctx context.Context, s *Server, args json.RawMessage) (any, error)
	// decode checks that arguments decode into the tool's input type.
	decode func(args json.RawMessage) error
}

// toolCall is what a handler works with: the server, the caller and, for a
// tool whose arguments name a workspace, that workspace, resolved once for
// the tool's declared scope (a workspace outside the grant, or one whose
// role does not allow the scope, never reaches the handler).
type toolCall struct {
	*Server
	caller *Caller
	ws     *socialv1alpha1.Workspace
}

// workspaceArg is embedded in the arguments of every tool that acts in one
// workspace; declare resolves it.
type workspaceArg struct {
	WorkspaceID string `json:"workspaceId" jsonschema:"id of a workspace from ocoya_list_workspaces" minLength:"1"`
}

func (a workspaceArg) workspaceID() string { return a.WorkspaceID }

// inWorkspace is implemented by arguments that embed workspaceArg.
type inWorkspace interface{ workspaceID() string }

// declare binds a typed handler to a tool's contract: the schemas come from
// In and Out, and the workspace In names is resolved for the tool's scope
// before the handler runs.
func declare[In, Out any](t Tool, h func(ctx context.Context, s *toolCall, in In) (*Out, error)) Tool {
	t.InputSchema = schemaFor[In]()
	t.OutputSchema = schemaFor[Out]()
	scope := t.Scope
	decode := func(args json.RawMessage, in *In) error {
		if len(args) == 0 || string(args) == "null" {
			return nil
		}
		err := decodeStrict(args, in)
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) && strings.HasPrefix(typeErr.Value, "number") {
			// JSON Schema counts 20.0 and 2e1 as the integer 20, as the
			// schema check before this did; Go's decoder does not.
			if again, ok := integralNumbers(args); ok {
				var retry In
				if decodeStrict(again, &retry) == nil {
					*in, err = retry, nil
				}
			}
		}
		if err != nil {
			return invalidArgument("the arguments do not match the tool's input schema: %v", err)
		}
		return nil
	}
	t.decode = func(args json.RawMessage) error {
		var in In
		return decode(args, &in)
	}
	name := t.Name
	t.handle = func(ctx context.Context, srv *Server, args json.RawMessage) (out any, err error) {
		defer observeCall(ctx, name, time.Now(), &err)
		var in In
		if err := decode(args, &in); err != nil {
			return nil, err
		}
		c := &toolCall{Server: srv, caller: srv.caller(ctx)}
		if w, ok := any(in).(inWorkspace); ok {
			ws, err := srv.workspace(ctx, c.caller, w.workspaceID(), scope)
			if err != nil {
				return nil, err
			}
			c.ws = ws
		}
		res, err := h(ctx, c, in)
		if err != nil {
			return nil, err
		}
		return res, nil
	}
	return t
}

// observeCall counts a tool call by its result and times it; a call
// Herald could not complete is logged, with the request's id.
func observeCall(ctx context.Context, tool string, start time.Time, err *error) {
	result := "ok"
	var te *ToolError
	switch {
	case *err == nil:
	case errors.As(*err, &te):
		result = "refused"
	default:
		result = "failed"
		logf.FromContext(ctx).Error(*err, "tool call failed", "tool", tool)
	}
	metrics.MCPCalls.WithLabelValues(tool, result).Inc()
	metrics.MCPCallDuration.WithLabelValues(tool).Observe(time.Since(start).Seconds())
}

func decodeStrict(args json.RawMessage, v any) error {
	dec := json.NewDecoder(bytes.NewReader(args))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}

// integralNumbers rewrites every number in a JSON document that has an
// integral value (20.0, 2e1) as an integer literal; ok is false when
// nothing changed.
func integralNumbers(doc json.RawMessage) (json.RawMessage, bool) {
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.UseNumber()
	var v any
	if dec.Decode(&v) != nil {
		return nil, false
	}
	changed := false
	var walk func(any) any
	walk = func(v any) any {
		switch x := v.(type) {
		case map[string]any:
			for k, e := range x {
				x[k] = walk(e)
			}
		case []any:
			for i, e := range x {
				x[i] = walk(e)
			}
		case json.Number:
			if _, err := x.Int64(); err == nil {
				return x
			}
			if f, err := x.Float64(); err == nil && f == math.Trunc(f) && math.Abs(f) <= 1<<53 {
				changed = true
				return json.Number(strconv.FormatInt(int64(f), 10))
			}
		}
		return v
	}
	v = walk(v)
	if !changed {
		return nil, false
	}
	out, err := json.Marshal(v)
	return out, err == nil
}

// catalogue is every tool Herald serves, in the order they are listed.
func catalogue() []Tool {
	var tools []Tool
	for _, area := range [][]Tool{meTools(), workspaceTools(), brandKitTools(), profileTools(), postTools(), approvalTools(), recurringTools(), workflowTools()} {
		tools = append(tools, area...)
	}
	return tools
}

// Catalogue returns the tools with their names prefixed, for docs and tests.
func Catalogue(prefix string) []Tool {
	tools := catalogue()
	// Descriptions and schemas name other tools with the default prefix.
	rename := strings.NewReplacer("ocoya_", prefixed(prefix, ""))
	for i := range tools {
		tools[i].Name = prefixed(prefix, tools[i].Name)
		tools[i].Description = rename.Replace(tools[i].Description)
		tools[i].InputSchema = json.RawMessage(rename.Replace(string(tools[i].InputSchema)))
		tools[i].OutputSchema = json.RawMessage(rename.Replace(string(tools[i].OutputSchema)))
	}
	return tools
}

func prefixed(prefix, name string) string {
	if prefix == "" {
		return name
	}
	return prefix + "_" + name
}

// toolName is a tool's name as this server serves it.
func (s *Server) toolName(name string) string { return prefixed(s.opts.ToolPrefix, name) }

// mcpTool is the tool as tools/list shows it.
func (t Tool) mcpTool() mcp.Tool {
	tool := mcp.NewTool(t.Name,
		mcp.WithDescription(t.Description),
		mcp.WithTitleAnnotation(t.Title),
		mcp.WithReadOnlyHintAnnotation(t.ReadOnly),
		mcp.WithDestructiveHintAnnotation(t.Destructive),
		mcp.WithIdempotentHintAnnotation(t.Idempotent),
		mcp.WithOpenWorldHintAnnotation(!t.ReadOnly && t.Scope == socialv1alpha1.ScopePostsPublish),
		mcp.WithRawInputSchema(t.InputSchema),
		mcp.WithRawOutputSchema(t.OutputSchema),
	)
	tool.InputSchema.Type = "" // NewTool's default; the raw schema replaces it
	return tool
}

// selfEncoding is an output that writes itself from encodings it keeps (a
// page of posts, each post encoded once per version): its structured
// content, and its text plain or already escaped for a JSON string. The
// transport writes it straight into the answer.
type selfEncoding interface {
	appendJSON(dst []byte) []byte
	appendText(dst []byte) []byte
	appendTextJSON(dst []byte) []byte
}

// ToolError is a failure the model can act on: it becomes a tool result with
// isError set, never a protocol error.
type ToolError struct{ Message string }

func (e *ToolError) Error() string { return e.Message }

func invalidArgument(format string, args ...any) error {
	return &ToolError{Message: fmt.Sprintf(format, args...)}
}

// result shapes a handler's outcome: structured content matching the output
// schema plus a text rendering.
func result(out any, err error) *mcp.CallToolResult {
	if err != nil {
		var te *ToolError
		if errors.As(err, &te) {
			return mcp.NewToolResultError(te.Message)
		}
		return mcp.NewToolResultError("Herald could not complete the call: " + err.Error() + ". Try again; if it keeps failing, ask the workspace owner to check Herald's logs.")
	}
	// Encoded once here, so mcp-go writes these bytes instead of encoding
	// the value again; the text is the same JSON unless the output renders
	// itself for a reader.
	if e, ok := out.(selfEncoding); ok {
		raw := e.appendJSON(nil)
		return &mcp.CallToolResult{Content: []mcp.Content{mcp.NewTextContent(string(e.appendText(nil)))}, RawStructuredContent: raw}
	}
	raw, err := json.Marshal(out)
	if err != nil {
		return result(nil, err)
	}
	text := string(raw)
	if r, ok := out.(interface{ Text() string }); ok {
		text = r.Text()
	}
	return &mcp.CallToolResult{Content: []mcp.Content{mcp.NewTextContent(text)}, RawStructuredContent: raw}
}
