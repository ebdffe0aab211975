// Package platformtest has the shared pieces of Herald's fake platforms:
// a loopback HTTP server that records every request it receives, helpers
// to answer like an API does, and a table of failures every adapter must
// map to the right publish.ErrorKind. The fakes themselves, which follow
// each platform's documented API, live next to their adapter.
package platformtest

import (
	"bytes"
	"encoding/json"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

// Request is one request a fake received, body included.
type Request struct {
	// Method, Path, Query, Header and Body are as the fake received them.
	Method, Path string
	Query        url.Values
	Header       http.Header
	Body         []byte
}

// JSON decodes the body as a JSON object; a body that is not one fails the
// test.
func (r Request) JSON(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.Body, &m); err != nil {
		t.Fatalf("%s %s: body is not a JSON object: %v: %s", r.Method, r.Path, err, r.Body)
	}
	return m
}

// Form decodes a urlencoded or multipart body; for multipart, file parts
// are returned in files by field name.
func (r Request) Form(t testing.TB) (values url.Values, files map[string][]byte) {
	t.Helper()
	ct, params, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch ct {
	case "application/x-www-form-urlencoded":
		v, err := url.ParseQuery(string(r.Body))
		if err != nil {
			t.Fatalf("bad form body: %v", err)
		}
		return v, nil
	case "multipart/form-data":
		values, files = url.Values{}, map[string][]byte{}
		mr := multipart.NewReader(bytes.NewReader(r.Body), params["boundary"])
		for {
			p, err := mr.NextPart()
			if err == io.EOF {
				return values, files
			}
			if err != nil {
				t.Fatalf("bad multipart body: %v", err)
			}
			data, _ := io.ReadAll(p)
			if p.FileName() != "" {
				files[p.FormName()] = data
			} else {
				values.Add(p.FormName(), string(data))
			}
		}
	}
	t.Fatalf("%s %s: not a form (Content-Type %q)", r.Method, r.Path, ct)
	return nil, nil
}

// Server is a fake platform on 127.0.0.1. Register handlers with Handle
// (net/http ServeMux patterns, such as "POST /api/v1/statuses"); every
// request is recorded before its handler runs.
type Server struct {
	*httptest.Server
	// Mux routes the requests; Handle registers on it.
	Mux *http.ServeMux

	mu        sync.Mutex
	requests  []Request
	overrides map[string]http.HandlerFunc
}

// NewServer starts a fake that is closed when the test ends.
func NewServer(t testing.TB) *Server {
	s := &Server{Mux: http.NewServeMux()}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	return s
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	r.Body = io.NopCloser(bytes.NewReader(body))
	s.mu.Lock()
	s.requests = append(s.requests, Request{Method: r.Method, Path: r.URL.Path, Query: r.URL.Query(), Header: r.Header.Clone(), Body: body})
	override := s.overrides[r.Method+" "+r.URL.Path]
	s.mu.Unlock()
	if override != nil {
		override(w, r)
		return
	}
	s.Mux.ServeHTTP(w, r)
}

// Override answers requests whose "METHOD /path" equals route with h
// instead of the registered handler: tests use it to make one call of a
// working fake fail.
func (s *Server) Override(route string, h http.HandlerFunc) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.overrides == nil {
		s.overrides = map[string]http.HandlerFunc{}
	}
	s.overrides[route] = h
}

// Handle registers h for pattern.
func (s *Server) Handle(pattern string, h http.HandlerFunc) { s.Mux.HandleFunc(pattern, h) }

// Requests returns every request received so far, in order.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

// Find returns the requests whose "METHOD /path" equals route.
func (s *Server) Find(route string) []Request {
	var out []Request
	for _, r := range s.Requests() {
		if r.Method+" "+r.Path == route {
			out = append(out, r)
		}
	}
	return out
}

// Last returns the last request matching route, failing the test when
// there is none.
func (s *Server) Last(t testing.TB, route string) Request {
	t.Helper()
	found := s.Find(route)
	if len(found) == 0 {
		t.Fatalf("the fake received no %s; it received %v", route, s.Routes())
	}
	return found[len(found)-1]
}

// Routes lists "METHOD /path" of every request received, in order.
func (s *Server) Routes() []string {
	var out []string
	for _, r := range s.Requests() {
		out = append(out, r.Method+" "+r.Path)
	}
	return out
}

// WriteJSON answers with status and v as JSON.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// Blocking returns a handler that never answers until the test ends, to
// make the client's timeout fire. Pair it with Client's short timeout.
func Blocking(t testing.TB) http.HandlerFunc {
	done := make(chan struct{})
	// Cleanups run last-registered first: this one unblocks the handler
	// before the server (registered earlier) waits for it to finish.
	t.Cleanup(func() { close(done) })
	return func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-done:
		case <-r.Context().Done():
		}
	}
}

// ClientTimeout is the timeout of Client: long enough for any answer from
// a loopback fake, short enough to keep timeout tests fast.
const ClientTimeout = 500 * time.Millisecond

// Client returns an HTTP client with ClientTimeout.
func Client() *http.Client { return &http.Client{Timeout: ClientTimeout} }

// Contains reports whether s contains any of the secrets; tests use it to
// assert that error messages leak no credential.
func Contains(s string, secrets ...string) bool {
	for _, v := range secrets {
		if v != "" && strings.Contains(s, v) {
			return true
		}
	}
	return false
}
