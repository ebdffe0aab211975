package controllers

import (
	"math"
	"sync"
	"time"

	"golang.org/x/time/rate"
	"k8s.io/apimachinery/pkg/types"

	socialv1alpha1 "github.com/herald-dev/herald/api/v1alpha1"
)

// defaultPostsPerHour is each platform's documented posting limit for one
// account, rounded down; 0 means Herald does not limit (the sandbox, and
// webhooks whose receiver is the user's own). A profile's
// spec.postsPerHour replaces it.
var defaultPostsPerHour = map[socialv1alpha1.Platform]int{
	socialv1alpha1.PlatformMastodon: 100,  // 300 statuses per 3 hours
	socialv1alpha1.PlatformBluesky:  1666, // 5000 write points per hour, 3 per record
	socialv1alpha1.PlatformX:        50,   // well under 100 per 15 minutes per user
	socialv1alpha1.PlatformLinkedIn: 6,    // 150 member posts per day
	socialv1alpha1.PlatformDiscord:  1800, // 30 per minute per webhook
	socialv1alpha1.PlatformSlack:    3600, // 1 per second per webhook
	socialv1alpha1.PlatformTelegram: 1200, // 20 per minute in a group
}

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

// postsPerHour returns the profile's limit, 0 for none.
func postsPerHour(p *socialv1alpha1.SocialProfile) int {
	if p.Spec.PostsPerHour != nil {
		return int(*p.Spec.PostsPerHour)
	}
	return defaultPostsPerHour[p.Spec.Platform]
}

// reserve takes a token for one post to p at now (the reconciler's clock,
// so tests can move time). It returns 0 and a function that gives the
// token back (for a claim that lost a conflict), or how long to wait
// before a token is free.
func (l *profileLimiters) reserve(p *socialv1alpha1.SocialProfile, now time.Time) (time.Duration, func()) {
	perHour := postsPerHour(p)
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
