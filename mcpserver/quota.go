package mcpserver

import (
	"context"

	"sigs.k8s.io/controller-runtime/pkg/client"

	socialv1alpha1 "github.com/herald-dev/herald/api/v1alpha1"
	"github.com/herald-dev/herald/internal/post"
)

// admit checks that p, as it is about to be written, fits the workspace's
// limits beside its other posts. before is the post as it was (nil for a
// new one): a change that takes nothing new (an edit of a draft, a new
// time on the same day) is not counted again.
func (s *toolCall) admit(ctx context.Context, p, before *socialv1alpha1.ScheduledPost) error {
	q := post.QuotaOf(s.ws)
	held := post.HoldingOf(p)
	if held == post.HoldsNothing {
		return nil
	}
	if before != nil && post.HoldingOf(before) == held && (held == post.HoldsDraft || sameDueDay(q, p, before)) {
		return nil
	}
	var self post.Holding // what the stored post already holds, counted among the others
	if before != nil {
		self = post.HoldingOf(before)
	}
	t, err := s.tally(ctx, q, p.Name, self)
	if err != nil {
		return err
	}
	if err := q.Admit(t, p, ""); err != nil {
		return invalidArgument("%v", err)
	}
	return nil
}

func sameDueDay(q post.Quota, a, b *socialv1alpha1.ScheduledPost) bool {
	da, errA := post.Due(&a.Spec)
	db, errB := post.Due(&b.Spec)
	return errA == nil && errB == nil && q.Day(da) == q.Day(db)
}

// tally counts what the workspace's posts other than except (which holds
// self) hold, from the list index when there is one.
func (s *toolCall) tally(ctx context.Context, q post.Quota, except string, self post.Holding) (post.Tally, error) {
	var t post.Tally
	ns := s.ws.NamespaceName()
	if s.index != nil && s.index.synced() {
		if q.PerDay < 0 { // the counts alone decide
			t.Drafts, t.Waiting = s.index.heldBy(ns)
			switch self {
			case post.HoldsDraft:
				t.Drafts = max(t.Drafts-1, 0)
			case post.HoldsWaiting:
				t.Waiting = max(t.Waiting-1, 0)
			}
			return t, nil
		}
		s.index.each(ns, func(p *socialv1alpha1.ScheduledPost) {
			if p.Name != except {
				q.Count(&t, p)
			}
		})
		return t, nil
	}
	list := &socialv1alpha1.ScheduledPostList{}
	if err := s.client.List(ctx, list, client.InNamespace(ns), client.UnsafeDisableDeepCopy); err != nil {
		return t, err
	}
	for i := range list.Items {
		if list.Items[i].Name != except {
			q.Count(&t, &list.Items[i])
		}
	}
	return t, nil
}
