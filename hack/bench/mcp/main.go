// Command mcp measures Herald's MCP endpoint against a bare mcp-go server in
// the same run: ocoya_list_posts (a page of 50 among 10,000 posts) and
// ocoya_get_post at 1, 16 and 64 concurrent clients, with real OAuth tokens
// and a real informer cache; and ocoya_schedule_post against a plain
// client-go create. It prints p50/p99 latency and calls per second, each as a
// ratio to its baseline. Run it with `make bench-mcp`.
package main

import (
	"context"
	"flag"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	socialv1alpha1 "github.com/herald-dev/herald/api/v1alpha1"
	"github.com/herald-dev/herald/hack/bench/internal/mcpload"
	"github.com/herald-dev/herald/internal/scheme"
	"github.com/herald-dev/herald/internal/signin"
	"github.com/herald-dev/herald/internal/testenv"
	"github.com/herald-dev/herald/mcpserver"
	"github.com/herald-dev/herald/mcpserver/oauth"
)

var (
	posts               = flag.Int("posts", 10000, "posts in the benchmark workspace")
	calls               = flag.Int("calls", 3000, "calls per measurement")
	creates             = flag.Int("creates", 1000, "posts created per schedule measurement")
	scheduleConcurrency = flag.String("schedule-concurrency", "1,16", "clients creating posts at once, one row each")
	cpuProfile          = flag.String("cpuprofile", "", "write a CPU profile of the measurements to this file")
	memProfile          = flag.String("memprofile", "", "write an allocation profile of the run to this file at the end")
	rounds              = flag.Int("rounds", 5, "measurements of each row, interleaved with the baseline's in alternating order; rows report their medians")
	only                = flag.String("only", "", "measure only this: list, get or schedule (with its baseline); empty measures all")
)

func main() { testenv.Benchmark("bench-mcp", run) }

