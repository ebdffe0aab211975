// Package pds runs Herald's Bluesky adapter, through the SocialProfile and
// ScheduledPost reconcilers, against the reference Bluesky PDS
// (@atproto/dev-env's TestNetworkNoAppView under Node.js 22, started by
// start.mjs in this folder) and a real kube-apiserver and etcd.
package pds

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"k8s.io/client-go/rest"
	clocktesting "k8s.io/utils/clock/testing"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/herald-dev/herald/controllers"
	"github.com/herald-dev/herald/internal/controlplane"
	"github.com/herald-dev/herald/internal/publish"
	"github.com/herald-dev/herald/internal/publish/bluesky"
	"github.com/herald-dev/herald/internal/publish/registry"
	"github.com/herald-dev/herald/internal/scheme"
	"github.com/herald-dev/herald/internal/testenv"
)

const (
	timeout  = 30 * time.Second
	interval = 100 * time.Millisecond
)

var (
	env       *envtest.Environment
	cfg       *rest.Config
	k8sClient client.Client
	ctx       context.Context
	cancel    context.CancelFunc

	// fakeClock is the reconcilers' clock: tests step it to make posts due.
	fakeClock *clocktesting.FakeClock
	// pds is the running PDS and its account.
	pds *pdsServer
	// traffic records every request Herald's publishers sent to the PDS.
	traffic = &recorder{}
)

func TestBlueskyPDS(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "Bluesky PDS Suite")
}

var _ = BeforeSuite(func() {
	logf.SetLogger(zap.New(zap.WriteTo(GinkgoWriter), zap.UseDevMode(true)))
	ctx, cancel = context.WithCancel(context.Background())
	fakeClock = clocktesting.NewFakeClock(time.Now().UTC().Truncate(time.Second))

	// The PDS (mostly Node loading its modules) and the API server start
	// side by side.
	start := time.Now()
	waitPDS := startPDS(GinkgoTB())
	var err error
	env, cfg, err = testenv.Start()
	Expect(err).NotTo(HaveOccurred())
	k8sClient, err = client.New(cfg, client.Options{Scheme: scheme.New()})
	Expect(err).NotTo(HaveOccurred())
	GinkgoWriter.Printf("API server ready in %s\n", time.Since(start).Round(time.Millisecond))
	pds = waitPDS()
	GinkgoWriter.Printf("PDS %s with account %s (%s) ready in %s\n", pds.URL, pds.Handle, pds.DID, time.Since(start).Round(time.Millisecond))
})

var _ = AfterSuite(func() {
	if cancel != nil {
		cancel()
	}
	if env != nil {
		Expect(env.Stop()).To(Succeed())
	}
	// The PDS is stopped by the DeferCleanup registered in startPDS.
})

// pdsServer is what start.mjs printed: the PDS's URL and an account on it
// (Password is an app password of that account).
type pdsServer struct {
	URL      string `json:"pdsURL"`
	PLC      string `json:"plcURL"`
	Handle   string `json:"handle"`
	DID      string `json:"did"`
	Password string `json:"password"`
}

// startPDS installs Node.js 22 and test/pds's locked packages with
// hack/node/ensure.sh and starts start.mjs; the function it returns waits
// for the account start.mjs prints. The process is stopped (stdin closed,
// then SIGTERM, then SIGKILL) when the suite ends.
func startPDS(tb testing.TB) func() *pdsServer {
	root, err := controlplane.ModuleRoot()
	Expect(err).NotTo(HaveOccurred())
	src := filepath.Join(root, "test", "pds")

	t0 := time.Now()
	ensure := exec.Command(filepath.Join(root, "hack", "node", "ensure.sh"), src)
	ensure.Stderr = GinkgoWriter
	out, err := ensure.Output()
	Expect(err).NotTo(HaveOccurred(), "hack/node/ensure.sh test/pds")
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	Expect(lines).To(HaveLen(2), "hack/node/ensure.sh prints the node folder and the deps folder")
	nodeDir, depsDir := lines[0], lines[1]
	GinkgoWriter.Printf("hack/node/ensure.sh test/pds took %s\n", time.Since(t0).Round(time.Millisecond))

	// ES module imports ignore NODE_PATH: run a copy of the script that sits
	// next to a node_modules link.
	dir := tb.TempDir()
	script, err := os.ReadFile(filepath.Join(src, "start.mjs"))
	Expect(err).NotTo(HaveOccurred())
	Expect(os.WriteFile(filepath.Join(dir, "start.mjs"), script, 0o644)).To(Succeed())
	Expect(os.Symlink(filepath.Join(depsDir, "node_modules"), filepath.Join(dir, "node_modules"))).To(Succeed())

	cmd := exec.Command(filepath.Join(nodeDir, "bin", "node"), filepath.Join(dir, "start.mjs"), "herald.test")
	cmd.Dir = dir
	// The PDS's data folders go to os.tmpdir(); keep them in the test's.
	cmd.Env = append(os.Environ(), "TMPDIR="+dir, "PATH="+filepath.Join(nodeDir, "bin")+string(os.PathListSeparator)+os.Getenv("PATH"))
	cmd.Stderr = GinkgoWriter
	stdin, err := cmd.StdinPipe()
	Expect(err).NotTo(HaveOccurred())
	stdout, err := cmd.StdoutPipe()
	Expect(err).NotTo(HaveOccurred())
	Expect(cmd.Start()).To(Succeed())
	// exited is closed once the process has ended; exitErr says how.
	exited := make(chan struct{})
	var exitErr error
	lineCh := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if l := sc.Text(); strings.HasPrefix(l, "{") {
				select {
				case lineCh <- l:
				default:
				}
			}
		}
		_, _ = io.Copy(io.Discard, stdout)
		exitErr = cmd.Wait()
		close(exited)
	}()
	DeferCleanup(func() {
		_ = stdin.Close() // start.mjs shuts the network down when stdin closes
		select {
		case <-exited:
			return
		case <-time.After(5 * time.Second):
		}
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
	})

	return func() *pdsServer {
		var s pdsServer
		select {
		case l := <-lineCh:
			Expect(json.Unmarshal([]byte(l), &s)).To(Succeed(), "start.mjs printed %q", l)
		case <-exited:
			Fail(fmt.Sprintf("start.mjs exited before printing the account: %v", exitErr))
		case <-time.After(2 * time.Minute):
			Fail("start.mjs printed no account within 2 minutes")
		}
		Expect(s.URL).To(HavePrefix("http://"))
		Expect(s.DID).To(HavePrefix("did:plc:"))
		Expect(s.Handle).To(Equal("herald.test"))
		Expect(s.Password).NotTo(BeEmpty())
		return &s
	}
}

