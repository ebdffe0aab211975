// Command publish measures how punctually and how fast Herald publishes, on
// envtest, against the sandbox publisher with an artificial platform
// latency:
//
//   - steady: posts due evenly over a spread (10,000 over a minute):
//     p50/p99/max lateness, the time the sandbox received the call minus
//     scheduledAt; target p99 ≤ 100 ms.
//   - instant: 200 posts due at one instant (target p99 ≤ 73 ms), and the
//     burst, 10,000 at one instant: every call within 2 s of its due time,
//     and the time until every status is written, as a ratio to R, the API
//     server's raw status-update rate measured in the same run by a plain
//     client-go loop at the same concurrency.
//   - sustained: steady rates as multiples of R (1, 1.5 and 2 by default),
//     each held for 30 s; the highest whose p99 stays within a second is the
//     rate Herald sustains.
//
// After each it prints the operator's requests and events per post and the
// memory of this process, which is the operator (the manager, its cache
// and the reconcilers) plus the benchmark's own bookkeeping; the API
// server and etcd run as separate processes. Run it with `make
// bench-publish`; -posts and -spread shrink it, -ledger=false measures
// the status-claim design.
package main

import (
	"context"
	"flag"
	"fmt"
	"net/http"
	"os"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	socialv1alpha1 "github.com/herald-dev/herald/api/v1alpha1"
	"github.com/herald-dev/herald/controllers"
	"github.com/herald-dev/herald/internal/publish"
	"github.com/herald-dev/herald/internal/publish/registry"
	"github.com/herald-dev/herald/internal/publish/sandbox"
	"github.com/herald-dev/herald/internal/scheme"
	"github.com/herald-dev/herald/internal/testenv"
)

var (
	posts          = flag.Int("posts", 10000, "posts in each scenario")
	spread         = flag.Duration("spread", time.Minute, "steady: the due times are spread evenly over this")
	leadFlag       = flag.Duration("lead", 0, "how far ahead of the first due time the posts are created; 0 means: time a few creates first, and for the burst take what the steady set-up took")
	latency        = flag.Duration("latency", 20*time.Millisecond, "the sandbox platform's artificial latency per call")
	baselineWrites = flag.Int("baseline-writes", 3000, "status updates per measurement of R (at most -posts)")
	instantPosts   = flag.Int("instant-posts", 200, "posts in the small instant scenario, all due at one instant")
	sustained      = flag.String("sustained", "1,1.5,2", "sustained: steady rates to hold, as multiples of R, one after another; empty skips them")
	sustainedFor   = flag.Duration("sustained-for", 30*time.Second, "sustained: how long each rate is held")
	useLedger      = flag.Bool("ledger", true, "claim first attempts in the publishing ledger (herald --publish-ledger, same default)")
	publishShards  = flag.Int("publish-shards", 1, "publishing shards (herald --publish-shards, same default); 0 publishes from the leader alone")
	callsPerHost   = flag.Int("calls-per-host", controllers.DefaultLedger.CallsPerHost, "platform calls in flight to one host (herald --calls-per-host, same default)")
	postWorkers    = flag.Int("post-workers", 20, "ScheduledPosts reconciled in parallel (herald --post-workers); also the baseline loop's concurrency")
	qps            = flag.Float64("kube-api-qps", 2000, "the operator's client-side request rate (herald --kube-api-qps, same default)")
	burst          = flag.Int("kube-api-burst", 4000, "the operator's client-side burst (herald --kube-api-burst, same default)")
)

func main() { testenv.Benchmark("bench-publish", run) }

