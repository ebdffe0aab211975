// Package e2e drives the built herald binary the way people use it.
package e2e

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"

	socialv1alpha1 "github.com/herald-dev/herald/api/v1alpha1"
	"github.com/herald-dev/herald/internal/controlplane"
	"github.com/herald-dev/herald/internal/scheme"
)

// syncBuffer collects a process's output while the test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// buildHerald compiles the binary once per test run.
func buildHerald(t *testing.T) string {
	t.Helper()
	root, err := controlplane.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(t.TempDir(), "herald")
	cmd := exec.Command("go", "build", "-o", bin, ".")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

type heraldProcess struct {
	cmd  *exec.Cmd
	out  *syncBuffer
	done chan error
	// baseURL is where MCP and OAuth are served.
	baseURL string
}

// devPassword is the dev user's password in these tests.
const devPassword = "e2e-password"

// freePort finds a loopback port nothing listens on.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// startHerald runs `herald --dev` on dataDir with extra flags.
func startHerald(t *testing.T, bin, dataDir string, flags ...string) *heraldProcess {
	t.Helper()
	assets, err := controlplane.AssetsDir()
	if err != nil {
		t.Fatal(err)
	}
	p := &heraldProcess{out: &syncBuffer{}, done: make(chan error, 1)}
	p.baseURL = fmt.Sprintf("http://127.0.0.1:%d", freePort(t))
	// As make run starts it: local fakes on loopback are reachable.
	p.cmd = exec.Command(bin, "--dev", "--egress-allow=127.0.0.0/8,::1", "--data-dir", dataDir, "--health-probe-bind-address", "127.0.0.1:0",
		"--listen", strings.TrimPrefix(p.baseURL, "http://"), "--public-url", p.baseURL)
	p.cmd.Args = append(p.cmd.Args, flags...)
	p.cmd.Env = append(os.Environ(), controlplane.AssetsEnv+"="+assets, "KUBECONFIG=", "HERALD_DEV_PASSWORD="+devPassword)
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.done <- p.cmd.Wait() }()
	t.Cleanup(func() {
		if p.cmd.ProcessState == nil {
			_ = p.cmd.Process.Signal(syscall.SIGINT)
			select {
			case <-p.done:
			case <-time.After(30 * time.Second):
				_ = p.cmd.Process.Kill()
			}
		}
	})
	return p
}

// stop interrupts herald as Ctrl-C would and waits for a clean exit.
func (p *heraldProcess) stop(g *WithT) {
	g.Expect(p.cmd.Process.Signal(syscall.SIGINT)).To(Succeed())
	var err error
	g.Eventually(p.done, 60*time.Second).Should(Receive(&err))
	g.Expect(err).NotTo(HaveOccurred(), "herald did not exit cleanly:\n%s", p.out.String())
}

func kubeClient(g Gomega, kubeconfig string) client.Client {
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	g.Expect(err).NotTo(HaveOccurred())
	cfg.Timeout = 5 * time.Second
	c, err := client.New(cfg, client.Options{Scheme: scheme.New()})
	g.Expect(err).NotTo(HaveOccurred())
	return c
}

// TestDevModeEmbeddedControlPlane is `make run` on a machine with no cluster:
// the embedded control plane starts, the demo workspace becomes Ready, Ctrl-C
// stops everything, and a second start keeps the data.
func TestDevModeEmbeddedControlPlane(t *testing.T) {
	g := NewWithT(t)
	bin := buildHerald(t)
	dataDir := t.TempDir()
	kubeconfig := filepath.Join(dataDir, "kubeconfig")

	start := time.Now()
	first := startHerald(t, bin, dataDir)
	var c client.Client
	g.Eventually(func(g Gomega) {
		g.Expect(kubeconfig).To(BeAnExistingFile())
		c = kubeClient(NewWithT(t), kubeconfig)
		ws := &socialv1alpha1.Workspace{}
		g.Expect(c.Get(context.Background(), client.ObjectKey{Name: "demo"}, ws)).To(Succeed())
		g.Expect(meta.IsStatusConditionTrue(ws.Status.Conditions, socialv1alpha1.ConditionReady)).To(BeTrue())
	}, 90*time.Second, 250*time.Millisecond).Should(Succeed(), "herald output:\n%s", first.out.String())
	t.Logf("demo workspace Ready %.1fs after start", time.Since(start).Seconds())

	g.Expect(first.out.String()).To(ContainSubstring("kubectl --kubeconfig " + kubeconfig + " get herald -A"))
	g.Expect(c.Get(context.Background(), client.ObjectKey{Name: "team"}, &socialv1alpha1.Workspace{})).To(Succeed())
	marker := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "survives-restart", Namespace: "demo"}, Data: map[string]string{"run": "first"}}
	g.Expect(c.Create(context.Background(), marker)).To(Succeed())

	first.stop(g)
	g.Expect(first.out.String()).To(ContainSubstring("embedded control plane stopped"))
	g.Expect(c.Get(context.Background(), client.ObjectKeyFromObject(marker), &corev1.ConfigMap{})).NotTo(Succeed(), "the API server is gone after Ctrl-C")

	second := startHerald(t, bin, dataDir)
	g.Eventually(func(g Gomega) {
		c := kubeClient(NewWithT(t), kubeconfig)
		found := &corev1.ConfigMap{}
		g.Expect(c.Get(context.Background(), client.ObjectKeyFromObject(marker), found)).To(Succeed())
		g.Expect(found.Data).To(HaveKeyWithValue("run", "first"))
	}, 90*time.Second, 250*time.Millisecond).Should(Succeed(), "herald output:\n%s", second.out.String())
	second.stop(g)
}
