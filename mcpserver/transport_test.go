package mcpserver

import (
	"context"
	"encoding/json"
	"strings"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	socialv1alpha1 "github.com/herald-dev/herald/api/v1alpha1"
	"github.com/herald-dev/herald/mcpserver/oauth"
)

var _ = Describe("Tool call responses", func() {
	It("are written as encoding/json would write them", func() {
		page := newPostList([]*listedPost{newListedPost(&socialv1alpha1.ScheduledPost{
			ObjectMeta: metav1.ObjectMeta{Name: "p"},
			Spec:       socialv1alpha1.ScheduledPostSpec{Text: "<b>\"quoted\"</b> & \u2028 tab\t", Profiles: []string{"sandbox"}},
		}, "Scheduled")}, "")
		withUpcoming := newPostList(page.entries, "next")
		withUpcoming.Upcoming = []*Occurrence{{RecurringPostID: "weekly", At: "2026-12-08T09:00:00+01:00", ProfileIDs: []string{"sandbox"}, Text: "<tip> \"of\" the week"}}
		results := []*mcp.CallToolResult{
			result(page, nil),
			result(withUpcoming, nil),
			result(&PostResult{Post: &PostView{ID: "x", Deliveries: []DeliveryView{}}}, nil),
			result(nil, invalidArgument("workspace %q not found", "nope")),
			{Content: []mcp.Content{mcp.NewTextContent("a"), mcp.NewTextContent("b")}},
		}
		for _, id := range []json.RawMessage{json.RawMessage(`7`), json.RawMessage(`"req-1"`)} {
			for _, res := range results {
				var rid mcp.RequestId
				Expect(json.Unmarshal(id, &rid)).To(Succeed())
				resp := mcp.JSONRPCResponse{JSONRPC: "2.0", ID: rid, Result: *res}
				out, ok := appendToolResult(nil, id, res)
				Expect(ok).To(BeTrue())
				want, err := json.Marshal(resp)
				Expect(err).NotTo(HaveOccurred())
				Expect(out).To(MatchJSON(want))
			}
		}
	})

	It("escape strings byte for byte as encoding/json does", func() {
		for _, s := range []string{"", "plain", "quote \" backslash \\ slash /", "<script>&amp;</script>", "\x00\x01\x1f\x7f\n\r\t\b\f",
			"é 🚀 中文", "\u2028\u2029", "bad \xff\xfe utf-8 \xe2\x80", strings.Repeat("long ", 500)} {
			want, err := json.Marshal(s)
			Expect(err).NotTo(HaveOccurred())
			Expect(string(appendJSONString(nil, s))).To(Equal(string(want)), "%q", s)
		}
	})

	It("leave results they cannot write as they are to encoding/json", func() {
		id := json.RawMessage(`1`)
		withImage := mcp.CallToolResult{Content: []mcp.Content{mcp.NewImageContent("aGk=", "image/png")}}
		withValue := mcp.CallToolResult{Content: []mcp.Content{mcp.NewTextContent("t")}, StructuredContent: map[string]any{"a": 1}}
		for _, res := range []mcp.CallToolResult{withImage, withValue} {
			_, ok := appendToolResult(nil, id, &res)
			Expect(ok).To(BeFalse())
		}
	})

	It("are the same on a session as through the transport", func() {
		seedWorkspace("same", "dev", socialv1alpha1.RoleEditor)
		Expect(k8sClient.Create(ctx, &socialv1alpha1.ScheduledPost{
			ObjectMeta: metav1.ObjectMeta{Namespace: "same", Name: "hello"},
			Spec:       socialv1alpha1.ScheduledPostSpec{Text: "Hello <world> & \"friends\"", Draft: true},
		})).To(Succeed())
		c := grant("dev", []string{"same"}, allScopes()...)
		Eventually(func() bool {
			return call(c, "get_post", map[string]any{"workspaceId": "same", "postId": "hello"}).IsError
		}, 10*time.Second, 50*time.Millisecond).Should(BeFalse())

		ws := map[string]any{"workspaceId": "same"}
		calls := []map[string]any{
			// Read-only tools with valid arguments: run by Herald on a session.
			{"name": "ocoya_list_posts", "arguments": ws},
			{"name": "ocoya_list_posts", "arguments": map[string]any{"workspaceId": "same", "status": "Draft", "profileId": "sandbox", "limit": 1}},
			{"name": "ocoya_list_posts", "arguments": map[string]any{"workspaceId": "same", "from": "2026-01-01T00:00:00Z", "to": "2030-01-01T00:00:00Z"}},
			{"name": "ocoya_list_posts", "arguments": map[string]any{"workspaceId": "same", "cursor": "not-a-cursor"}},
			{"name": "ocoya_get_post", "arguments": map[string]any{"workspaceId": "same", "postId": "hello"}},
			{"name": "ocoya_get_post", "arguments": map[string]any{"workspaceId": "elsewhere", "postId": "hello"}},
			{"name": "ocoya_get_me", "arguments": map[string]any{}},
			{"name": "ocoya_list_workspaces", "arguments": map[string]any{}},
			{"name": "ocoya_get_workspace", "arguments": ws},
			{"name": "ocoya_list_social_profiles", "arguments": ws},
			{"name": "ocoya_get_social_profile", "arguments": map[string]any{"workspaceId": "same", "profileId": "x-main"}},
			{"name": "ocoya_preview_post", "arguments": map[string]any{"workspaceId": "same", "text": "Hi <all>", "profileIds": []string{"sandbox", "x-main"}}},
			{"name": "ocoya_list_brand_kits", "arguments": ws},
			{"name": "ocoya_list_workflows", "arguments": ws},
			{"name": "ocoya_list_workflow_runs", "arguments": ws},
			// Arguments the schema refuses, or none: mcp-go answers on both paths.
			{"name": "ocoya_list_posts", "arguments": map[string]any{"workspaceId": "same", "limit": "many"}},
			{"name": "ocoya_list_posts", "arguments": map[string]any{"workspaceId": "same", "colour": "blue"}},
			{"name": "ocoya_list_posts", "arguments": map[string]any{"workspaceId": "same", "limit": 1000}},
			{"name": "ocoya_get_post", "arguments": map[string]any{"workspaceId": "same"}},
			{"name": "ocoya_get_post"},
			{"name": "ocoya_get_post", "arguments": []string{"same", "hello"}},
			{"name": "ocoya_no_such_tool", "arguments": map[string]any{}},
		}
		for _, params := range calls {
			onSession := rpc(c, "tools/call", params)
			viaTransport := rpc(c, "tools/call", params, "X-No-Session", "1")
			Expect(onSession.Error).To(Equal(viaTransport.Error), "%v", params)
			if onSession.Error == nil {
				Expect(onSession.Result).To(MatchJSON(viaTransport.Result), "%v", params)
			}
		}

		// A message that is not JSON-RPC 2.0 is mcp-go's to refuse.
		body := `{"jsonrpc":"1.0","id":5,"method":"tools/call","params":{"name":"ocoya_get_me","arguments":{}}}`
		_, onSession := send(c, body, "Mcp-Session-Id", testSession)
		_, viaTransport := send(c, body)
		Expect(sseOrJSON(onSession)).To(MatchJSON(sseOrJSON(viaTransport)))
		Expect(string(onSession)).To(ContainSubstring("Invalid JSON-RPC version"))
	})

	It("run valid read-only calls on a session without mcp-go's dispatch", func() {
		c := grant("dev", []string{"same"}, allScopes()...)
		ctx := oauth.WithCaller(ctx, c)
		run := func(body string) bool {
			msg, ok := probe(json.RawMessage(body))
			Expect(ok).To(BeTrue())
			call, ran := srv.callReadTool(ctx, msg)
			Expect(call.panic).NotTo(HaveOccurred())
			Expect(ran).To(Equal(call.out != nil || call.err != nil))
			return ran
		}
		Expect(run(`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"ocoya_get_me","arguments":{}}}`)).To(BeTrue())
		Expect(run(`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"ocoya_list_posts","arguments":{"workspaceId":"same"}}}`)).To(BeTrue())
		// Writes, schema violations, missing arguments and other versions go to mcp-go.
		Expect(run(`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"ocoya_create_post","arguments":{"workspaceId":"same","text":"x"}}}`)).To(BeFalse())
		Expect(run(`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"ocoya_list_posts","arguments":{"workspaceId":"same","limit":0}}}`)).To(BeFalse())
		Expect(run(`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"ocoya_list_posts"}}`)).To(BeFalse())
		Expect(run(`{"jsonrpc":"1.0","id":1,"method":"tools/call","params":{"name":"ocoya_get_me","arguments":{}}}`)).To(BeFalse())
		// A tool outside the grant's scopes stays hidden, as mcp-go's filter hides it.
		narrow := oauth.WithCaller(ctx, grant("dev", []string{"same"}, socialv1alpha1.ScopeWorkspaceRead))
		msg, _ := probe(json.RawMessage(`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"ocoya_list_posts","arguments":{"workspaceId":"same"}}}`))
		_, ran := srv.callReadTool(narrow, msg)
		Expect(ran).To(BeFalse())
	})

	It("answer a read tool's panic as mcp-go's recovery does", func() {
		boom := Tool{Name: "ocoya_boom", ReadOnly: true, InputSchema: json.RawMessage(`{"type":"object"}`),
			handle: func(context.Context, *Server, json.RawMessage) (any, error) { panic("boom") }}
		tools, err := compileReadTools(map[string]Tool{boom.Name: boom})
		Expect(err).NotTo(HaveOccurred())
		s := &Server{readTools: tools}
		msg, _ := probe(json.RawMessage(`{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"ocoya_boom","arguments":{}}}`))
		call, ran := s.callReadTool(oauth.WithCaller(ctx, grant("dev", nil)), msg)
		Expect(ran).To(BeTrue())
		out := appendReadCall(nil, msg.ID, call)
		Expect(out).To(MatchJSON(`{"jsonrpc":"2.0","id":3,"error":{"code":-32603,"message":"panic recovered in ocoya_boom tool handler: boom"}}`))
	})
})
