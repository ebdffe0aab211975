package mcpserver

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"mime"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/santhosh-tekuri/jsonschema/v6"

	socialv1alpha1 "github.com/herald-dev/herald/api/v1alpha1"
	"github.com/herald-dev/herald/mcpserver/oauth"
)

// This file is the one seam between Herald and mcp-go. Every POST to /mcp
// arrives at serveMCP, which
//
//   - bounds the body and splits a JSON-RPC batch into its messages
//     (mcp-go takes one message per request), checking every message's
//     scope first, so that a call outside the grant is refused with 403
//     whether it came alone or in a batch;
//   - answers a tool call on a session without mcp-go's HTTP transport
//     (appendFastCall). A valid call of a read-only tool runs here: mcp-go
//     decodes each message five times over and encodes the arguments
//     again to validate them, which was a third of a list call's time. The
//     same input schema, compiled by the same validator, decides what is
//     valid. Any other tool call (writes, which mcp-go registers so that
//     notifications/cancelled can stop them; invalid arguments) goes to
//     mcp-go's dispatcher, HandleMessage, in the session the request names,
//     as mcp-go's stateless transport would run it. Either way the answer
//     is written from the tool's own encoding, where mcp-go's transport
//     would scan and compact it twice more. Every error a client sees is
//     mcp-go's own;
//   - hands everything else to mcp-go's Streamable HTTP transport: a
//     single message as the request it came in, each other batch message
//     as a request of its own whose answer is buffered.
//
// Handlers return plain values; only this file writes answers. Its tests
// send the same calls both ways and compare what comes back.

// maxBody bounds one POST; a batch of posts with long texts fits comfortably.
const maxBody = 4 << 20

// MaxBatch is how many messages one JSON-RPC batch may hold.
const MaxBatch = 50

// DefaultMaxBatchAnswer bounds the answer to one batch unless
// Options.MaxBatchAnswer says otherwise: the messages after the one that
// passes it are answered with an error instead of run.
const DefaultMaxBatchAnswer = 16 << 20

// batchProtocolVersion is what batch elements are handed to mcp-go with when
// the client's header names no version mcp-go accepts: batches were dropped
// from the spec after 2025-03-26, and Herald promises them whatever the client says.
const batchProtocolVersion = mcp.ProtocolVersion20250326

// rpcProbe is what Herald reads of a JSON-RPC message before mcp-go does.
type rpcProbe struct {
	raw     json.RawMessage
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
	ok = json.Unmarshal(msg, &p) == nil
	p.raw = msg
	return p, ok
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

// serveMCP checks scopes at the HTTP level (403 names what is missing),
// answers what appendFastCall answers, and hands the rest to mcp-go.
func (s *Server) serveMCP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		s.transport.ServeHTTP(w, r)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		writeRPCError(w, http.StatusRequestEntityTooLarge, mcp.INVALID_REQUEST, "the request body is larger than 4 MiB; send fewer messages per batch")
		return
	}
	caller, _ := oauth.CallerFrom(r.Context())
	if trimmed := bytes.TrimLeft(body, " \t\r\n"); len(trimmed) > 0 && trimmed[0] == '[' {
		s.serveBatch(w, r, caller, body)
		return
	}
	if !s.admit(w, caller, 1) {
		return
	}
	msg, parsed := probe(body)
	if needed := s.neededScope(msg); !allowed(caller, needed) {
		oauth.WriteInsufficientScope(w, needed)
		return
	}
	if parsed && jsonRequest(r) {
		buf := responseBuffers.Get().(*[]byte)
		defer responseBuffers.Put(buf)
		if out, ok := s.appendFastCall((*buf)[:0], r, msg, false); ok {
			out = append(out, '\n')
			if cap(out) <= maxPooledResponse {
				*buf = out
			}
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Content-Length", strconv.Itoa(len(out))) // one write, not chunks
			w.WriteHeader(http.StatusOK)
			_, _ = w.Write(out)
			return
		}
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	s.transport.ServeHTTP(w, r)
}

