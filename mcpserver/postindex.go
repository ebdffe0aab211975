package mcpserver

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/google/btree"
	"k8s.io/client-go/tools/cache"
	"k8s.io/utils/clock"
	ctrlcache "sigs.k8s.io/controller-runtime/pkg/cache"

	socialv1alpha1 "github.com/herald-dev/herald/api/v1alpha1"
	"github.com/herald-dev/herald/internal/post"
)

// postIndex keeps each namespace's posts in list order (newest first, then
// by name) in a B-tree, maintained from the informer's events, so a page of
// ocoya_list_posts costs a search and the page itself rather than a copy
// and sort of every post in the workspace, and a new post costs a
// logarithmic insert rather than shifting all the others.
type postIndex struct {
	mu   sync.RWMutex
	byNS map[string]*btree.BTreeG[indexedPost]
	// held counts, per namespace, the drafts and waiting posts of byNS,
	// so the workspace limits cost nothing to check.
	held   map[string]*heldCount
	synced func() bool
	clock  clock.PassiveClock
}

func newIndex(clk clock.PassiveClock) *postIndex {
	return &postIndex{byNS: map[string]*btree.BTreeG[indexedPost]{}, held: map[string]*heldCount{}, clock: clk}
}

type heldCount struct{ drafts, waiting int }

// count adds (by 1 or -1) what e holds to ns's counts; the caller holds
// the write lock.
func (idx *postIndex) count(ns string, e indexedPost, by int) {
	c := idx.held[ns]
	if c == nil {
		c = &heldCount{}
		idx.held[ns] = c
	}
	switch e.holding {
	case post.HoldsDraft:
		c.drafts += by
	case post.HoldsWaiting:
		c.waiting += by
	}
}

// heldBy returns ns's counts of drafts and waiting posts.
func (idx *postIndex) heldBy(ns string) (drafts, waiting int) {
	idx.mu.RLock()
	defer idx.mu.RUnlock()
	if c := idx.held[ns]; c != nil {
		return c.drafts, c.waiting
	}
	return 0, 0
}

// tree returns ns's tree, creating it; the caller holds the write lock.
func (idx *postIndex) tree(ns string) *btree.BTreeG[indexedPost] {
	t := idx.byNS[ns]
	if t == nil {
		t = btree.NewG(32, indexedPost.before)
		idx.byNS[ns] = t
	}
	return t
}

type indexedPost struct {
	created int64
	name    string
	post    *socialv1alpha1.ScheduledPost // the informer's copy, or one this replica wrote: read-only
	// phase and due are what list filters read: the post's phase as the
	// tools report it, and its scheduledAt (zero when it has none).
	phase string
	due   time.Time
	// holding is what the post takes of the workspace's limits.
	holding post.Holding
	// listed is the post as pages show it, encoded on first use.
	listed *listedOnce
	// written is when a tool of this replica recorded the entry (Unix
	// nanoseconds), until the informer delivers the post; zero once it
	// has. An index holds an entry per post, so entries are kept small.
	written int64
}

// listedOnce encodes a post for pages the first time one shows it.
type listedOnce struct {
	once sync.Once
	v    *listedPost
}

func (l *listedOnce) get(e *indexedPost) *listedPost {
	l.once.Do(func() { l.v = newListedPost(e.post, e.phase) })
	return l.v
}

// unconfirmed reports whether e is a tool's record the informer has not
// confirmed within unconfirmedTTL, as of now.
func (e *indexedPost) unconfirmed(now time.Time) bool {
	return e.written != 0 && now.UnixNano()-e.written > int64(unconfirmedTTL)
}

// unconfirmedTTL is how long a post this replica created stays on its pages
// without the informer delivering it. The watch delivers a create within
// milliseconds; a post created and deleted again while the informer was
// relisting is never delivered, and must not stay forever.
const unconfirmedTTL = time.Minute

// before orders entries as pages list them.
func (a indexedPost) before(b indexedPost) bool {
	return a.created > b.created || (a.created == b.created && a.name < b.name)
}

