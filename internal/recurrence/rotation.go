package recurrence

import (
	"time"
)

// Pick chooses the post of an evergreen rotation of n posts to publish at
// at: the one published longest ago (never-published ones first, in list
// order), passing over any published less than within before at. last
// holds when each post was last published (or is due to be); ok is false
// when every post is that recent.
func Pick(n int, last map[int]time.Time, at time.Time, within time.Duration) (index int, ok bool) {
	index = -1
	for i := 0; i < n; i++ {
		t, seen := last[i]
		if seen && at.Sub(t) < within {
			continue
		}
		if index < 0 {
			index = i
			continue
		}
		best, bestSeen := last[index]
		if bestSeen && (!seen || t.Before(best)) {
			index = i
		}
	}
	return index, index >= 0
}
