// Command scale measures Herald at the size of a large install: -workspaces
// workspaces of -posts-per-workspace published ScheduledPosts each (100 ×
// 1,000 by default), created directly through the API server with varied
// text, a variant on a third of them and the status of a finished publish.
//
// It runs the herald binary itself, as the Deployment does, against an
// envtest API server: first with one workspace's posts (the baseline, a
// hundredth of the data), then with every workspace's. For each run it
// prints the start-up time (process start to a ready /readyz, which waits for
// the caches and the MCP server), the time until the start-up reconciles have
// drained, the RSS and the Go heap after a collection, the API requests herald
// made while starting, and ocoya_list_posts p50/p99 at -clients clients with
// a real OAuth token; then the full run's numbers as ratios to the baseline's.
// After the full run it measures the floor: how long this API server takes
// to serve every post to a plain paged LIST and to a bare informer cache.
// The baseline's statuses are the ones herald itself wrote when it published
// the first workspace's posts; every other post copies them.
//
// Run it with `make bench-scale`; results are in docs/benchmarks.md.
package main

import (
	"bufio"
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	socialv1alpha1 "github.com/herald-dev/herald/api/v1alpha1"
	"github.com/herald-dev/herald/hack/bench/internal/mcpload"
	"github.com/herald-dev/herald/internal/scheme"
	"github.com/herald-dev/herald/internal/signin"
	"github.com/herald-dev/herald/internal/testenv"
	"github.com/herald-dev/herald/mcpserver/oauth"
)

var (
	workspaces  = flag.Int("workspaces", 100, "workspaces in the full run")
	perWS       = flag.Int("posts-per-workspace", 1000, "published posts in each workspace")
	clients     = flag.Int("clients", 16, "MCP clients listing posts at once")
	calls       = flag.Int("calls", 4000, "ocoya_list_posts calls per measurement")
	heapProfile = flag.String("heapprofile", "", "write herald's live heap profile of the full run to this file")
	memLimit    = flag.String("gomemlimit", "", "GOMEMLIMIT for herald, such as 460MiB: what it sets itself in a container limited to 512Mi")
	heraldFlags = flag.String("herald-flags", "", "more flags for herald, space-separated, such as --publish-shards=0 to compare with another setting")
	cpuProfile  = flag.String("cpuprofile", "", "write a CPU profile of the full run's first 20 seconds (its start-up) to this file")
	listProfile = flag.String("listprofile", "", "write a CPU profile of the full run's first 2 seconds of listing to this file")
)

func main() { testenv.Benchmark("bench-scale", run) }

const (
	heraldNS = "herald-system"
	user     = "bench"
	password = "bench-password"
)

// wsName names workspace i.
func wsName(i int) string { return fmt.Sprintf("ws-%03d", i) }

