package shard

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	coordinationclient "k8s.io/client-go/kubernetes/typed/coordination/v1"

	"github.com/herald-dev/herald/internal/testenv"
)

// The shards are tested against a real kube-apiserver: what keeps two
// replicas from holding one shard is its Lease's resourceVersion.
var cs *kubernetes.Clientset

func TestMain(m *testing.M) {
	env, cfg, err := testenv.Start()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	cs, err = kubernetes.NewForConfig(cfg)
	code := 1
	if err == nil {
		code = m.Run()
	}
	_ = env.Stop()
	os.Exit(code)
}

var nsCount atomic.Int32

func namespace(t *testing.T) string {
	t.Helper()
	ns := fmt.Sprintf("shards-%d", nsCount.Add(1))
	if _, err := cs.CoreV1().Namespaces().Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	return ns
}

// replica is one Set and a record of the work it ran.
type replica struct {
	set    *Set
	cut    *cuttable
	stop   context.CancelFunc
	done   chan struct{}
	mu     sync.Mutex
	active map[int]bool // shards whose Run is under way
	ran    map[int]int  // Runs started, by shard
}

const n = 4

func start(t *testing.T, ns, name string) *replica { return startN(t, ns, name, n) }

func startN(t *testing.T, ns, name string, count int) *replica {
	t.Helper()
	r := &replica{cut: &cuttable{LeasesGetter: cs.CoordinationV1()}, done: make(chan struct{}), active: map[int]bool{}, ran: map[int]int{}}
	r.set = &Set{N: count, Namespace: ns, Prefix: "shard", Identity: name, Leases: r.cut,
		LeaseDuration: 3 * time.Second, RenewDeadline: 2 * time.Second, RetryPeriod: 200 * time.Millisecond,
		Run: func(ctx context.Context, i int, leading func() bool) {
			r.mu.Lock()
			r.active[i] = true
			r.ran[i]++
			r.mu.Unlock()
			<-ctx.Done()
			time.Sleep(100 * time.Millisecond) // the work takes a moment to stop; the lease waits for it
			r.mu.Lock()
			delete(r.active, i)
			r.mu.Unlock()
		}}
	ctx, stop := context.WithCancel(context.Background())
	r.stop = stop
	go func() {
		defer close(r.done)
		_ = r.set.Start(ctx)
	}()
	t.Cleanup(func() { stop(); <-r.done })
	return r
}

func (r *replica) running() []int {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []int
	for i := range n {
		if r.active[i] {
			out = append(out, i)
		}
	}
	return out
}

// eventually polls cond every 20 ms for up to d, meanwhile checking that no
// shard is held by two replicas at once.
func eventually(t *testing.T, d time.Duration, what string, cond func() bool, replicas ...*replica) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		holders := map[int]string{}
		for _, r := range replicas {
			for _, i := range r.set.Held() {
				if other, ok := holders[i]; ok {
					t.Fatalf("shard %d is held by %s and %s at once", i, other, r.set.Identity)
				}
				holders[i] = r.set.Identity
			}
		}
		if cond() {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %s: %s", d, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestReplicasSplitTheShardsAndTakeOverOnGracefulStop(t *testing.T) {
	ns := namespace(t)
	a := start(t, ns, "a")
	eventually(t, 20*time.Second, "a alone holds every shard", func() bool { return len(a.set.Held()) == n && len(a.running()) == n }, a)

	b := start(t, ns, "b")
	eventually(t, 30*time.Second, "a and b hold two shards each", func() bool {
		return len(a.set.Held()) == n/2 && len(b.set.Held()) == n/2 && len(a.running()) == n/2 && len(b.running()) == n/2
	}, a, b)

	// A graceful stop: b's work stops before its leases are released, and
	// a takes them over without waiting for them to expire.
	stopped := time.Now()
	b.stop()
	<-b.done
	if got := b.running(); len(got) != 0 {
		t.Fatalf("b still runs shards %v after it stopped", got)
	}
	leases, err := cs.CoordinationV1().Leases(ns).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range leases.Items {
		if l.Spec.HolderIdentity != nil && *l.Spec.HolderIdentity == "b" {
			t.Fatalf("b left lease %s held after it stopped", l.Name)
		}
	}
	eventually(t, 20*time.Second, "a holds every shard again", func() bool { return len(a.set.Held()) == n && len(a.running()) == n }, a)
	if took := time.Since(stopped); took > 3*time.Second {
		t.Errorf("a took b's released shards over after %s; released leases need no expiry (3 s)", took)
	}
}

