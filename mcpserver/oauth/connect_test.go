package oauth_test

import (
	"encoding/base64"
	"net/http"
	"net/url"
	"regexp"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/herald-dev/herald/api/v1alpha1"
	"github.com/herald-dev/herald/internal/connect"
	"github.com/herald-dev/herald/internal/publish"
	"github.com/herald-dev/herald/internal/publish/discord/discordtest"
	"github.com/herald-dev/herald/internal/publish/linkedin"
	"github.com/herald-dev/herald/internal/publish/linkedin/linkedintest"
	"github.com/herald-dev/herald/internal/publish/mastodon/mastodontest"
	"github.com/herald-dev/herald/internal/publish/meta/metatest"
	"github.com/herald-dev/herald/internal/publish/platformtest"
	"github.com/herald-dev/herald/internal/publish/registry"
	"github.com/herald-dev/herald/internal/publish/x"
	"github.com/herald-dev/herald/internal/publish/x/xtest"
	"github.com/herald-dev/herald/mcpserver/oauth"
)

// connectHarness is a replica whose connection pages reach the local
// platform fakes and verify accounts with Herald's own publishers.
func connectHarness() *harness {
	return newHarnessWith("", mgr, func(c *oauth.Config) {
		c.Outbound = platformtest.Client()
		c.Publishers = registry.Default(platformtest.Client(), nil)
	})
}

func ensureNamespace(name string) {
	Expect(createIfMissing(&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}})).To(Succeed())
}

// signedInBrowser is dev's browser, signed in on h through the page at u,
// which it returns.
func signedInBrowser(h *harness, u string) (*browser, string) {
	b := newBrowser()
	resp, page := b.get(u)
	Expect(resp.StatusCode).To(Equal(http.StatusOK), page)
	resp, page = b.post(u, url.Values{"csrf_token": {csrfOf(page)}, "username": {"dev"}, "password": {devPassword}})
	Expect(resp.StatusCode).To(Equal(http.StatusSeeOther), page)
	resp, page = b.get(u)
	Expect(resp.StatusCode).To(Equal(http.StatusOK), page)
	return b, page
}

// mastodonRound starts a connection on the page, answers the instance's
// authorization page with decision and returns the callback's answer.
func mastodonRound(h *harness, fake *mastodontest.Fake, profile, decision string) (*http.Response, string) {
	u := h.base + oauth.ConnectPath("demo", "mastodon") + "?" + url.Values{"instance": {fake.URL}, "profile": {profile}}.Encode()
	b, page := signedInBrowser(h, u)
	Expect(page).To(ContainSubstring(`value="` + fake.URL + `"`))
	resp, page := b.post(u, url.Values{"csrf_token": {csrfOf(page)}, "instance": {fake.URL}, "profile": {profile}})
	Expect(resp.StatusCode).To(Equal(http.StatusSeeOther), page)
	at, err := url.Parse(resp.Header.Get("Location"))
	Expect(err).NotTo(HaveOccurred())
	Expect(at.Host).To(Equal(strings.TrimPrefix(fake.URL, "http://")))
	Expect(at.Query().Get("code_challenge_method")).To(Equal("S256"))
	Expect(at.Query().Get("redirect_uri")).To(Equal(h.pub + oauth.ConnectCallbackPath))
	resp, page = b.get(at.String())
	Expect(resp.StatusCode).To(Equal(http.StatusOK), page)
	resp, _ = b.post(fake.URL+"/oauth/authorize", url.Values{"query": {at.RawQuery}, "decision": {decision}})
	Expect(resp.StatusCode).To(Equal(http.StatusFound))
	return b.get(resp.Header.Get("Location"))
}

// appRound connects an account of a platform Herald reaches through the
// operator's app: the page, the platform's authorization page at authorize
// answered with decision, and the callback, whose answer it returns. check,
// when set, looks at the authorization request.
func appRound(h *harness, platform, profile, authorize, decision string, check func(*url.URL)) (*http.Response, string) {
	_, resp, page := appRoundIn(h, platform, profile, authorize, decision, check)
	return resp, page
}

