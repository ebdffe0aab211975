package mcpserver

import (
	"context"
	"encoding/json"
	"mime"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/mark3labs/mcp-go/mcp"
)

// serveToolCall answers a tools/call request on an established session
// without the transport's generic response encoder. A valid call of a
// read-only tool runs here (callReadTool); any other call goes through
// mcp-go's HandleMessage, which checks the arguments against the schema and
// runs the tool. Either way the result's structured content is the JSON the
// tool encoded, copied as it is, where encoding/json would scan and compact
// it twice more (about 190 µs for a 6 KB page of posts, against a few µs to
// copy it). Everything else goes to the transport: other methods and
// notifications, a missing or unknown session, a protocol version the
// request states that is not a session-based one, request metadata or
// tasks. It reports whether it answered.
func (s *Server) serveToolCall(w http.ResponseWriter, r *http.Request, body []byte, msg rpcProbe) bool {
	if msg.Method != string(mcp.MethodToolsCall) || len(msg.ID) == 0 || string(msg.ID) == "null" ||
		len(msg.Params.Meta) > 0 || len(msg.Params.Task) > 0 {
		return false
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		return false
	}
	if !acceptsJSON(r.Header.Values("Accept")) {
		return false
	}
	if v := r.Header.Get(mcp.HeaderProtocolVersion); v != "" && (!slices.Contains(mcp.ValidProtocolVersions, v) || mcp.IsModernProtocol(v)) {
		return false
	}
	id := r.Header.Get("Mcp-Session-Id")
	if id == "" {
		return false
	}
	if terminated, err := s.sessions.Validate(id); err != nil || terminated {
		return false
	}

	scratch := &callScratch{}
	defer scratch.release()
	ctx := context.WithValue(s.mcp.WithContext(r.Context(), callSession(id)), callScratchKey{}, scratch)
	buf := responseBuffers.Get().(*[]byte)
	defer responseBuffers.Put(buf)
	var out []byte
	if call, ran := s.callReadTool(ctx, msg); ran {
		out = appendReadCall((*buf)[:0], msg.ID, call)
	} else {
		resp := s.mcp.HandleMessage(ctx, body)
		var ok bool
		if out, ok = appendToolResponse((*buf)[:0], msg.ID, resp); !ok {
			out = marshalResponse(msg.ID, resp)
		}
	}
	out = append(out, '\n')
	if cap(out) <= maxPooledResponse {
		*buf = out
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(out))) // one write, not chunks
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(out)
	return true
}

// marshalResponse encodes what appendToolResponse cannot write.
func marshalResponse(id json.RawMessage, resp any) []byte {
	out, err := json.Marshal(resp)
	if err != nil {
		return rpcError(id, mcp.INTERNAL_ERROR, "Herald could not encode the result: "+err.Error())
	}
	return out
}

// responseBuffers holds the buffers responses are written into; a page of
// posts is tens of kilobytes, and a buffer per call was most of the
// garbage a call made.
var responseBuffers = sync.Pool{New: func() any { b := make([]byte, 0, 16<<10); return &b }}

// maxPooledResponse keeps rare huge responses from staying in the pool.
const maxPooledResponse = 1 << 20

// callScratch lends a tool buffers that live until its answer is written:
// a tool call answered here is written from a copy, so what the tool
// encoded into them can go back to the pool afterwards. A call through the
// transport has none, and the tool allocates as usual.
type callScratch struct{ lent []*[]byte }

type callScratchKey struct{}

// scratchBuffer returns an empty buffer that stays valid until the tool
// call's answer is written, or nil outside an answer written here.
func scratchBuffer(ctx context.Context) []byte {
	sc, ok := ctx.Value(callScratchKey{}).(*callScratch)
	if !ok {
		return nil
	}
	b := responseBuffers.Get().(*[]byte)
	sc.lent = append(sc.lent, b)
	return (*b)[:0]
}

func (sc *callScratch) release() {
	for _, b := range sc.lent {
		responseBuffers.Put(b)
	}
}

// appendToolResponse appends to out the JSON-RPC response for a tool result
// made of text content and pre-encoded structured content, the shape
// result() gives every Herald tool; ok is false for anything else.
func appendToolResponse(out []byte, id json.RawMessage, resp mcp.JSONRPCMessage) ([]byte, bool) {
	r, isResponse := resp.(mcp.JSONRPCResponse)
	if !isResponse {
		return nil, false
	}
	res, isResult := r.Result.(mcp.CallToolResult)
	if !isResult {
		if p, isPtr := r.Result.(*mcp.CallToolResult); isPtr && p != nil {
			res, isResult = *p, true
		}
	}
	if !isResult {
		return nil, false
	}
	return appendToolResult(out, id, &res)
}

// appendToolResult appends to out the JSON-RPC response carrying res, or
// reports false when res holds something this writer does not know.
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

// appendJSONString appends s as a JSON string the way encoding/json writes
// one: \b \f \n \r \t by name, other control bytes and <, > and & as \u escapes, invalid UTF-8 as U+FFFD, and U+2028 and
// U+2029 escaped.
func appendJSONString(out []byte, s string) []byte {
	out = append(out, '"')
	out = appendJSONStringBody(out, s)
	return append(out, '"')
}

// appendJSONStringBody appends s escaped as appendJSONString does, without
// the quotes: the escaping of a concatenation, split after an ASCII byte,
// is the concatenation of the escapings.
func appendJSONStringBody(out []byte, s string) []byte {
	const hex = "0123456789abcdef"
	start := 0
	for i := 0; i < len(s); {
		if b := s[i]; b < utf8.RuneSelf {
			if jsonSafe[b] {
				i++
				continue
			}
			out = append(out, s[start:i]...)
			switch b {
			case '"', '\\':
				out = append(out, '\\', b)
			case '\n':
				out = append(out, '\\', 'n')
			case '\r':
				out = append(out, '\\', 'r')
			case '\t':
				out = append(out, '\\', 't')
			case '\b':
				out = append(out, '\\', 'b')
			case '\f':
				out = append(out, '\\', 'f')
			default:
				out = append(out, '\\', 'u', '0', '0', hex[b>>4], hex[b&0xF])
			}
			i++
			start = i
			continue
		}
		c, size := utf8.DecodeRuneInString(s[i:])
		if c == utf8.RuneError && size == 1 {
			out = append(out, s[start:i]...)
			out = append(out, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if c == '\u2028' || c == '\u2029' {
			out = append(out, s[start:i]...)
			out = append(out, '\\', 'u', '2', '0', '2', hex[c&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	return append(out, s[start:]...)
}

// jsonSafe marks the ASCII bytes a JSON string holds as they are.
var jsonSafe = func() (t [utf8.RuneSelf]bool) {
	for b := 0x20; b < utf8.RuneSelf; b++ {
		t[b] = b != '"' && b != '\\' && b != '<' && b != '>' && b != '&'
	}
	return t
}()

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

// callSession is the session a tool call runs in: Herald keeps no state
// per session, and its tools send no notifications. mcp-go sends to a
// session with a select that gives up when the channel is not ready, so
// the nil channel drops anything sent.
type callSession string

func (c callSession) SessionID() string { return string(c) }
func (callSession) Initialize()         {}
func (callSession) Initialized() bool   { return true }
func (callSession) NotificationChannel() chan<- mcp.JSONRPCNotification {
	return nil
}
