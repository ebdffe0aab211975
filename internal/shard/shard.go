// Package shard splits work among replicas by namespace: a namespace
// belongs to one of N shards, each shard has a Lease, and each replica
// holds a fair share of the leases. Whatever a replica does for a shard
// (publishing its workspaces' posts) it does only while it holds that
// shard's lease, so replicas work in parallel and a failed replica's shards
// move to the others once their leases expire.
//
// A replica counts the others by their member Leases, which each renews
// while it runs; its fair share is N divided by the replicas alive, rounded
// up. A replica above its share gives one shard up at a time, after the
// work it runs for that shard has stopped; one below it takes shards that
// no live replica holds.
package shard

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"slices"
	"strconv"
	"sync"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	coordinationclient "k8s.io/client-go/kubernetes/typed/coordination/v1"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/herald-dev/herald/internal/leader"
)

// Of returns the shard of namespace among n shards (n ≥ 1).
func Of(namespace string, n int) int {
	if n <= 1 {
		return 0
	}
	h := fnv.New32a()
	_, _ = h.Write([]byte(namespace))
	return int(h.Sum32() % uint32(n))
}

// memberLabel marks a replica's member Lease; its value is the Set's
// Prefix. countAnnotation on it says how many shards the replica splits
// namespaces into: replicas that disagree would place a namespace in two
// shards, so while they do none of them holds any.
const (
	memberLabel     = "social.herald.dev/shard-member"
	countAnnotation = "social.herald.dev/shards"
)

// ErrDisagree is reported while live replicas split namespaces into
// different numbers of shards.
var ErrDisagree = errors.New("replicas disagree on the number of shards")

// Set holds this replica's share of N shard leases. Start it once (it is
// a controller-runtime Runnable that runs on every replica).
type Set struct {
	// N is the number of shards.
	N int
	// Namespace holds the Leases; Prefix names them: Prefix-0 … Prefix-(N-1)
	// for the shards, Prefix-member-<hash> for each replica.
	Namespace, Prefix string
	// Identity names this replica; it must differ between processes.
	Identity string
	Leases   coordinationclient.LeasesGetter
	// LeaseDuration, RenewDeadline and RetryPeriod are the shard leases'
	// timing, as in client-go's leader election; RetryPeriod is also how
	// often the share is looked at.
	LeaseDuration, RenewDeadline, RetryPeriod time.Duration
	// Run does the shard's work: it is called when the shard is acquired
	// and returns once ctx ends (the lease was lost, or is being given
	// up). leading reports, just before acting, whether this replica still
	// holds the lease. A lease given up is released only after Run returns.
	Run func(ctx context.Context, shard int, leading func() bool)
	// Now tells the time; time.Now by default.
	Now func() time.Time

	mu   sync.Mutex
	held map[int]*holding
	// seen is, per shard Lease, the resourceVersion this replica last saw
	// and when it first saw it. A holder that died leaves its Lease
	// unchanged; once it has been so for a whole lease duration by this
	// replica's own clock, the Lease is free. client-go's elector judges
	// the same way, but only from when it starts, and it starts once the
	// dead replica's member Lease has run out, so judging from the first
	// look moves the shard one lease duration after the death instead of
	// two.
	seen map[string]sighting
}

// sighting is a version of a Lease and when this replica first saw it.
type sighting struct {
	resourceVersion string
	at              time.Time
}

// holding is one shard this replica holds or is trying to acquire.
type holding struct {
	lock     *leader.Lock
	acquired bool
	// since is when it was acquired.
	since time.Time
	// releasing is set once the shard is being given up.
	releasing bool
	stopRun   context.CancelFunc // ends Run's context
	ran       chan struct{}      // closed when Run returned
	stop      context.CancelFunc // ends the elector, releasing the lease
	done      chan struct{}      // closed when the elector returned
}

// NeedLeaderElection is false: every replica holds shards.
func (s *Set) NeedLeaderElection() bool { return false }

func (s *Set) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// Holds reports whether this replica holds shard i's lease now and may
// act for it.
func (s *Set) Holds(i int) bool {
	s.mu.Lock()
	h := s.held[i]
	s.mu.Unlock()
	return h != nil && h.acquired && h.lock.Leading()
}

