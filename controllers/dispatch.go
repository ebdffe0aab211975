package controllers

import (
	"container/heap"
	"context"
	"errors"
	"maps"
	"net/url"
	"slices"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	utilrand "k8s.io/apimachinery/pkg/util/rand"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"

	socialv1alpha1 "github.com/herald-dev/herald/api/v1alpha1"
	"github.com/herald-dev/herald/internal/ledger"
	"github.com/herald-dev/herald/internal/metrics"
	"github.com/herald-dev/herald/internal/post"
	"github.com/herald-dev/herald/internal/publish"
)

// +kubebuilder:rbac:groups="",namespace=system,resources=configmaps,verbs=get;list;create;update;delete

// Dispatcher sends the first attempt of each delivery at its due instant,
// from memory, with no request to the API server between the due time and
// the platform call. Deliveries are claimed ahead of time in the
// publishing ledger, many in one write; outcomes go to each post's status
// afterwards, through the ScheduledPost reconciler, one write per post.
//
// What it takes: Pending deliveries, not yet tried, of posts due in the
// future, on platforms that publish in one call (publish.Info.Checkpoints
// false). Everything else (retries, resumed attempts, posts already due
// when they were created, stepwise platforms) is claimed in the post's
// status as before.
//
// Its guarantees are the reconciler's: a delivery is sent only under a
// claim that is written (the ledger's head names its segment) and fresh
// (the head was written less than Fresh ago, so no other process can have
// taken the ledger over), by a process that leads; a new holder reads the
// ledger before sending anything, and treats each claim without an outcome
// as an interrupted attempt.
type Dispatcher struct {
	Ledger   *ledger.Store
	Identity string
	// Leading reports whether this process holds the leader lease; nil
	// means always.
	Leading func() bool
	// Clock tells the time and runs the timers.
	Clock clock.WithTicker
	// Window is how far ahead of its due time a delivery is claimed.
	Window time.Duration
	// Tick is how often the ledger is written, at most.
	Tick time.Duration
	// Fresh is how long after its last head write this process still
	// sends: well under the leader lease, after which another process may
	// take the ledger over.
	Fresh time.Duration
	// CallsPerHost bounds the platform calls in flight to one host.
	CallsPerHost int
	// Shard and Shards say which posts this dispatcher publishes: those of
	// the namespaces in shard Shard of Shards (0 of 1: every post).
	Shard, Shards int
	// Old reports whether a ledger head in Ledger's namespace was left by
	// another shard count; this dispatcher adopts its part of each such
	// ledger when it takes its own over. Nil adopts none.
	Old func(head string) bool

	r       *ScheduledPostReconciler
	wake    chan event.GenericEvent
	secrets *secretCache

	mu       sync.Mutex
	lastHead time.Time // start of the last successful head write
	ready    bool
	deposed  bool
	stopping bool
	calls    sync.WaitGroup            // calls in flight
	entries  map[string]*dispatchEntry // by delivery: post UID and profile
	armed    dueHeap                   // armed, by due time: claimed in turn
	timers   dueHeap                   // claimed, by due time: sent in turn
	records  []ledger.Record           // waiting for the next ledger write
	segments map[string]map[string]bool
	settled  []string // segments whose records are all settled
	hosts    map[string]*hostQueue
	kick     chan struct{}
}

// Dispatch states.
type dispatchState int

const (
	dispatchArmed     dispatchState = iota // waiting for its claim window
	dispatchClaiming                       // in the ledger write under way
	dispatchClaimed                        // claimed; sent at the due instant
	dispatchSending                        // the call is under way
	dispatchDone                           // answered; the outcome waits for the post's status
	dispatchReleased                       // claimed or armed, not sent: the reconciler takes it
	dispatchAmbiguous                      // claimed by an earlier holder, no outcome recorded
)

// dispatchEntry is one delivery the dispatcher holds.
type dispatchEntry struct {
	post       types.NamespacedName
	uid        types.UID
	profile    string
	generation int64
	due        time.Time
	attemptID  string
	platform   socialv1alpha1.Platform
	state      dispatchState
	send       *sendable
	out        *callOutcome
	// holder names who claimed it, when it was not this process.
	holder string
	// maybeClaimed is set when a ledger write with its claim failed: the
	// API server may have made it.
	maybeClaimed bool
	index        int // in the heap that holds it (armed or timers); -1 in none
}

