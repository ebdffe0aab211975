package controllers

import (
	"context"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	socialv1alpha1 "github.com/herald-dev/herald/api/v1alpha1"
	"github.com/herald-dev/herald/internal/post"
)

// ReasonWorkspaceLimit is a delivery refused because its post would pass a
// limit of its workspace (spec.limits).
const ReasonWorkspaceLimit = "WorkspaceLimit"

// quotaMemory remembers for a while the posts this process admitted, whose
// status the cache may not show yet, so workers admitting posts at the
// same moment count each other.
type quotaMemory struct {
	mu       sync.Mutex
	admitted map[types.UID]admittedPost
}

type admittedPost struct {
	namespace string
	// waiting: admitted to wait for publishing; day: started publishing on it.
	waiting bool
	day     string
	at      time.Time
}

// quotaMemoryTTL outlasts the cache's lag behind the post's own write.
const quotaMemoryTTL = 2 * time.Minute

// admitted reports whether p's place in the queue was granted: its status
// says Scheduled for the spec as it stands.
func admitted(p *socialv1alpha1.ScheduledPost) bool {
	return p.Status.Phase == socialv1alpha1.PostScheduled && p.Status.ObservedGeneration == p.Generation
}

// checkQuota refuses a post that would pass its workspace's limits: a
// post joining the queue beyond maxScheduledPosts, or starting to publish
// on a day that already has maxPostsPerDay. It returns the limit's
// message, or "" when the post may go on. Posts in a namespace no
// Workspace owns have no limits.
func (r *ScheduledPostReconciler) checkQuota(ctx context.Context, p *socialv1alpha1.ScheduledPost, ws *socialv1alpha1.Workspace, due, now time.Time) (string, error) {
	joining := post.HoldingOf(p) == post.HoldsWaiting && !admitted(p)
	starting := !now.Before(due) && !post.AnyStarted(p) && post.HoldingOf(p) == post.HoldsWaiting
	if (!joining && !starting) || ws == nil {
		return "", nil
	}
	q := post.QuotaOf(ws)
	if q.MaxWaiting < 0 && q.PerDay < 0 {
		return "", nil
	}
	list := &socialv1alpha1.ScheduledPostList{}
	if err := r.List(ctx, list, client.InNamespace(p.Namespace), client.UnsafeDisableDeepCopy); err != nil {
		return "", err
	}

	r.quota.mu.Lock()
	defer r.quota.mu.Unlock()
	if r.quota.admitted == nil {
		r.quota.admitted = map[types.UID]admittedPost{}
	}
	for uid, a := range r.quota.admitted {
		if now.Sub(a.at) > quotaMemoryTTL {
			delete(r.quota.admitted, uid)
		}
	}
	// Counted: the posts admitted to the queue, and those that started,
	// by their status or by this process's memory of them.
	t := post.Tally{PerDay: map[string]int{}}
	seen := map[types.UID]bool{}
	for i := range list.Items {
		o := &list.Items[i]
		if o.UID == p.UID {
			continue
		}
		seen[o.UID] = true
		mem, remembered := r.quota.admitted[o.UID]
		switch {
		case post.HoldingOf(o) == post.HoldsWaiting && (admitted(o) || (remembered && mem.waiting)):
			t.Waiting++
		case post.AnyStarted(o):
			if started, ok := post.StartedAt(o); ok {
				t.PerDay[q.Day(started)]++
			}
		case remembered && mem.day != "":
			t.PerDay[mem.day]++
		}
	}
	for uid, a := range r.quota.admitted {
		if !seen[uid] && uid != p.UID && a.namespace == p.Namespace { // created so recently the cache lacks it
			if a.waiting {
				t.Waiting++
			} else if a.day != "" {
				t.PerDay[a.day]++
			}
		}
	}

	if joining {
		if err := q.AdmitWaiting(t); err != nil {
			return err.Error(), nil
		}
	}
	if starting {
		if err := q.AdmitDay(t, q.Day(now)); err != nil {
			return err.Error(), nil
		}
		r.quota.admitted[p.UID] = admittedPost{namespace: p.Namespace, day: q.Day(now), at: now}
		return "", nil
	}
	r.quota.admitted[p.UID] = admittedPost{namespace: p.Namespace, waiting: true, at: now}
	return "", nil
}

// refuseForQuota ends every delivery not yet made: the post would pass a
// workspace limit.
func (r *ScheduledPostReconciler) refuseForQuota(s *postState, msg string) {
	for i := range s.post.Status.Deliveries {
		d := &s.post.Status.Deliveries[i]
		if d.Phase == socialv1alpha1.DeliveryPending {
			r.cannotSend(s, d, "", ReasonWorkspaceLimit, "not published: "+msg+"; then "+r.retryHow())
		}
	}
}
