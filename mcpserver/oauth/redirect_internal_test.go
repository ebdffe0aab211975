package oauth

import (
	"testing"

	. "github.com/onsi/gomega"
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
		{"http://localhost/callback", false}, // no port: not a native app listener
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

func TestRoleCaps(t *testing.T) {
	g := NewWithT(t)
	var viewer, editor, owner []string
	for _, s := range AllScopes {
		if allowedByRole("viewer", s) {
			viewer = append(viewer, string(s))
		}
		if allowedByRole("editor", s) {
			editor = append(editor, string(s))
		}
		if allowedByRole("owner", s) {
			owner = append(owner, string(s))
		}
		g.Expect(allowedByRole("", s)).To(BeFalse())
		g.Expect(scopeWords[s]).NotTo(BeEmpty(), "every scope needs words for the consent page")
	}
	g.Expect(viewer).To(ConsistOf("workspace:read", "social_profiles:read", "posts:read", "workflows:read"))
	g.Expect(editor).To(HaveLen(len(AllScopes) - 1))
	g.Expect(editor).NotTo(ContainElement("brand_kits:write"))
	g.Expect(owner).To(HaveLen(len(AllScopes)))
}
