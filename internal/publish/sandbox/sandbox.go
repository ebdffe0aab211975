// Package sandbox is Herald's built-in platform: posts are recorded in an
// in-memory Feed that a person (or a test) can read over HTTP, so Herald can
// be tried and benchmarked without any social account. Deleting a post
// removes it from the feed; its id is never given to another post.
package sandbox

import (
	"context"
	"encoding/json"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/herald-dev/herald/internal/publish"
	"github.com/herald-dev/herald/internal/publish/rules"
)

// Info declares the sandbox: no account, no limits, and a feed that
// records each idempotency key once.
var Info = publish.Info{
	Platform: "sandbox",
	Rules:    rules.Rules{Name: "sandbox", Media: rules.AnyMedia},
	Resend:   publish.Resend{By: "the idempotency key, which the feed records once"},
	Deletes:  true,
}

// Info declares the platform.
func (p *Publisher) Info() publish.Info { return Info }

// Entry is one post recorded by the feed.
type Entry struct {
	// ID numbers entries from 1 in the order they were recorded.
	ID string `json:"id"`
	// URL is where Handler serves the entry.
	URL string `json:"url"`
	// Profile is the handle of the profile the post was published for.
	Profile string `json:"profile"`
	// Text, Media and IdempotencyKey are the post's.
	Text           string          `json:"text"`
	Media          []publish.Media `json:"media,omitempty"`
	IdempotencyKey string          `json:"idempotencyKey,omitempty"`
	// PublishedAt is when the feed recorded the post.
	PublishedAt time.Time `json:"publishedAt"`
}

// Feed records sandbox posts in memory. It is safe for concurrent use; set
// its fields before first use.
type Feed struct {
	// BaseURL is where Handler is served (e.g. http://127.0.0.1:8080); post
	// URLs are BaseURL + "/sandbox/" + id.
	BaseURL string
	// Latency, when set, delays every publish, to make benchmarks resemble
	// a real platform.
	Latency time.Duration
	// Now is the clock for PublishedAt; nil means time.Now.
	Now func() time.Time

	// MaxEntries bounds the entries kept; past it the oldest go first.
	// 0 means DefaultMaxEntries.
	MaxEntries int

	mu sync.Mutex
	// entries holds the live entries by number; ids, and the URLs made of
	// them, are never reused.
	entries map[int]Entry
	last    int // the number of the newest entry
	oldest  int // no live entry is older
	byKey   map[string]int
}

// DefaultMaxEntries is how many posts a Feed keeps unless told otherwise.
const DefaultMaxEntries = 1000

// Add records a post for profile and returns its entry. A post whose
// idempotency key was seen before is not recorded again: the earlier entry
// is returned, as a platform honouring the key would.
func (f *Feed) Add(profile string, post publish.Post) Entry {
	f.mu.Lock()
	defer f.mu.Unlock()
	if n, ok := f.byKey[post.IdempotencyKey]; ok && post.IdempotencyKey != "" {
		return f.entries[n]
	}
	now := time.Now
	if f.Now != nil {
		now = f.Now
	}
	if f.entries == nil {
		f.entries, f.byKey, f.oldest = map[int]Entry{}, map[string]int{}, 1
	}
	f.last++
	id := strconv.Itoa(f.last)
	e := Entry{
		ID: id, URL: strings.TrimRight(f.BaseURL, "/") + "/sandbox/" + id,
		Profile: profile, Text: post.Text, Media: append([]publish.Media(nil), post.Media...),
		IdempotencyKey: post.IdempotencyKey, PublishedAt: now().UTC(),
	}
	f.entries[f.last] = e
	if post.IdempotencyKey != "" {
		f.byKey[post.IdempotencyKey] = f.last
	}
	max := f.MaxEntries
	if max <= 0 {
		max = DefaultMaxEntries
	}
	for len(f.entries) > max {
		f.removeLocked(f.oldest)
		f.oldest++
	}
	return e
}