// serveBatch answers a JSON-RPC batch with an array of the answers to its
// messages, in order, leaving out notifications.
func (s *Server) serveBatch(w http.ResponseWriter, r *http.Request, caller *Caller, body []byte) {
	var elements []json.RawMessage
	if err := json.Unmarshal(body, &elements); err != nil {
		writeRPCError(w, http.StatusOK, mcp.PARSE_ERROR, "the batch is not valid JSON: "+err.Error())
		return
	}
	switch {
	case len(elements) == 0:
		writeRPCError(w, http.StatusOK, mcp.INVALID_REQUEST, "an empty batch has nothing to answer; send at least one message")
		return
	case len(elements) > MaxBatch:
		writeRPCError(w, http.StatusOK, mcp.INVALID_REQUEST, fmt.Sprintf("a batch holds at most %d messages and this one has %d; split it into several", MaxBatch, len(elements)))
		return
	}
	probes := make([]rpcProbe, len(elements))
	parsed := make([]bool, len(elements))
	var missing []socialv1alpha1.Scope
	for i, el := range elements {
		probes[i], parsed[i] = probe(el)
		if needed := s.neededScope(probes[i]); !allowed(caller, needed) && !slices.Contains(missing, needed) {
			missing = append(missing, needed)
		}
	}
	if len(missing) > 0 {
		oauth.WriteInsufficientScope(w, missing...)
		return
	}
	if !s.admit(w, caller, len(elements)) {
		return
	}
	out := []byte{'['}
	answered := 0
	for i, el := range elements {
		start := len(out)
		if answered > 0 {
			out = append(out, ',')
		}
		if len(out) > s.opts.MaxBatchAnswer {
			if !parsed[i] || len(probes[i].ID) == 0 { // a notification, or not a message: nothing to answer
				out = out[:start]
				continue
			}
			out = append(out, rpcError(probes[i].ID, mcp.INTERNAL_ERROR, fmt.Sprintf(
				"not run: the answers before this message already fill the %s a batch answer may hold; send it again in a batch of its own", mebibytes(s.opts.MaxBatchAnswer)))...)
			answered++
			continue
		}
		var ok bool
		if parsed[i] && jsonRequest(r) {
			out, ok = s.appendFastCall(out, r, probes[i], true)
		}
		if !ok {
			resp := s.viaTransport(r, el)
			if resp == nil { // a notification
				out = out[:start]
				continue
			}
			out = append(out, resp...)
		}
		answered++
	}
	if answered == 0 { // only notifications
		w.WriteHeader(http.StatusAccepted)
		return
	}
	out = append(out, ']', '\n')
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(out)))
	_, _ = w.Write(out)
}

func mebibytes(n int) string {
	if n%(1<<20) == 0 {
		return fmt.Sprintf("%d MiB", n>>20)
	}
	return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
}

// admit takes n messages from the caller's rate limit, or answers 429
// with the wait.
func (s *Server) admit(w http.ResponseWriter, caller *Caller, n int) bool {
	if caller == nil {
		return true
	}
	ok, wait := s.limiter.allow(caller.Grant, n)
	if !ok {
		w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(wait.Seconds()))))
		writeRPCError(w, http.StatusTooManyRequests, mcp.INVALID_REQUEST, rateLimited(s.limiter.limit, wait))
	}
	return ok
}

// viaTransport runs one batch message through mcp-go's transport as if it
// were sent alone, and returns its JSON-RPC answer, or nil for a
// notification. The answer is buffered, so mcp-go answers with JSON rather
// than an event stream.
func (s *Server) viaTransport(r *http.Request, el json.RawMessage) json.RawMessage {
	var fields map[string]json.RawMessage
	if json.Unmarshal(el, &fields) != nil {
		return rpcError(nil, mcp.INVALID_REQUEST, "each batch element must be a JSON-RPC message object")
	}
	req := r.Clone(r.Context())
	req.Body = io.NopCloser(bytes.NewReader(el))
	req.ContentLength = int64(len(el))
	req.Header.Set("Accept", "application/json, text/event-stream")
	if v := req.Header.Get(mcp.HeaderProtocolVersion); !slices.Contains(mcp.ValidProtocolVersions, v) || mcp.IsModernProtocol(v) {
		req.Header.Set(mcp.HeaderProtocolVersion, batchProtocolVersion)
	}
	rec := &bufferedResponse{header: http.Header{}}
	s.transport.ServeHTTP(rec, req)
	out := bytes.TrimSpace(rec.body.Bytes())
	if len(out) == 0 || rec.status == http.StatusAccepted {
		return nil
	}
	if !json.Valid(out) {
		// mcp-go answered with a plain HTTP error for this element.
		return rpcError(fields["id"], mcp.INVALID_REQUEST, strings.TrimSpace(string(out)))
	}
	return out
}

