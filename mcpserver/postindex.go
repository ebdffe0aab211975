package mcpserver

import (
	"context"
	"fmt"
	"sort"
	"sync"

	"k8s.io/client-go/tools/cache"
	ctrlcache "sigs.k8s.io/controller-runtime/pkg/cache"

	socialv1alpha1 "github.com/herald-dev/herald/api/v1alpha1"
)

// postIndex keeps each namespace's posts in list order (newest first, then
// by name), maintained from the informer's events, so a page of
// ocoya_list_posts costs a binary search and the page itself rather than a
// copy and sort of every post in the workspace.
type postIndex struct {
	mu     sync.RWMutex
	byNS   map[string][]indexedPost
	synced func() bool
}

type indexedPost struct {
	created int64
	name    string
	post    *socialv1alpha1.ScheduledPost // the informer's copy: read-only
	// listed returns the post as pages show it, encoded on first use.
	listed func() *listedPost
}

// before orders entries as pages list them.
func (a indexedPost) before(b indexedPost) bool {
	return a.created > b.created || (a.created == b.created && a.name < b.name)
}

func newPostIndex(ctx context.Context, c ctrlcache.Cache) (*postIndex, error) {
	inf, err := c.GetInformer(ctx, &socialv1alpha1.ScheduledPost{})
	if err != nil {
		return nil, fmt.Errorf("watching ScheduledPosts for the list index: %w", err)
	}
	idx := &postIndex{byNS: map[string][]indexedPost{}}
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

func entryOf(obj any) (indexedPost, string, bool) {
	p, ok := obj.(*socialv1alpha1.ScheduledPost)
	if !ok {
		return indexedPost{}, "", false
	}
	return indexedPost{created: p.CreationTimestamp.UnixNano(), name: p.Name, post: p,
		listed: sync.OnceValue(func() *listedPost { return newListedPost(p) })}, p.Namespace, true
}

func (idx *postIndex) put(obj any) {
	e, ns, ok := entryOf(obj)
	if !ok {
		return
	}
	idx.mu.Lock()
	defer idx.mu.Unlock()
	list := idx.byNS[ns]
	i, found := position(list, e)
	if found {
		list[i] = e
		return
	}
	list = append(list, indexedPost{})
	copy(list[i+1:], list[i:])
	list[i] = e
	idx.byNS[ns] = list
}

func (idx *postIndex) remove(obj any) {
	e, ns, ok := entryOf(obj)
	if !ok {
		return
	}
	idx.mu.Lock()
	defer idx.mu.Unlock()
	if i, found := position(idx.byNS[ns], e); found {
		idx.byNS[ns] = append(idx.byNS[ns][:i], idx.byNS[ns][i+1:]...)
	}
}

// position is where e is, or belongs, in list, and whether it is there.
func position(list []indexedPost, e indexedPost) (int, bool) {
	i := sort.Search(len(list), func(i int) bool { return !list[i].before(e) })
	return i, i < len(list) && list[i].name == e.name
}

// page returns up to limit posts of ns after the cursor that match, and
// whether more matching posts follow.
func (idx *postIndex) page(ns string, after *cursor, limit int, match func(*socialv1alpha1.ScheduledPost) bool) ([]indexedPost, bool) {
	idx.mu.RLock()
	defer idx.mu.RUnlock()
	list := idx.byNS[ns]
	start := 0
	if after != nil {
		c := indexedPost{created: after.created, name: after.name}
		start = sort.Search(len(list), func(i int) bool { return c.before(list[i]) })
	}
	out := make([]indexedPost, 0, limit)
	for _, e := range list[start:] {
		if !match(e.post) {
			continue
		}
		if len(out) == limit {
			return out, true
		}
		out = append(out, e)
	}
	return out, false
}
