package e2e

import (
	"context"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	. "github.com/onsi/gomega"

	"github.com/herald-dev/herald/internal/publish/mastodon/mastodontest"
	"github.com/herald-dev/herald/internal/signin"
	"github.com/herald-dev/herald/internal/testenv"
)

// TestConnectMastodonInChromium: an assistant asks Herald for a connection
// link; a person opens it in real Chromium, signs in to Herald, continues
// to the Mastodon instance (a local fake that follows Mastodon's app, OAuth
// and verify endpoints), authorizes Herald there and lands back on Herald,
// which registered itself on the instance, exchanged the code with PKCE and
// saved the account. The new profile turns Ready and publishes.
func TestConnectMastodonInChromium(t *testing.T) {
	g := NewWithT(t)
	g.Expect(testenv.EnsureChromium()).To(Succeed())
	instance := mastodontest.New(t, "e2e-mastodon-token-9f2c")
	h := startHeraldMCP(t)

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	res, err := signin.SignIn(ctx, signin.Options{BaseURL: h.Base, Username: devUser, Password: h.Password, Workspaces: []string{"demo"}})
	g.Expect(err).NotTo(HaveOccurred())
	token := res.Token.AccessToken

	link := tool(g, h.Base, token, "ocoya_get_social_connection_url", map[string]any{"workspaceId": "demo", "platform": "mastodon", "instance": instance.URL})
	g.Expect(link["callbackUrl"]).To(Equal(h.Base + "/connect/callback"))
	g.Expect(link["url"]).To(HavePrefix(h.Base + "/connect/demo/mastodon?"))

	bctx, stop := testenv.Chromium(context.Background(), t.TempDir())
	defer stop()
	g.Expect(chromedp.Do(bctx, chromedp.Navigate(link["url"].(string)))).To(Succeed())
	step, cancelStep := context.WithTimeout(bctx, 60*time.Second)
	defer cancelStep()
	g.Expect(chromedp.Do(step, testenv.SignIn(devUser, h.Password, `#connect`))).To(Succeed())
	prefilled, err := chromedp.Run(step, chromedp.Value(chromedp.CSS(`#instance`)))
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(prefilled).To(Equal(instance.URL), "the instance the assistant passed")
	g.Expect(chromedp.Do(step,
		chromedp.Click(chromedp.CSS(`#connect`)),
		chromedp.WaitVisible(chromedp.CSS(`#authorize`)), // the instance's own page
		chromedp.Click(chromedp.CSS(`#authorize`)),
		chromedp.WaitVisible(chromedp.CSS(`#done`)),
	)).To(Succeed())
	done, err := chromedp.Run(step, chromedp.Text(chromedp.CSS(`#done`)))
	g.Expect(err).NotTo(HaveOccurred())
	landed, err := chromedp.Run(step, chromedp.Location())
	g.Expect(err).NotTo(HaveOccurred())
	shot, err := chromedp.Run(step, chromedp.FullScreenshot(100))
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(done).To(Equal("Connected @herald@fake.example as profile mastodon-herald-fake-example."))
	u, err := url.Parse(landed)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(u.Path).To(Equal("/connect/callback"))
	g.Expect(instance.Apps()).To(Equal(1))
	g.Expect(string(instance.Last(t, "POST /oauth/token").Body)).To(ContainSubstring("code_verifier="))
	artifacts := filepath.Join("artifacts")
	g.Expect(os.MkdirAll(artifacts, 0o755)).To(Succeed())
	g.Expect(os.WriteFile(filepath.Join(artifacts, "connect-mastodon.png"), shot, 0o644)).To(Succeed())

	// The profile is verified by the reconciler and publishes.
	g.Eventually(func(g Gomega) {
		var found map[string]any
		for _, p := range tool(g, h.Base, token, "ocoya_list_social_profiles", map[string]any{"workspaceId": "demo"})["profiles"].([]any) {
			if v := p.(map[string]any); v["id"] == "mastodon-herald-fake-example" {
				found = v
			}
		}
		g.Expect(found).To(HaveKeyWithValue("ready", true))
		g.Expect(found).To(HaveKeyWithValue("connection", "connected"))
	}, 30*time.Second, 250*time.Millisecond).Should(Succeed(), "herald output:\n%s", tail(h.out.String()))
	text := "Connected from the assistant, " + time.Now().UTC().Format(time.RFC3339)
	post := tool(g, h.Base, token, "ocoya_publish_post", map[string]any{"workspaceId": "demo", "text": text, "profileIds": []string{"mastodon-herald-fake-example"}})["post"].(map[string]any)
	g.Eventually(func(g Gomega) {
		p := tool(g, h.Base, token, "ocoya_get_post", map[string]any{"workspaceId": "demo", "postId": post["id"]})["post"].(map[string]any)
		g.Expect(p["phase"]).To(Equal("Published"))
	}, 60*time.Second, 250*time.Millisecond).Should(Succeed(), "herald output:\n%s", tail(h.out.String()))
	g.Expect(strings.Join(instance.Statuses(), "\n")).To(ContainSubstring(text))
	g.Expect(h.out.String()).NotTo(ContainSubstring(instance.Token), "the account's token never reaches the log")
}