// bufferedResponse keeps an answer mcp-go writes. It cannot flush, so
// mcp-go does not stream.
type bufferedResponse struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (b *bufferedResponse) Header() http.Header { return b.header }
func (b *bufferedResponse) WriteHeader(status int) {
	if b.status == 0 {
		b.status = status
	}
}
func (b *bufferedResponse) Write(p []byte) (int, error) {
	b.WriteHeader(http.StatusOK)
	return b.body.Write(p)
}

// jsonRequest reports whether r is JSON asking for (or accepting) a JSON
// answer, as the Streamable HTTP transport requires.
func jsonRequest(r *http.Request) bool {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	return err == nil && mt == "application/json" && acceptsJSON(r.Header.Values("Accept"))
}

// readTool is a read-only tool that appendFastCall runs, with its input
// schema compiled the way mcp-go's validator compiles it, so a call that
// passes here passes there.
type readTool struct {
	tool   Tool
	schema *jsonschema.Schema
}

// compileReadTools compiles the input schema of every read-only tool.
func compileReadTools(tools map[string]Tool) (map[string]readTool, error) {
	out := map[string]readTool{}
	for name, t := range tools {
		if !t.ReadOnly || t.OpensLink {
			continue
		}
		schema, err := compileInputSchema(t)
		if err != nil {
			return nil, err
		}
		out[name] = readTool{tool: t, schema: schema}
	}
	return out, nil
}

// compileInputSchema compiles a tool's input schema with the validator
// mcp-go uses.
func compileInputSchema(t Tool) (*jsonschema.Schema, error) {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(t.InputSchema))
	if err != nil {
		return nil, fmt.Errorf("tool %s: input schema: %w", t.Name, err)
	}
	url := "mem:///herald/tools/" + t.Name + "/input-schema.json"
	c := jsonschema.NewCompiler()
	if err := c.AddResource(url, doc); err != nil {
		return nil, fmt.Errorf("tool %s: input schema: %w", t.Name, err)
	}
	schema, err := c.Compile(url)
	if err != nil {
		return nil, fmt.Errorf("tool %s: input schema: %w", t.Name, err)
	}
	return schema, nil
}

// appendFastCall appends to dst the answer to msg when msg is a valid call
// of a read-only tool, on an established session, that the caller may use;
// otherwise ok is false, dst is returned as it was, and mcp-go answers. A
// message in a batch (inBatch) is answered whatever protocol version the
// request names, as the batch's other messages are.
func (s *Server) appendFastCall(dst []byte, r *http.Request, msg rpcProbe, inBatch bool) (out []byte, ok bool) {
	if msg.Method != string(mcp.MethodToolsCall) || len(msg.ID) == 0 ||
		string(msg.ID) == "null" || len(msg.Params.Meta) > 0 || len(msg.Params.Task) > 0 {
		return dst, false
	}
	if v := r.Header.Get(mcp.HeaderProtocolVersion); !inBatch && v != "" && (!slices.Contains(mcp.ValidProtocolVersions, v) || mcp.IsModernProtocol(v)) {
		return dst, false
	}
	if t, known := s.tools[msg.Params.Name]; known && t.OpensLink && !inBatch {
		return dst, false // mcp-go's transport can carry the ask to show the link
	}
	if terminated, err := s.sessions.Validate(r.Header.Get("Mcp-Session-Id")); err != nil || terminated || r.Header.Get("Mcp-Session-Id") == "" {
		return dst, false
	}
	if call, ran := s.callReadTool(r.Context(), msg); ran {
		return appendReadCall(dst, msg.ID, call), true
	}
	ctx := s.mcp.WithContext(r.Context(), requestSession(r.Header.Get("Mcp-Session-Id")))
	resp := s.mcp.HandleMessage(ctx, msg.raw)
	if out, ok := appendToolResponse(dst, msg.ID, resp); ok {
		return out, true
	}
	out, err := json.Marshal(resp)
	if err != nil {
		return append(dst, rpcError(msg.ID, mcp.INTERNAL_ERROR, "Herald could not encode the result: "+err.Error())...), true
	}
	return append(dst, out...), true
}

// appendToolResponse appends the JSON-RPC response mcp-go's dispatcher
// gave, when it carries a result of the shape every Herald tool answers
// with; ok is false for anything else.
func appendToolResponse(dst []byte, id json.RawMessage, resp mcp.JSONRPCMessage) ([]byte, bool) {
	r, isResponse := resp.(mcp.JSONRPCResponse)
	if !isResponse {
		return dst, false
	}
	res, isResult := r.Result.(mcp.CallToolResult)
	if !isResult {
		p, isPtr := r.Result.(*mcp.CallToolResult)
		if !isPtr || p == nil {
			return dst, false
		}
		res = *p
	}
	out, ok := appendToolResult(dst, id, &res)
	if !ok {
		return dst, false
	}
	return out, true
}

