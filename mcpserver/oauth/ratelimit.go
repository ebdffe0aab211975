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

// loginLimiter counts failed sign-ins per user name and per client address.
// It is per replica: with N replicas an attacker gets at most N times the
// budget, which still stops guessing.
type loginLimiter struct {
	mu    sync.Mutex
	clock clock.PassiveClock
	fails map[string][]time.Time
}

func newLoginLimiter(c clock.PassiveClock) *loginLimiter {
	return &loginLimiter{clock: c, fails: map[string][]time.Time{}}
}

// blocked reports whether user or addr used up its budget, and when it resets.
func (l *loginLimiter) blocked(user, addr string) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.clock.Now()
	for key, max := range map[string]int{"u:" + user: maxFailuresPerUser, "a:" + addr: maxFailuresPerAddr} {
		recent := l.prune(key, now)
		if len(recent) >= max {
			return true, recent[0].Add(loginWindow).Sub(now)
		}
	}
	return false, 0
}

func (l *loginLimiter) fail(user, addr string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.clock.Now()
	for _, key := range []string{"u:" + user, "a:" + addr} {
		l.fails[key] = append(l.prune(key, now), now)
	}
}

func (l *loginLimiter) prune(key string, now time.Time) []time.Time {
	recent := l.fails[key][:0]
	for _, t := range l.fails[key] {
		if now.Sub(t) < loginWindow {
			recent = append(recent, t)
		}
	}
	if len(recent) == 0 {
		delete(l.fails, key)
		return nil
	}
	l.fails[key] = recent
	return recent
}

// sweep forgets expired entries so the map does not grow without bound.
func (l *loginLimiter) sweep() {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.clock.Now()
	for key := range l.fails {
		l.prune(key, now)
	}
}