// Held lists the shards this replica holds.
func (s *Set) Held() []int {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []int
	for i, h := range s.held {
		if h.acquired && h.lock.Leading() {
			out = append(out, i)
		}
	}
	slices.Sort(out)
	return out
}

// ShardName names shard i's Lease.
func (s *Set) ShardName(i int) string { return s.Prefix + "-" + strconv.Itoa(i) }

func (s *Set) memberName() string {
	h := fnv.New64a()
	_, _ = h.Write([]byte(s.Identity))
	return fmt.Sprintf("%s-member-%016x", s.Prefix, h.Sum64())
}

// Start keeps this replica's share until ctx ends, then stops the work of
// every shard it holds and releases their leases and its member Lease.
func (s *Set) Start(ctx context.Context) error {
	if s.N < 1 {
		return fmt.Errorf("shards: N is %d; it must be at least 1", s.N)
	}
	s.mu.Lock()
	s.held, s.seen = map[int]*holding{}, map[string]sighting{}
	s.mu.Unlock()
	log := ctrl.LoggerFrom(ctx).WithName("shards")
	t := time.NewTicker(s.RetryPeriod)
	defer t.Stop()
	for {
		if err := s.balance(ctx); err != nil && ctx.Err() == nil {
			log.Error(err, "keeping this replica's share of the publishing shards; trying again", "in", s.RetryPeriod)
		}
		select {
		case <-ctx.Done():
			s.giveUpAll()
			dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			defer cancel()
			_ = s.Leases.Leases(s.Namespace).Delete(dctx, s.memberName(), metav1.DeleteOptions{})
			return nil
		case <-t.C:
		}
	}
}

// balance renews this replica's member Lease, counts the live replicas and
// moves towards a fair share: one shard given up when above it, free
// shards tried when below.
func (s *Set) balance(ctx context.Context) error {
	if err := s.heartbeat(ctx); err != nil {
		return err
	}
	leases, err := s.Leases.Leases(s.Namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		return err
	}
	now := s.now()
	alive := map[string]bool{s.Identity: true}
	shards := map[string]*coordinationv1.Lease{}
	var disagree error
	for i := range leases.Items {
		l := &leases.Items[i]
		if l.Labels[memberLabel] == s.Prefix {
			if fresh(l, now, 1) && l.Spec.HolderIdentity != nil {
				alive[*l.Spec.HolderIdentity] = true
				if c := l.Annotations[countAnnotation]; c != strconv.Itoa(s.N) && *l.Spec.HolderIdentity != s.Identity {
					disagree = fmt.Errorf("%w: this one uses %d, replica %s uses %s; none publishes until every replica runs with the same --publish-shards",
						ErrDisagree, s.N, *l.Spec.HolderIdentity, c)
				}
			} else if !fresh(l, now, 20) {
				// A replica gone for long (killed, never deleted its own).
				_ = s.Leases.Leases(s.Namespace).Delete(ctx, l.Name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{ResourceVersion: &l.ResourceVersion}})
			}
			continue
		}
		shards[l.Name] = l
	}
	fair := (s.N + len(alive) - 1) / len(alive)

	s.mu.Lock()
	defer s.mu.Unlock()
	for name, l := range shards {
		if s.seen[name].resourceVersion != l.ResourceVersion {
			s.seen[name] = sighting{resourceVersion: l.ResourceVersion, at: now}
		}
	}
	if disagree != nil {
		for i := range s.held {
			s.giveUp(i)
		}
		return disagree
	}
	for i, h := range s.held {
		select {
		case <-h.done: // lost, or given up
			delete(s.held, i)
		default:
		}
	}
	heldByOther := func(i int) bool {
		l := shards[s.ShardName(i)]
		return l != nil && l.Spec.HolderIdentity != nil && *l.Spec.HolderIdentity != "" && *l.Spec.HolderIdentity != s.Identity &&
			alive[*l.Spec.HolderIdentity] && fresh(l, now, 1)
	}
	var acquired, trying []int
	for i, h := range s.held {
		switch {
		case h.releasing:
		case h.acquired:
			acquired = append(acquired, i)
		case heldByOther(i):
			// Waiting for a live replica's shard would keep this one
			// from a shard that is free.
			s.giveUp(i)
		default:
			trying = append(trying, i)
		}
	}
	// The shard held longest goes first: one just taken over (from a
	// replica that stopped, whose successor is back) would otherwise move
	// twice in a few seconds, pausing its posts twice.
	slices.SortFunc(acquired, func(a, b int) int { return s.held[a].since.Compare(s.held[b].since) })
	slices.Sort(trying)
	switch {
	case len(acquired) > fair:
		// One at a time: the others see the shard free before the next.
		s.giveUp(acquired[0])
		for _, i := range trying {
			s.giveUp(i)
		}
	case len(acquired)+len(trying) > fair:
		for _, i := range trying[fair-len(acquired):] {
			s.giveUp(i)
		}
	default:
		want := fair - len(acquired) - len(trying)
		start := Of(s.Identity, s.N)
		for k := 0; k < s.N && want > 0; k++ {
			i := (start + k) % s.N
			if s.held[i] != nil || heldByOther(i) {
				continue
			}
			if l := shards[s.ShardName(i)]; l != nil && holderOf(l) != "" && holderOf(l) != s.Identity {
				// Its holder stopped renewing it: take it once it has been
				// unrenewed a whole lease duration, so the elector starts
				// as its holder instead of waiting one more.
				if !s.unrenewed(l, now, alive) || !s.takeOver(ctx, l) {
					continue
				}
			}
			s.try(ctx, i)
			want--
		}
	}
	return nil
}