// requestSession is the session a tool call runs in, as mcp-go's
// stateless transport makes one for each request: it carries the id the
// request named, under which mcp-go registers the call so that a
// notifications/cancelled for it finds it. Herald's tools send no
// notifications, and mcp-go's send gives up on a channel that is not
// ready, so the nil channel drops anything sent.
type requestSession string

func (s requestSession) SessionID() string { return string(s) }
func (requestSession) Initialize()         {}
func (requestSession) Initialized() bool   { return true }
func (requestSession) NotificationChannel() chan<- mcp.JSONRPCNotification {
	return nil
}

// readCall is what running a read-only tool gave.
type readCall struct {
	out   any   // the handler's output
	err   error // the handler's error, answered as a tool error
	panic error // a panic, answered as mcp-go's recovery answers it
}

// callReadTool runs msg when it calls a read-only tool the caller may use,
// with arguments that satisfy the tool's schema; for anything else ran is
// false.
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
	if e, ok := call.out.(selfEncoding); ok && call.err == nil {
		out = append(out, `{"jsonrpc":"2.0","id":`...)
		out = append(out, id...)
		out = append(out, `,"result":{"content":[{"type":"text","text":"`...)
		out = e.appendTextJSON(out)
		out = append(out, `"}],"structuredContent":`...)
		out = e.appendJSON(out)
		return append(out, "}}"...)
	}
	written, ok := appendToolResult(out, id, result(call.out, call.err))
	if !ok { // result() makes only what appendToolResult writes
		return append(out, rpcError(id, mcp.INTERNAL_ERROR, "Herald could not write the result")...)
	}
	return written
}

// responseBuffers holds the buffers single answers are written into; a
// page of posts is tens of kilobytes, and a buffer per call was most of the
// garbage a call made.
var responseBuffers = sync.Pool{New: func() any { b := make([]byte, 0, 16<<10); return &b }}

// maxPooledResponse keeps rare huge responses from staying in the pool.
const maxPooledResponse = 1 << 20

// appendToolResult appends to out the JSON-RPC response carrying res, the
// shape result() gives every Herald tool (text content and pre-encoded
// structured content); ok is false for anything else.
func appendToolResult(out []byte, id json.RawMessage, res *mcp.CallToolResult) ([]byte, bool) {
	if res == nil || res.Meta != nil || res.ResultType != "" || len(res.InputRequests) > 0 || res.RequestState != "" ||
		(res.StructuredContent != nil && len(res.RawStructuredContent) == 0) {
		return nil, false
	}
	out = append(out, `{"jsonrpc":"2.0","id":`...)
	out = append(out, id...)
	out = append(out, `,"result":{"content":[`...)
	for i, c := range res.Content {
		tc, isText := c.(mcp.TextContent)
		if !isText || tc.Annotations != nil || tc.Meta != nil {
			return nil, false
		}
		if i > 0 {
			out = append(out, ',')
		}
		out = append(out, `{"type":"text","text":`...)
		out = appendJSONString(out, tc.Text)
		out = append(out, '}')
	}
	out = append(out, ']')
	if len(res.RawStructuredContent) > 0 {
		out = append(out, `,"structuredContent":`...)
		out = append(out, res.RawStructuredContent...)
	}
	if res.IsError {
		out = append(out, `,"isError":true`...)
	}
	return append(out, "}}"...), true
}

// acceptsJSON reports whether an Accept header allows an application/json
// answer (or says nothing, which allows anything).
func acceptsJSON(values []string) bool {
	if len(values) == 0 {
		return true
	}
	for _, v := range values {
		for _, part := range strings.Split(v, ",") {
			mt, _, err := mime.ParseMediaType(strings.TrimSpace(part))
			if err == nil && (mt == "application/json" || mt == "application/*" || mt == "*/*") {
				return true
			}
		}
	}
	return false
}

func rpcError(id json.RawMessage, code int, message string) json.RawMessage {
	if len(id) == 0 {
		id = json.RawMessage("null")
	}
	data, _ := json.Marshal(map[string]any{
		"jsonrpc": "2.0",
		"id":      id,
		"error":   map[string]any{"code": code, "message": message},
	})
	return data
}

func writeRPCError(w http.ResponseWriter, status, code int, message string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(rpcError(nil, code, message))
}