func run(ctx context.Context, cfg *rest.Config) error {
	direct, err := client.New(cfg, client.Options{Scheme: scheme.New()})
	if err != nil {
		return err
	}
	if err := seed(ctx, direct); err != nil {
		return err
	}

	mgr, err := ctrl.NewManager(cfg, ctrl.Options{Scheme: scheme.New(), Metrics: metricsserver.Options{BindAddress: "0"}})
	if err != nil {
		return err
	}
	ts := httptest.NewUnstartedServer(nil)
	base := "http://" + ts.Listener.Addr().String()
	authz, err := oauth.New(oauth.Config{PublicURL: base, Namespace: "herald-system"}, mgr.GetClient(), mgr.GetAPIReader())
	if err != nil {
		return err
	}
	herald, err := mcpserver.New(mcpserver.Options{Client: mgr.GetClient(), APIReader: mgr.GetAPIReader(), Cache: mgr.GetCache(), Authenticate: authz.RequireToken})
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.Handle("/mcp", herald.Handler())
	authz.Routes(mux)
	ts.Config.Handler = mux
	ts.Start()
	defer ts.Close()
	go func() { _ = mgr.Start(ctx) }()
	if !mgr.GetCache().WaitForCacheSync(ctx) {
		return fmt.Errorf("cache did not sync")
	}
	if err := waitForPosts(ctx, mgr.GetClient()); err != nil {
		return err
	}
	res, err := signin.SignIn(ctx, signin.Options{BaseURL: base, Username: "bench", Password: "bench-password", Workspaces: []string{"bench"}})
	if err != nil {
		return err
	}
	token := res.Token.AccessToken

	bare := server.NewMCPServer("bare", "1")
	bare.AddTool(mcp.NewTool("noop"), func(context.Context, mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		return mcp.NewToolResultText("ok"), nil
	})
	bareTS := httptest.NewServer(server.NewStreamableHTTPServer(bare))
	defer bareTS.Close()

	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	if *memProfile != "" {
		runtime.MemProfileRate = 64 << 10
		defer func() {
			f, err := os.Create(*memProfile)
			if err == nil {
				_ = pprof.Lookup("allocs").WriteTo(f, 0)
				_ = f.Close()
			}
		}()
	}
	fmt.Printf("# bench-mcp: %d posts in the workspace, %d calls per measurement, median of %d rounds, %s\n\n", *posts, *calls, *rounds, time.Now().UTC().Format(time.RFC3339))
	fmt.Println("| call | clients | p50 | p99 | calls/s | p50 × bare | p99 × bare | calls/s ÷ bare |")
	fmt.Println("|---|---|---|---|---|---|---|---|")
	for _, n := range []int{1, 16, 64} {
		if !wanted("list") && !wanted("get") {
			break
		}
		// Rounds interleave the baseline and the tools, and each row
		// reports the median of its rounds, so a moment of load elsewhere
		// on the machine moves one round, not the ratio.
		var bare, list, get []mcpload.Result
		var i atomic.Int64
		for r := range *rounds {
			steps := []func(){func() {
				bare = append(bare, mcpload.Measure(n, *calls, func(c *mcpload.Client) error { return c.Call(bareTS.URL+"/mcp", "", "noop", map[string]any{}) }))
			}}
			if wanted("list") {
				steps = append(steps, func() {
					list = append(list, mcpload.Measure(n, *calls, func(c *mcpload.Client) error {
						return c.Call(base+"/mcp", token, "ocoya_list_posts", map[string]any{"workspaceId": "bench", "limit": 50})
					}))
				})
			}
			if wanted("get") {
				steps = append(steps, func() {
					get = append(get, mcpload.Measure(n, *calls, func(c *mcpload.Client) error {
						return c.Call(base+"/mcp", token, "ocoya_get_post", map[string]any{"workspaceId": "bench", "postId": fmt.Sprintf("p-%05d", i.Add(1)%int64(*posts))})
					}))
				})
			}
			inTurn(r, steps)
		}
		b := mcpload.Median(bare)
		fmt.Printf("| bare mcp-go no-op | %d | %s | %s | %.0f | 1.00 | 1.00 | 1.00 |\n", n, b.P50, b.P99, b.Rate)
		if wanted("list") {
			row("ocoya_list_posts (50 of 10,000)", n, mcpload.Median(list), b)
		}
		if wanted("get") {
			row("ocoya_get_post", n, mcpload.Median(get), b)
		}
	}
	if !wanted("schedule") {
		return nil
	}

	fmt.Println()
	fmt.Println("| create | clients | p50 | p99 | creates/s | p50 × client-go | p99 × client-go |")
	fmt.Println("|---|---|---|---|---|---|---|")
	clientID := res.ClientID
	at := time.Now().Add(24 * time.Hour).UTC().Format(time.RFC3339)
	for _, field := range strings.Split(*scheduleConcurrency, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(field))
		if err != nil || n < 1 {
			return fmt.Errorf("-schedule-concurrency %q: give client counts like 1,16", *scheduleConcurrency)
		}
		var plains, scheds []mcpload.Result
		for r := range *rounds {
			inTurn(r, []func(){func() {
				// The same object schedule_post makes: a generated name and
				// the annotations recording who asked.
				plains = append(plains, mcpload.Measure(n, *creates, func(*mcpload.Client) error {
					return direct.Create(ctx, &socialv1alpha1.ScheduledPost{
						ObjectMeta: metav1.ObjectMeta{Namespace: "bench", GenerateName: "post-", Annotations: map[string]string{
							socialv1alpha1.AnnotationRequestedBy: "bench", socialv1alpha1.AnnotationRequestedVia: clientID}},
						Spec: socialv1alpha1.ScheduledPostSpec{Text: "Benchmark post", Profiles: []string{"sandbox"}, ScheduledAt: at},
					})
				}))
			}, func() {
				scheds = append(scheds, mcpload.Measure(n, *creates, func(c *mcpload.Client) error {
					return c.Call(base+"/mcp", token, "ocoya_schedule_post", map[string]any{"workspaceId": "bench", "text": "Benchmark post", "profileIds": []string{"sandbox"}, "scheduledAt": at})
				}))
			}})
		}
		plain, sched := mcpload.Median(plains), mcpload.Median(scheds)
		fmt.Printf("| client-go Create | %d | %s | %s | %.0f | 1.00 | 1.00 |\n", n, plain.P50, plain.P99, plain.Rate)
		fmt.Printf("| ocoya_schedule_post | %d | %s | %s | %.0f | %.2f | %.2f |\n", n, sched.P50, sched.P99, sched.Rate,
			ratio(sched.P50, plain.P50), ratio(sched.P99, plain.P99))
	}
	return nil
}