// startPair starts replicas a and b and waits until they hold half the
// shards each.
func startPair(t *testing.T, ns string) (a, b *replica) {
	t.Helper()
	a, b = start(t, ns, "a"), start(t, ns, "b")
	eventually(t, 30*time.Second, "a and b hold two shards each", func() bool {
		return len(a.set.Held()) == n/2 && len(b.set.Held()) == n/2
	}, a, b)
	return a, b
}

func TestAKilledReplicasShardsMoveOnceTheirLeasesExpire(t *testing.T) {
	a, b := startPair(t, namespace(t))
	lost := b.set.Held()

	// Killed: b reaches the API server no more and releases nothing. It
	// stops counting itself the holder before a may take over.
	cut := time.Now()
	b.cut.cut.Store(true)
	eventually(t, 20*time.Second, "b no longer holds its shards", func() bool { return len(b.set.Held()) == 0 }, a, b)
	eventually(t, 30*time.Second, "a holds every shard", func() bool { return len(a.set.Held()) == n }, a, b)
	// a has watched b's Leases all along: they move one lease duration
	// (3 s) after b's last renewal, not a second one after b's member
	// Lease ran out.
	if took := time.Since(cut); took > a.set.LeaseDuration+2*time.Second {
		t.Errorf("a took b's shards %s after b was cut off; want about one lease duration (%s)", took.Round(time.Millisecond), a.set.LeaseDuration)
	} else {
		t.Logf("a took b's shards %s after b was cut off", took.Round(time.Millisecond))
	}
	for _, i := range lost {
		a.mu.Lock()
		runs := a.ran[i]
		a.mu.Unlock()
		if runs != 1 {
			t.Errorf("shard %d: a ran it %d times, want once since it took it over", i, runs)
		}
	}
}

func TestAReplicaStartedAfterAHolderDiedTakesItsShardsOnTime(t *testing.T) {
	ns := namespace(t)
	b := start(t, ns, "b")
	eventually(t, 20*time.Second, "b alone holds every shard", func() bool { return len(b.set.Held()) == n }, b)

	// b is killed and its successor c starts only once b has stopped
	// acting, most of a lease duration later: c never saw b's Leases
	// renewed, yet they are due to move one lease duration after b's last
	// renewal, not one after c first looked.
	cut := time.Now()
	b.cut.cut.Store(true)
	eventually(t, 20*time.Second, "b no longer holds its shards", func() bool { return len(b.set.Held()) == 0 }, b)
	started := time.Since(cut)
	c := start(t, ns, "c")
	eventually(t, 30*time.Second, "c holds every shard", func() bool { return len(c.set.Held()) == n && len(c.running()) == n }, b, c)
	took := time.Since(cut)
	if want := b.set.LeaseDuration + 1500*time.Millisecond; took > want {
		t.Errorf("c, started %s after b was cut off, took its shards %s after; want within %s", started.Round(time.Millisecond), took.Round(time.Millisecond), want)
	} else {
		t.Logf("c, started %s after b was cut off, took its shards %s after", started.Round(time.Millisecond), took.Round(time.Millisecond))
	}
}

func TestReplicasThatDisagreeOnTheCountHoldNothing(t *testing.T) {
	ns := namespace(t)
	a := start(t, ns, "a")
	eventually(t, 20*time.Second, "a alone holds every shard", func() bool { return len(a.set.Held()) == n }, a)
	// A replica started with another count (a rolling update that changes
	// it) would place namespaces in other shards: both stop publishing.
	b := startN(t, ns, "b", 2*n)
	eventually(t, 20*time.Second, "neither holds a shard", func() bool {
		return len(a.set.Held()) == 0 && len(a.running()) == 0 && len(b.set.Held()) == 0 && len(b.running()) == 0
	}, a)
	b.stop()
	<-b.done
	eventually(t, 20*time.Second, "a holds every shard once b is gone", func() bool { return len(a.set.Held()) == n }, a)
}

