package controllers

import (
	"context"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	socialv1alpha1 "github.com/herald-dev/herald/api/v1alpha1"
	"github.com/herald-dev/herald/internal/post"
	"github.com/herald-dev/herald/internal/publish"
)

// dispatchFallback is how long after its due time a post the dispatcher
// holds is looked at again, should the dispatcher's wake-up be lost.
const dispatchFallback = 10 * time.Second

// armDispatch hands the dispatcher every delivery of a post not yet due
// that it can send, and reports whether it took them all.
func (r *ScheduledPostReconciler) armDispatch(ctx context.Context, s *postState, due time.Time) bool {
	dispatch := s.shard.dispatch
	if dispatch == nil || len(s.post.Status.Deliveries) == 0 {
		return false
	}
	all := true
	for i := range s.post.Status.Deliveries {
		d := &s.post.Status.Deliveries[i]
		profile := &socialv1alpha1.SocialProfile{}
		if err := r.Get(ctx, client.ObjectKey{Namespace: s.post.Namespace, Name: d.Profile}, profile); err != nil {
			all = false // the reconciler says why at the due time
			continue
		}
		pub, err := r.Publishers.For(publish.Platform(profile.Spec.Platform))
		if err != nil || !dispatch.Takes(s.post, d, pub.Info()) {
			all = false
			continue
		}
		dispatch.Arm(s.post, d.Profile, due)
	}
	return all
}

// only reports whether every delivery of p still to be sent is the
// dispatcher's: the reconcile only writes what it answered, on the cached
// copy (a stale one fails with a conflict), with no fresh read.
func (d *Dispatcher) only(p *socialv1alpha1.ScheduledPost) bool {
	if d == nil {
		return false
	}
	for _, name := range p.Spec.Profiles {
		if dl := post.Find(p.Status.Deliveries, name); dl != nil && dl.Phase != socialv1alpha1.DeliveryPending {
			if dl.Phase == socialv1alpha1.DeliveryPublishing || dl.Phase == socialv1alpha1.DeliveryRetrying {
				return false
			}
			continue // final
		}
		if h, ok := d.Held(p.UID, name); !ok || h.state == dispatchReleased {
			return false
		}
	}
	return true
}

// applyDispatched writes into the status what the dispatcher learned of
// the deliveries it sent: each outcome, as the reconciler's own call
// would have, and each claim an earlier holder made without recording an
// outcome, as an interrupted attempt, which the delivery loop settles
// (sent again with the same key where that is safe, otherwise Unknown).
// Once written, the dispatcher forgets them.
func (r *ScheduledPostReconciler) applyDispatched(s *postState, now time.Time) {
	dispatch := s.shard.dispatch
	if dispatch == nil {
		return
	}
	p := s.post
	for i := range p.Status.Deliveries {
		d := &p.Status.Deliveries[i]
		h, ok := dispatch.Held(p.UID, d.Profile)
		if !ok {
			continue
		}
		uid, profile := p.UID, d.Profile
		settled := func() { dispatch.Settled(uid, profile) }
		if d.Phase != socialv1alpha1.DeliveryPending || d.Attempts != 0 {
			// The status records the delivery already.
			switch h.state {
			case dispatchDone, dispatchAmbiguous, dispatchReleased:
				s.afterWrite(settled)
			}
			continue
		}
		switch h.state {
		case dispatchDone:
			asClaimed(d, h, h.out.callAt)
			due, err := post.Due(&p.Spec)
			if err != nil {
				due = h.out.callAt
			}
			r.outcome(s, d, h.out, due)
			s.afterWrite(settled)
		case dispatchAmbiguous:
			at := now
			if due, err := post.Due(&p.Spec); err == nil {
				at = due
			}
			asClaimed(d, h, at)
			d.ClaimedBy = h.holder // and no ClaimExpiresAt: lapsed
			s.afterWrite(settled)
		}
	}
}

// asClaimed records in d the claim the dispatcher made in the ledger.
func asClaimed(d *socialv1alpha1.Delivery, h held, at time.Time) {
	t := metav1.NewTime(at)
	d.Phase, d.AttemptID, d.Attempts = socialv1alpha1.DeliveryPublishing, h.attemptID, 1
	if h.platform != "" {
		d.Platform = h.platform
	}
	d.AttemptStartedAt, d.LastAttemptAt = &t, &t
	d.LastError, d.NextAttemptAt, d.ClaimedBy, d.ClaimExpiresAt = "", nil, "", nil
}

// waitFor reports whether a due delivery is left to the
// dispatcher, and when to look again: while it holds the delivery, and
// until it has read the ledger an earlier holder left. A delivery it
// released is the reconciler's from now on.
func (d *Dispatcher) waitFor(s *postState, dl *socialv1alpha1.Delivery, due, now time.Time) (time.Duration, bool) {
	if d == nil || dl.Phase != socialv1alpha1.DeliveryPending || dl.Attempts != 0 || now.Before(due) {
		return 0, false
	}
	h, ok := d.Held(s.post.UID, dl.Profile)
	switch {
	case !ok && !d.Ready():
		return time.Second, true
	case !ok:
		return 0, false
	case h.state == dispatchReleased:
		uid, profile := s.post.UID, dl.Profile
		s.afterWrite(func() { d.Settled(uid, profile) })
		return 0, false
	}
	return dispatchFallback, true
}
