package mcpserver

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/mark3labs/mcp-go/mcp"

	socialv1alpha1 "github.com/herald-dev/herald/api/v1alpha1"
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

	InputSchema, OutputSchema json.RawMessage
	handle                    func(ctx context.Context, s *Server, args json.RawMessage) (any, error)
}

// declare binds a typed handler to a tool's contract; the schemas come from In and Out.
func declare[In, Out any](t Tool, h func(ctx context.Context, s *Server, in In) (*Out, error)) Tool {
	t.InputSchema = schemaFor[In]()
	t.OutputSchema = schemaFor[Out]()
	t.handle = func(ctx context.Context, s *Server, args json.RawMessage) (any, error) {
		var in In
		if len(args) > 0 && string(args) != "null" {
			dec := json.NewDecoder(bytes.NewReader(args))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&in); err != nil {
				return nil, invalidArgument("the arguments do not match the tool's input schema: %v", err)
			}
		}
		out, err := h(ctx, s, in)
		if err != nil {
			return nil, err
		}
		return out, nil
	}
	return t
}

// catalogue is every tool Herald serves, in the order they are listed.
func catalogue() []Tool {
	var tools []Tool
	for _, area := range [][]Tool{meTools(), workspaceTools(), brandKitTools(), profileTools(), postTools(), workflowTools()} {
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
	if e, ok := out.(interface{ Encoded() ([]byte, string) }); ok {
		raw, text := e.Encoded()
		return &mcp.CallToolResult{Content: []mcp.Content{mcp.NewTextContent(text)}, RawStructuredContent: raw}
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
