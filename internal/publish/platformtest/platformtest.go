// Package platformtest has the shared pieces of Herald's fake platforms:
// a loopback HTTP server that records every request it receives, helpers
// to answer like an API does, and a table of failures every adapter must
// map to the right publish.ErrorKind. The fakes themselves, which follow
// each platform's documented API, live next to their adapter.
package platformtest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
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
	// At is when it arrived.
	At time.Time
	// Handled is true once the fake's own handler ran for it (a fault
	// may answer instead, before or after the handler acted).
	Handled bool
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
	faults    map[string]func(Request) *Fault
	done      chan struct{}
}

// Fault is how a fake misbehaves for one request.
type Fault struct {
	// Status, Header and Body are the answer given instead of the fake's
	// own; Status 0 keeps the fake's answer (with Delay).
	Status int
	Header http.Header
	Body   string
	// After runs the fake's own handler first and throws its answer away,
	// so the platform acted but the client hears Status: a gateway error
	// after the post was made.
	After bool
	// Delay waits before answering; Hang never answers, until the client
	// gives up or the test ends.
	Delay time.Duration
	Hang  bool
}

// NewServer starts a fake that is closed when the test ends.
func NewServer(t testing.TB) *Server {
	s := &Server{Mux: http.NewServeMux(), done: make(chan struct{})}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	// Cleanups run last-registered first: hanging handlers are released
	// before the server waits for them to finish.
	t.Cleanup(s.Close)
	t.Cleanup(func() { close(s.done) })
	return s
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	r.Body = io.NopCloser(bytes.NewReader(body))
	route := r.Method + " " + r.URL.Path
	rec := Request{Method: r.Method, Path: r.URL.Path, Query: r.URL.Query(), Header: r.Header.Clone(), Body: body, At: time.Now()}
	s.mu.Lock()
	i := len(s.requests)
	s.requests = append(s.requests, rec)
	override := s.overrides[route]
	decide := s.faults[routeOf(s.faults, r)]
	s.mu.Unlock()
	own := s.Mux.ServeHTTP
	if override != nil {
		own = override
	}
	handler := func(w http.ResponseWriter, r *http.Request) {
		own(w, r)
		s.mu.Lock()
		s.requests[i].Handled = true
		s.mu.Unlock()
	}
	var f *Fault
	if decide != nil {
		f = decide(rec)
	}
	if f == nil {
		handler(w, r)
		return
	}
	if f.After {
		handler(discard{}, r.Clone(r.Context()))
	}
	if f.Hang {
		select {
		case <-s.done:
		case <-r.Context().Done():
		}
		return
	}
	if f.Delay > 0 {
		select {
		case <-time.After(f.Delay):
		case <-s.done:
			return
		case <-r.Context().Done():
			return
		}
	}
	if f.Status == 0 {
		if !f.After {
			handler(w, r)
		}
		return
	}
	for k, vs := range f.Header {
		w.Header()[k] = vs
	}
	WriteJSON(w, f.Status, map[string]any{"error": f.Body, "message": f.Body})
}

// routeOf finds the fault route matching r: "METHOD /path" exactly, or
// "METHOD /prefix/*" for every path under the prefix.
func routeOf(faults map[string]func(Request) *Fault, r *http.Request) string {
	route := r.Method + " " + r.URL.Path
	if _, ok := faults[route]; ok {
		return route
	}
	for k := range faults {
		if prefix, ok := strings.CutSuffix(k, "*"); ok && strings.HasPrefix(route, prefix) {
			return k
		}
	}
	return ""
}

// discard is a response nobody hears.
type discard struct{}

func (discard) Header() http.Header         { return http.Header{} }
func (discard) Write(p []byte) (int, error) { return len(p), nil }
func (discard) WriteHeader(int)             {}

// Inject decides, for each request to route ("METHOD /path", or
// "METHOD /prefix/*"), whether and how it fails; decide returns nil for a
// request the fake answers as usual.
func (s *Server) Inject(route string, decide func(Request) *Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.faults == nil {
		s.faults = map[string]func(Request) *Fault{}
	}
	s.faults[route] = decide
}

// FailNext makes the next n requests to route fail with f, and the later
// ones succeed.
func (s *Server) FailNext(route string, n int, f Fault) {
	var left atomic.Int32
	left.Store(int32(n))
	s.Inject(route, func(Request) *Fault {
		if left.Add(-1) < 0 {
			return nil
		}
		return &f
	})
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

// Client returns an HTTP client with ClientTimeout that sends only to
// loopback (see Loopback).
func Client() *http.Client { return &http.Client{Timeout: ClientTimeout, Transport: Loopback{}} }

// Loopback is a transport that refuses any request not to 127.0.0.1 or
// ::1: a test talks only to its fakes, and a URL naming a host of the
// outside world (a verified media domain, a CDN) fails at once instead of
// looking the name up.
type Loopback struct{}

// RoundTrip sends req with http.DefaultTransport when it is to loopback.
func (Loopback) RoundTrip(req *http.Request) (*http.Response, error) {
	if ip := net.ParseIP(req.URL.Hostname()); ip == nil || !ip.IsLoopback() {
		return nil, fmt.Errorf("the test transport refuses %s: tests only talk to fakes on loopback", req.URL.Host)
	}
	return http.DefaultTransport.RoundTrip(req)
}

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