// newDispatcher makes the dispatcher of r's posts, on the ledger o
// places. Its timers need a clock that runs them: the real one unless r's
// clock can.
func newDispatcher(mgr ctrl.Manager, r *ScheduledPostReconciler, o LedgerOptions) *Dispatcher {
	clk, ok := r.Clock.(clock.WithTicker)
	if !ok {
		clk = clock.RealClock{}
	}
	d := &Dispatcher{
		Ledger:   &ledger.Store{Client: mgr.GetClient(), Reader: mgr.GetAPIReader(), Namespace: o.Namespace, Name: o.Name},
		Identity: r.Identity, Leading: r.Leading, Clock: clk,
		Window: o.Window, Tick: o.Tick, Fresh: o.Fresh, CallsPerHost: o.CallsPerHost,
		r:        r,
		wake:     r.wake,
		secrets:  &secretCache{reader: mgr.GetAPIReader(), clock: clk, ttl: secretTTL},
		entries:  map[string]*dispatchEntry{},
		segments: map[string]map[string]bool{},
		hosts:    map[string]*hostQueue{},
		kick:     make(chan struct{}, 1),
	}
	return d
}

// secretTTL is how long the dispatcher uses a Secret it read: a changed
// Secret is used within it.
const secretTTL = 10 * time.Second

func deliveryKey(uid types.UID, profile string) string { return string(uid) + "/" + profile }

func (e *dispatchEntry) attemptKey() string { return ledger.AttemptKey(e.uid, e.profile, e.attemptID) }

// NeedLeaderElection makes the dispatcher run on the leader only.
func (d *Dispatcher) NeedLeaderElection() bool { return true }

// Ready reports whether the ledger has been taken over and settled, so
// the reconciler may decide about deliveries an earlier holder claimed.
func (d *Dispatcher) Ready() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.ready && !d.deposed
}

// Takes reports whether the dispatcher sends delivery dl of p (on a
// platform described by info) rather than the reconciler.
func (d *Dispatcher) Takes(p *socialv1alpha1.ScheduledPost, dl *socialv1alpha1.Delivery, info publish.Info) bool {
	return d != nil && !info.Checkpoints && dl.Phase == socialv1alpha1.DeliveryPending && dl.Attempts == 0 && dl.Progress == "" && p.DeletionTimestamp.IsZero()
}

// Arm hands the dispatcher a delivery due at due, as of generation gen
// of the post. Arming again with the same generation changes nothing; a
// new generation replaces a delivery not yet claimed.
func (d *Dispatcher) Arm(p *socialv1alpha1.ScheduledPost, profile string, due time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	key := deliveryKey(p.UID, profile)
	if e := d.entries[key]; e != nil {
		if e.generation == p.Generation && e.due.Equal(due) {
			return
		}
		if e.state != dispatchArmed && e.state != dispatchReleased {
			return // claimed: the fire-time check sees the new generation
		}
		if e.maybeClaimed && e.state == dispatchArmed {
			// Keep the attempt its claim may be recorded under.
			e.generation, e.due = p.Generation, due
			heap.Fix(&d.armed, e.index)
			return
		}
	}
	if e := d.entries[key]; e != nil && e.state == dispatchArmed {
		heap.Remove(&d.armed, e.index)
	}
	e := &dispatchEntry{post: client.ObjectKeyFromObject(p), uid: p.UID, profile: profile,
		generation: p.Generation, due: due, attemptID: utilrand.String(10), state: dispatchArmed, index: -1}
	d.entries[key] = e
	heap.Push(&d.armed, e)
}

// held is what the reconciler learns of a delivery the dispatcher holds.
type held struct {
	state     dispatchState
	attemptID string
	platform  socialv1alpha1.Platform
	holder    string
	out       *callOutcome
}

