package mcpserver

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	socialv1alpha1 "github.com/herald-dev/herald/api/v1alpha1"
	"github.com/herald-dev/herald/internal/scheme"
	"github.com/herald-dev/herald/mcpserver/oauth"
)

// FuzzToolArguments sends any JSON to every tool's argument checks: the
// schema never admits what the Go decoder then refuses, and neither panics.
func FuzzToolArguments(f *testing.F) {
	for _, seed := range []string{
		`{"workspaceId":"acme","limit":20}`, `{"workspaceId":"acme","postId":"p-1"}`,
		`{"workspaceId":"acme","text":"hi","profileIds":["sandbox"],"scheduledAt":"2030-01-01T09:00:00Z"}`,
		`{"workspaceId":"acme","variants":[{"platform":"x","text":"v"}],"media":[{"url":"https://c.example/a.png"}]}`,
		`{"workspaceId":"acme","limit":1.0}`, `{"workspaceId":"acme","limit":1e400}`, `{"extra":1}`, `null`, `[]`,
	} {
		f.Add([]byte(seed))
	}
	type checked struct {
		tool   Tool
		schema *jsonschema.Schema
	}
	var tools []checked
	for _, t := range catalogue() {
		s, err := compileInputSchema(t)
		if err != nil {
			f.Fatal(err)
		}
		tools = append(tools, checked{t, s})
	}
	f.Fuzz(func(t *testing.T, args []byte) {
		v, err := jsonschema.UnmarshalJSON(bytes.NewReader(args))
		if err != nil {
			return // not JSON: mcp-go answers a parse error before any tool
		}
		for _, c := range tools {
			valid := c.schema.Validate(v) == nil
			if err := c.tool.decode(args); valid && err != nil {
				t.Fatalf("%s: the input schema accepts %s but decoding refuses it: %v", c.tool.Name, args, err)
			}
		}
	})
}

// FuzzParseTime reads any string as a scheduledAt: an accepted time says
// the same instant when written back.
func FuzzParseTime(f *testing.F) {
	for _, seed := range []string{"2026-07-01T09:00:00Z", "2026-07-01T11:00:00+02:00", "2026-07-01T09:00:00", "2026-13-01T09:00:00Z", " 2026-07-01T09:00:00.123456789-05:30 ", ""} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, v string) {
		at, err := parseTime("scheduledAt", v)
		if err != nil {
			if err.Error() == "" {
				t.Fatal("an empty error")
			}
			return
		}
		back, err := time.Parse(time.RFC3339Nano, at.Format(time.RFC3339Nano))
		if err != nil || !back.Equal(at) {
			t.Fatalf("parseTime(%q) = %s, which does not read back (%v)", v, at, err)
		}
	})
}

// FuzzMCPRequest posts any body to /mcp as a caller holding every scope:
// the batch splitting, the scope checks, the fast path and mcp-go's
// dispatch answer it without panicking, with a status a client can act on
// and, for JSON, a body that is JSON. The API server is not what is
// fuzzed here, so an in-memory client stands for it.
func FuzzMCPRequest(f *testing.F) {
	for _, seed := range []string{
		`{"jsonrpc":"2.0","id":1,"method":"ping"}`,
		`[{"jsonrpc":"2.0","id":1,"method":"ping"},{"jsonrpc":"2.0","method":"notifications/initialized"}]`,
		`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"ocoya_list_posts","arguments":{"workspaceId":"acme"}}}`,
		`[{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"ocoya_get_post","arguments":{"workspaceId":"acme","postId":"x"}}},1,null,"x"]`,
		`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"ocoya_create_post","arguments":{"workspaceId":"acme","text":"hi"}}}`,
		`[]`, `[[[[[[]]]]]]`, `{"jsonrpc":"1.0"}`, `{`, ``,
	} {
		f.Add([]byte(seed))
	}
	c := fake.NewClientBuilder().WithScheme(scheme.New()).WithObjects(&socialv1alpha1.Workspace{
		ObjectMeta: metav1.ObjectMeta{Name: "acme"},
		Spec:       socialv1alpha1.WorkspaceSpec{DisplayName: "Acme", Members: []socialv1alpha1.WorkspaceMember{{Subject: "dev", Role: socialv1alpha1.RoleOwner}}},
	}).Build()
	caller := &Caller{Subject: "dev", ClientID: "fuzz", Grant: "fuzz", Scopes: allScopeValues(), Workspaces: []string{"acme"}}
	srv, err := New(Options{Client: c, APIReader: c, Authenticate: func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			next.ServeHTTP(w, r.WithContext(oauth.WithCaller(r.Context(), caller)))
		})
	}})
	if err != nil {
		f.Fatal(err)
	}
	h := srv.Handler()
	session := (&sessions{}).Generate()
	f.Fuzz(func(t *testing.T, body []byte) {
		req := httptest.NewRequestWithContext(context.Background(), http.MethodPost, "/mcp", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json, text/event-stream")
		req.Header.Set("Mcp-Session-Id", session)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		switch rec.Code {
		case http.StatusOK, http.StatusAccepted, http.StatusBadRequest, http.StatusForbidden, http.StatusNotFound,
			http.StatusRequestEntityTooLarge, http.StatusTooManyRequests:
		default:
			t.Fatalf("POST %q answered %d: %s", body, rec.Code, rec.Body)
		}
		if strings.HasPrefix(rec.Header().Get("Content-Type"), "application/json") && rec.Body.Len() > 0 && !json.Valid(rec.Body.Bytes()) {
			t.Fatalf("POST %q answered JSON that is not: %s", body, rec.Body)
		}
	})
}

func allScopeValues() []socialv1alpha1.Scope {
	return append([]socialv1alpha1.Scope(nil), oauth.AllScopes...)
}

// TestIntegralNumbersAreIntegers is what FuzzToolArguments found: a client
// that writes 20.0 (Python's json does) means the integer 20, which the
// schema accepts, and so must the tool.
func TestIntegralNumbersAreIntegers(t *testing.T) {
	var listPosts Tool
	for _, tl := range catalogue() {
		if tl.Name == "list_posts" {
			listPosts = tl
		}
	}
	for args, ok := range map[string]bool{
		`{"workspaceId":"acme","limit":20.0}`: true,
		`{"workspaceId":"acme","limit":2e1}`:  true,
		`{"workspaceId":"acme","limit":20}`:   true,
		`{"workspaceId":"acme","limit":20.5}`: false,
		`{"workspaceId":"acme","limit":"20"}`: false,
	} {
		if err := listPosts.decode([]byte(args)); (err == nil) != ok {
			t.Errorf("decode(%s) = %v, want ok=%v", args, err, ok)
		}
	}
}