func run(ctx context.Context, cfg *rest.Config) error {
	dir, err := os.MkdirTemp("", "bench-scale-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	bin := filepath.Join(dir, "herald")
	if out, err := exec.CommandContext(ctx, "go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		return fmt.Errorf("building herald: %v\n%s", err, out)
	}
	kubeconfig := filepath.Join(dir, "kubeconfig")
	if err := writeKubeconfig(cfg, kubeconfig); err != nil {
		return err
	}
	c, err := client.New(cfg, client.Options{Scheme: scheme.New()})
	if err != nil {
		return err
	}
	fmt.Printf("# bench-scale: %d workspaces × %d published posts, %d clients listing, GOMEMLIMIT %q, herald flags %q, %s\n\n", *workspaces, *perWS, *clients, *memLimit, *heraldFlags, time.Now().UTC().Format(time.RFC3339))

	// Herald creates the workspaces' namespaces and publishes the first
	// workspace's posts; their statuses are the template for the rest.
	if err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: heraldNS}}); err != nil {
		return err
	}
	h, err := start(ctx, bin, kubeconfig, dir, "")
	if err != nil {
		return err
	}
	if err := seedWorkspaces(ctx, c); err != nil {
		h.stop()
		return err
	}
	tpl, err := publishFirst(ctx, c)
	h.stop()
	if err != nil {
		return err
	}

	base, err := measureRun(ctx, bin, kubeconfig, dir, "", []string{wsName(0)})
	if err != nil {
		return err
	}
	t0 := time.Now()
	if err := seedPosts(ctx, c, tpl); err != nil {
		return err
	}
	fmt.Printf("seeded %d more posts (create and status) in %.0fs\n\n", (*workspaces-1)**perWS, time.Since(t0).Seconds())
	names := make([]string, *workspaces)
	for i := range names {
		names[i] = wsName(i)
	}
	full, err := measureRun(ctx, bin, kubeconfig, dir, *heapProfile, names)
	if err != nil {
		return err
	}
	// After herald's run, so the bare cache this process fills cannot
	// weigh on herald's numbers.
	fl, err := measureFloor(ctx, cfg)
	if err != nil {
		return err
	}

	fmt.Println("| run | posts | start (ready) | start-up reconciles drained | RSS | RSS peak | Go heap after GC | list p50 | list p99 | list calls/s |")
	fmt.Println("|---|---|---|---|---|---|---|---|---|---|")
	for _, r := range []measured{base, full} {
		fmt.Printf("| %s | %d | %.1fs | %.1fs | %.0f MiB | %.0f MiB | %.0f MiB | %s | %s | %.0f |\n", r.name, r.posts, r.ready.Seconds(), r.drained.Seconds(),
			mib(r.rss), mib(r.rssPeak), mib(r.heap), r.list.P50, r.list.P99, r.list.Rate)
	}
	fmt.Printf("| full ÷ baseline | %.0f× | %.2f× | %.2f× | %.2f× | %.2f× | %.2f× | %.2f× | %.2f× | %.2f× |\n\n", float64(full.posts)/float64(base.posts),
		full.ready.Seconds()/base.ready.Seconds(), full.drained.Seconds()/base.drained.Seconds(), float64(full.rss)/float64(base.rss),
		float64(full.rssPeak)/float64(base.rssPeak), float64(full.heap)/float64(base.heap),
		float64(full.list.P50)/float64(base.list.P50), float64(full.list.P99)/float64(base.list.P99), full.list.Rate/base.list.Rate)
	extra := float64(full.posts - base.posts)
	fmt.Printf("per post beyond the baseline: %.0f bytes of RSS, %.0f bytes of Go heap\n\n", float64(full.rss-base.rss)/extra, float64(full.heap-base.heap)/extra)
	fmt.Printf("floor, the API server's own cost of serving every post once: a LIST paged %d at a time (%d pages), %.0f MiB of JSON, read in %.1fs; "+
		"a bare controller-runtime cache with herald's transform synced in %.1fs; herald's start-up is %.2f× the bare cache's\n\n",
		listPage, fl.pages, mib(fl.bytes), fl.list.Seconds(), fl.informer.Seconds(), full.ready.Seconds()/fl.informer.Seconds())
	fmt.Println("API requests herald made while starting, by verb, and reconciles by controller:")
	for _, r := range []measured{base, full} {
		fmt.Printf("- %s: %s; reconciles: %s\n", r.name, r.requests, r.reconciles)
	}
	return nil
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }

func writeKubeconfig(cfg *rest.Config, path string) error {
	kc := clientcmdapi.NewConfig()
	kc.Clusters["bench"] = &clientcmdapi.Cluster{Server: cfg.Host, CertificateAuthorityData: cfg.CAData}
	kc.AuthInfos["bench"] = &clientcmdapi.AuthInfo{ClientCertificateData: cfg.CertData, ClientKeyData: cfg.KeyData, Token: cfg.BearerToken}
	kc.Contexts["bench"] = &clientcmdapi.Context{Cluster: "bench", AuthInfo: "bench"}
	kc.CurrentContext = "bench"
	return clientcmd.WriteToFile(*kc, path)
}