// Held tells the reconciler about delivery profile of post uid; ok is
// false when the dispatcher does not hold it.
func (d *Dispatcher) Held(uid types.UID, profile string) (held, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	e := d.entries[deliveryKey(uid, profile)]
	if e == nil {
		return held{}, false
	}
	return held{state: e.state, attemptID: e.attemptID, platform: e.platform, holder: e.holder, out: e.out}, true
}

// Settled tells the dispatcher that the post's status now records what
// became of the delivery (its outcome, or that it is the reconciler's):
// the ledger may forget it.
func (d *Dispatcher) Settled(uid types.UID, profile string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	key := deliveryKey(uid, profile)
	e := d.entries[key]
	if e == nil {
		return
	}
	switch e.state {
	case dispatchClaiming, dispatchClaimed, dispatchSending:
		return // still its to send or answer
	}
	delete(d.entries, key)
	d.settle(e.attemptKey())
}

// settle marks an attempt's records settled; d.mu is held.
func (d *Dispatcher) settle(attempt string) {
	for name, keys := range d.segments {
		if keys[attempt] {
			delete(keys, attempt)
			if len(keys) == 0 {
				d.settled = append(d.settled, name)
				delete(d.segments, name)
			}
		}
	}
}

// Start takes the ledger over, then claims, fires and records until ctx
// ends. Calls in flight at the end finish within the call's bound and
// their outcomes are handed to the reconciler.
func (d *Dispatcher) Start(ctx context.Context) error {
	log := ctrl.LoggerFrom(ctx).WithName("dispatcher")
	backoff := 200 * time.Millisecond
	for {
		err := d.recover(ctx)
		if err == nil {
			break
		}
		log.Error(err, "taking over the publishing ledger; trying again", "in", backoff)
		select {
		case <-ctx.Done():
			return nil
		case <-d.Clock.After(backoff):
		}
		backoff = min(2*backoff, 5*time.Second)
	}
	go d.fireLoop(ctx)
	t := d.Clock.NewTicker(d.Tick)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			if err := d.stop(ctx); err != nil && !errors.Is(err, ledger.ErrDeposed) {
				log.Error(err, "recording the claims released at shutdown; the next holder settles them as interrupted")
			}
			return nil
		case <-t.C():
		}
		if err := d.write(ctx, false); err != nil {
			if errors.Is(err, ledger.ErrDeposed) {
				log.Info("another process holds the publishing ledger; sending nothing more")
				return nil
			}
			log.Error(err, "writing the publishing ledger; claims wait for the next write")
		}
	}
}