func run(ctx context.Context, cfg *rest.Config) error {

	// The seeding and baseline client has no client-side limit: the
	// baseline measures the API server, not a token bucket.
	rawCfg := rest.CopyConfig(cfg)
	rawCfg.QPS, rawCfg.Burst = -1, 0
	direct, err := client.New(rawCfg, client.Options{Scheme: scheme.New()})
	if err != nil {
		return err
	}
	// The operator gets the limits herald's flags would give it.
	mgrCfg := rest.CopyConfig(cfg)
	mgrCfg.QPS, mgrCfg.Burst = float32(*qps), *burst
	requests := &requestCounter{}
	mgrCfg.Wrap(requests.wrap)

	mgr, err := ctrl.NewManager(mgrCfg, ctrl.Options{
		Scheme:                 scheme.New(),
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		Cache:                  controllers.CacheOptions(),
	})
	if err != nil {
		return err
	}
	feed := &sandbox.Feed{BaseURL: "http://sandbox.invalid", Latency: *latency}
	reg := registry.Default(&http.Client{Timeout: 30 * time.Second}, feed)
	rec := &recorder{Publisher: reg[publish.Platform("sandbox")], first: map[string]time.Time{}}
	reg[publish.Platform("sandbox")] = rec
	const heraldNS = "herald-system"
	if err := direct.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: heraldNS}}); err != nil {
		return err
	}
	var ledger controllers.LedgerOptions
	if *useLedger {
		ledger = controllers.LedgerOptions{Namespace: heraldNS, CallsPerHost: *callsPerHost}
	}
	if err := controllers.Setup(mgr, controllers.Options{
		MaxConcurrentReconciles: 4,
		PostWorkers:             *postWorkers,
		Publishers:              reg,
		Ledger:                  ledger,
		Identity:                controllers.ProcessIdentity(),
		Shards:                  controllers.ShardOptions{Count: *publishShards, Namespace: heraldNS},
	}); err != nil {
		return err
	}
	go func() { _ = mgr.Start(ctx) }()
	if !mgr.GetCache().WaitForCacheSync(ctx) {
		return fmt.Errorf("cache did not sync")
	}
	cached := mgr.GetClient()

	lead := *leadFlag
	if lead == 0 {
		// Creating and scheduling a post takes two writes; time a few
		// creates and allow three times what the posts would take at
		// that rate, since the machine may be shared.
		rate, err := pilot(ctx, direct)
		if err != nil {
			return err
		}
		lead = 15*time.Second + time.Duration(3*float64(*posts)/rate*float64(time.Second))
		fmt.Fprintf(os.Stderr, "pilot: %.0f creates/s; posts are created %s ahead of their due time\n", rate, lead.Round(time.Second))
	}
	host, _ := os.Hostname()
	fmt.Printf("# bench-publish: %d posts a scenario, steady spread %s, platform latency %s, %s\n\n", *posts, *spread, *latency, time.Now().UTC().Format(time.RFC3339))
	fmt.Printf("Operator: --publish-ledger=%t --calls-per-host=%d --post-workers=%d --kube-api-qps=%g --kube-api-burst=%d; %d CPUs (GOMAXPROCS %d) on %s, %s.\n\n",
		*useLedger, *callsPerHost, *postWorkers, *qps, *burst, runtime.NumCPU(), runtime.GOMAXPROCS(0), host, runtime.Version())

	requests.take() // the pilot's drafts are no scenario's

	// Steady: due times spread evenly, starting lead from now.
	start := time.Now().Add(lead).Truncate(time.Millisecond)
	step := *spread / time.Duration(max(1, *posts))
	steady, err := scenario(ctx, direct, cached, rec, "steady", *posts, func(i int) time.Time { return start.Add(time.Duration(i) * step) })
	if err != nil {
		return err
	}
	steadyMem := readMemory()
	steadyReq := requests.take()

	// R before the burst, on the steady posts (each updated once, as a
	// burst updates each post).
	r1, err := baseline(ctx, direct, "steady", *postWorkers)
	if err != nil {
		return err
	}

	// Burst: every post due at one instant.
	if *leadFlag == 0 && steady.setup > 0 {
		lead = 20*time.Second + steady.setup*5/4 // the steady set-up took this long
	}
	at := time.Now().Add(lead).Truncate(time.Millisecond)
	bursts, err := scenario(ctx, direct, cached, rec, "burst", *posts, func(int) time.Time { return at })
	if err != nil {
		return err
	}
	burstMem := readMemory()
	burstReq := requests.take()

	// A small instant: the punctuality of a batch well under R.
	small := time.Now().Add(20 * time.Second).Truncate(time.Millisecond)
	instant, err := scenario(ctx, direct, cached, rec, "instant", *instantPosts, func(int) time.Time { return small })
	if err != nil {
		return err
	}

	// R again after the burst, on the burst posts: two numbers show how
	// much the machine's noise moves it.
	r2, err := baseline(ctx, direct, "burst", *postWorkers)
	if err != nil {
		return err
	}
	r := (r1 + r2) / 2

	// Sustained: steady rates as multiples of R, each held for
	// -sustained-for; the highest whose p99 stays within a second is the
	// rate Herald sustains. The posts of each are created ahead, at the
	// pace the steady set-up showed.
	type held struct {
		mult float64
		n    int
		out  outcome
	}
	var holds []held
	perPost := steady.setup / time.Duration(max(1, *posts))
	for _, f := range strings.FieldsFunc(*sustained, func(c rune) bool { return c == ',' }) {
		mult, err := strconv.ParseFloat(strings.TrimSpace(f), 64)
		if err != nil || mult <= 0 {
			return fmt.Errorf("-sustained %q: give rates as multiples of R, such as 1,1.5,2", *sustained)
		}
		n := max(1, int(mult*r*sustainedFor.Seconds()))
		begin := time.Now().Add(20*time.Second + perPost*time.Duration(n)*5/4).Truncate(time.Millisecond)
		gap := *sustainedFor / time.Duration(n)
		out, err := scenario(ctx, direct, cached, rec, fmt.Sprintf("sustained-%03.0f", mult*100), n, func(i int) time.Time { return begin.Add(time.Duration(i) * gap) })
		if err != nil {
			return err
		}
		holds = append(holds, held{mult, n, out})
	}

	fmt.Println("## Steady: posts due evenly over", *spread)
	fmt.Println()
	fmt.Println("| posts | spread | p50 lateness | p99 lateness | max lateness | target p99 | published | platform calls |")
	fmt.Println("|---|---|---|---|---|---|---|---|")
	fmt.Printf("| %d | %s | %s | %s | %s | ≤ 100 ms %s | %d | %d |\n\n", *posts, *spread, steady.p50, steady.p99, steady.max,
		mark(steady.p99 <= 100*time.Millisecond), steady.published, steady.calls)

	fmt.Println("## Instant: posts all due at one instant")
	fmt.Println()
	fmt.Println("| posts | p50 lateness | p99 lateness | max lateness (the last call) | target | due → every status written | published | platform calls |")
	fmt.Println("|---|---|---|---|---|---|---|---|")
	fmt.Printf("| %d | %s | %s | %s | p99 ≤ 73 ms %s | %s | %d | %d |\n", *instantPosts, instant.p50, instant.p99, instant.max,
		mark(instant.p99 <= 73*time.Millisecond), instant.drain.Round(time.Millisecond), instant.published, instant.calls)
	fmt.Printf("| %d | %s | %s | %s | every call ≤ 2 s %s | %s | %d | %d |\n\n", *posts, bursts.p50, bursts.p99, bursts.max,
		mark(bursts.max <= 2*time.Second), bursts.drain.Round(time.Millisecond), bursts.published, bursts.calls)

	fmt.Println("## Burst: posts all due at one instant, against the raw status-update rate R")
	fmt.Println()
	fmt.Println("| measurement | concurrency | writes or posts | time | per second | ÷ R |")
	fmt.Println("|---|---|---|---|---|---|")
	nb := min(*posts, *baselineWrites)
	fmt.Printf("| R: client-go status Update loop, before the burst | %d | %d | %s | %.0f | %.2f |\n", *postWorkers, nb, dur(float64(nb)/r1), r1, r1/r)
	fmt.Printf("| R: client-go status Update loop, after the burst | %d | %d | %s | %.0f | %.2f |\n", *postWorkers, nb, dur(float64(nb)/r2), r2, r2/r)
	fmt.Printf("| R (mean of the two) | %d | | | %.0f | 1.00 |\n", *postWorkers, r)
	rate := float64(bursts.published) / bursts.drain.Seconds()
	fmt.Printf("| Herald burst: due → last outcome written | %d workers | %d | %s | %.0f | **%.2f** |\n\n",
		*postWorkers, bursts.published, bursts.drain.Round(time.Millisecond), rate, rate/r)
	fmt.Printf("Burst lateness (call time − scheduledAt): p50 %s, p99 %s, max %s (the last call); %d platform calls for %d posts.\n\n",
		bursts.p50, bursts.p99, bursts.max, bursts.calls, bursts.published)

	if len(holds) > 0 {
		fmt.Println("## Sustained: steady rates as multiples of R, each held for", *sustainedFor)
		fmt.Println()
		fmt.Println("| rate ÷ R | posts/s | posts | p50 lateness | p99 lateness | max lateness | p99 ≤ 1 s | first due → every status written | statuses ÷ R |")
		fmt.Println("|---|---|---|---|---|---|---|---|---|")
		best := 0.0
		for _, h := range holds {
			ok := h.out.p99 <= time.Second
			if ok && h.mult > best {
				best = h.mult
			}
			fmt.Printf("| %.2f | %.0f | %d | %s | %s | %s | %s | %s | %.2f |\n", h.mult, float64(h.n)/sustainedFor.Seconds(), h.n, h.out.p50, h.out.p99, h.out.max,
				mark(ok), h.out.drain.Round(time.Millisecond), float64(h.n)/h.out.drain.Seconds()/r)
		}
		fmt.Printf("\nHighest rate held with p99 ≤ 1 s: **%.2f R** (%.0f posts/s).\n\n", best, best*r)
	}

	fmt.Println("## The operator's API requests per post (scheduling, claim, outcome and events)")
	fmt.Println()
	fmt.Println("| scenario | request | per post |")
	fmt.Println("|---|---|---|")
	for _, sc := range []struct {
		name string
		m    map[string]int64
	}{{"steady", steadyReq}, {"burst", burstReq}} {
		keys := make([]string, 0, len(sc.m))
		for k := range sc.m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			fmt.Printf("| %s | %s | %.2f |\n", sc.name, k, float64(sc.m[k])/float64(*posts))
		}
	}
	fmt.Println()

	fmt.Println("## Events per post, by reason")
	fmt.Println()
	fmt.Println("| scenario | reason | per post |")
	fmt.Println("|---|---|---|")
	for _, sc := range []struct {
		name string
		n    int
	}{{"steady", *posts}, {"burst", *posts}, {"instant", *instantPosts}} {
		var list eventsv1.EventList
		if err := direct.List(ctx, &list, client.InNamespace(sc.name)); err != nil {
			return err
		}
		by := map[string]int{}
		for _, ev := range list.Items {
			if ev.Regarding.Kind == "ScheduledPost" {
				by[ev.Reason] += max(1, int(ev.DeprecatedCount))
				if ev.Series != nil {
					by[ev.Reason] += int(ev.Series.Count) - 1
				}
			}
		}
		reasons := make([]string, 0, len(by))
		for k := range by {
			reasons = append(reasons, k)
		}
		sort.Strings(reasons)
		for _, k := range reasons {
			fmt.Printf("| %s | %s | %.2f |\n", sc.name, k, float64(by[k])/float64(sc.n))
		}
	}
	fmt.Println()

	fmt.Println("## Operator memory (this process: manager, cache, reconcilers, plus the benchmark's bookkeeping)")
	fmt.Println()
	fmt.Println("| after | ScheduledPosts in the cache | heap in use | heap in use after GC | Go runtime Sys | RSS |")
	fmt.Println("|---|---|---|---|---|---|")
	fmt.Printf("| steady | %d | %s | %s | %s | %s |\n", *posts, mib(steadyMem.heapInuse), mib(steadyMem.heapAfterGC), mib(steadyMem.sys), mib(steadyMem.rss))
	fmt.Printf("| burst | %d | %s | %s | %s | %s |\n", 2**posts, mib(burstMem.heapInuse), mib(burstMem.heapAfterGC), mib(burstMem.sys), mib(burstMem.rss))
	return nil
}

