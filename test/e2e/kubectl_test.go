package e2e

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"

	"github.com/herald-dev/herald/internal/controlplane"
)

// TestKubectlAgainstDevMode drives `make run`'s control plane with a real
// kubectl (built from the same Kubernetes release as the API server): the
// samples apply, the kinds explain and list, a bad object is refused naming
// its field, and a post applied for ten seconds ahead publishes.
func TestKubectlAgainstDevMode(t *testing.T) {
	g := NewWithT(t)
	assets, err := controlplane.AssetsDir()
	g.Expect(err).NotTo(HaveOccurred())
	kubectlBin := filepath.Join(assets, "kubectl")
	g.Expect(kubectlBin).To(BeAnExistingFile(), "hack/controlplane/build.sh builds kubectl")

	dataDir := t.TempDir()
	kubeconfig := filepath.Join(dataDir, "kubeconfig")
	h := startHerald(t, buildHerald(t), dataDir)
	kubectl := func(stdin string, args ...string) (string, error) {
		cmd := exec.Command(kubectlBin, append([]string{"--kubeconfig", kubeconfig}, args...)...)
		cmd.Stdin = strings.NewReader(stdin)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	g.Eventually(func() string {
		out, _ := kubectl("", "get", "workspaces")
		return out
	}, 90*time.Second, 500*time.Millisecond).Should(MatchRegexp(`demo\s+Demo\s+demo\s+UTC\s+True`), "herald output:\n%s", h.out.String())

	out, err := kubectl("", "apply", "-f", "../../config/samples/")
	g.Expect(err).NotTo(HaveOccurred(), out)
	g.Expect(out).To(ContainSubstring("scheduledpost.social.herald.dev/autumn-roast created"))

	out, err = kubectl("", "explain", "scheduledposts.spec.scheduledAt")
	g.Expect(err).NotTo(HaveOccurred(), out)
	g.Expect(out).To(ContainSubstring("RFC 3339 time with a time-zone"))

	out, err = kubectl("", "get", "herald", "-A")
	g.Expect(err).NotTo(HaveOccurred(), out)
	for _, kind := range []string{"workspace", "socialprofile", "brandkit", "scheduledpost", "workflow", "workflowrun", "mcpclient", "mcpgrant"} {
		g.Expect(out).To(ContainSubstring(kind+".social.herald.dev/"), "kubectl get herald lists %s", kind)
	}

	out, err = kubectl(`
apiVersion: social.herald.dev/v1alpha1
kind: ScheduledPost
metadata: {name: no-offset, namespace: demo}
spec: {text: hi, profiles: [sandbox], scheduledAt: "2030-07-01T09:00:00"}`, "apply", "-f", "-")
	g.Expect(err).To(HaveOccurred())
	g.Expect(out).To(And(ContainSubstring("spec.scheduledAt"), ContainSubstring("time-zone offset")))

	due := time.Now().Add(10 * time.Second).UTC().Format(time.RFC3339)
	out, err = kubectl(`
apiVersion: social.herald.dev/v1alpha1
kind: ScheduledPost
metadata: {name: ten-seconds, namespace: demo}
spec: {text: "Applied with kubectl", profiles: [sandbox], scheduledAt: "`+due+`"}`, "apply", "-f", "-")
	g.Expect(err).NotTo(HaveOccurred(), out)
	g.Eventually(func() string {
		out, _ := kubectl("", "get", "scheduledposts", "-n", "demo", "ten-seconds")
		return out
	}, 60*time.Second, 500*time.Millisecond).Should(MatchRegexp(`ten-seconds\s+Published`), "herald output:\n%s", tail(h.out.String()))
	out, err = kubectl("", "get", "scheduledpost", "-n", "demo", "ten-seconds", "-o", "jsonpath={.status.deliveries[0].url}")
	g.Expect(err).NotTo(HaveOccurred(), out)
	g.Expect(out).To(HavePrefix(h.baseURL + "/sandbox/"))
}