// recover reads the ledger as the last holder left it, takes it over,
// and hands what it held to the reconciler: outcomes to write, claims
// without one to settle as interrupted attempts.
func (d *Dispatcher) recover(ctx context.Context) error {
	prior, records, err := d.Ledger.Acquire(ctx, d.Identity)
	if err != nil {
		return err
	}
	adopted, err := d.adoptOld(ctx)
	if err != nil {
		return err
	}
	records = append(records, adopted...)
	d.mu.Lock()
	d.lastHead = d.Clock.Now()
	d.mu.Unlock()
	byKey := map[string]*dispatchEntry{}
	released := map[string]bool{}
	for _, rec := range records {
		k := rec.Key()
		e := byKey[k]
		if e == nil {
			e = &dispatchEntry{post: types.NamespacedName{Namespace: rec.Namespace, Name: rec.Name}, uid: rec.UID, profile: rec.Profile,
				attemptID: rec.AttemptID, state: dispatchAmbiguous, holder: prior.Holder, index: -1}
			byKey[k] = e
		}
		switch rec.Kind {
		case ledger.Claim:
			e.due, e.platform = rec.Due, socialv1alpha1.Platform(rec.Platform)
		case ledger.Outcome:
			e.state, e.out = dispatchDone, outcomeOf(rec)
		case ledger.Release:
			released[k] = true
		}
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	// Every segment named holds records of the entries below until they
	// are settled; the tracking is by attempt, not by segment, so every
	// segment waits for all of them.
	open := map[string]bool{}
	for k, e := range byKey {
		if !released[k] {
			open[k] = true
			d.entries[deliveryKey(e.uid, e.profile)] = e
		}
	}
	for _, name := range d.Ledger.Holding().Segments {
		if len(open) == 0 {
			d.settled = append(d.settled, name)
			continue
		}
		d.segments[name] = maps.Clone(open)
	}
	d.ready = true
	for _, e := range d.entries {
		d.wakeLocked(e)
	}
	return nil
}

// write makes one ledger write: the claims of deliveries due within the
// window (none once stopping), the outcomes and releases since the last
// write, and the head no longer naming segments whose records are all
// settled (deleted afterwards, off the write loop).
func (d *Dispatcher) write(ctx context.Context, stopping bool) error {
	now := d.Clock.Now()
	var claiming []*dispatchEntry
	if !stopping {
		claiming = d.claimable(ctx, now)
	}

	d.mu.Lock()
	// An outcome already in its post's status needs no record.
	pending := slices.DeleteFunc(d.records, func(rec ledger.Record) bool {
		e := d.entries[deliveryKey(rec.UID, rec.Profile)]
		return rec.Kind == ledger.Outcome && (e == nil || e.attemptID != rec.AttemptID)
	})
	d.records = nil
	recs := slices.Clone(pending)
	var horizon time.Time
	for _, e := range claiming {
		recs = append(recs, ledger.Record{Kind: ledger.Claim, Namespace: e.post.Namespace, Name: e.post.Name, UID: e.uid,
			Profile: e.profile, AttemptID: e.attemptID, Platform: string(e.platform), Due: e.due})
		if e.due.After(horizon) {
			horizon = e.due
		}
	}
	drop := d.settled
	d.settled = nil
	waiting := len(d.timers) > 0
	d.mu.Unlock()

	// A head write also keeps the claims waiting for their instant fresh.
	// Shutdown does not cut a write short: one cut off after the API
	// server made it would leave claims this process cannot account for.
	if len(recs) == 0 && len(drop) == 0 && (!waiting || now.Sub(d.lastHeadWrite()) <= d.Fresh/3) {
		return nil
	}
	start := d.Clock.Now()
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), d.r.Timing.WriteTimeout)
	names, err := d.Ledger.Append(wctx, recs, horizon, drop)
	cancel()
	d.mu.Lock()
	if err != nil {
		// Nothing of this write may be acted on: claims go back to be
		// claimed again (with the same attempt id), records to the
		// next write. The write may have been made all the same, so
		// a claim not sent in the end is released.
		for _, e := range claiming {
			if e.state == dispatchClaiming {
				e.state, e.maybeClaimed = dispatchArmed, true
				heap.Push(&d.armed, e)
			}
		}
		d.records = append(pending, d.records...)
		d.settled = append(d.settled, drop...)
		if errors.Is(err, ledger.ErrDeposed) {
			d.deposed = true
		}
		d.mu.Unlock()
		return err
	}
	d.lastHead = start
	keys := map[string]bool{}
	for _, rec := range recs {
		if e := d.entries[deliveryKey(rec.UID, rec.Profile)]; e != nil && e.attemptID == rec.AttemptID {
			keys[rec.Key()] = true
		}
	}
	for _, name := range names {
		if len(keys) == 0 {
			d.settled = append(d.settled, name) // dropped by the next write
			continue
		}
		d.segments[name] = maps.Clone(keys)
	}
	for _, e := range claiming {
		if e.state == dispatchClaiming {
			e.state = dispatchClaimed
			heap.Push(&d.timers, e)
		}
	}
	d.mu.Unlock()
	d.poke()
	if len(drop) > 0 {
		// A segment the head no longer names counts for nothing; one whose
		// delete fails is collected by the next takeover.
		go func() {
			dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), d.r.Timing.WriteTimeout)
			defer cancel()
			if err := d.Ledger.Delete(dctx, drop); err != nil {
				ctrl.LoggerFrom(ctx).Info("deleting settled ledger segments failed; the next takeover collects them", "error", err.Error())
			}
		}()
	}
	return nil
}

func (d *Dispatcher) lastHeadWrite() time.Time {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.lastHead
}