func holderOf(l *coordinationv1.Lease) string {
	if l.Spec.HolderIdentity == nil {
		return ""
	}
	return *l.Spec.HolderIdentity
}

// unrenewed reports whether l's holder has stopped renewing it; s.mu is
// held. Either l has not changed for a lease duration since this replica
// first saw its current version: its holder's last renewal landed before
// that first look, and a holder stops acting a margin before its lease from
// that renewal runs out (internal/leader), so it acts no more. Or its holder
// has no live member Lease and l's own renewal is a lease duration old,
// which a replica started after the holder died can tell at once instead
// of watching for a whole lease duration itself. That reading compares the
// holder's clock with this one, as counting live replicas does; the margin
// it leaves is the lease duration less the renew deadline, and the ledger
// fences a holder that acts on regardless.
func (s *Set) unrenewed(l *coordinationv1.Lease, now time.Time, alive map[string]bool) bool {
	if seen, ok := s.seen[l.Name]; ok && seen.resourceVersion == l.ResourceVersion && now.Sub(seen.at) >= s.LeaseDuration {
		return true
	}
	return !alive[holderOf(l)] && !fresh(l, now, 1)
}

// takeOver writes this replica as l's holder under l's resourceVersion, so
// of two replicas taking it only one succeeds. It acts for the shard only
// once its elector has renewed the lease.
func (s *Set) takeOver(ctx context.Context, l *coordinationv1.Lease) bool {
	l = l.DeepCopy()
	now := metav1.NewMicroTime(s.now())
	secs := int32(max(1, s.LeaseDuration/time.Second))
	transitions := int32(1)
	if l.Spec.LeaseTransitions != nil {
		transitions = *l.Spec.LeaseTransitions + 1
	}
	l.Spec.HolderIdentity, l.Spec.LeaseDurationSeconds = &s.Identity, &secs
	l.Spec.AcquireTime, l.Spec.RenewTime, l.Spec.LeaseTransitions = &now, &now, &transitions
	_, err := s.Leases.Leases(s.Namespace).Update(ctx, l, metav1.UpdateOptions{})
	return err == nil
}

// fresh reports whether l was renewed within times its duration.
func fresh(l *coordinationv1.Lease, now time.Time, times int) bool {
	if l.Spec.RenewTime == nil || l.Spec.LeaseDurationSeconds == nil {
		return false
	}
	d := time.Duration(*l.Spec.LeaseDurationSeconds) * time.Second * time.Duration(times)
	return now.Before(l.Spec.RenewTime.Add(d))
}

