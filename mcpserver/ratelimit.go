package mcpserver

import (
	"fmt"
	"math"
	"sync"
	"time"

	"golang.org/x/time/rate"
	"k8s.io/utils/clock"
)

// RateLimit bounds the JSON-RPC messages one approved connection (one
// MCPGrant) may send: a batch counts each of its messages. Zero Rate means
// no limit.
type RateLimit struct {
	// Rate is messages per second, sustained.
	Rate float64
	// Burst is how many may come at once; at least MaxBatch, so one full
	// batch always fits.
	Burst int
}

// grantLimiter keeps a token bucket per grant. Buckets idle for longer
// than they take to refill are dropped, so the map stays as small as the
// set of active connections.
type grantLimiter struct {
	limit rate.Limit
	burst int
	clock clock.PassiveClock

	mu        sync.Mutex
	buckets   map[string]*grantBucket
	lastSweep time.Time
}

type grantBucket struct {
	limiter *rate.Limiter
	used    time.Time
}

func newGrantLimiter(l RateLimit, c clock.PassiveClock) *grantLimiter {
	if l.Rate <= 0 {
		return nil
	}
	return &grantLimiter{limit: rate.Limit(l.Rate), burst: max(l.Burst, MaxBatch), clock: c, buckets: map[string]*grantBucket{}}
}

// allow takes n messages from grant's bucket, or says how long to wait
// before they would fit.
func (g *grantLimiter) allow(grant string, n int) (bool, time.Duration) {
	if g == nil {
		return true, 0
	}
	now := g.clock.Now()
	g.mu.Lock()
	defer g.mu.Unlock()
	g.sweep(now)
	b, ok := g.buckets[grant]
	if !ok {
		b = &grantBucket{limiter: rate.NewLimiter(g.limit, g.burst)}
		g.buckets[grant] = b
	}
	b.used = now
	r := b.limiter.ReserveN(now, n)
	if !r.OK() {
		return false, g.refill()
	}
	if wait := r.DelayFrom(now); wait > 0 {
		r.CancelAt(now) // refused messages take nothing
		return false, wait
	}
	return true, 0
}

// refill is how long an empty bucket takes to fill.
func (g *grantLimiter) refill() time.Duration {
	return time.Duration(float64(g.burst) / float64(g.limit) * float64(time.Second))
}

func (g *grantLimiter) sweep(now time.Time) {
	idle := g.refill()
	if now.Sub(g.lastSweep) < idle {
		return
	}
	g.lastSweep = now
	for k, b := range g.buckets {
		if now.Sub(b.used) > idle {
			delete(g.buckets, k)
		}
	}
}

// rateLimited is the answer's text for a refused request.
func rateLimited(l rate.Limit, wait time.Duration) string {
	return fmt.Sprintf("this connection sends more than %g messages per second; wait %d s and send again (a batch counts each message)",
		float64(l), int(math.Ceil(wait.Seconds())))
}
