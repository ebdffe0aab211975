package mcpserver

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/herald-dev/herald/mcpserver/oauth"
)

// readTool is a read-only tool whose valid calls on a session are run
// here rather than through mcp-go's dispatch, which decodes each message
// five times over and re-encodes the arguments to validate them: for a
// page of posts that was a third of the server's time per call. Writes
// stay with mcp-go, which registers each running request so that
// notifications/cancelled can stop it; reads answer from the cache in
// microseconds.
type readTool struct {
	tool   Tool
	schema *jsonschema.Schema
}

// compileReadTools compiles the input schema of every read-only tool the
// way mcp-go's validator does, so a call that passes here passes there.
func compileReadTools(tools map[string]Tool) (map[string]readTool, error) {
	out := map[string]readTool{}
	for name, t := range tools {
		if !t.ReadOnly {
			continue
		}
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(t.InputSchema))
		if err != nil {
			return nil, fmt.Errorf("tool %s: input schema: %w", name, err)
		}
		url := "mem:///herald/tools/" + name + "/input-schema.json"
		c := jsonschema.NewCompiler()
		if err := c.AddResource(url, doc); err != nil {
			return nil, fmt.Errorf("tool %s: input schema: %w", name, err)
		}
		schema, err := c.Compile(url)
		if err != nil {
			return nil, fmt.Errorf("tool %s: input schema: %w", name, err)
		}
		out[name] = readTool{tool: t, schema: schema}
	}
	return out, nil
}

// readCall is what running a read-only tool gave.
type readCall struct {
	out   any   // the handler's output
	err   error // the handler's error, answered as a tool error
	panic error // a panic, answered as mcp-go's recovery answers one
}

// callReadTool runs msg when it is a well-formed call of a read-only tool
// the caller may use, with arguments that satisfy the tool's schema. For
// anything else ran is false and mcp-go answers, so every error a client
// sees, from an unknown tool to a schema violation, is mcp-go's own.
func (s *Server) callReadTool(ctx context.Context, msg rpcProbe) (call readCall, ran bool) {
	rt, known := s.readTools[msg.Params.Name]
	if msg.JSONRPC != mcp.JSONRPC_VERSION || !known {
		return call, false
	}
	if caller, _ := oauth.CallerFrom(ctx); !allowed(caller, rt.tool.Scope) {
		return call, false // mcp-go's tool filter hides it
	}
	args := bytes.TrimSpace(msg.Params.Arguments)
	if len(args) == 0 || args[0] != '{' {
		return call, false
	}
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(args))
	if err != nil || rt.schema.Validate(v) != nil {
		return call, false
	}
	defer func() {
		if r := recover(); r != nil {
			call, ran = readCall{panic: fmt.Errorf("panic recovered in %s tool handler: %v", rt.tool.Name, r)}, true
		}
	}()
	call.out, call.err = rt.tool.handle(ctx, s, json.RawMessage(args))
	return call, true
}

// appendReadCall appends the JSON-RPC response for a read tool's outcome.
func appendReadCall(out []byte, id json.RawMessage, call readCall) []byte {
	if call.panic != nil {
		return append(out, rpcError(id, mcp.INTERNAL_ERROR, call.panic.Error())...)
	}
	if e, ok := call.out.(interface{ EncodedJSON() ([]byte, []byte) }); ok && call.err == nil {
		raw, text := e.EncodedJSON()
		out = append(out, `{"jsonrpc":"2.0","id":`...)
		out = append(out, id...)
		out = append(out, `,"result":{"content":[{"type":"text","text":"`...)
		out = append(out, text...)
		out = append(out, `"}],"structuredContent":`...)
		out = append(out, raw...)
		return append(out, "}}"...)
	}
	written, ok := appendToolResult(out, id, result(call.out, call.err))
	if !ok { // result() makes only what appendToolResult writes
		return append(out, rpcError(id, mcp.INTERNAL_ERROR, "Herald could not write the result")...)
	}
	return written
}