// heartbeat creates or renews this replica's member Lease.
func (s *Set) heartbeat(ctx context.Context) error {
	leases := s.Leases.Leases(s.Namespace)
	now := metav1.NewMicroTime(s.now())
	secs := int32(max(1, s.LeaseDuration/time.Second))
	l, err := leases.Get(ctx, s.memberName(), metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		_, err = leases.Create(ctx, &coordinationv1.Lease{
			ObjectMeta: metav1.ObjectMeta{Name: s.memberName(), Namespace: s.Namespace, Labels: map[string]string{memberLabel: s.Prefix},
				Annotations: map[string]string{countAnnotation: strconv.Itoa(s.N)}},
			Spec: coordinationv1.LeaseSpec{HolderIdentity: &s.Identity, LeaseDurationSeconds: &secs, RenewTime: &now},
		}, metav1.CreateOptions{})
		return err
	}
	if err != nil {
		return err
	}
	if l.Annotations == nil {
		l.Annotations = map[string]string{}
	}
	l.Annotations[countAnnotation] = strconv.Itoa(s.N)
	l.Spec.HolderIdentity, l.Spec.LeaseDurationSeconds, l.Spec.RenewTime = &s.Identity, &secs, &now
	_, err = leases.Update(ctx, l, metav1.UpdateOptions{})
	return err
}

// try starts an elector for shard i; s.mu is held.
func (s *Set) try(ctx context.Context, i int) {
	h := &holding{ran: make(chan struct{}), done: make(chan struct{})}
	h.lock = &leader.Lock{LeaseDuration: s.LeaseDuration, Now: s.Now, Interface: &resourcelock.LeaseLock{
		LeaseMeta:  metav1.ObjectMeta{Namespace: s.Namespace, Name: s.ShardName(i)},
		Client:     s.Leases,
		LockConfig: resourcelock.ResourceLockConfig{Identity: s.Identity},
	}}
	ectx, stop := context.WithCancel(context.WithoutCancel(ctx))
	h.stop = stop
	le, err := leaderelection.NewLeaderElector(leaderelection.LeaderElectionConfig{
		Lock: h.lock, Name: s.ShardName(i), ReleaseOnCancel: true,
		LeaseDuration: s.LeaseDuration, RenewDeadline: s.RenewDeadline, RetryPeriod: s.RetryPeriod,
		Callbacks: leaderelection.LeaderCallbacks{
			OnStartedLeading: func(lctx context.Context) {
				defer close(h.ran)
				rctx, stopRun := context.WithCancel(lctx)
				defer stopRun()
				s.mu.Lock()
				h.acquired, h.since, h.stopRun = true, time.Now(), stopRun
				giving := h.releasing
				s.mu.Unlock()
				if giving {
					return
				}
				s.Run(rctx, i, h.lock.Leading)
			},
			OnStoppedLeading: func() {},
		},
	})
	if err != nil {
		stop()
		close(h.ran)
		close(h.done)
		return
	}
	s.held[i] = h
	go func() {
		defer close(h.done)
		le.Run(ectx)
		s.mu.Lock()
		acquired := h.acquired
		s.mu.Unlock()
		if acquired {
			<-h.ran // the lease was lost: wait for the work to stop
		}
	}()
}

// giveUp stops shard i's work, then releases its lease, in the background;
// s.mu is held.
func (s *Set) giveUp(i int) {
	h := s.held[i]
	if h == nil || h.releasing {
		return
	}
	h.releasing = true
	acquired, stopRun := h.acquired, h.stopRun
	go func() {
		if acquired {
			stopRun()
			<-h.ran
		}
		h.stop()
	}()
}

// giveUpAll gives every shard up and waits until their leases are released.
func (s *Set) giveUpAll() {
	s.mu.Lock()
	var all []*holding
	for i, h := range s.held {
		s.giveUp(i)
		all = append(all, h)
	}
	s.mu.Unlock()
	for _, h := range all {
		<-h.done
	}
}
