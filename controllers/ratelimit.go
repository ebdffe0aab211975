package controllers

import (
	"math"
	"sync"
	"time"

	"golang.org/x/time/rate"
	"k8s.io/apimachinery/pkg/types"

	socialv1alpha1 "github.com/herald-dev/herald/api/v1alpha1"
)

// profileLimiters holds one token bucket per SocialProfile (by UID, so a
// profile deleted and recreated under the same name starts afresh). A
// profile's limit never delays another profile's posts, and waiting is a
// requeue, never a blocked worker.
type profileLimiters struct {
	mu sync.Mutex
	m  map[types.UID]*limiterEntry
}

type limiterEntry struct {
	perHour int
	lim     *rate.Limiter
}

// reserve takes a token for one post to p, whose limit is perHour, at now
// (the reconciler's clock, so tests can move time). It returns 0 and a
// function that gives the token back (for a claim that lost a conflict),
// or how long to wait before a token is free.
func (l *profileLimiters) reserve(p *socialv1alpha1.SocialProfile, perHour int, now time.Time) (time.Duration, func()) {
	if perHour <= 0 {
		return 0, func() {}
	}
	l.mu.Lock()
	if l.m == nil {
		l.m = map[types.UID]*limiterEntry{}
	}
	e := l.m[p.UID]
	// A burst of five minutes' worth lets a few posts due together go out
	// at once; beyond that they are spread at the hourly rate.
	burst := max(1, int(math.Ceil(float64(perHour)/12)))
	switch {
	case e == nil:
		e = &limiterEntry{perHour: perHour, lim: rate.NewLimiter(rate.Limit(float64(perHour)/3600), burst)}
		l.m[p.UID] = e
	case e.perHour != perHour:
		e.perHour = perHour
		e.lim.SetLimitAt(now, rate.Limit(float64(perHour)/3600))
		e.lim.SetBurstAt(now, burst)
	}
	l.mu.Unlock()

	res := e.lim.ReserveN(now, 1)
	if !res.OK() {
		return time.Hour, func() {}
	}
	if d := res.DelayFrom(now); d > 0 {
		res.CancelAt(now)
		return d, nil
	}
	return 0, func() { res.CancelAt(now) }
}