// List returns every entry, oldest first.
func (f *Feed) List() []Entry {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]Entry, 0, len(f.entries))
	for _, n := range slices.Sorted(maps.Keys(f.entries)) {
		out = append(out, f.entries[n])
	}
	return out
}

// Get returns the entry with id.
func (f *Feed) Get(id string) (Entry, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	n, ok := entryNumber(id)
	if !ok {
		return Entry{}, false
	}
	e, ok := f.entries[n]
	return e, ok
}

// Remove removes the entry with id, if there is one. Its idempotency key is
// forgotten with it: a post sent again with that key is recorded anew.
func (f *Feed) Remove(id string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if n, ok := entryNumber(id); ok {
		f.removeLocked(n)
	}
}

func (f *Feed) removeLocked(n int) {
	e, ok := f.entries[n]
	if !ok {
		return
	}
	if e.IdempotencyKey != "" && f.byKey[e.IdempotencyKey] == n {
		delete(f.byKey, e.IdempotencyKey)
	}
	delete(f.entries, n)
}

// entryNumber reads an entry id: a whole number from 1.
func entryNumber(id string) (int, bool) {
	n, err := strconv.Atoi(id)
	return n, err == nil && n >= 1
}

// Handler serves the feed as JSON under basePath (normally "/sandbox"):
// GET basePath/ lists every post as {"posts":[…]}, GET basePath/<id>
// returns one post or 404.
func (f *Feed) Handler(basePath string) http.Handler {
	prefix := strings.TrimRight(basePath, "/") + "/"
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			writeJSON(w, http.StatusMethodNotAllowed, map[string]string{"error": "method not allowed"})
			return
		}
		rest, ok := strings.CutPrefix(r.URL.Path+"/", prefix)
		rest = strings.TrimSuffix(rest, "/")
		switch {
		case !ok:
			writeJSON(w, http.StatusNotFound, map[string]string{"error": "not found"})
		case rest == "":
			writeJSON(w, http.StatusOK, map[string][]Entry{"posts": f.List()})
		default:
			if e, found := f.Get(rest); found {
				writeJSON(w, http.StatusOK, e)
				return
			}
			writeJSON(w, http.StatusNotFound, map[string]string{"error": "no sandbox post " + rest})
		}
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// Publisher publishes to a Feed. It needs no credentials.
type Publisher struct {
	// Feed receives every post.
	Feed *Feed
}

// New returns a publisher recording into feed.
func New(feed *Feed) *Publisher { return &Publisher{Feed: feed} }

var _ publish.Deleter = (*Publisher)(nil)

// Verify accepts any profile: the sandbox has no accounts to check.
func (p *Publisher) Verify(_ context.Context, prof publish.Profile) (publish.Account, error) {
	return publish.Account{ID: prof.Handle, Handle: prof.Handle, URL: strings.TrimRight(p.Feed.BaseURL, "/") + "/sandbox/"}, nil
}

// Publish records the post after the feed's Latency; a context ended
// during that wait records nothing and is Retryable.
func (p *Publisher) Publish(ctx context.Context, prof publish.Profile, post publish.Post) (publish.Result, error) {
	if p.Feed.Latency > 0 {
		if err := publish.Wait(ctx, p.Feed.Latency); err != nil {
			return publish.Result{}, err
		}
	}
	e := p.Feed.Add(prof.Handle, post)
	return publish.Result{ExternalID: e.ID, URL: e.URL, PublishedAt: e.PublishedAt}, nil
}

// Delete removes the post from the feed; one that is not there is already
// gone. Latency, which benchmarks publishing, does not apply.
func (p *Publisher) Delete(_ context.Context, _ publish.Profile, externalID string) error {
	if externalID == "" {
		return publish.Errorf(publish.Permanent, "sandbox: cannot delete a post without its id")
	}
	if _, ok := entryNumber(externalID); !ok {
		return publish.Errorf(publish.Permanent, "sandbox: cannot delete post %q: sandbox post ids are whole numbers from 1", externalID)
	}
	p.Feed.Remove(externalID)
	return nil
}
