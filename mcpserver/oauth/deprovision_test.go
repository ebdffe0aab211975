package oauth_test

import (
	"net/http"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/herald-dev/herald/api/v1alpha1"
	"github.com/herald-dev/herald/mcpserver/oauth"
)

var _ = Describe("deprovisioning", func() {
	It("ends a deleted client's access tokens at once and its grants at the next clean-up", func() {
		h := newHarness("")
		redirect := "http://127.0.0.1:7700/cb"
		clientID := register(h.base, redirect)
		p := newPKCE(clientID, redirect)
		_, tok := exchange(h.base, p, authorize(h.base, p, "dev", devPassword, "team"))
		at := tok["access_token"].(string)
		status, _, _ := callMCP(h.base+"/mcp", at)
		Expect(status).To(Equal(http.StatusOK))

		Expect(k8sClient.Delete(ctx, &v1alpha1.MCPClient{ObjectMeta: metav1.ObjectMeta{Name: clientID}})).To(Succeed())
		Eventually(func() int { st, _, _ := callMCP(h.base+"/mcp", at); return st }).WithTimeout(5*time.Second).
			Should(Equal(http.StatusUnauthorized), "an access token of a deleted client stops before it expires")
		_, hdr, _ := callMCP(h.base+"/mcp", at)
		Expect(hdr).To(ContainSubstring("was removed from Herald"))

		grant := claims(at)["grant"].(string)
		h.clock.Step(2 * time.Minute)
		Expect(h.srv.Sweep(ctx)).To(Succeed())
		Expect(k8sClient.Get(ctx, client.ObjectKey{Name: grant}, &v1alpha1.MCPGrant{})).NotTo(Succeed(), "the grant went with its client")
	})

	It("ends a removed user's refresh tokens and sign-in", func() {
		h := newHarness("")
		const user, password = "leaver", "leaver-password"
		Expect(oauth.EnsureLocalUser(ctx, k8sClient, namespace, user, password)).To(Succeed())
		ws := &v1alpha1.Workspace{ObjectMeta: metav1.ObjectMeta{Name: "leaver-ws"},
			Spec: v1alpha1.WorkspaceSpec{DisplayName: "Leaver", Members: []v1alpha1.WorkspaceMember{{Subject: user, Role: v1alpha1.RoleEditor}}}}
		Expect(createIfMissing(ws)).To(Succeed())
		redirect := "http://127.0.0.1:7701/cb"
		clientID := register(h.base, redirect)
		p := newPKCE(clientID, redirect)
		authURL := p.authorizeURL(h.base, nil)
		b := newBrowser()
		consent := b.login(authURL, user, password)
		Eventually(func() string { _, consent = b.get(authURL); return consent }).Should(ContainSubstring("leaver-ws"))
		loc := b.decide(authURL, consent, "approve", "leaver-ws")
		_, tok := exchange(h.base, p, loc.Query().Get("code"))
		status, next := refresh(h.base, clientID, tok["refresh_token"].(string))
		Expect(status).To(Equal(http.StatusOK), "%v", next)

		removeLocalUser(user)
		status, body := refresh(h.base, clientID, next["refresh_token"].(string))
		Expect(status).To(Equal(http.StatusBadRequest), "%v", body)
		Expect(body["error"]).To(Equal("invalid_grant"))
		_, page := b.get(authURL)
		Expect(page).To(ContainSubstring(`name="password"`), "the sign-in cookie of a removed user signs nobody in")
	})
})

// removeLocalUser deletes user's line from the users Secret, as an
// operator editing it would.
func removeLocalUser(user string) {
	sec := &corev1.Secret{}
	Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: namespace, Name: oauth.UsersSecretName}, sec)).To(Succeed())
	var kept []string
	for _, l := range strings.Split(string(sec.Data[oauth.UsersSecretKey]), "\n") {
		if l != "" && !strings.HasPrefix(l, user+":") {
			kept = append(kept, l)
		}
	}
	sec.Data[oauth.UsersSecretKey] = []byte(strings.Join(kept, "\n") + "\n")
	Expect(k8sClient.Update(ctx, sec)).To(Succeed())
}
