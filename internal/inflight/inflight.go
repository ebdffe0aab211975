// Package inflight records what a process is doing, so a shutdown that
// overruns its grace period can say what it waited for.
package inflight

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"time"

	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
)

// Tracker holds the activities under way. The zero value is not usable;
// a nil *Tracker tracks nothing.
type Tracker struct {
	clock   clock.PassiveClock
	mu      sync.Mutex
	next    uint64
	running map[uint64]activity
}

type activity struct {
	what  string
	since time.Time
}

// New returns a Tracker reading time from c.
func New(c clock.PassiveClock) *Tracker {
	return &Tracker{clock: c, running: map[uint64]activity{}}
}

// Begin records that what has started; calling the returned function
// records that it ended.
func (t *Tracker) Begin(what string) (end func()) {
	if t == nil {
		return func() {}
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	id := t.next
	t.next++
	t.running[id] = activity{what: what, since: t.clock.Now()}
	return func() {
		t.mu.Lock()
		defer t.mu.Unlock()
		delete(t.running, id)
	}
}

// Running describes each activity under way with how long it has run,
// the longest first.
func (t *Tracker) Running() []string {
	if t == nil {
		return nil
	}
	t.mu.Lock()
	list := make([]activity, 0, len(t.running))
	for _, a := range t.running {
		list = append(list, a)
	}
	now := t.clock.Now()
	t.mu.Unlock()
	sort.Slice(list, func(i, j int) bool {
		if !list[i].since.Equal(list[j].since) {
			return list[i].since.Before(list[j].since)
		}
		return list[i].what < list[j].what
	})
	out := make([]string, len(list))
	for i, a := range list {
		out[i] = fmt.Sprintf("%s (for %s)", a.what, now.Sub(a.since).Round(time.Millisecond))
	}
	return out
}

// Reconciler wraps r so each reconcile is recorded as "<kind> reconcile of
// <namespace>/<name>".
func (t *Tracker) Reconciler(kind string, r reconcile.Reconciler) reconcile.Reconciler {
	if t == nil {
		return r
	}
	return reconcile.Func(func(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
		defer t.Begin(kind + " reconcile of " + req.String())()
		return r.Reconcile(ctx, req)
	})
}
