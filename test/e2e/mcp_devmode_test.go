package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"

	"github.com/herald-dev/herald/internal/signin"
)

// mcpCall posts one JSON-RPC message (or a batch) to /mcp with the token.
func mcpCall(g Gomega, base, token string, body any) (int, []byte) {
	data, _ := json.Marshal(body)
	req, _ := http.NewRequest(http.MethodPost, base+"/mcp", bytes.NewReader(data))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	g.Expect(err).NotTo(HaveOccurred())
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, out
}

// tool calls one tool and returns its structured content.
func tool(g Gomega, base, token, name string, args map[string]any) map[string]any {
	r := toolCall(g, base, token, name, args)
	g.ExpectWithOffset(1, r.status).To(Equal(http.StatusOK), r.text)
	g.ExpectWithOffset(1, r.isError).To(BeFalse(), "%s: %s", name, r.text)
	return r.structured
}

// TestDevModeServesMCP is the README's walk-through: `make run`, connect
// with OAuth, schedule a post to the sandbox profile, watch it publish.
func TestDevModeServesMCP(t *testing.T) {
	g := NewWithT(t)
	h := startHerald(t, buildHerald(t), t.TempDir())
	g.Eventually(func() int {
		resp, err := http.Get(h.baseURL + "/.well-known/oauth-protected-resource/mcp")
		if err != nil {
			return 0
		}
		resp.Body.Close()
		return resp.StatusCode
	}, 90*time.Second, 250*time.Millisecond).Should(Equal(http.StatusOK), "herald output:\n%s", h.out.String())
	g.Expect(h.out.String()).To(ContainSubstring("claude mcp add --transport http herald " + h.baseURL + "/mcp"))

	// A request with something that is not one of Herald's tokens is refused.
	status, _ := mcpCall(g, h.baseURL, "an-api-key", map[string]any{"jsonrpc": "2.0", "id": 1, "method": "tools/list"})
	g.Expect(status).To(Equal(http.StatusUnauthorized))

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	res, err := signin.SignIn(ctx, signin.Options{BaseURL: h.baseURL, Username: "dev", Password: devPassword, Workspaces: []string{"demo"}})
	g.Expect(err).NotTo(HaveOccurred())
	token := res.Token.AccessToken

	me := tool(g, h.baseURL, token, "ocoya_get_me", nil)
	g.Expect(me["subject"]).To(Equal("dev"))
	ws := tool(g, h.baseURL, token, "ocoya_list_workspaces", nil)["workspaces"].([]any)
	g.Expect(ws).To(HaveLen(1), "only the ticked workspace")

	profiles := tool(g, h.baseURL, token, "ocoya_list_social_profiles", map[string]any{"workspaceId": "demo"})["profiles"].([]any)
	g.Expect(profiles).To(ContainElement(HaveKeyWithValue("id", "sandbox")))

	at := time.Now().Add(5 * time.Second).UTC().Format(time.RFC3339)
	post := tool(g, h.baseURL, token, "ocoya_create_post", map[string]any{"workspaceId": "demo", "text": "Hello from the e2e test",
		"profileIds": []string{"sandbox"}, "scheduledAt": at})["post"].(map[string]any)
	id := post["id"].(string)
	g.Eventually(func(g Gomega) {
		p := tool(g, h.baseURL, token, "ocoya_get_post", map[string]any{"workspaceId": "demo", "postId": id})["post"].(map[string]any)
		g.Expect(p["phase"]).To(Equal("Published"))
		d := p["deliveries"].([]any)[0].(map[string]any)
		g.Expect(d["url"]).To(HavePrefix(h.baseURL + "/sandbox/"))
	}, 60*time.Second, 500*time.Millisecond).Should(Succeed(), "herald output:\n%s", tail(h.out.String()))
}

func tail(s string) string {
	lines := strings.Split(s, "\n")
	if len(lines) > 40 {
		lines = lines[len(lines)-40:]
	}
	return strings.Join(lines, "\n")
}