// appRoundIn is appRound that also returns the browser, for what follows
// on Herald's pages.
func appRoundIn(h *harness, platform, profile, authorize, decision string, check func(*url.URL)) (*browser, *http.Response, string) {
	u := h.base + oauth.ConnectPath("demo", platform)
	b, page := signedInBrowser(h, u)
	resp, page := b.post(u, url.Values{"csrf_token": {csrfOf(page)}, "profile": {profile}})
	Expect(resp.StatusCode).To(Equal(http.StatusSeeOther), page)
	at, err := url.Parse(resp.Header.Get("Location"))
	Expect(err).NotTo(HaveOccurred())
	Expect(at.Query().Get("code_challenge_method")).To(Equal("S256"))
	if check != nil {
		check(at)
	}
	resp, page = b.get(at.String())
	Expect(resp.StatusCode).To(Equal(http.StatusOK), page)
	resp, _ = b.post(authorize, url.Values{"query": {at.RawQuery}, "decision": {decision}})
	Expect(resp.StatusCode).To(Equal(http.StatusFound))
	resp, page = b.get(resp.Header.Get("Location"))
	return b, resp, page
}

// metaHarness is a replica with the operator's Meta apps, whose Facebook,
// Instagram and Threads logins and APIs are fake's.
func metaHarness(fake *metatest.Fake) *harness {
	secretsSeen.add(metatest.AppSecret, metatest.ThreadsAppSecret, metatest.ShortUserToken, metatest.ShortThreadsToken, metatest.UserToken, metatest.PageToken, metatest.ThreadsToken)
	graph, threadsHost := connect.Facebook, connect.Threads
	graph.AuthorizeURL, graph.TokenURL, graph.APIURL = fake.URL+"/v24.0/dialog/oauth", fake.URL+"/v24.0/oauth/access_token", fake.URL+"/v24.0"
	insta := connect.Instagram
	insta.AuthorizeURL, insta.TokenURL, insta.APIURL = graph.AuthorizeURL, graph.TokenURL, graph.APIURL
	threadsHost.AuthorizeURL, threadsHost.TokenURL, threadsHost.APIURL = fake.URL+"/oauth/authorize", fake.URL+"/oauth/access_token", fake.URL
	pubs := registry.Default(platformtest.Client(), nil)
	Expect(registry.Relocate(pubs, map[publish.Platform]string{"facebook": fake.URL, "instagram": fake.URL, "threads": fake.URL})).To(Succeed())
	Expect(createIfMissing(&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: "meta-apps"},
		StringData: map[string]string{"meta.clientID": metatest.AppID, "meta.clientSecret": metatest.AppSecret,
			"threads.clientID": metatest.ThreadsAppID, "threads.clientSecret": metatest.ThreadsAppSecret}})).To(Succeed())
	return newHarnessWith("", mgr, func(c *oauth.Config) {
		c.Outbound, c.Publishers, c.PlatformApps = platformtest.Client(), pubs, "meta-apps"
		c.Providers = map[v1alpha1.Platform]connect.Provider{"facebook": graph, "instagram": insta, "threads": threadsHost}
	})
}

var pendingRE = regexp.MustCompile(`name="pending" value="([^"]+)"`)