// stop ends dispatching: claims not yet sent are released, calls in
// flight finish (within the call's bound), and a last ledger write
// records both, so the next holder resends the first and writes the
// second instead of taking them for interrupted attempts.
func (d *Dispatcher) stop(ctx context.Context) error {
	d.mu.Lock()
	d.stopping = true
	for len(d.timers) > 0 {
		d.releaseLocked(heap.Pop(&d.timers).(*dispatchEntry), true)
	}
	for _, e := range d.entries {
		if e.state == dispatchArmed && e.maybeClaimed {
			heap.Remove(&d.armed, e.index)
			d.releaseLocked(e, true)
		}
	}
	for _, q := range d.hosts {
		for _, e := range q.pending {
			d.releaseLocked(e, true)
			d.calls.Done()
		}
		q.pending = nil
	}
	d.mu.Unlock()
	d.calls.Wait()
	defer d.r.InFlight.Begin("the publishing ledger's last write")()
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), d.r.Timing.WriteTimeout)
	defer cancel()
	return d.write(wctx, true)
}

// claimable picks the armed deliveries due within the window and works
// out what each sends, so that nothing is read at its instant; a delivery
// that cannot be sent as it stands goes back to the reconciler, which
// says why.
func (d *Dispatcher) claimable(ctx context.Context, now time.Time) []*dispatchEntry {
	d.mu.Lock()
	var due []*dispatchEntry
	for len(d.armed) > 0 && !d.armed[0].due.After(now.Add(d.Window)) {
		e := heap.Pop(&d.armed).(*dispatchEntry)
		e.state = dispatchClaiming
		due = append(due, e)
	}
	d.mu.Unlock()

	var claiming []*dispatchEntry
	for _, e := range due {
		p := &socialv1alpha1.ScheduledPost{}
		var send *sendable
		err := d.r.Get(ctx, e.post, p)
		ok := err == nil && d.current(p, e, now)
		if ok {
			s, problem, err := d.r.prepare(ctx, p, e.profile, d.secrets)
			ok = err == nil && problem == nil && !s.info.Checkpoints
			send = s
		}
		d.mu.Lock()
		switch {
		case ok:
			e.send, e.platform = send, send.platform
			claiming = append(claiming, e)
		case apierrors.IsNotFound(err) && !e.maybeClaimed:
			delete(d.entries, deliveryKey(e.uid, e.profile)) // deleted before its time
		default:
			d.releaseLocked(e, e.maybeClaimed)
		}
		d.mu.Unlock()
	}
	return claiming
}

// current reports whether p is still the post e was armed for, due and
// sendable as it was then.
func (d *Dispatcher) current(p *socialv1alpha1.ScheduledPost, e *dispatchEntry, now time.Time) bool {
	if p.UID != e.uid || p.Generation != e.generation || !p.DeletionTimestamp.IsZero() || p.Spec.Draft || p.Spec.Canceled {
		return false
	}
	if due, err := post.Due(&p.Spec); err != nil || !due.Equal(e.due) {
		return false
	}
	dl := post.Find(p.Status.Deliveries, e.profile)
	if dl != nil && (dl.Phase != socialv1alpha1.DeliveryPending || dl.Attempts != 0) {
		return false
	}
	return !now.After(e.due.Add(post.MaxLateness(&p.Spec)))
}

// releaseLocked gives a delivery back to the reconciler unsent; a claim
// written is released in the ledger too. d.mu is held.
func (d *Dispatcher) releaseLocked(e *dispatchEntry, claimed bool) {
	e.state, e.send = dispatchReleased, nil
	if claimed {
		d.records = append(d.records, ledger.Record{Kind: ledger.Release, Namespace: e.post.Namespace, Name: e.post.Name,
			UID: e.uid, Profile: e.profile, AttemptID: e.attemptID})
	}
	d.wakeLocked(e)
}

// mayClaim reports whether a claim written by this process still holds:
// the last head write is fresh and this process leads.
func (d *Dispatcher) mayClaim(now time.Time) bool {
	return !d.deposed && !d.stopping && now.Sub(d.lastHead) < d.Fresh && (d.Leading == nil || d.Leading())
}

