package testenv

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"

	"github.com/chromedp/chromedp"

	"github.com/herald-dev/herald/internal/controlplane"
)

// ChromiumPath is Debian's chromium, which hack/chromium/ensure.sh installs.
const ChromiumPath = "/usr/bin/chromium"

// EnsureChromium installs Debian's chromium through hack/chromium/ensure.sh
// when it is missing (CI runs as root).
func EnsureChromium() error {
	if _, err := os.Stat(ChromiumPath); err == nil {
		return nil
	}
	root, err := controlplane.ModuleRoot()
	if err != nil {
		return err
	}
	out, err := exec.Command(filepath.Join(root, "hack", "chromium", "ensure.sh")).CombinedOutput()
	if err != nil {
		return fmt.Errorf("installing chromium failed: %w\n%s", err, out)
	}
	return nil
}

// Chromium starts headless Chromium, with the flags this machine's closed
// network needs, in a phone-sized window (the pages must be readable
// there), keeping its profile in userDataDir. The returned context drives
// it; stop ends it. The first chromedp call on the context starts the
// browser and must not carry a timeout, which would bound its life.
func Chromium(parent context.Context, userDataDir string) (ctx context.Context, stop func()) {
	alloc, cancelAlloc := chromedp.NewExecAllocator(parent,
		chromedp.ExecPath(ChromiumPath),
		chromedp.Flag("headless", true),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(userDataDir),
		chromedp.WindowSize(480, 900),
	)
	bctx, cancelBrowser := chromedp.NewContext(alloc)
	return bctx, func() { cancelBrowser(); cancelAlloc() }
}

// SignIn is what a person does on Herald's sign-in page: types user and
// password, submits, and waits for the page behind it to show selector.
func SignIn(user, password, selector string) chromedp.Action[chromedp.Void] {
	return chromedp.Steps(
		chromedp.WaitVisible(chromedp.CSS(`input[name="username"]`)),
		chromedp.SendKeys(chromedp.CSS(`input[name="username"]`), user),
		chromedp.SendKeys(chromedp.CSS(`input[name="password"]`), password),
		chromedp.Click(chromedp.CSS(`button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(selector)),
	)
}
