package oauth

import (
	"sync"
	"time"

	"k8s.io/utils/clock"
)

// Failed sign-ins allowed per window before the form refuses more.
const (
	loginWindow        = 15 * time.Minute
	maxFailuresPerUser = 5
	maxFailuresPerAddr = 20
)

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
	mu     sync.Mutex
	clock  clock.PassiveClock
	window time.Duration
	events map[string][]time.Time
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

// loginLimiter counts failed sign-ins per user name and per client address.
type loginLimiter struct{ *windowLimiter }

func newLoginLimiter(c clock.PassiveClock) *loginLimiter {
	return &loginLimiter{newWindowLimiter(c, loginWindow)}
}

// blocked reports whether user or addr used up its budget, and when it resets.
func (l *loginLimiter) blocked(user, addr string) (bool, time.Duration) {
	if full, wait := l.full("u:"+user, maxFailuresPerUser); full {
		return true, wait
	}
	return l.full("a:"+addr, maxFailuresPerAddr)
}

func (l *loginLimiter) fail(user, addr string) { l.record("u:"+user, "a:"+addr) }
