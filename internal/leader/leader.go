// Package leader gives a process that runs with leader election a way to
// ask, just before acting, whether it still holds the lease: a lock that
// remembers when this process last renewed it. A process paused past its
// lease (a long GC pause, a frozen VM, SIGSTOP) resumes believing it leads
// until its next renewal fails; asking the lock instead tells it that
// another replica may lead by now.
package leader

import (
	"context"
	"sync"
	"time"

	"k8s.io/client-go/tools/leaderelection/resourcelock"
)

// margin is kept between the last renewal's lease and now, for the time
// between asking and acting.
const margin = time.Second

// Lock is a resourcelock.Interface that records the time of each renewal
// it makes for its own identity.
type Lock struct {
	resourcelock.Interface
	// LeaseDuration is how long another candidate waits, from when it sees
	// a renewal, before it takes the lease over.
	LeaseDuration time.Duration
	// Now tells the time; time.Now by default.
	Now func() time.Time

	mu sync.Mutex
	// renewed is when the last successful acquisition or renewal began,
	// zero when this process does not hold the lease.
	renewed time.Time
}

var _ resourcelock.Interface = (*Lock)(nil)

func (l *Lock) now() time.Time {
	if l.Now != nil {
		return l.Now()
	}
	return time.Now()
}

// Create acquires the lease for the first time.
func (l *Lock) Create(ctx context.Context, ler resourcelock.LeaderElectionRecord) error {
	start := l.now()
	err := l.Interface.Create(ctx, ler)
	l.record(start, ler, err)
	return err
}

// Update renews (or releases) the lease.
func (l *Lock) Update(ctx context.Context, ler resourcelock.LeaderElectionRecord) error {
	start := l.now()
	err := l.Interface.Update(ctx, ler)
	l.record(start, ler, err)
	return err
}

func (l *Lock) record(start time.Time, ler resourcelock.LeaderElectionRecord, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	switch {
	case err != nil:
	case ler.HolderIdentity == l.Identity():
		l.renewed = start
	default: // released, or written for another holder
		l.renewed = time.Time{}
	}
}

// Leading reports whether this process holds the lease and no other can
// have taken it over: its last renewal began less than the lease's
// duration (less a margin) ago. Another candidate waits a whole lease
// duration after it sees a renewal, so the lease cannot have passed on
// before then.
func (l *Lock) Leading() bool {
	l.mu.Lock()
	renewed := l.renewed
	l.mu.Unlock()
	return !renewed.IsZero() && l.now().Before(renewed.Add(l.LeaseDuration-margin))
}