// fireLoop sends each claimed delivery at its due instant.
func (d *Dispatcher) fireLoop(ctx context.Context) {
	for {
		d.mu.Lock()
		var wait time.Duration = time.Hour
		if len(d.timers) > 0 {
			wait = d.timers[0].due.Sub(d.Clock.Now())
		}
		d.mu.Unlock()
		if wait > 0 {
			t := d.Clock.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-d.kick:
			case <-t.C():
			}
			t.Stop()
			continue
		}
		d.fire(ctx, d.Clock.Now())
	}
}

// fire hands every claim due by now to its host's queue. Each counts as
// a call in flight (d.calls) from here until it is made or released, so a
// shutdown waits for it. The checks read the cache outside the lock, so
// the calls already queued are not held up.
func (d *Dispatcher) fire(ctx context.Context, now time.Time) {
	d.mu.Lock()
	var batch []*dispatchEntry
	for len(d.timers) > 0 && !d.timers[0].due.After(now) {
		e := heap.Pop(&d.timers).(*dispatchEntry)
		e.state = dispatchSending
		batch = append(batch, e)
	}
	d.calls.Add(len(batch))
	d.mu.Unlock()

	send := make([]bool, len(batch))
	for i, e := range batch {
		p := &socialv1alpha1.ScheduledPost{}
		// The profile's rate limit is kept in memory; a delivery that must
		// wait is the reconciler's, which waits by requeueing.
		if d.r.Get(ctx, e.post, p) != nil || !d.current(p, e, now) {
			continue
		}
		wait, _ := d.r.limiters.reserve(e.send.profile, post.PostsPerHour(e.send.profile, e.send.info), now)
		send[i] = wait == 0
	}

	d.mu.Lock()
	defer d.mu.Unlock()
	for i, e := range batch {
		if !send[i] || !d.mayClaim(now) {
			d.releaseLocked(e, true)
			d.calls.Done()
			continue
		}
		q := d.hosts[hostOf(e.send)]
		if q == nil {
			q = &hostQueue{}
			d.hosts[hostOf(e.send)] = q
		}
		q.pending = append(q.pending, e)
		if q.running < max(1, d.CallsPerHost) {
			q.running++
			go d.drain(ctx, q)
		}
	}
}

// hostQueue is the calls waiting for one platform host.
type hostQueue struct {
	pending []*dispatchEntry
	running int
}

func hostOf(s *sendable) string {
	if u, err := url.Parse(s.prof.Endpoint); err == nil && u.Host != "" {
		return u.Host
	}
	return string(s.platform)
}

// drain makes the calls waiting in q, one at a time, until none is left.
func (d *Dispatcher) drain(ctx context.Context, q *hostQueue) {
	for {
		d.mu.Lock()
		if len(q.pending) == 0 {
			q.running--
			d.mu.Unlock()
			return
		}
		e := q.pending[0]
		q.pending = q.pending[1:]
		// A call that waited for its host checks again that its claim
		// holds.
		if !d.mayClaim(d.Clock.Now()) {
			d.releaseLocked(e, true)
			d.mu.Unlock()
			d.calls.Done()
			continue
		}
		d.mu.Unlock()
		d.call(ctx, e)
		d.calls.Done()
	}
}

// call sends one delivery and hands its outcome to the ledger and the
// reconciler. Shutdown does not cut it short: it is bounded by the call's
// timeout.
func (d *Dispatcher) call(ctx context.Context, e *dispatchEntry) {
	send := e.send
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), d.r.Timing.CallTimeout)
	metrics.DeliveriesInFlight.Inc()
	end := d.r.InFlight.Begin("platform call to " + hostOf(send) + " for " + e.post.String())
	callAt := d.Clock.Now()
	res, err := send.pub.Publish(cctx, send.prof, publish.Post{
		Text: send.rendered.Text, Media: send.rendered.Media, IdempotencyKey: IdempotencyKey(e.uid, e.profile, e.attemptID),
	})
	end()
	metrics.DeliveriesInFlight.Dec()
	cancel()
	out := &callOutcome{res: res, err: err, callAt: callAt}

	d.mu.Lock()
	defer d.mu.Unlock()
	e.state, e.out, e.send = dispatchDone, out, nil
	d.records = append(d.records, outcomeRecord(e, out))
	d.wakeLocked(e)
}