// seedWorkspaces makes the sign-in user, the workspaces (each the user's,
// with room for its posts) and two sandbox profiles in each, and waits for
// herald to make their namespaces.
func seedWorkspaces(ctx context.Context, c client.Client) error {
	if err := oauth.EnsureLocalUser(ctx, c, heraldNS, user, password); err != nil {
		return err
	}
	limit := ptr.To(int32(*perWS + 10))
	for i := range *workspaces {
		if err := c.Create(ctx, &socialv1alpha1.Workspace{ObjectMeta: metav1.ObjectMeta{Name: wsName(i)}, Spec: socialv1alpha1.WorkspaceSpec{
			DisplayName: fmt.Sprintf("Brand %d", i), Members: []socialv1alpha1.WorkspaceMember{{Subject: user, Role: socialv1alpha1.RoleOwner}},
			Limits: &socialv1alpha1.WorkspaceLimits{MaxScheduledPosts: limit, MaxDrafts: limit}}}); err != nil {
			return err
		}
	}
	for i := range *workspaces {
		if err := waitFor(ctx, time.Minute, func() bool { return c.Get(ctx, client.ObjectKey{Name: wsName(i)}, &corev1.Namespace{}) == nil }); err != nil {
			return fmt.Errorf("namespace %s: %w", wsName(i), err)
		}
		for _, name := range profiles {
			if err := c.Create(ctx, &socialv1alpha1.SocialProfile{ObjectMeta: metav1.ObjectMeta{Namespace: wsName(i), Name: name},
				Spec: socialv1alpha1.SocialProfileSpec{Platform: "sandbox", Handle: "@" + name}}); err != nil {
				return err
			}
		}
	}
	return nil
}

var profiles = []string{"main", "news"}

// template is what herald wrote for a published post: one with a variant
// and one without.
type template struct {
	plain, variant socialv1alpha1.ScheduledPostStatus
}

// publishFirst has herald publish the first workspace's posts, due together
// a few seconds from now, and returns the statuses it wrote.
func publishFirst(ctx context.Context, c client.Client) (template, error) {
	due := time.Now().Add(15 * time.Second).UTC().Truncate(time.Second)
	if err := forEachPost(ctx, 0, 1, func(i int) error {
		return c.Create(ctx, newPost(0, i, due))
	}); err != nil {
		return template{}, err
	}
	var tpl template
	err := waitFor(ctx, 5*time.Minute, func() bool {
		var list socialv1alpha1.ScheduledPostList
		if err := c.List(ctx, &list, client.InNamespace(wsName(0))); err != nil {
			return false
		}
		published := 0
		for i := range list.Items {
			p := &list.Items[i]
			if p.Status.Phase != socialv1alpha1.PostPublished {
				continue
			}
			published++
			if len(p.Spec.Variants) > 0 {
				tpl.variant = p.Status
			} else {
				tpl.plain = p.Status
			}
		}
		return published == *perWS
	})
	if err != nil {
		return template{}, fmt.Errorf("herald did not publish the first workspace's %d posts: %w", *perWS, err)
	}
	return tpl, nil
}

// seedPosts creates every other workspace's posts and gives each the status
// of a finished publish, as herald writes it.
func seedPosts(ctx context.Context, c client.Client, tpl template) error {
	past := time.Now().Add(-365 * 24 * time.Hour).UTC().Truncate(time.Second)
	return forEachPost(ctx, 1, *workspaces, func(n int) error {
		ws, i := n / *perWS, n%*perWS
		// Due times spread over the past year.
		due := past.Add(time.Duration(n) * 365 * 24 * time.Hour / time.Duration(*workspaces**perWS))
		p := newPost(ws, i, due)
		if err := c.Create(ctx, p); err != nil {
			return err
		}
		st := tpl.plain
		if len(p.Spec.Variants) > 0 {
			st = tpl.variant
		}
		p.Status = *st.DeepCopy()
		at := metav1.NewTime(due)
		for k := range p.Status.Deliveries {
			d := &p.Status.Deliveries[k]
			d.ExternalID = fmt.Sprintf("%d%02d", n, k)
			d.URL = d.URL[:strings.LastIndexByte(d.URL, '/')+1] + d.ExternalID
			d.AttemptID = fmt.Sprintf("%s-%d", p.UID, k)
			d.PublishedAt, d.LastAttemptAt, d.AttemptStartedAt = &at, &at, nil
		}
		for k := range p.Status.Conditions {
			p.Status.Conditions[k].ObservedGeneration = p.Generation
			p.Status.Conditions[k].LastTransitionTime = at
		}
		p.Status.ObservedGeneration = p.Generation
		return c.Status().Update(ctx, p)
	})
}