// inTurn runs a round's measurements, in reverse order every other round:
// whatever runs second meets a fuller etcd and the garbage of what ran
// first, so no side always does.
func inTurn(round int, steps []func()) {
	if round%2 == 1 {
		slices.Reverse(steps)
	}
	for _, step := range steps {
		step()
	}
}

func wanted(what string) bool { return *only == "" || *only == what }

func row(name string, n int, r, bare mcpload.Result) {
	fmt.Printf("| %s | %d | %s | %s | %.0f | %.2f | %.2f | %.2f |\n", name, n, r.P50, r.P99, r.Rate, ratio(r.P50, bare.P50), ratio(r.P99, bare.P99), r.Rate/bare.Rate)
}

func ratio(a, b time.Duration) float64 { return float64(a) / float64(b) }

// seed creates the workspace, its profile, a user and the posts.
func seed(ctx context.Context, c client.Client) error {
	for _, ns := range []string{"bench", "herald-system"} {
		if err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
			return err
		}
	}
	if err := oauth.EnsureLocalUser(ctx, c, "herald-system", "bench", "bench-password"); err != nil {
		return err
	}
	objs := []client.Object{
		&socialv1alpha1.Workspace{ObjectMeta: metav1.ObjectMeta{Name: "bench"}, Spec: socialv1alpha1.WorkspaceSpec{
			DisplayName: "Bench", Members: []socialv1alpha1.WorkspaceMember{{Subject: "bench", Role: socialv1alpha1.RoleOwner}},
			// The benchmark holds far more posts than the default limits.
			Limits: &socialv1alpha1.WorkspaceLimits{MaxScheduledPosts: ptr.To[int32](1_000_000), MaxDrafts: ptr.To[int32](1_000_000)}}},
		&socialv1alpha1.SocialProfile{ObjectMeta: metav1.ObjectMeta{Namespace: "bench", Name: "sandbox"},
			Spec: socialv1alpha1.SocialProfileSpec{Platform: socialv1alpha1.Platform("sandbox"), Handle: "@bench"}},
	}
	for _, o := range objs {
		if err := c.Create(ctx, o); err != nil {
			return err
		}
	}
	var wg sync.WaitGroup
	errs := make(chan error, 32)
	next := make(chan int)
	for range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				err := c.Create(ctx, &socialv1alpha1.ScheduledPost{
					ObjectMeta: metav1.ObjectMeta{Namespace: "bench", Name: fmt.Sprintf("p-%05d", i)},
					Spec:       socialv1alpha1.ScheduledPostSpec{Text: fmt.Sprintf("Post number %d, with some text to render", i), Profiles: []string{"sandbox"}, Draft: true},
				})
				if err != nil {
					select {
					case errs <- err:
					default:
					}
				}
			}
		}()
	}
	for i := range *posts {
		next <- i
	}
	close(next)
	wg.Wait()
	select {
	case err := <-errs:
		return err
	default:
		return nil
	}
}

func waitForPosts(ctx context.Context, c client.Client) error {
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) {
		list := &socialv1alpha1.ScheduledPostList{}
		if err := c.List(ctx, list, client.InNamespace("bench"), client.UnsafeDisableDeepCopy); err == nil && len(list.Items) >= *posts {
			return nil
		}
		time.Sleep(100 * time.Millisecond) // polling a cache count outside any test
	}
	return fmt.Errorf("the cache never held %d posts", *posts)
}
