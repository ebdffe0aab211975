// Command sizing measures the memory Herald's process holds per post, for
// docs/operations.md: it runs the manager with every reconciler and the MCP
// server's post index on envtest, creates -posts scheduled posts (each
// reconciled, so each has its status), and prints the Go heap in use after a
// collection, empty and full, as MiB per 10,000 posts. Run it with
// `make sizing`; -posts and -text change the load.
package main

import (
	"context"
	"flag"
	"fmt"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	socialv1alpha1 "github.com/herald-dev/herald/api/v1alpha1"
	"github.com/herald-dev/herald/controllers"
	"github.com/herald-dev/herald/internal/publish/registry"
	"github.com/herald-dev/herald/internal/publish/sandbox"
	"github.com/herald-dev/herald/internal/scheme"
	"github.com/herald-dev/herald/internal/testenv"
	"github.com/herald-dev/herald/mcpserver"
)

var (
	posts   = flag.Int("posts", 10000, "scheduled posts to create")
	textLen = flag.Int("text", 280, "characters of each post's text")
)

func main() {
	testenv.Benchmark("sizing", run)
}

// heapMiB is the live heap after a full collection.
func heapMiB() float64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return float64(m.HeapAlloc) / (1 << 20)
}

func run(ctx context.Context, cfg *rest.Config) error {
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{Scheme: scheme.New(), Metrics: metricsserver.Options{BindAddress: "0"}, Cache: controllers.CacheOptions()})
	if err != nil {
		return err
	}
	if err := controllers.Setup(mgr, controllers.Options{MaxConcurrentReconciles: 4, PostWorkers: 20,
		Publishers: registry.Default(http.DefaultClient, &sandbox.Feed{BaseURL: "http://sandbox.invalid"})}); err != nil {
		return err
	}
	if _, err := mcpserver.New(mcpserver.Options{Client: mgr.GetClient(), APIReader: mgr.GetAPIReader(), Cache: mgr.GetCache(),
		Authenticate: func(h http.Handler) http.Handler { return h }}); err != nil {
		return err
	}
	go func() { _ = mgr.Start(ctx) }()
	c, err := client.New(cfg, client.Options{Scheme: scheme.New()})
	if err != nil {
		return err
	}
	limit := int32(*posts + 1)
	if err := c.Create(ctx, &socialv1alpha1.Workspace{ObjectMeta: metav1.ObjectMeta{Name: "sizing"},
		Spec: socialv1alpha1.WorkspaceSpec{DisplayName: "Sizing", Limits: &socialv1alpha1.WorkspaceLimits{MaxScheduledPosts: ptr.To(limit)}}}); err != nil {
		return err
	}
	if err := waitFor(ctx, func() bool {
		return c.Get(ctx, client.ObjectKey{Name: "sizing"}, &corev1.Namespace{}) == nil
	}); err != nil {
		return err
	}
	if err := c.Create(ctx, &socialv1alpha1.SocialProfile{ObjectMeta: metav1.ObjectMeta{Namespace: "sizing", Name: "sandbox"},
		Spec: socialv1alpha1.SocialProfileSpec{Platform: "sandbox", Handle: "@sizing"}}); err != nil {
		return err
	}
	if !mgr.GetCache().WaitForCacheSync(ctx) {
		return fmt.Errorf("caches did not sync")
	}
	empty := heapMiB()

	text := strings.Repeat("x", *textLen)
	due := time.Now().Add(365 * 24 * time.Hour).UTC().Format(time.RFC3339)
	start := time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, 1)
	work := make(chan int)
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				p := &socialv1alpha1.ScheduledPost{ObjectMeta: metav1.ObjectMeta{Namespace: "sizing", Name: fmt.Sprintf("post-%05d", i)},
					Spec: socialv1alpha1.ScheduledPostSpec{Text: text, Profiles: []string{"sandbox"}, ScheduledAt: due}}
				if err := c.Create(ctx, p); err != nil {
					select {
					case errs <- err:
					default:
					}
				}
			}
		}()
	}
	for i := range *posts {
		work <- i
	}
	close(work)
	wg.Wait()
	select {
	case err := <-errs:
		return err
	default:
	}
	// Every post reconciled once: its status is what the cache holds.
	if err := waitFor(ctx, func() bool {
		var list socialv1alpha1.ScheduledPostList
		if err := mgr.GetClient().List(ctx, &list, client.InNamespace("sizing")); err != nil || len(list.Items) < *posts {
			return false
		}
		for i := range list.Items {
			if list.Items[i].Status.ObservedGeneration != list.Items[i].Generation {
				return false
			}
		}
		return true
	}); err != nil {
		return err
	}
	full := heapMiB()
	per10k := (full - empty) / float64(*posts) * 10000
	fmt.Printf("posts: %d scheduled, %d characters each, reconciled in %.1fs\n", *posts, *textLen, time.Since(start).Seconds())
	fmt.Printf("heap in use: %.1f MiB without posts, %.1f MiB with them\n", empty, full)
	fmt.Printf("memory per 10,000 posts: %.1f MiB (ratio full/empty %.2f)\n", per10k, full/empty)
	return nil
}

func waitFor(ctx context.Context, done func() bool) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	for !done() {
		select {
		case <-ctx.Done():
			return fmt.Errorf("timed out")
		case <-time.After(200 * time.Millisecond):
		}
	}
	return nil
}
