package oauth

import (
	"sync"
	"time"
)

// tokenCache remembers verified tokens so each request costs a map lookup
// and a grant read from the informer cache, not a signature check.
type tokenCache struct {
	mu sync.RWMutex
	m  map[[32]byte]cachedToken
}

type cachedToken struct {
	claims  *tokenClaims
	expires time.Time
}

const maxCachedTokens = 10000

func newTokenCache() *tokenCache { return &tokenCache{m: map[[32]byte]cachedToken{}} }

func (t *tokenCache) get(k [32]byte, now time.Time) (*tokenClaims, bool) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	c, ok := t.m[k]
	if !ok || !now.Before(c.expires) {
		return nil, false
	}
	return c.claims, true
}

func (t *tokenCache) put(k [32]byte, c *tokenClaims, exp time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.m) >= maxCachedTokens { // crude bound; entries are cheap to recompute
		clear(t.m)
	}
	t.m[k] = cachedToken{claims: c, expires: exp}
}

func (t *tokenCache) sweep(now time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for k, c := range t.m {
		if !now.Before(c.expires) {
			delete(t.m, k)
		}
	}
}
