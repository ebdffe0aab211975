package controllers

import (
	"context"
	"sync"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"

	socialv1alpha1 "github.com/herald-dev/herald/api/v1alpha1"
	"github.com/herald-dev/herald/internal/post"
	"github.com/herald-dev/herald/internal/shard"
)

// heldShard is what one reconcile of a post works with: whether this
// process may send for the post's namespace, and the dispatcher that sends
// its first attempts (nil: every attempt is claimed in status).
type heldShard struct {
	leading  func() bool
	dispatch *Dispatcher
}

// leads reports whether this process may send now.
func (h *heldShard) leads() bool { return h.leading == nil || h.leading() }

// postShards routes each post to the shard of its namespace: a replica
// reconciles a post only while it holds that shard's Lease, with that
// shard's own ledger and dispatcher.
type postShards struct {
	set *shard.Set

	mu   sync.RWMutex
	held map[int]*heldShard
}

// of returns the shard of namespace if this process holds it, else nil.
func (s *postShards) of(namespace string) *heldShard {
	i := shard.Of(namespace, s.set.N)
	s.mu.RLock()
	h := s.held[i]
	s.mu.RUnlock()
	if h == nil || !s.set.Holds(i) {
		return nil
	}
	return h
}

func (s *postShards) put(i int, h *heldShard) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.held == nil {
		s.held = map[int]*heldShard{}
	}
	s.held[i] = h
}

func (s *postShards) drop(i int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.held, i)
}

// shardOf returns what this process holds of the shard of a post in
// namespace: nil when another replica publishes that namespace's posts.
func (r *ScheduledPostReconciler) shardOf(namespace string) *heldShard {
	if r.Shards == nil {
		return &heldShard{leading: r.Leading, dispatch: r.Dispatch}
	}
	return r.Shards.of(namespace)
}

// runShard does shard i's publishing while this process holds its Lease:
// it takes the shard's ledger over (if first attempts go through one),
// has every unsettled post of the shard looked at, and on the way out
// stops the dispatcher as a shutdown does, so nothing it claimed is left
// ambiguous when the Lease passes on.
func (r *ScheduledPostReconciler) runShard(ctx context.Context, newDispatcher func(i, n int) *Dispatcher, i int, leading func() bool) {
	h := &heldShard{leading: leading}
	if newDispatcher != nil {
		h.dispatch = newDispatcher(i, r.Shards.set.N)
		h.dispatch.Leading = leading
	}
	r.Shards.put(i, h)
	defer r.Shards.drop(i)
	go r.wakeShard(ctx, i)
	if h.dispatch == nil {
		<-ctx.Done()
		return
	}
	_ = h.dispatch.Start(ctx)
}

// wakeShard queues every post of shard i that is not settled: posts the
// previous holder left, and posts this process skipped while another held
// the shard.
func (r *ScheduledPostReconciler) wakeShard(ctx context.Context, i int) {
	var posts socialv1alpha1.ScheduledPostList
	if err := r.List(ctx, &posts, client.UnsafeDisableDeepCopy); err != nil {
		return
	}
	for k := range posts.Items {
		p := &posts.Items[k]
		if shard.Of(p.Namespace, r.Shards.set.N) != i || post.Settled(p) {
			continue
		}
		ev := event.GenericEvent{Object: &socialv1alpha1.ScheduledPost{ObjectMeta: metav1.ObjectMeta{Namespace: p.Namespace, Name: p.Name}}}
		select {
		case r.wake <- ev:
		case <-ctx.Done():
			return
		}
	}
}
