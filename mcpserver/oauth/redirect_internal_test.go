package oauth

import (
	"testing"

	. "github.com/onsi/gomega"

	"github.com/herald-dev/herald/api/v1alpha1"
)

func TestValidateRedirectURI(t *testing.T) {
	for _, tc := range []struct {
		uri string
		ok  bool
	}{
		{"http://127.0.0.1/callback", true},
		{"http://127.0.0.1:33418/callback", true},
		{"http://[::1]:8080/cb", true},
		{"http://localhost:6274/callback", true},
		{"https://claude.ai/api/mcp/auth_callback", true},
		{"https://claude.com/api/mcp/auth_callback", true},
		{"https://vscode.dev/redirect", true},
		{"cursor://anysphere.cursor-mcp/oauth/callback", true},
		{"com.example.app:/oauth", true},
		{"http://localhost/callback", true}, // matches any port when authorizing
		{"http://evil.example/callback", false},
		{"http://192.168.1.5:8080/callback", false},
		{"https://claude.ai/cb#frag", false},
		{"javascript:alert(1)", false},
		{"data:text/html,hi", false},
		{"file:///etc/passwd", false},
		{"/relative/callback", false},
		{"https:///nohost", false},
		{"", false},
	} {
		err := validateRedirectURI(tc.uri)
		if tc.ok {
			NewWithT(t).Expect(err).NotTo(HaveOccurred(), tc.uri)
		} else {
			NewWithT(t).Expect(err).To(HaveOccurred(), tc.uri)
		}
	}
}

func TestLocalhostOnAnyPort(t *testing.T) {
	g := NewWithT(t)
	registered := []string{"http://localhost/callback", "https://app.example/cb", "http://localhost:7777/other?x=1"}
	g.Expect(localhostOnAnyPort("http://localhost:53124/callback", registered)).To(Equal("http://localhost:53124/callback"))
	g.Expect(localhostOnAnyPort("http://localhost/callback", registered)).To(Equal("http://localhost/callback"))
	g.Expect(localhostOnAnyPort("http://localhost:1/other?x=1", registered)).To(Equal("http://localhost:1/other?x=1"))
	for _, refused := range []string{
		"http://localhost:53124/callbackx", "http://localhost:53124/other", "http://localhost:53124/other?x=2",
		"https://localhost:53124/callback", "http://localhost.evil.example:53124/callback",
		"http://user@localhost:53124/callback", "http://127.0.0.1:53124/callback", "://bad",
	} {
		g.Expect(localhostOnAnyPort(refused, registered)).To(BeEmpty(), refused)
	}
}

func TestRoleCaps(t *testing.T) {
	g := NewWithT(t)
	caps := map[v1alpha1.WorkspaceRole][]string{}
	for _, s := range AllScopes {
		for _, role := range []v1alpha1.WorkspaceRole{v1alpha1.RoleViewer, v1alpha1.RoleApprover, v1alpha1.RoleEditor, v1alpha1.RoleOwner} {
			if role.Allows(s) {
				caps[role] = append(caps[role], string(s))
			}
		}
		g.Expect(v1alpha1.WorkspaceRole("").Allows(s)).To(BeFalse())
		g.Expect(scopeWords[s]).NotTo(BeEmpty(), "every scope needs words for the consent page")
	}
	reads := []string{"workspace:read", "social_profiles:read", "posts:read", "workflows:read"}
	g.Expect(caps[v1alpha1.RoleViewer]).To(ConsistOf(reads))
	g.Expect(caps[v1alpha1.RoleApprover]).To(ConsistOf(append(reads, "posts:approve")))
	g.Expect(caps[v1alpha1.RoleEditor]).To(HaveLen(len(AllScopes) - 2))
	g.Expect(caps[v1alpha1.RoleEditor]).NotTo(ContainElements("brand_kits:write", "posts:approve"), "who writes a post does not approve it")
	g.Expect(caps[v1alpha1.RoleOwner]).To(HaveLen(len(AllScopes)))
}
