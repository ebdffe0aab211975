package oauth

import (
	"slices"
	"sync"
	"time"

	"k8s.io/utils/clock"
)

// Failed sign-ins allowed per window before the form refuses more: for
// one user name from one client address, and from one address across all
// names. There is no limit for a user name alone, which anyone could use
// up to lock its owner out.
const (
	loginWindow        = 15 * time.Minute
	maxFailuresPerPair = 5
	maxFailuresPerAddr = 50
)

// Token requests allowed per client address and minute.
const (
	tokenWindow             = time.Minute
	maxTokenRequestsPerAddr = 300
)

// maxLimiterKeys bounds the keys a limiter holds. Past it the least
// recently seen are forgotten, which gives their budget back: a flood of
// addresses costs memory up to here, not further.
const maxLimiterKeys = 100_000

// Client registrations allowed per client address and window, and dynamic
// clients that never completed a sign-in allowed at once, unless Config
// says otherwise. Registration needs no credentials and stores an object
// in the cluster, so both are bounded: the first against one noisy
// address, the second against many.
const (
	registrationWindow             = time.Hour
	defaultMaxRegistrationsPerAddr = 30
	defaultMaxUnusedClients        = 1000
)

// windowLimiter counts events per key over a sliding window. It is per
// replica: with N replicas a client gets at most N times the budget, which
// still stops guessing and flooding.
type windowLimiter struct {
	mu        sync.Mutex
	clock     clock.PassiveClock
	window    time.Duration
	events    map[string][]time.Time
	lastSweep time.Time
}

func newWindowLimiter(c clock.PassiveClock, window time.Duration) *windowLimiter {
	return &windowLimiter{clock: c, window: window, events: map[string][]time.Time{}}
}

// full reports whether key had max events within the window, and when the
// oldest of them leaves it.
func (l *windowLimiter) full(key string, max int) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.fullLocked(key, max, l.clock.Now())
}

func (l *windowLimiter) fullLocked(key string, max int, now time.Time) (bool, time.Duration) {
	recent := l.prune(key, now)
	if len(recent) >= max {
		return true, recent[0].Add(l.window).Sub(now)
	}
	return false, 0
}

// record counts an event for each key.
func (l *windowLimiter) record(keys ...string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.clock.Now()
	for _, key := range keys {
		l.events[key] = append(l.prune(key, now), now)
	}
	l.bound(now)
}

// bound sweeps expired keys once a window, on whichever replica counts,
// and forgets the oldest keys past maxLimiterKeys; the caller holds mu.
func (l *windowLimiter) bound(now time.Time) {
	if now.Sub(l.lastSweep) >= l.window || len(l.events) > maxLimiterKeys {
		l.lastSweep = now
		for key := range l.events {
			l.prune(key, now)
		}
	}
	if len(l.events) <= maxLimiterKeys {
		return
	}
	// Forget the least recently seen tenth at once, so a flood costs one
	// sort per many thousand keys rather than a scan per key.
	type seen struct {
		key  string
		last time.Time
	}
	all := make([]seen, 0, len(l.events))
	for key, ts := range l.events {
		all = append(all, seen{key, ts[len(ts)-1]})
	}
	slices.SortFunc(all, func(a, b seen) int { return a.last.Compare(b.last) })
	for _, e := range all[:len(all)-maxLimiterKeys*9/10] {
		delete(l.events, e.key)
	}
}

// take records an event for key unless it is full, in one step, so
// concurrent requests cannot all pass the check before any is counted.
func (l *windowLimiter) take(key string, max int) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.clock.Now()
	if full, wait := l.fullLocked(key, max, now); full {
		return false, wait
	}
	l.events[key] = append(l.events[key], now)
	l.bound(now)
	return true, 0
}

func (l *windowLimiter) prune(key string, now time.Time) []time.Time {
	recent := l.events[key][:0]
	for _, t := range l.events[key] {
		if now.Sub(t) < l.window {
			recent = append(recent, t)
		}
	}
	if len(recent) == 0 {
		delete(l.events, key)
		return nil
	}
	l.events[key] = recent
	return recent
}

// sweep forgets expired entries so the map does not grow without bound.
func (l *windowLimiter) sweep() {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.clock.Now()
	for key := range l.events {
		l.prune(key, now)
	}
}

// loginLimiter counts failed sign-ins per user name and client address,
// and per client address.
type loginLimiter struct{ *windowLimiter }

func newLoginLimiter(c clock.PassiveClock) *loginLimiter {
	return &loginLimiter{newWindowLimiter(c, loginWindow)}
}

// blocked reports whether user from addr, or addr, used up its budget,
// and when it resets.
func (l *loginLimiter) blocked(user, addr string) (bool, time.Duration) {
	if full, wait := l.full("p:"+addr+"\x00"+user, maxFailuresPerPair); full {
		return true, wait
	}
	return l.full("a:"+addr, maxFailuresPerAddr)
}

func (l *loginLimiter) fail(user, addr string) { l.record("p:"+addr+"\x00"+user, "a:"+addr) }