func mark(ok bool) string {
	if ok {
		return "✓"
	}
	return "✗"
}

func dur(seconds float64) time.Duration {
	return time.Duration(seconds * float64(time.Second)).Round(time.Millisecond)
}

func mib(b uint64) string { return fmt.Sprintf("%.0f MiB", float64(b)/(1<<20)) }

// recorder wraps the sandbox publisher and notes when each post's first
// call arrived, before the sandbox's latency: that is when the platform
// received it.
type recorder struct {
	publish.Publisher
	mu    sync.Mutex
	first map[string]time.Time // by post text, which names the scenario and the post
	calls atomic.Int64
}

func (r *recorder) Publish(ctx context.Context, p publish.Profile, post publish.Post) (publish.Result, error) {
	now := time.Now()
	r.calls.Add(1)
	r.mu.Lock()
	if _, seen := r.first[post.Text]; !seen {
		r.first[post.Text] = now
	}
	r.mu.Unlock()
	return r.Publisher.Publish(ctx, p, post)
}

// received returns the first-call times of a scenario's posts, by index.
func (r *recorder) received(name string, n int) (map[int]time.Time, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make(map[int]time.Time, n)
	for text, t := range r.first {
		rest, ok := strings.CutPrefix(text, name+" post ")
		if !ok {
			continue
		}
		i, err := strconv.Atoi(rest)
		if err != nil {
			return nil, fmt.Errorf("unexpected post text %q", text)
		}
		out[i] = t
	}
	return out, nil
}