var _ = Describe("connecting social accounts", func() {
	BeforeEach(func() { ensureNamespace("demo") })

	It("connects a Mastodon account: registers Herald on the instance once, authorizes with PKCE, saves a Secret the profile owns, and reconnects in place", func() {
		h := connectHarness()
		fake := mastodontest.New(GinkgoTB(), "mastodon-token-connected-1")
		secretsSeen.add(fake.Token)

		resp, page := mastodonRound(h, fake, "", "authorize")
		Expect(resp.StatusCode).To(Equal(http.StatusOK), page)
		Expect(page).To(ContainSubstring("Connected @herald@fake.example as profile mastodon-herald-fake-example."))
		Expect(page).To(ContainSubstring("The profile is new."))
		Expect(page).NotTo(ContainSubstring(fake.Token))

		var prof v1alpha1.SocialProfile
		Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: "demo", Name: "mastodon-herald-fake-example"}, &prof)).To(Succeed())
		Expect(prof.Spec.Platform).To(Equal(v1alpha1.Platform("mastodon")))
		Expect(prof.Spec.Endpoint).To(Equal(fake.URL))
		Expect(prof.Spec.Handle).To(Equal("@herald@fake.example"))
		Expect(prof.Annotations).To(HaveKeyWithValue(connect.AnnotationConnectedBy, "dev"))
		var sec corev1.Secret
		Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: "demo", Name: prof.Spec.CredentialsSecretRef.Name}, &sec)).To(Succeed())
		Expect(string(sec.Data["accessToken"])).To(Equal(fake.Token))
		Expect(sec.Labels).To(HaveKeyWithValue(connect.LabelProfile, prof.Name))
		Expect(sec.OwnerReferences).To(ContainElement(HaveField("UID", prof.UID)))
		Expect(fake.Find("POST /api/v1/apps")).To(HaveLen(1))
		tokenForm := fake.Last(GinkgoTB(), "POST /oauth/token")
		Expect(string(tokenForm.Body)).To(ContainSubstring("code_verifier="))

		By("reconnecting the same profile: the app is reused, the Secret replaced in place")
		before := sec.ResourceVersion
		fake.Token = "mastodon-token-connected-1b" // the instance issues a new token
		secretsSeen.add(fake.Token)
		resp, page = mastodonRound(h, fake, prof.Name, "authorize")
		Expect(resp.StatusCode).To(Equal(http.StatusOK), page)
		Expect(page).To(ContainSubstring("credentials were replaced in place"))
		Expect(fake.Apps()).To(Equal(1), "one app per instance and redirect URI")
		var again corev1.Secret
		Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(&sec), &again)).To(Succeed())
		Expect(again.ResourceVersion).NotTo(Equal(before))
		Expect(again.UID).To(Equal(sec.UID))
		Expect(string(again.Data["accessToken"])).To(Equal(fake.Token))

		By("the person declining at the instance: nothing is saved, the page says so")
		resp, page = mastodonRound(h, fake, "mastodon-declined", "deny")
		Expect(resp.StatusCode).To(Equal(http.StatusBadRequest), page)
		Expect(page).To(ContainSubstring("answered access_denied"))
		err := k8sClient.Get(ctx, client.ObjectKey{Namespace: "demo", Name: "mastodon-declined"}, &v1alpha1.SocialProfile{})
		Expect(apierrors.IsNotFound(err)).To(BeTrue())
	})

	It("refuses a callback from another browser, a forged code and a bad instance, saving nothing", func() {
		h := connectHarness()
		fake := mastodontest.New(GinkgoTB(), "mastodon-token-connected-2")
		u := h.base + oauth.ConnectPath("demo", "mastodon")
		b, page := signedInBrowser(h, u)

		resp, page := b.post(u, url.Values{"csrf_token": {csrfOf(page)}, "instance": {"http://"}, "profile": {"m2"}})
		Expect(resp.StatusCode).To(Equal(http.StatusBadRequest), page)
		Expect(page).To(ContainSubstring("is not a Mastodon instance"))

		resp, page = b.post(u, url.Values{"csrf_token": {csrfOf(page)}, "instance": {fake.URL}, "profile": {"m2"}})
		Expect(resp.StatusCode).To(Equal(http.StatusSeeOther), page)
		at, _ := url.Parse(resp.Header.Get("Location"))
		state := at.Query().Get("state")
		// Sealed: neither the state nor what it decodes to shows the
		// connection (a short name may turn up in random ciphertext, a
		// JSON field with its quotes or the instance's URL will not).
		raw, err := base64.RawURLEncoding.DecodeString(state)
		Expect(err).NotTo(HaveOccurred())
		for _, shown := range []string{state, string(raw)} {
			Expect(shown).NotTo(ContainSubstring(`"m2"`), "the state is sealed")
			Expect(shown).NotTo(ContainSubstring(fake.URL), "the state is sealed")
		}

		callback := h.base + oauth.ConnectCallbackPath + "?" + url.Values{"state": {state}, "code": {"forged"}}.Encode()
		resp, page = newBrowser().get(callback)
		Expect(resp.StatusCode).To(Equal(http.StatusBadRequest), page)
		Expect(page).To(ContainSubstring("started in another browser"))

		resp, page = b.get(callback)
		Expect(resp.StatusCode).To(Equal(http.StatusBadGateway), page)
		Expect(page).To(ContainSubstring("invalid_grant"))
		err = k8sClient.Get(ctx, client.ObjectKey{Namespace: "demo", Name: "m2"}, &v1alpha1.SocialProfile{})
		Expect(apierrors.IsNotFound(err)).To(BeTrue())
	})

	It("connects a Discord webhook after Discord confirmed it, and says what is wrong without saving", func() {
		h := connectHarness()
		fake := discordtest.New(GinkgoTB())
		u := h.base + oauth.ConnectPath("demo", "discord")
		b, page := signedInBrowser(h, u)
		Expect(page).To(ContainSubstring(`type="password" name="webhookURL"`))

		resp, page := b.post(u, url.Values{"csrf_token": {csrfOf(page)}, "webhookURL": {fake.URL + "/api/webhooks/1/wrong"}, "channel": {"#news"}, "profile": {"discord-news"}})
		Expect(resp.StatusCode).To(Equal(http.StatusBadRequest), page)
		Expect(page).To(ContainSubstring("discord did not accept these credentials"))
		Expect(page).NotTo(ContainSubstring("/api/webhooks/1/wrong"), "a webhook URL is a credential: never shown again")
		err := k8sClient.Get(ctx, client.ObjectKey{Namespace: "demo", Name: "discord-news"}, &v1alpha1.SocialProfile{})
		Expect(apierrors.IsNotFound(err)).To(BeTrue())

		By("a Secret of that name that is not the profile's is left alone")
		Expect(createIfMissing(&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "demo", Name: "discord-taken-credentials"}, StringData: map[string]string{"other": "data"}})).To(Succeed())
		resp, page = b.post(u, url.Values{"csrf_token": {csrfOf(page)}, "webhookURL": {fake.WebhookURL()}, "channel": {"#news"}, "profile": {"discord-taken"}})
		Expect(resp.StatusCode).To(Equal(http.StatusConflict), page)
		Expect(page).To(ContainSubstring("exists and is not this profile&#39;s"))
		var untouched corev1.Secret
		Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: "demo", Name: "discord-taken-credentials"}, &untouched)).To(Succeed())
		Expect(untouched.Data).To(Equal(map[string][]byte{"other": []byte("data")}))

		resp, page = b.post(u, url.Values{"csrf_token": {csrfOf(page)}, "webhookURL": {fake.WebhookURL()}, "channel": {"#news"}, "profile": {"discord-news"}})
		Expect(resp.StatusCode).To(Equal(http.StatusOK), page)
		Expect(page).To(ContainSubstring("as profile discord-news."))
		var prof v1alpha1.SocialProfile
		Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: "demo", Name: "discord-news"}, &prof)).To(Succeed())
		var sec corev1.Secret
		Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: "demo", Name: prof.Spec.CredentialsSecretRef.Name}, &sec)).To(Succeed())
		Expect(string(sec.Data["webhookURL"])).To(Equal(fake.WebhookURL()))
	})

	It("connects an X account through the operator's app, keeping the tokens X issues, and says how to configure a missing app", func() {
		fake := xtest.New(GinkgoTB(), "x-client-1", "x-secret-1")
		secretsSeen.add(fake.ClientSecret)
		provider := connect.X
		provider.AuthorizeURL, provider.TokenURL = fake.URL+"/i/oauth2/authorize", fake.URL+"/2/oauth2/token"
		pubs := registry.Default(platformtest.Client(), nil)
		pubs["x"] = &x.Publisher{Client: platformtest.Client(), BaseURL: fake.URL}
		withApps := func(secret string) *harness {
			return newHarnessWith("", mgr, func(c *oauth.Config) {
				c.Outbound, c.Publishers, c.PlatformApps = platformtest.Client(), pubs, secret
				c.Providers = map[v1alpha1.Platform]connect.Provider{"x": provider}
			})
		}

		By("without the operator's app, the page says how to set one up")
		h := withApps("")
		u := h.base + oauth.ConnectPath("demo", "x")
		b, page := signedInBrowser(h, u)
		Expect(page).To(ContainSubstring("Continue to X"))
		resp, page := b.post(u, url.Values{"csrf_token": {csrfOf(page)}})
		Expect(resp.StatusCode).To(Equal(http.StatusServiceUnavailable), page)
		Expect(page).To(ContainSubstring("--platform-apps-secret"))
		Expect(page).To(ContainSubstring(h.pub+oauth.ConnectCallbackPath), "the redirect URI to register")

		By("with it: X's page, the code exchanged with PKCE and the app's credentials, the tokens saved")
		Expect(createIfMissing(secretWith("platform-apps", "x.clientID", fake.ClientID))).To(Succeed())
		apps := &corev1.Secret{}
		Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: namespace, Name: "platform-apps"}, apps)).To(Succeed())
		apps.Data["x.clientSecret"] = []byte(fake.ClientSecret)
		Expect(k8sClient.Update(ctx, apps)).To(Succeed())
		h = withApps("platform-apps")
		resp, page = appRound(h, "x", "x-brand", fake.URL+"/i/oauth2/authorize", "authorize", func(at *url.URL) {
			Expect(at.Query().Get("scope")).To(ContainSubstring("offline.access"))
		})
		Expect(resp.StatusCode).To(Equal(http.StatusOK), page)
		Expect(page).To(ContainSubstring("as profile x-brand."))
		var prof v1alpha1.SocialProfile
		Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: "demo", Name: "x-brand"}, &prof)).To(Succeed())
		var sec corev1.Secret
		Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: "demo", Name: prof.Spec.CredentialsSecretRef.Name}, &sec)).To(Succeed())
		Expect(string(sec.Data["accessToken"])).To(HavePrefix("x-access-"))
		Expect(string(sec.Data["refreshToken"])).To(HavePrefix("x-refresh-"))
		Expect(sec.Data).To(HaveKey("expiresAt"))
		secretsSeen.add(string(sec.Data["accessToken"]), string(sec.Data["refreshToken"]))
	})

	It("connects a LinkedIn member through the operator's app, keeping the member's URN the posts go out as", func() {
		fake := linkedintest.New(GinkgoTB())
		secretsSeen.add(linkedintest.ClientSecret, linkedintest.RefreshToken)
		provider := connect.LinkedIn
		provider.AuthorizeURL, provider.TokenURL, provider.UserinfoURL = fake.URL+"/oauth/v2/authorization", fake.URL+"/oauth/v2/accessToken", fake.URL+"/v2/userinfo"
		pubs := registry.Default(platformtest.Client(), nil)
		pubs["linkedin"] = &linkedin.Publisher{Client: platformtest.Client(), BaseURL: fake.URL}
		Expect(createIfMissing(&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: "linkedin-apps"},
			StringData: map[string]string{"linkedin.clientID": linkedintest.ClientID, "linkedin.clientSecret": linkedintest.ClientSecret}})).To(Succeed())
		h := newHarnessWith("", mgr, func(c *oauth.Config) {
			c.Outbound, c.Publishers, c.PlatformApps = platformtest.Client(), pubs, "linkedin-apps"
			c.Providers = map[v1alpha1.Platform]connect.Provider{"linkedin": provider}
		})

		resp, page := appRound(h, "linkedin", "", fake.URL+"/oauth/v2/authorization", "cancel", nil)
		Expect(resp.StatusCode).To(Equal(http.StatusBadRequest), page)
		Expect(page).To(ContainSubstring("linkedin answered user_cancelled_authorize"))

		resp, page = appRound(h, "linkedin", "", fake.URL+"/oauth/v2/authorization", "allow", nil)
		Expect(resp.StatusCode).To(Equal(http.StatusOK), page)
		Expect(page).To(ContainSubstring("Connected Ada Lovelace as profile linkedin-ada-lovelace."))
		var sec corev1.Secret
		Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: "demo", Name: "linkedin-ada-lovelace-credentials"}, &sec)).To(Succeed())
		Expect(string(sec.Data["authorURN"])).To(Equal("urn:li:person:abc123"), "from the userinfo of the new token")
		Expect(string(sec.Data["accessToken"])).To(Equal(linkedintest.Token))
		Expect(string(sec.Data["refreshToken"])).To(Equal(linkedintest.RefreshToken))
		Expect(string(fake.Last(GinkgoTB(), "POST /oauth/v2/accessToken").Body)).To(ContainSubstring("client_secret="), "LinkedIn's apps authenticate in the form")
	})

	It("connects a Facebook Page through the operator's Meta app: a long-lived token, the Page picked among those the person manages, its own token kept", func() {
		fake := metatest.New(GinkgoTB())
		h := metaHarness(fake)

		resp, page := appRound(h, "facebook", "", fake.URL+"/v24.0/dialog/oauth", "cancel", func(at *url.URL) {
			Expect(at.Query().Get("scope")).To(Equal("pages_show_list,pages_read_engagement,pages_manage_posts"), "Meta's scopes are comma-separated")
			Expect(at.Query().Get("client_id")).To(Equal(metatest.AppID))
		})
		Expect(resp.StatusCode).To(Equal(http.StatusBadRequest), page)
		Expect(page).To(ContainSubstring("facebook answered access_denied: Permissions error"))

		b, resp, page := appRoundIn(h, "facebook", "", fake.URL+"/v24.0/dialog/oauth", "allow", nil)
		Expect(resp.StatusCode).To(Equal(http.StatusOK), page)
		Expect(page).To(And(ContainSubstring(metatest.PageName), ContainSubstring(metatest.SecondPageName)), "both Pages are offered")
		Expect(page).NotTo(ContainSubstring(metatest.PageToken), "the Pages' tokens travel sealed")
		pending := pendingRE.FindStringSubmatch(page)
		Expect(pending).To(HaveLen(2))
		csrf := csrfOf(page)

		resp, page = b.post(h.base+oauth.ConnectChoosePath, url.Values{"csrf_token": {csrf}, "pending": {pending[1]}, "choice": {"7"}})
		Expect(resp.StatusCode).To(Equal(http.StatusBadRequest), page)
		resp, page = b.post(h.base+oauth.ConnectChoosePath, url.Values{"csrf_token": {csrf}, "pending": {pending[1][:len(pending[1])-4] + "AAAA"}, "choice": {"0"}})
		Expect(resp.StatusCode).To(Equal(http.StatusBadRequest), "a pending choice Herald did not seal is refused: %s", page)
		resp, page = b.post(h.base+oauth.ConnectChoosePath, url.Values{"csrf_token": {"forged"}, "pending": {pending[1]}, "choice": {"0"}})
		Expect(resp.StatusCode).To(Equal(http.StatusBadRequest), "a form not from Herald's page is refused: %s", page)

		resp, page = b.post(h.base+oauth.ConnectChoosePath, url.Values{"csrf_token": {csrf}, "pending": {pending[1]}, "choice": {"0"}})
		Expect(resp.StatusCode).To(Equal(http.StatusOK), page)
		Expect(page).To(ContainSubstring("Connected " + metatest.PageName + " as profile facebook-herald-coffee."))
		var sec corev1.Secret
		Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: "demo", Name: "facebook-herald-coffee-credentials"}, &sec)).To(Succeed())
		Expect(string(sec.Data["pageId"])).To(Equal(metatest.PageID))
		Expect(string(sec.Data["accessToken"])).To(Equal(metatest.PageToken), "the Page's own token, which does not expire")
		Expect(fake.Find("GET /v24.0/oauth/access_token")).To(HaveLen(1), "the short-lived token was traded for a long-lived one")
	})

	It("connects an Instagram account linked to a Page, and a Threads account, through the operator's Meta apps", func() {
		fake := metatest.New(GinkgoTB())
		h := metaHarness(fake)
		resp, page := appRound(h, "instagram", "", fake.URL+"/v24.0/dialog/oauth", "allow", nil)
		Expect(resp.StatusCode).To(Equal(http.StatusOK), page)
		Expect(page).To(ContainSubstring("as profile instagram-heraldcoffee."), "one linked account: no choice to make")
		var sec corev1.Secret
		Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: "demo", Name: "instagram-heraldcoffee-credentials"}, &sec)).To(Succeed())
		Expect(string(sec.Data["igUserId"])).To(Equal(metatest.IGUserID))
		Expect(string(sec.Data["accessToken"])).To(Equal(metatest.UserToken))
		Expect(sec.Data).To(HaveKey("expiresAt"), "the long-lived token lasts 60 days")

		resp, page = appRound(h, "threads", "", fake.URL+"/oauth/authorize", "allow", func(at *url.URL) {
			Expect(at.Query().Get("client_id")).To(Equal(metatest.ThreadsAppID), "Threads has its own app id")
		})
		Expect(resp.StatusCode).To(Equal(http.StatusOK), page)
		Expect(page).To(ContainSubstring("as profile threads-heraldcoffee."))
		Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: "demo", Name: "threads-heraldcoffee-credentials"}, &sec)).To(Succeed())
		Expect(string(sec.Data["accessToken"])).To(Equal(metatest.ThreadsToken))
	})

	It("offers the token form for Meta's platforms when the operator has no Meta app", func() {
		h := connectHarness()
		_, page := signedInBrowser(h, h.base+oauth.ConnectPath("demo", "instagram"))
		Expect(page).To(And(ContainSubstring(`name="accessToken"`), ContainSubstring(`name="igUserId"`)))
	})

	It("lets only editors and owners of the workspace connect accounts", func() {
		h := connectHarness()
		b := newBrowser()
		u := h.base + oauth.ConnectPath("team", "discord")
		resp, page := b.get(u)
		resp, page = b.post(u, url.Values{"csrf_token": {csrfOf(page)}, "username": {"viewer"}, "password": {viewPassword}})
		Expect(resp.StatusCode).To(Equal(http.StatusSeeOther), page)
		resp, page = b.get(u)
		Expect(resp.StatusCode).To(Equal(http.StatusNotFound), page)
		Expect(page).To(ContainSubstring("ask an owner of the workspace to make you an editor"))
		resp, _ = b.get(h.base + oauth.ConnectPath("secret-ws", "discord"))
		Expect(resp.StatusCode).To(Equal(http.StatusNotFound), "a workspace the person is not in does not exist for them")

		dev, page := signedInBrowser(h, h.base+oauth.ConnectPath("team", "discord"))
		Expect(page).To(ContainSubstring("Connect Discord to Team"), "dev is an editor of team")
		resp, page = dev.get(h.base + oauth.ConnectPath("demo", "sandbox"))
		Expect(resp.StatusCode).To(Equal(http.StatusNotFound), page)
		Expect(page).To(ContainSubstring("Herald connects mastodon, x, linkedin, bluesky"))
	})
})