func newPostIndex(ctx context.Context, c ctrlcache.Cache, clk clock.PassiveClock) (*postIndex, error) {
	inf, err := c.GetInformer(ctx, &socialv1alpha1.ScheduledPost{})
	if err != nil {
		return nil, fmt.Errorf("watching ScheduledPosts for the list index: %w", err)
	}
	idx := newIndex(clk)
	reg, err := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { idx.put(obj) },
		UpdateFunc: func(_, obj any) { idx.put(obj) },
		DeleteFunc: func(obj any) {
			if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
				obj = d.Obj
			}
			idx.remove(obj)
		},
	})
	if err != nil {
		return nil, err
	}
	idx.synced = reg.HasSynced
	return idx, nil
}

func (idx *postIndex) entryOf(obj any) (indexedPost, string, bool) {
	p, ok := obj.(*socialv1alpha1.ScheduledPost)
	if !ok {
		return indexedPost{}, "", false
	}
	now := idx.clock.Now()
	e := indexedPost{created: p.CreationTimestamp.UnixNano(), name: p.Name, post: p, phase: string(post.PhaseOf(p, now)), listed: &listedOnce{}}
	e.due, _ = post.Due(&p.Spec)
	e.holding = post.HoldingOf(post.AsWritten(p, now))
	return e, p.Namespace, true
}

// put takes a post the informer delivered: the informer's events come in
// order, so it replaces what is there, except an entry this replica
// recorded for a post created since (another UID under the same name),
// which the informer has not reached yet.
func (idx *postIndex) put(obj any) {
	idx.upsert(obj, time.Time{}, func(cur, e indexedPost) bool { return cur.written == 0 || cur.post.UID == e.post.UID })
}

// record puts a post this replica has just created, so the client's next
// page shows it without waiting for the watch to bring it; if the informer
// has delivered it already, its copy is as new, and stays.
func (idx *postIndex) record(p *socialv1alpha1.ScheduledPost, now time.Time) {
	idx.upsert(p.DeepCopy(), now, func(cur, e indexedPost) bool { return cur.post.UID != e.post.UID })
}

// upsert inserts the entry for obj, written by a tool at written (zero:
// delivered by the informer), or replaces the one there when replace says so.
func (idx *postIndex) upsert(obj any, written time.Time, replace func(cur, e indexedPost) bool) {
	e, ns, ok := idx.entryOf(obj)
	if !ok {
		return
	}
	if !written.IsZero() {
		e.written = written.UnixNano()
	}
	idx.mu.Lock()
	defer idx.mu.Unlock()
	t := idx.tree(ns)
	if cur, found := t.Get(e); found && !replace(cur, e) {
		return
	}
	if old, replaced := t.ReplaceOrInsert(e); replaced {
		idx.count(ns, old, -1)
	}
	idx.count(ns, e, 1)
}

func (idx *postIndex) remove(obj any) {
	e, ns, ok := idx.entryOf(obj)
	if !ok {
		return
	}
	idx.mu.Lock()
	defer idx.mu.Unlock()
	if t := idx.byNS[ns]; t != nil {
		if old, found := t.Delete(e); found {
			idx.count(ns, old, -1)
		}
	}
}

// each calls fn with every post of ns the index holds.
func (idx *postIndex) each(ns string, fn func(*socialv1alpha1.ScheduledPost)) {
	idx.mu.RLock()
	defer idx.mu.RUnlock()
	t := idx.byNS[ns]
	if t == nil {
		return
	}
	now := idx.clock.Now()
	t.Ascend(func(e indexedPost) bool {
		if !e.unconfirmed(now) {
			fn(e.post)
		}
		return true
	})
}

// page returns up to limit posts of ns after the cursor that match, and
// whether more matching posts follow.
func (idx *postIndex) page(ns string, after *cursor, limit int, match func(*indexedPost) bool) ([]*listedPost, bool) {
	idx.mu.RLock()
	defer idx.mu.RUnlock()
	out := make([]*listedPost, 0, limit)
	t := idx.byNS[ns]
	if t == nil {
		return out, false
	}
	more := false
	now := idx.clock.Now()
	visit := func(e indexedPost) bool {
		if after != nil && e.created == after.created && e.name == after.name {
			return true // the cursor's own post ended the previous page
		}
		if e.unconfirmed(now) {
			return true
		}
		if !match(&e) {
			return true
		}
		if len(out) == limit {
			more = true
			return false
		}
		out = append(out, e.listed.get(&e))
		return true
	}
	if after != nil {
		t.AscendGreaterOrEqual(indexedPost{created: after.created, name: after.name}, visit)
	} else {
		t.Ascend(visit)
	}
	return out, more
}