type outcome struct {
	p50, p99, max time.Duration
	drain         time.Duration // first due time → every post Published in the cache
	setup         time.Duration // creating the posts until all were Scheduled
	published     int
	calls         int64
}

// scenario creates posts in a namespace of their own, due at due(i), waits
// for the operator to have scheduled all of them before the first is due,
// then for all to be published, and measures lateness.
func scenario(ctx context.Context, direct, cached client.Client, rec *recorder, name string, n int, due func(int) time.Time) (outcome, error) {
	var setup time.Duration
	t0 := time.Now()
	if err := seed(ctx, direct, name, n, due); err != nil {
		return outcome{}, err
	}
	fmt.Fprintf(os.Stderr, "%s: %d posts created in %s\n", name, n, time.Since(t0).Round(time.Millisecond))
	first := due(0)
	for i := 1; i < n; i++ {
		if d := due(i); d.Before(first) {
			first = d
		}
	}
	// Every post should be Scheduled (its first reconcile done) before the
	// first is due, or the numbers would include set-up.
	for {
		phases, err := countPhases(ctx, cached, name)
		if err != nil {
			return outcome{}, err
		}
		if phases[socialv1alpha1.PostScheduled] == n {
			setup = time.Since(t0)
			fmt.Fprintf(os.Stderr, "%s: %d posts scheduled %s after creation began, %s before the first is due\n", name, n, setup.Round(time.Millisecond), time.Until(first).Round(time.Millisecond))
			break
		}
		if !time.Now().Before(first) {
			fmt.Printf("> **Warning:** %s: only %d of %d posts were scheduled when the first fell due, so its numbers include set-up; raise -lead.\n\n", name, phases[socialv1alpha1.PostScheduled], n)
			break
		}
		time.Sleep(200 * time.Millisecond) // polling the cache outside any test
	}
	calls0 := rec.calls.Load()

	deadline := first.Add(*spread + 30*time.Minute)
	var done time.Time
	for {
		got, err := rec.received(name, n)
		if err != nil {
			return outcome{}, err
		}
		if len(got) == n {
			phases, err := countPhases(ctx, cached, name)
			if err != nil {
				return outcome{}, err
			}
			if phases[socialv1alpha1.PostPublished] == n {
				done = time.Now()
				break
			}
		}
		if time.Now().After(deadline) {
			phases, _ := countPhases(ctx, cached, name)
			return outcome{}, fmt.Errorf("%s: after %s, %d of %d posts reached the platform; phases %v", name, time.Since(first).Round(time.Second), len(got), n, phases)
		}
		time.Sleep(20 * time.Millisecond)
	}

	got, err := rec.received(name, n)
	if err != nil {
		return outcome{}, err
	}
	late := make([]time.Duration, 0, n)
	for i, t := range got {
		late = append(late, t.Sub(due(i)))
	}
	sort.Slice(late, func(a, b int) bool { return late[a] < late[b] })
	return outcome{
		p50:       late[n/2].Round(time.Millisecond),
		p99:       late[n*99/100].Round(time.Millisecond),
		max:       late[n-1].Round(time.Millisecond),
		drain:     done.Sub(first),
		published: n,
		calls:     rec.calls.Load() - calls0,
		setup:     setup,
	}, nil
}