// forEachPost runs fn for every post number of workspaces [from, to), 32 at
// a time.
func forEachPost(ctx context.Context, from, to int, fn func(n int) error) error {
	var wg sync.WaitGroup
	errs := make(chan error, 1)
	work := make(chan int)
	for range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := range work {
				if err := fn(n); err != nil {
					select {
					case errs <- err:
					default:
					}
				}
			}
		}()
	}
	for n := from * *perWS; n < to**perWS && ctx.Err() == nil; n++ {
		work <- n
	}
	close(work)
	wg.Wait()
	select {
	case err := <-errs:
		return err
	default:
		return ctx.Err()
	}
}

// newPost is post i of workspace ws as an assistant would have scheduled
// it: text of 60 to 280 characters with a link or hashtags now and then,
// both profiles, a shorter variant for the second on a third of them, and
// the annotations recording who asked.
func newPost(ws, i int, due time.Time) *socialv1alpha1.ScheduledPost {
	r := rand.New(rand.NewPCG(uint64(ws), uint64(i)))
	p := &socialv1alpha1.ScheduledPost{
		ObjectMeta: metav1.ObjectMeta{Namespace: wsName(ws), Name: fmt.Sprintf("post-%05d", i), Annotations: map[string]string{
			socialv1alpha1.AnnotationRequestedBy: user, socialv1alpha1.AnnotationRequestedVia: "bench-client"}},
		Spec: socialv1alpha1.ScheduledPostSpec{Text: text(r, 60+r.IntN(221)), Profiles: profiles, ScheduledAt: due.Format(time.RFC3339)},
	}
	if i%3 == 0 {
		p.Spec.Variants = []socialv1alpha1.PostVariant{{Profile: profiles[1], Text: text(r, 40+r.IntN(80))}}
	}
	return p
}

var words = strings.Fields(`our new spring collection is here and we cannot wait for you to see it
join us this weekend at the market for tastings live music and a few surprises
thank you to everyone who came out last night the community keeps growing
behind the scenes with the team as we prepare the next release
quick tip save your progress before you update the app
we are hiring designers engineers and storytellers who love what they do
limited edition only while stocks last free shipping over fifty
tell us in the comments what you would like to see next`)

func text(r *rand.Rand, n int) string {
	var b strings.Builder
	for b.Len() < n {
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		switch k := r.IntN(40); {
		case k == 0:
			fmt.Fprintf(&b, "https://shop.example.com/p/%d", r.IntN(100000))
		case k < 3:
			b.WriteString("#" + words[r.IntN(len(words))])
		default:
			b.WriteString(words[r.IntN(len(words))])
		}
	}
	return b.String()[:n]
}

// measured is what one run of herald showed.
type measured struct {
	name           string
	posts          int
	ready, drained time.Duration
	rss, rssPeak   int64
	heap           int64
	list           mcpload.Result
	requests       string
	reconciles     string
}

