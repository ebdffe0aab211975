package mcpserver

import (
	"net/http"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	socialv1alpha1 "github.com/herald-dev/herald/api/v1alpha1"
)

var _ = Describe("Connecting social accounts", func() {
	BeforeEach(func() {
		if k8sClient.Get(ctx, client.ObjectKey{Name: "linking"}, &socialv1alpha1.Workspace{}) != nil {
			seedWorkspace("linking", "lena", socialv1alpha1.RoleEditor)
		}
	})
	lena := grant("lena", []string{"linking"}, allScopes()...)
	in := func(kv ...any) map[string]any { return argsIn("linking", kv...) }

	It("hands out the connection page's link, for a new profile or to reconnect one, and says what is wrong", func() {
		got := ok(lena, "get_social_connection_url", in("platform", "mastodon", "instance", "fosstodon.org"))
		Expect(got["url"]).To(Equal("https://herald.example.com/connect/linking/mastodon?instance=fosstodon.org"))
		Expect(got["callbackUrl"]).To(Equal("https://herald.example.com/connect/callback"))
		Expect(got["reconnect"]).To(BeFalse())
		Expect(got["nextSteps"]).To(ContainSubstring("authorizes Herald there"))
		Expect(got).NotTo(HaveKey("opened"), "a client that does not show links gets the link alone")
	})

	It("refuses what it cannot link, and clients without social_profiles:write", func() {
		Expect(fails(lena, "get_social_connection_url", in("platform", "mastodon"))).To(ContainSubstring("instance is required for mastodon"))
		Expect(fails(lena, "get_social_connection_url", in("platform", "mastodon", "instance", "http://a/b"))).To(ContainSubstring("instance:"))
		Expect(fails(lena, "get_social_connection_url", in("platform", "myspace"))).To(ContainSubstring("platform"))
		Expect(fails(lena, "get_social_connection_url", in("platform", "sandbox"))).To(ContainSubstring("platform"), "the sandbox needs no account")
		Expect(fails(lena, "get_social_connection_url", in("platform", "discord", "profileId", "sandbox"))).To(ContainSubstring(`profile "sandbox" is a sandbox profile, not discord`))
		Expect(fails(lena, "get_social_connection_url", in("platform", "discord", "profileId", "Bad_Name"))).To(ContainSubstring("profileId: profile name"))

		readOnly := grant("lena", []string{"linking"}, socialv1alpha1.ScopeSocialProfilesRead)
		resp, _ := send(readOnly, `{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"ocoya_get_social_connection_url","arguments":{"workspaceId":"linking","platform":"bluesky"}}}`)
		Expect(resp.StatusCode).To(Equal(http.StatusForbidden))
		Expect(resp.Header.Get("WWW-Authenticate")).To(ContainSubstring("social_profiles:write"))
		viewer := grant("viewer", []string{"linking"}, allScopes()...)
		Expect(fails(viewer, "get_social_connection_url", in("platform", "bluesky"))).To(ContainSubstring("viewer"))
	})

	It("tells, for each profile, whether it is connected and how to repair a broken one", func() {
		bsky := &socialv1alpha1.SocialProfile{ObjectMeta: metav1.ObjectMeta{Namespace: "linking", Name: "bsky-brand"},
			Spec: socialv1alpha1.SocialProfileSpec{Platform: "bluesky", Handle: "brand.bsky.social", CredentialsSecretRef: &socialv1alpha1.LocalObjectReference{Name: "bsky"}}}
		Expect(k8sClient.Create(ctx, bsky)).To(Succeed())
		meta.SetStatusCondition(&bsky.Status.Conditions, metav1.Condition{Type: socialv1alpha1.ConditionReady, Status: metav1.ConditionFalse,
			Reason: "CredentialsRejected", Message: "bluesky refused the credentials"})
		Expect(k8sClient.Status().Update(ctx, bsky)).To(Succeed())

		Eventually(func() map[string]any {
			for _, p := range ok(lena, "list_social_profiles", in())["profiles"].([]any) {
				if v := p.(map[string]any); v["id"] == "bsky-brand" {
					return v
				}
			}
			return nil
		}).Should(And(HaveKeyWithValue("connection", "broken"),
			HaveKeyWithValue("nextStep", `call ocoya_get_social_connection_url with platform "bluesky" and profileId "bsky-brand", and give the user the link to reconnect the account; its posts and settings stay`)))

		got := ok(lena, "get_social_connection_url", in("platform", "bluesky", "profileId", "bsky-brand", "handle", "@brand.bsky.social"))
		Expect(got["reconnect"]).To(BeTrue())
		Expect(got["url"]).To(Equal("https://herald.example.com/connect/linking/bluesky?handle=brand.bsky.social&profile=bsky-brand"))
	})
})