func countPhases(ctx context.Context, c client.Client, ns string) (map[socialv1alpha1.PostPhase]int, error) {
	list := &socialv1alpha1.ScheduledPostList{}
	if err := c.List(ctx, list, client.InNamespace(ns), client.UnsafeDisableDeepCopy); err != nil {
		return nil, err
	}
	out := map[socialv1alpha1.PostPhase]int{}
	for i := range list.Items {
		out[list.Items[i].Status.Phase]++
	}
	return out, nil
}

// seed creates a namespace, a sandbox profile and the posts, 32 at a time.
func seed(ctx context.Context, c client.Client, ns string, n int, due func(int) time.Time) error {
	if err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
		return err
	}
	if err := c.Create(ctx, &socialv1alpha1.SocialProfile{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "sandbox"},
		Spec: socialv1alpha1.SocialProfileSpec{Platform: socialv1alpha1.Platform("sandbox"), Handle: "@bench"}}); err != nil {
		return err
	}
	return parallel(32, n, func(i int) error {
		return c.Create(ctx, &socialv1alpha1.ScheduledPost{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: fmt.Sprintf("p-%05d", i)},
			Spec: socialv1alpha1.ScheduledPostSpec{
				Text:        fmt.Sprintf("%s post %d", ns, i),
				Profiles:    []string{"sandbox"},
				ScheduledAt: due(i).UTC().Format(time.RFC3339Nano),
			},
		})
	})
}

