package oauth_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"time"

	"github.com/chromedp/chromedp"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/herald-dev/herald/api/v1alpha1"
	"github.com/herald-dev/herald/internal/testenv"
)

// ensureChromium installs Chromium when it is missing.
func ensureChromium() {
	Expect(testenv.EnsureChromium()).To(Succeed())
}

// newChromium starts headless Chromium for the spec and returns its
// context; it stops with the spec.
func newChromium() context.Context {
	bctx, stop := testenv.Chromium(ctx, GinkgoT().TempDir())
	DeferCleanup(stop)
	return bctx
}

var _ = Describe("a real browser", Label("browser"), func() {
	It("signs in, ticks one of two workspaces, approves, and the code yields a token for exactly that workspace", func() {
		ensureChromium()
		h := newHarness("")

		codes := make(chan string, 1)
		receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/callback" && r.URL.Query().Get("code") != "" {
				select {
				case codes <- r.URL.Query().Get("code"):
				default:
				}
			}
			_, _ = w.Write([]byte("You can close this window."))
		}))
		DeferCleanup(receiver.Close)
		redirect := receiver.URL + "/callback"
		clientID := register(h.base, "http://127.0.0.1/callback") // any loopback port matches
		p := newPKCE(clientID, redirect)

		bctx := newChromium()
		// The first Run starts the browser and must not carry a timeout (it
		// would bound the browser's life); later steps get one each.
		Expect(chromedp.Do(bctx, chromedp.Navigate(p.authorizeURL(h.base, nil)))).To(Succeed())
		step, cancelStep := context.WithTimeout(bctx, 60*time.Second)
		DeferCleanup(cancelStep)
		Expect(chromedp.Do(step,
			testenv.SignIn("dev", devPassword, `#approve`),
			chromedp.Click(chromedp.CSS(`input[name="workspace"][value="team"]`)),
		)).To(Succeed())
		consentText, err := chromedp.Run(step, chromedp.Text(chromedp.CSS(`body`)))
		Expect(err).NotTo(HaveOccurred())
		shot, err := chromedp.Run(step, chromedp.FullScreenshot(100))
		Expect(err).NotTo(HaveOccurred())
		Expect(chromedp.Do(step, chromedp.Click(chromedp.CSS(`#approve`)))).To(Succeed())
		Expect(consentText).To(ContainSubstring("Test Client"))
		Expect(consentText).To(ContainSubstring(redirect))

		var code string
		Eventually(codes).WithTimeout(30 * time.Second).Should(Receive(&code))
		secretsSeen.add(code)

		artifacts := filepath.Join("..", "..", "test", "e2e", "artifacts")
		Expect(os.MkdirAll(artifacts, 0o755)).To(Succeed())
		Expect(os.WriteFile(filepath.Join(artifacts, "consent.png"), shot, 0o644)).To(Succeed())
		Expect(shot[:8]).To(Equal([]byte("\x89PNG\r\n\x1a\n")))

		status, tok := exchange(h.base, p, code)
		Expect(status).To(Equal(http.StatusOK), "%v", tok)
		Expect(claims(tok["access_token"].(string))["workspaces"]).To(ConsistOf("team"))
	})
})

var _ = Describe("the approval page, in a real browser", Label("browser"), func() {
	It("shows an approver the post as each profile would publish it, and takes the approval; others find nothing", func() {
		ensureChromium()
		h := newHarness("")
		const ns = "approvals-page"
		Expect(createIfMissing(&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}})).To(Succeed())
		Expect(createIfMissing(&v1alpha1.Workspace{ObjectMeta: metav1.ObjectMeta{Name: ns}, Spec: v1alpha1.WorkspaceSpec{DisplayName: "Approvals",
			Approval: &v1alpha1.ApprovalPolicy{Required: v1alpha1.ApproveAll},
			Members:  []v1alpha1.WorkspaceMember{{Subject: "viewer", Role: v1alpha1.RoleApprover}, {Subject: "dev", Role: v1alpha1.RoleEditor}}}})).To(Succeed())
		Expect(createIfMissing(&v1alpha1.SocialProfile{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "bsky"},
			Spec: v1alpha1.SocialProfileSpec{Platform: "bluesky", Handle: "acme.example", CredentialsSecretRef: &v1alpha1.LocalObjectReference{Name: "bsky"}}})).To(Succeed())
		post := &v1alpha1.ScheduledPost{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "launch"},
			Spec: v1alpha1.ScheduledPostSpec{Text: "Our spring roast is here.", Profiles: []string{"bsky"}, ScheduledAt: time.Now().Add(time.Hour).UTC().Format(time.RFC3339)}}
		Expect(createIfMissing(post)).To(Succeed())
		page := h.base + "/approve/" + ns + "/launch"

		bctx := newChromium()
		Expect(chromedp.Do(bctx, chromedp.Navigate(page))).To(Succeed())
		step, cancelStep := context.WithTimeout(bctx, 60*time.Second)
		DeferCleanup(cancelStep)
		Expect(chromedp.Do(step, testenv.SignIn("viewer", viewPassword, `#approve`))).To(Succeed())
		before, err := chromedp.Run(step, chromedp.Text(chromedp.CSS(`body`)))
		Expect(err).NotTo(HaveOccurred())
		Expect(before).To(ContainSubstring("waits for approval by an owner or approver of workspace approvals-page (viewer)"))
		Expect(before).To(ContainSubstring("Our spring roast is here."), "the rendering Bluesky would publish")
		Expect(before).To(ContainSubstring("of 300 graphemes"))
		shot, err := chromedp.Run(step, chromedp.FullScreenshot(100))
		Expect(err).NotTo(HaveOccurred())
		Expect(chromedp.Do(step, chromedp.Click(chromedp.CSS(`#approve`)), chromedp.WaitNotPresent(chromedp.CSS(`#approve`)))).To(Succeed())
		after, err := chromedp.Run(step, chromedp.Text(chromedp.CSS(`#status`)))
		Expect(err).NotTo(HaveOccurred())
		Expect(after).To(ContainSubstring("approved by viewer"))
		stored := &v1alpha1.ScheduledPost{}
		Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(post), stored)).To(Succeed())
		Expect(stored.Spec.Approval).NotTo(BeNil())
		Expect(stored.Spec.Approval.ApprovedBy).To(Equal("viewer"))

		artifacts := filepath.Join("..", "..", "test", "e2e", "artifacts")
		Expect(os.MkdirAll(artifacts, 0o755)).To(Succeed())
		Expect(os.WriteFile(filepath.Join(artifacts, "approval.png"), shot, 0o644)).To(Succeed())

		// An editor of the workspace, signed in, finds no such page.
		b := newBrowser()
		login, _ := b.get(page)
		Expect(login.StatusCode).To(Equal(http.StatusOK))
		_, body := b.get(page)
		resp, body := b.post(page, url.Values{"csrf_token": {csrfOf(body)}, "username": {"dev"}, "password": {devPassword}})
		Expect(resp.StatusCode).To(Equal(http.StatusSeeOther), body)
		resp, body = b.get(page)
		Expect(resp.StatusCode).To(Equal(http.StatusNotFound), "an editor cannot approve")
		Expect(body).NotTo(ContainSubstring("spring roast"))
	})
})