// measureRun starts herald on the posts that exist, measures it and stops it.
func measureRun(ctx context.Context, bin, kubeconfig, dir, heapProfile string, listed []string) (measured, error) {
	m := measured{name: "baseline", posts: *perWS}
	if len(listed) > 1 {
		m.name, m.posts = "full", *perWS**workspaces
	}
	h, err := start(ctx, bin, kubeconfig, dir, m.name)
	if err != nil {
		return m, err
	}
	defer h.stop()
	m.ready = h.ready
	// The start-up reconciles have drained when no queue holds work and no
	// worker is busy, and it stays so for a second.
	var idleSince time.Time
	if err := waitFor(ctx, 10*time.Minute, func() bool {
		met, err := h.metrics()
		if err != nil || met.sum("workqueue_depth", "") > 0 || met.sum("controller_runtime_active_workers", "") > 0 {
			idleSince = time.Time{}
			return false
		}
		if idleSince.IsZero() {
			idleSince = time.Now()
		}
		return time.Since(idleSince) >= time.Second
	}); err != nil {
		return m, fmt.Errorf("start-up reconciles did not drain: %w", err)
	}
	m.drained = idleSince.Sub(h.started)
	met, err := h.metrics()
	if err != nil {
		return m, err
	}
	m.requests = met.byLabel("rest_client_requests_total", "method")
	m.reconciles = met.byLabel("controller_runtime_reconcile_total", "controller")

	res, err := signin.SignIn(ctx, signin.Options{BaseURL: h.base, Username: user, Password: password, Workspaces: listed})
	if err != nil {
		return m, err
	}
	var mu sync.Mutex
	r := rand.New(rand.NewPCG(1, 2))
	profiled := make(chan struct{})
	if *listProfile != "" && m.name == "full" {
		go func() {
			defer close(profiled)
			h.profileTo(*listProfile, 2)
		}()
	} else {
		close(profiled)
	}
	m.list = mcpload.Measure(*clients, *calls, func(c *mcpload.Client) error {
		mu.Lock()
		ws := listed[r.IntN(len(listed))]
		mu.Unlock()
		return c.Call(h.base+"/mcp", res.Token.AccessToken, "ocoya_list_posts", map[string]any{"workspaceId": ws, "limit": 50})
	})

	<-profiled

	// The heap after a collection: the profile endpoint collects first.
	prof, err := h.get("/debug/pprof/heap?gc=1", h.pprof)
	if err != nil {
		return m, err
	}
	if heapProfile != "" {
		if err := os.WriteFile(heapProfile, prof, 0o644); err != nil {
			return m, err
		}
	}
	if met, err = h.metrics(); err != nil {
		return m, err
	}
	m.heap = int64(met.sum("go_memstats_heap_alloc_bytes", ""))
	m.rss, m.rssPeak, err = h.rss()
	return m, err
}

// heraldProcess is a running herald binary.
type heraldProcess struct {
	cmd                *exec.Cmd
	base, probe, pprof string
	metricsURL         string
	started            time.Time
	ready              time.Duration
	log                *os.File
	exited             chan error
}

func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// start runs herald as the Deployment does, on loopback ports, and waits
// until /readyz answers 200.
func start(ctx context.Context, bin, kubeconfig, dir, name string) (*heraldProcess, error) {
	addrs := make([]string, 4)
	for i := range addrs {
		a, err := freeAddr()
		if err != nil {
			return nil, err
		}
		addrs[i] = a
	}
	logFile, err := os.Create(filepath.Join(dir, "herald-"+name+".log"))
	if err != nil {
		return nil, err
	}
	h := &heraldProcess{base: "http://" + addrs[0], probe: "http://" + addrs[1], metricsURL: "http://" + addrs[2] + "/metrics", pprof: "http://" + addrs[3],
		log: logFile, exited: make(chan error, 1)}
	h.cmd = exec.Command(bin, "--namespace", heraldNS, "--listen", addrs[0], "--public-url", h.base,
		"--health-probe-bind-address", addrs[1], "--metrics-bind-address", addrs[2], "--metrics-secure=false",
		"--pprof-bind-address", addrs[3], "--mcp-rate", "0")
	h.cmd.Args = append(h.cmd.Args, strings.Fields(*heraldFlags)...)
	h.cmd.Env = append(os.Environ(), "KUBECONFIG="+kubeconfig)
	if *memLimit != "" {
		h.cmd.Env = append(h.cmd.Env, "GOMEMLIMIT="+*memLimit)
	}
	if *heapProfile != "" {
		// Sample every 4 KiB allocated, not every 512 KiB, so the profile
		// tells small per-post allocations apart.
		h.cmd.Env = append(h.cmd.Env, "GODEBUG=memprofilerate=4096")
	}
	h.cmd.Stdout, h.cmd.Stderr = logFile, logFile
	h.started = time.Now()
	if err := h.cmd.Start(); err != nil {
		return nil, err
	}
	go func() { h.exited <- h.cmd.Wait() }()
	if name == "full" && *cpuProfile != "" {
		go h.profileStart(ctx, *cpuProfile)
	}
	err = waitFor(ctx, 5*time.Minute, func() bool {
		select {
		case err := <-h.exited:
			h.exited <- err
			return true
		default:
		}
		resp, err := http.Get(h.probe + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	h.ready = time.Since(h.started)
	select {
	case exitErr := <-h.exited:
		h.exited <- exitErr
		err = fmt.Errorf("herald exited: %v\n%s", exitErr, h.tail())
	default:
	}
	if err != nil {
		h.stop()
		return nil, err
	}
	return h, nil
}

// profileTo writes a CPU profile of herald's next seconds to file.
func (h *heraldProcess) profileTo(file string, seconds int) {
	prof, err := h.get(fmt.Sprintf("/debug/pprof/profile?seconds=%d", seconds), h.pprof)
	if err == nil {
		err = os.WriteFile(file, prof, 0o644)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "writing the CPU profile:", err)
	}
}

// profileStart writes a CPU profile of herald's first 20 seconds to file,
// asking for it as soon as the profiling endpoint answers.
func (h *heraldProcess) profileStart(ctx context.Context, file string) {
	var prof []byte
	_ = waitFor(ctx, time.Minute, func() bool {
		b, err := h.get("/debug/pprof/profile?seconds=20", h.pprof)
		prof = b
		return err == nil
	})
	if err := os.WriteFile(file, prof, 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "writing the CPU profile:", err)
	}
}

// stop sends SIGTERM, as the kubelet does, and waits for the exit.
func (h *heraldProcess) stop() {
	_ = h.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-h.exited:
	case <-time.After(2 * time.Minute):
		_ = h.cmd.Process.Kill()
		<-h.exited
	}
	_ = h.log.Close()
}