// baseline measures R: a plain client-go loop at the given concurrency
// updating the status of each post in ns once, with the resourceVersion it
// listed, as the reconciler's claim and outcome writes do. It returns
// writes per second.
func baseline(ctx context.Context, c client.Client, ns string, concurrency int) (float64, error) {
	list := &socialv1alpha1.ScheduledPostList{}
	if err := c.List(ctx, list, client.InNamespace(ns)); err != nil {
		return 0, err
	}
	list.Items = list.Items[:min(len(list.Items), *baselineWrites)]
	t0 := time.Now()
	err := parallel(concurrency, len(list.Items), func(i int) error {
		p := &list.Items[i]
		p.Status.Conditions = append(p.Status.Conditions, metav1.Condition{
			Type: "BenchBaseline", Status: metav1.ConditionTrue, Reason: "Baseline", Message: "written by the benchmark's client-go loop",
			LastTransitionTime: metav1.Now(), ObservedGeneration: p.Generation,
		})
		return c.Status().Update(ctx, p)
	})
	if err != nil {
		return 0, err
	}
	return float64(len(list.Items)) / time.Since(t0).Seconds(), nil
}

// parallel calls do(0…n-1) from workers goroutines and returns the first
// error.
func parallel(workers, n int, do func(int) error) error {
	var next atomic.Int64
	var wg sync.WaitGroup
	var once sync.Once
	var first error
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				if err := do(i); err != nil {
					once.Do(func() { first = err })
					return
				}
			}
		}()
	}
	wg.Wait()
	return first
}

// pilot times 200 creates of draft posts at the seeding concurrency and
// returns creates per second.
func pilot(ctx context.Context, c client.Client) (float64, error) {
	const n = 200
	if err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "pilot"}}); err != nil {
		return 0, err
	}
	t0 := time.Now()
	err := parallel(32, n, func(i int) error {
		return c.Create(ctx, &socialv1alpha1.ScheduledPost{
			ObjectMeta: metav1.ObjectMeta{Namespace: "pilot", Name: fmt.Sprintf("p-%05d", i)},
			Spec:       socialv1alpha1.ScheduledPostSpec{Text: "pilot", Profiles: []string{"sandbox"}, Draft: true},
		})
	})
	return n / time.Since(t0).Seconds(), err
}

// requestCounter counts the operator's requests to the API server by verb
// and resource (the manager's clients and its event recorder share the
// config it wraps).
type requestCounter struct {
	mu sync.Mutex
	m  map[string]int64
}

func (rc *requestCounter) wrap(rt http.RoundTripper) http.RoundTripper {
	return roundTripper(func(req *http.Request) (*http.Response, error) {
		if req.URL.Query().Get("watch") != "true" {
			rc.mu.Lock()
			if rc.m == nil {
				rc.m = map[string]int64{}
			}
			rc.m[req.Method+" "+resourceOf(req.URL.Path)]++
			rc.mu.Unlock()
		}
		return rt.RoundTrip(req)
	})
}

// take returns the counts since the last take.
func (rc *requestCounter) take() map[string]int64 {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	m := rc.m
	rc.m = nil
	return m
}

type roundTripper func(*http.Request) (*http.Response, error)

func (f roundTripper) RoundTrip(req *http.Request) (*http.Response, error) { return f(req) }

// resourceOf turns /apis/g/v/namespaces/ns/scheduledposts/p-00001/status
// into scheduledposts/status.
func resourceOf(path string) string {
	parts := strings.Split(strings.Trim(path, "/"), "/")
	for i := 0; i+1 < len(parts); i++ {
		if parts[i] == "namespaces" && i+2 < len(parts) {
			parts = parts[i+2:]
			break
		}
	}
	if len(parts) >= 3 && parts[len(parts)-1] == "status" {
		return parts[0] + "/status"
	}
	return parts[0]
}

type memory struct{ heapInuse, heapAfterGC, sys, rss uint64 }

// readMemory reads this process's memory: the Go heap as it stands and
// after a collection, what the runtime took from the OS, and the RSS.
func readMemory() memory {
	var m memory
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	m.heapInuse = ms.HeapInuse
	runtime.GC()
	runtime.ReadMemStats(&ms)
	m.heapAfterGC, m.sys = ms.HeapInuse, ms.Sys
	if data, err := os.ReadFile("/proc/self/status"); err == nil {
		for _, line := range strings.Split(string(data), "\n") {
			if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
				kb, _ := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
				m.rss = kb << 10
			}
		}
	}
	return m
}