func TestOfSpreadsNamespaces(t *testing.T) {
	counts := make([]int, 8)
	for i := range 8000 {
		s := Of(fmt.Sprintf("ws-%04d", i), 8)
		if s < 0 || s >= 8 {
			t.Fatalf("Of gave shard %d of 8", s)
		}
		counts[s]++
	}
	for s, c := range counts {
		if c < 800 || c > 1200 {
			t.Errorf("shard %d got %d of 8000 namespaces; want about 1000", s, c)
		}
	}
	if Of("anything", 1) != 0 || Of("ws-1", 8) != Of("ws-1", 8) {
		t.Error("Of is not stable")
	}
}

func TestStartRefusesNoShards(t *testing.T) {
	s := &Set{N: 0, RetryPeriod: time.Second}
	if err := s.Start(context.Background()); err == nil {
		t.Fatal("Start with N=0 succeeded")
	}
}

// cuttable is the replica's connection to the API server; once cut, every
// Lease request fails, as from a killed process nothing arrives.
type cuttable struct {
	coordinationclient.LeasesGetter
	cut atomic.Bool
}

func (c *cuttable) Leases(ns string) coordinationclient.LeaseInterface {
	return &cutLeases{LeaseInterface: c.LeasesGetter.Leases(ns), cut: &c.cut}
}

type cutLeases struct {
	coordinationclient.LeaseInterface
	cut *atomic.Bool
}

var errCut = errors.New("connection cut")

func (l *cutLeases) Get(ctx context.Context, name string, o metav1.GetOptions) (*coordinationv1.Lease, error) {
	if l.cut.Load() {
		return nil, errCut
	}
	return l.LeaseInterface.Get(ctx, name, o)
}

func (l *cutLeases) List(ctx context.Context, o metav1.ListOptions) (*coordinationv1.LeaseList, error) {
	if l.cut.Load() {
		return nil, errCut
	}
	return l.LeaseInterface.List(ctx, o)
}

func (l *cutLeases) Create(ctx context.Context, x *coordinationv1.Lease, o metav1.CreateOptions) (*coordinationv1.Lease, error) {
	if l.cut.Load() {
		return nil, errCut
	}
	return l.LeaseInterface.Create(ctx, x, o)
}

func (l *cutLeases) Update(ctx context.Context, x *coordinationv1.Lease, o metav1.UpdateOptions) (*coordinationv1.Lease, error) {
	if l.cut.Load() {
		return nil, errCut
	}
	return l.LeaseInterface.Update(ctx, x, o)
}

func (l *cutLeases) Delete(ctx context.Context, name string, o metav1.DeleteOptions) error {
	if l.cut.Load() {
		return errCut
	}
	return l.LeaseInterface.Delete(ctx, name, o)
}

func TestAShardJustTakenOverIsNotTheOneGivenBack(t *testing.T) {
	ns := namespace(t)
	a, b := startPair(t, ns)
	own, taken := a.set.Held(), b.set.Held()

	// A rollout: b stops, a takes b's shards, b's successor starts and a
	// gives two back. Those are the two a held longest, its own: b's just
	// moved and do not move again.
	b.stop()
	<-b.done
	eventually(t, 20*time.Second, "a holds every shard", func() bool { return len(a.set.Held()) == n }, a)
	c := start(t, ns, "c")
	eventually(t, 30*time.Second, "a and c hold two shards each", func() bool {
		return len(a.set.Held()) == n/2 && len(c.set.Held()) == n/2
	}, a, c)
	if got := a.set.Held(); !slices.Equal(got, taken) {
		t.Errorf("a kept shards %v and gave back %v; want it to keep %v, just taken over, and give back its own %v", got, c.set.Held(), taken, own)
	}
}
