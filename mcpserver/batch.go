package mcpserver

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"

	"github.com/mark3labs/mcp-go/mcp"

	socialv1alpha1 "github.com/herald-dev/herald/api/v1alpha1"
	"github.com/herald-dev/herald/mcpserver/oauth"
)

// maxBody bounds one POST; a batch of posts with long texts fits comfortably.
const maxBody = 4 << 20

// batchProtocolVersion is what batch elements are handed to mcp-go with when
// the client's header names no version mcp-go accepts: batches were dropped
// from the spec after 2025-03-26, and Herald promises them whatever the client says.
const batchProtocolVersion = mcp.ProtocolVersion20250326

// serveMCP checks scopes at the HTTP level (403 names what is missing), then
// hands single messages to mcp-go and splits batches into single messages.
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

	trimmed := bytes.TrimLeft(body, " \t\r\n")
	if len(trimmed) == 0 || trimmed[0] != '[' {
		msg, parsed := probe(body)
		if needed := s.neededScope(msg); !allowed(caller, needed) {
			oauth.WriteInsufficientScope(w, needed)
			return
		}
		if parsed && s.serveToolCall(w, r, body, msg) {
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		s.transport.ServeHTTP(w, r)
		return
	}

	var elements []json.RawMessage
	if err := json.Unmarshal(body, &elements); err != nil {
		writeRPCError(w, http.StatusOK, mcp.PARSE_ERROR, "the batch is not valid JSON: "+err.Error())
		return
	}
	if len(elements) == 0 {
		writeRPCError(w, http.StatusOK, mcp.INVALID_REQUEST, "an empty batch has nothing to answer; send at least one message")
		return
	}
	var missing []socialv1alpha1.Scope
	for _, el := range elements {
		msg, _ := probe(el)
		if needed := s.neededScope(msg); !allowed(caller, needed) {
			if !slices.Contains(missing, needed) {
				missing = append(missing, needed)
			}
		}
	}
	if len(missing) > 0 {
		oauth.WriteInsufficientScope(w, missing...)
		return
	}

	responses := make([]json.RawMessage, 0, len(elements))
	for _, el := range elements {
		if resp := s.serveElement(r, el); resp != nil {
			responses = append(responses, resp)
		}
	}
	if len(responses) == 0 { // only notifications
		w.WriteHeader(http.StatusAccepted)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(responses)
}

// serveElement runs one batch element through mcp-go as if it were sent
// alone and returns its JSON-RPC response, or nil for a notification.
func (s *Server) serveElement(r *http.Request, el json.RawMessage) json.RawMessage {
	var probe map[string]json.RawMessage
	if json.Unmarshal(el, &probe) != nil {
		return rpcError(nil, mcp.INVALID_REQUEST, "each batch element must be a JSON-RPC message object")
	}
	req := r.Clone(r.Context())
	req.Body = io.NopCloser(bytes.NewReader(el))
	req.ContentLength = int64(len(el))
	req.Header.Set("Accept", "application/json, text/event-stream")
	if v := req.Header.Get(mcp.HeaderProtocolVersion); !slices.Contains(mcp.ValidProtocolVersions, v) || mcp.IsModernProtocol(v) {
		req.Header.Set(mcp.HeaderProtocolVersion, batchProtocolVersion)
	}
	rec := httptest.NewRecorder()
	s.transport.ServeHTTP(rec, req)

	out := rec.Body.Bytes()
	if strings.HasPrefix(rec.Header().Get("Content-Type"), "text/event-stream") {
		out = lastSSEData(out)
	}
	out = bytes.TrimSpace(out)
	if len(out) == 0 || rec.Code == http.StatusAccepted {
		return nil
	}
	if !json.Valid(out) {
		// mcp-go answered with a plain HTTP error for this element.
		id := probe["id"]
		return rpcError(id, mcp.INVALID_REQUEST, strings.TrimSpace(string(out)))
	}
	return out
}

// lastSSEData returns the data of the last event in an SSE body: the
// response, after any notifications sent while the request ran.
func lastSSEData(body []byte) []byte {
	var last []byte
	sc := bufio.NewScanner(bytes.NewReader(body))
	sc.Buffer(make([]byte, 64<<10), maxBody)
	for sc.Scan() {
		if data, ok := bytes.CutPrefix(sc.Bytes(), []byte("data:")); ok {
			last = append([]byte(nil), bytes.TrimSpace(data)...)
		}
	}
	return last
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