// wakeLocked asks the reconciler to look at e's post; it never blocks the
// caller for long, since the channel's buffer is drained by the
// controller. d.mu is held.
func (d *Dispatcher) wakeLocked(e *dispatchEntry) {
	obj := &socialv1alpha1.ScheduledPost{ObjectMeta: metav1.ObjectMeta{Namespace: e.post.Namespace, Name: e.post.Name}}
	select {
	case d.wake <- event.GenericEvent{Object: obj}:
	default:
		go func() { d.wake <- event.GenericEvent{Object: obj} }()
	}
}

func (d *Dispatcher) poke() {
	select {
	case d.kick <- struct{}{}:
	default:
	}
}

func outcomeRecord(e *dispatchEntry, out *callOutcome) ledger.Record {
	rec := ledger.Record{Kind: ledger.Outcome, Namespace: e.post.Namespace, Name: e.post.Name, UID: e.uid,
		Profile: e.profile, AttemptID: e.attemptID, Platform: string(e.platform), SentAt: out.callAt}
	if out.err != nil {
		rec.ErrorKind, rec.Message = string(publish.KindOf(out.err)), out.err.Error()
		rec.RetryAfter = publish.RetryAfter(out.err).Milliseconds()
		return rec
	}
	rec.ExternalID, rec.URL, rec.PublishedAt = out.res.ExternalID, out.res.URL, out.res.PublishedAt
	return rec
}

// outcomeOf is the call outcome a ledger record holds.
func outcomeOf(rec ledger.Record) *callOutcome {
	out := &callOutcome{callAt: rec.SentAt}
	if rec.ErrorKind != "" {
		err := publish.Errorf(publish.ErrorKind(rec.ErrorKind), "%s", rec.Message)
		err.RetryAfter = time.Duration(rec.RetryAfter) * time.Millisecond
		out.err = err
		return out
	}
	out.res = publish.Result{ExternalID: rec.ExternalID, URL: rec.URL, PublishedAt: rec.PublishedAt}
	return out
}

// dueHeap orders claimed deliveries by due time.
type dueHeap []*dispatchEntry

func (h dueHeap) Len() int           { return len(h) }
func (h dueHeap) Less(i, j int) bool { return h[i].due.Before(h[j].due) }
func (h dueHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index, h[j].index = i, j
}
func (h *dueHeap) Push(x any) {
	e := x.(*dispatchEntry)
	e.index = len(*h)
	*h = append(*h, e)
}
func (h *dueHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	e.index = -1
	return e
}

// secretCache reads Secrets through to the API server at most once per
// ttl for each: a burst of posts to one profile reads its Secret once,
// and a Secret changed is used within ttl. Only Gets of Secrets are
// cached; Herald may not list or watch them.
type secretCache struct {
	reader client.Reader
	clock  clock.PassiveClock
	ttl    time.Duration

	mu sync.Mutex
	m  map[types.NamespacedName]cachedSecret
}

type cachedSecret struct {
	secret *corev1.Secret
	at     time.Time
}

func (c *secretCache) Get(ctx context.Context, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
	s, ok := obj.(*corev1.Secret)
	if !ok {
		return c.reader.Get(ctx, key, obj, opts...)
	}
	now := c.clock.Now()
	c.mu.Lock()
	hit, found := c.m[key]
	c.mu.Unlock()
	if found && now.Sub(hit.at) < c.ttl {
		hit.secret.DeepCopyInto(s)
		return nil
	}
	if err := c.reader.Get(ctx, key, s, opts...); err != nil {
		return err
	}
	c.mu.Lock()
	if c.m == nil {
		c.m = map[types.NamespacedName]cachedSecret{}
	}
	c.m[key] = cachedSecret{secret: s.DeepCopy(), at: now}
	c.mu.Unlock()
	return nil
}

func (c *secretCache) List(ctx context.Context, list client.ObjectList, opts ...client.ListOption) error {
	return c.reader.List(ctx, list, opts...)
}