// recorder is an http.RoundTripper that sends to loopback only and records
// each XRPC method called with the status it answered.
type recorder struct {
	mu    sync.Mutex
	calls []call
}

type call struct {
	Method string // XRPC method, such as com.atproto.repo.createRecord
	Status int    // 0 when the request failed
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	if h := req.URL.Hostname(); h != "localhost" && h != "127.0.0.1" && h != "::1" {
		return nil, fmt.Errorf("the test transport refuses %s: this suite only talks to the local PDS", req.URL.Host)
	}
	res, err := http.DefaultTransport.RoundTrip(req)
	c := call{Method: strings.TrimPrefix(req.URL.Path, "/xrpc/")}
	if err == nil {
		c.Status = res.StatusCode
	}
	r.mu.Lock()
	r.calls = append(r.calls, c)
	r.mu.Unlock()
	return res, err
}

// statuses returns the status of every call of an XRPC method, in order.
func (r *recorder) statuses(method string) []int {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []int
	for _, c := range r.calls {
		if c.Method == method {
			out = append(out, c.Status)
		}
	}
	return out
}

// publishers returns Herald's adapters sending through traffic.
func publishers() publish.Registry {
	r := registry.Default(&http.Client{Timeout: 10 * time.Second, Transport: traffic}, nil)
	if pds != nil {
		r[publish.Platform("bluesky")].(*bluesky.Publisher).PLC = pds.PLC // the network's own DID directory
	}
	return r
}

// startManager starts a manager like main.go's, a process of its own, with
// the suite's clock and the given publishers, and returns a function that
// stops it and waits, and a channel closed once it has stopped (on its own
// or by the function). crash, when set, makes Bluesky's publisher kill the
// process once the PDS has the post (testenv.CrashAfterSend).
func startManager(pubs publish.Registry, crash bool) (func(), <-chan struct{}) {
	mctx, stop := context.WithCancel(ctx)
	proc := &testenv.Process{}
	if crash {
		pubs[publish.Platform("bluesky")] = &testenv.CrashAfterSend{Publisher: pubs[publish.Platform("bluesky")], Kill: proc.Kill, Stop: stop}
	}
	mgr, err := ctrl.NewManager(proc.Config(cfg), ctrl.Options{
		Scheme:     scheme.New(),
		Metrics:    metricsserver.Options{BindAddress: "0"},
		Cache:      controllers.CacheOptions(),
		Controller: config.Controller{SkipNameValidation: ptr.To(true)}, // several managers, one after another
	})
	Expect(err).NotTo(HaveOccurred())
	Expect(controllers.Setup(mgr, controllers.Options{
		MaxConcurrentReconciles: 2, PostWorkers: 2, Clock: fakeClock, Publishers: pubs,
		Retry: controllers.RetryPolicy{MaxAttempts: 3, Backoff: time.Second, MaxBackoff: 5 * time.Second},
	})).To(Succeed())
	done := make(chan struct{})
	go func() {
		defer GinkgoRecover()
		defer close(done)
		Expect(mgr.Start(mctx)).To(Succeed())
	}()
	return func() { stop(); Eventually(done, timeout).Should(BeClosed()) }, done
}

// xrpcGet calls an XRPC query on the PDS without authentication (getRecord
// and listRecords are public) and decodes its JSON answer into out.
func xrpcGet(g Gomega, method string, q url.Values, out any) {
	res, err := http.Get(pds.URL + "/xrpc/" + method + "?" + q.Encode())
	g.Expect(err).NotTo(HaveOccurred())
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(res.StatusCode).To(Equal(http.StatusOK), "%s: %s", method, body)
	g.Expect(json.Unmarshal(body, out)).To(Succeed())
}