func (h *heraldProcess) tail() string {
	b, _ := os.ReadFile(h.log.Name())
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

func (h *heraldProcess) get(path, base string) ([]byte, error) {
	resp, err := http.Get(base + path)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err == nil && resp.StatusCode != http.StatusOK {
		err = fmt.Errorf("GET %s: %s", path, resp.Status)
	}
	return b, err
}

// rss reads the process's resident set and its peak, in bytes.
func (h *heraldProcess) rss() (cur, peak int64, err error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", h.cmd.Process.Pid))
	if err != nil {
		return 0, 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		kb, _ := strconv.ParseInt(f[1], 10, 64)
		switch f[0] {
		case "VmRSS:":
			cur = kb << 10
		case "VmHWM:":
			peak = kb << 10
		}
	}
	return cur, peak, nil
}

// samples are Prometheus text-format samples: name, labels, value.
type samples []struct {
	name, labels string
	value        float64
}

func (h *heraldProcess) metrics() (samples, error) {
	b, err := h.get("", h.metricsURL)
	if err != nil {
		return nil, err
	}
	var out samples
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		sp := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[sp+1:], 64)
		if err != nil {
			continue
		}
		name, labels := line[:sp], ""
		if i := strings.IndexByte(name, '{'); i >= 0 {
			name, labels = name[:i], name[i:]
		}
		out = append(out, struct {
			name, labels string
			value        float64
		}{name, labels, v})
	}
	return out, sc.Err()
}

// sum adds the samples of name whose labels contain match.
func (s samples) sum(name, match string) float64 {
	t := 0.0
	for _, x := range s {
		if x.name == name && strings.Contains(x.labels, match) {
			t += x.value
		}
	}
	return t
}

// byLabel sums name's samples by the value of label, as "GET 12, PUT 3".
func (s samples) byLabel(name, label string) string {
	sums := map[string]float64{}
	for _, x := range s {
		if x.name != name {
			continue
		}
		key := label + `="`
		i := strings.Index(x.labels, key)
		if i < 0 {
			continue
		}
		v := x.labels[i+len(key):]
		sums[v[:strings.IndexByte(v, '"')]] += x.value
	}
	keys := make([]string, 0, len(sums))
	for k := range sums {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s %.0f", k, sums[k])
	}
	return strings.Join(parts, ", ")
}

func waitFor(ctx context.Context, limit time.Duration, done func() bool) error {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	for !done() {
		select {
		case <-ctx.Done():
			return fmt.Errorf("timed out after %s", limit)
		case <-time.After(50 * time.Millisecond):
		}
	}
	return nil
}
