package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/auth"
	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/modelcontextprotocol/go-sdk/oauthex"
	. "github.com/onsi/gomega"
)

// goSDKPost is the part of a post view this test reads.
type goSDKPost struct {
	ID          string `json:"id"`
	Phase       string `json:"phase"`
	Draft       bool   `json:"draft"`
	ScheduledAt string `json:"scheduledAt"`
	Deliveries  []struct {
		ProfileID   string `json:"profileId"`
		Phase       string `json:"phase"`
		URL         string `json:"url"`
		PublishedAt string `json:"publishedAt"`
	} `json:"deliveries"`
}

// callTool calls a tool and decodes its structuredContent into out; a tool error
// (isError) is an error here.
func callTool(ctx context.Context, s *mcp.ClientSession, name string, args map[string]any, out any) error {
	res, err := s.CallTool(ctx, &mcp.CallToolParams{Name: name, Arguments: args})
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	if res.IsError {
		text := ""
		for _, c := range res.Content {
			if tc, ok := c.(*mcp.TextContent); ok {
				text += tc.Text
			}
		}
		return fmt.Errorf("%s answered an error: %s", name, text)
	}
	data, err := json.Marshal(res.StructuredContent)
	if err != nil {
		return err
	}
	return json.Unmarshal(data, out)
}

// TestGoSDKClient: the official Go SDK's client connects with its own OAuth handler
// (discovery, dynamic registration, PKCE, resource, RFC 9207 iss check), a person
// approves one workspace, and the client drafts a post, schedules it five seconds
// ahead and sees it Published.
func TestGoSDKClient(t *testing.T) {
	g := NewWithT(t)
	h := startHeraldMCP(t)
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()

	redirectURI := fmt.Sprintf("http://127.0.0.1:%d/callback", freePort(t))
	var consent *consentResult
	handler, err := auth.NewAuthorizationCodeHandler(&auth.AuthorizationCodeHandlerConfig{
		DynamicClientRegistrationConfig: &auth.DynamicClientRegistrationConfig{Metadata: &oauthex.ClientRegistrationMetadata{
			ClientName:              "Herald e2e (Go SDK)",
			RedirectURIs:            []string{redirectURI},
			GrantTypes:              []string{"authorization_code", "refresh_token"},
			ResponseTypes:           []string{"code"},
			TokenEndpointAuthMethod: "none",
		}},
		RedirectURL: redirectURI,
		AuthorizationCodeFetcher: func(ctx context.Context, args *auth.AuthorizationArgs) (*auth.AuthorizationResult, error) {
			res, err := newFormBrowser(redirectURI).authorize(ctx, args.URL, devUser, h.Password, "demo")
			if err != nil {
				return nil, err
			}
			consent = res
			return &auth.AuthorizationResult{Code: res.Redirect.Get("code"), State: res.Redirect.Get("state"), Iss: res.Redirect.Get("iss")}, nil
		},
	})
	g.Expect(err).NotTo(HaveOccurred())

	client := mcp.NewClient(&mcp.Implementation{Name: "herald-e2e-go-sdk", Version: "1.0.0"}, nil)
	session, err := client.Connect(ctx, &mcp.StreamableClientTransport{
		Endpoint:             h.MCPURL,
		OAuthHandler:         handler,
		DisableStandaloneSSE: true,
		MaxRetries:           -1,
	}, nil)
	g.Expect(err).NotTo(HaveOccurred())
	t.Cleanup(func() { _ = session.Close() })
	g.Expect(consent).NotTo(BeNil(), "the SDK connected without asking the person")
	g.Expect(consent.Offered).To(ConsistOf("demo", "team"))
	g.Expect(session.InitializeResult().ServerInfo.Name).To(Equal("herald"))

	tools, err := session.ListTools(ctx, nil)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(tools.Tools).To(HaveLen(29))

	var me struct {
		Workspaces []struct {
			ID string `json:"id"`
		} `json:"workspaces"`
	}
	g.Expect(callTool(ctx, session, "ocoya_list_workspaces", map[string]any{}, &me)).To(Succeed())
	g.Expect(me.Workspaces).To(HaveExactElements(HaveField("ID", "demo")), "the grant holds only the approved workspace")

	// Herald verifies the seeded sandbox profile right after it starts.
	g.Eventually(func(g Gomega) {
		var out struct {
			Profiles []struct {
				ID       string `json:"id"`
				Platform string `json:"platform"`
				Ready    bool   `json:"ready"`
			} `json:"profiles"`
		}
		g.Expect(callTool(ctx, session, "ocoya_list_social_profiles", map[string]any{"workspaceId": "demo"}, &out)).To(Succeed())
		g.Expect(out.Profiles).To(ContainElement(And(HaveField("ID", "sandbox"), HaveField("Platform", "sandbox"), HaveField("Ready", true))))
	}, 30*time.Second, 250*time.Millisecond).Should(Succeed())

	var created struct{ Post goSDKPost }
	g.Expect(callTool(ctx, session, "ocoya_create_post", map[string]any{
		"workspaceId": "demo",
		"text":        "Herald e2e from the Go SDK, " + time.Now().UTC().Format(time.RFC3339Nano),
		"profileIds":  []string{"sandbox"},
	}, &created)).To(Succeed())
	g.Expect(created.Post.ID).NotTo(BeEmpty())
	g.Expect(created.Post.Phase).To(Equal("Draft"))

	due := time.Now().Add(5 * time.Second).UTC().Truncate(time.Second)
	var scheduled struct{ Post goSDKPost }
	g.Expect(callTool(ctx, session, "ocoya_schedule_post", map[string]any{
		"workspaceId": "demo",
		"postId":      created.Post.ID,
		"scheduledAt": due.Format(time.RFC3339),
	}, &scheduled)).To(Succeed())
	g.Expect(scheduled.Post.Draft).To(BeFalse())

	getPost := func(g Gomega) goSDKPost {
		var out struct{ Post goSDKPost }
		g.Expect(callTool(ctx, session, "ocoya_get_post", map[string]any{"workspaceId": "demo", "postId": created.Post.ID}, &out)).To(Succeed())
		return out.Post
	}
	g.Expect(getPost(g).Phase).NotTo(Equal("Published"), "published before its time")
	var post goSDKPost
	g.Eventually(func(g Gomega) {
		post = getPost(g)
		if slices.Contains([]string{"Failed", "Missed", "Canceled", "Unknown", "PartiallyPublished"}, post.Phase) {
			StopTrying(fmt.Sprintf("the post ended %s: %+v", post.Phase, post)).Now()
		}
		g.Expect(post.Phase).To(Equal("Published"))
	}, 60*time.Second, 500*time.Millisecond).Should(Succeed())
	g.Expect(post.Deliveries).To(HaveExactElements(And(
		HaveField("ProfileID", "sandbox"),
		HaveField("Phase", "Published"),
		HaveField("URL", ContainSubstring("/sandbox/")))))
	published, err := time.Parse(time.RFC3339, post.Deliveries[0].PublishedAt)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(published).NotTo(BeTemporally("<", due), "published before its scheduled time")
	g.Expect(strings.HasPrefix(post.Deliveries[0].URL, h.Base)).To(BeTrue(), "the sandbox feed is served by herald: %s", post.Deliveries[0].URL)
}
