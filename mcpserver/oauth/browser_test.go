package oauth_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"time"

	"github.com/chromedp/chromedp"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

const chromiumPath = "/usr/bin/chromium"

// ensureChromium installs Debian's chromium through hack/chromium/ensure.sh
// when it is missing (CI runs as root).
func ensureChromium() {
	if _, err := os.Stat(chromiumPath); err == nil {
		return
	}
	_, file, _, _ := runtime.Caller(0)
	script := filepath.Join(filepath.Dir(file), "..", "..", "hack", "chromium", "ensure.sh")
	out, err := exec.Command(script).CombinedOutput()
	Expect(err).NotTo(HaveOccurred(), "installing chromium failed:\n%s", out)
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

		alloc, cancelAlloc := chromedp.NewExecAllocator(ctx,
			chromedp.ExecPath(chromiumPath),
			chromedp.Flag("headless", true),
			chromedp.NoSandbox,
			chromedp.DisableGPU,
			chromedp.Flag("disable-quic", true),
			chromedp.NoFirstRun,
			chromedp.NoDefaultBrowserCheck,
			chromedp.Flag("disable-background-networking", true),
			chromedp.Flag("disable-component-update", true),
			chromedp.Flag("disable-sync", true),
			chromedp.UserDataDir(GinkgoT().TempDir()),
			chromedp.WindowSize(480, 900), // a phone-sized window: the page must be readable there
		)
		DeferCleanup(cancelAlloc)
		bctx, cancelBrowser := chromedp.NewContext(alloc)
		DeferCleanup(cancelBrowser)
		// The first Run starts the browser and must not carry a timeout (it
		// would bound the browser's life); later steps get one each.
		Expect(chromedp.Do(bctx, chromedp.Navigate(p.authorizeURL(h.base, nil)))).To(Succeed())
		step, cancelStep := context.WithTimeout(bctx, 60*time.Second)
		DeferCleanup(cancelStep)
		Expect(chromedp.Do(step,
			chromedp.WaitVisible(chromedp.CSS(`input[name="username"]`)),
			chromedp.SendKeys(chromedp.CSS(`input[name="username"]`), "dev"),
			chromedp.SendKeys(chromedp.CSS(`input[name="password"]`), devPassword),
			chromedp.Click(chromedp.CSS(`button[type="submit"]`)),
			chromedp.WaitVisible(chromedp.CSS(`#approve`)),
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
