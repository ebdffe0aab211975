package controllers

import (
	"context"
	"errors"
	"fmt"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

	socialv1alpha1 "github.com/herald-dev/herald/api/v1alpha1"
	"github.com/herald-dev/herald/internal/publish"
)

// DeleteRemoteFinalizer holds a post whose deletionPolicy is DeleteRemote
// until Herald has dealt with what it published.
const DeleteRemoteFinalizer = "social.herald.dev/delete-remote"

// defaultMaxLateness applies when spec.maxLateness is unset (the API
// server defaults it, so only objects from old clients).
const defaultMaxLateness = 15 * time.Minute

// conflictRetry is how soon a reconcile that lost an optimistic-concurrency
// race looks again, once the cache has caught up.
const conflictRetry = 200 * time.Millisecond

// Reasons the ScheduledPost reconciler uses in conditions and events.
const (
	ReasonScheduled          = "Scheduled"
	ReasonDraft              = "Draft"
	ReasonCanceled           = "Canceled"
	ReasonPublishing         = "Publishing"
	ReasonPublished          = "Published"
	ReasonPartiallyPublished = "PartiallyPublished"
	ReasonPublishFailed      = "PublishFailed"
	ReasonRetryScheduled     = "RetryScheduled"
	ReasonRetriesExhausted   = "RetriesExhausted"
	ReasonRetryRequested     = "RetryRequested"
	ReasonMissedDeadline     = "MissedDeadline"
	ReasonDeliveryUnknown    = "DeliveryUnknown"
	ReasonResumed            = "ResumedInterrupted"
	ReasonRateLimited        = "RateLimited"
	ReasonInvalidSchedule    = "InvalidSchedule"
	ReasonProfileNotFound    = "ProfileNotFound"
	ReasonBrandKitNotFound   = "BrandKitNotFound"
	ReasonBannedWord         = "BannedWord"
	ReasonNoPublisher        = "NoPublisher"
	ReasonSpecChangeIgnored  = "SpecChangedAfterPublishing"
	ReasonRemoteDeleted      = "RemoteDeleted"
	ReasonRemoteDeleteFailed = "RemoteDeleteFailed"
	ReasonRemoteDeleteRetry  = "RemoteDeleteRetrying"
)

// ScheduledPostReconciler publishes each post to its profiles at the due
// time, at most once per profile: each delivery is claimed in status before
// its platform is called, and its outcome is written at once.
type ScheduledPostReconciler struct {
	client.Client
	// APIReader gives the fresh reads a claim is made on, and reads Secrets.
	APIReader  client.Reader
	Recorder   events.EventRecorder
	Clock      clock.PassiveClock
	Publishers publish.Registry
	Retry      RetryPolicy

	limiters profileLimiters
}

// +kubebuilder:rbac:groups=social.herald.dev,resources=scheduledposts,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=social.herald.dev,resources=scheduledposts/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=social.herald.dev,resources=scheduledposts/finalizers,verbs=update
// +kubebuilder:rbac:groups=social.herald.dev,resources=socialprofiles,verbs=get;list;watch
// +kubebuilder:rbac:groups=social.herald.dev,resources=brandkits,verbs=get;list;watch
// +kubebuilder:rbac:groups="",resources=secrets,verbs=get;list;watch
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

// Reconcile moves one post towards published: it waits for the due time,
// then claims and publishes each delivery, writing every outcome at once.
func (r *ScheduledPostReconciler) Reconcile(ctx context.Context, req ctrl.Request) (result ctrl.Result, retErr error) {
	// 1. Fetch the post from the cache; a deleted one needs nothing more.
	post := &socialv1alpha1.ScheduledPost{}
	if err := r.Get(ctx, req.NamespacedName, post); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}

	// 2. Deletion, and the finalizer that only DeleteRemote needs.
	if !post.DeletionTimestamp.IsZero() {
		return r.reconcileDelete(ctx, post)
	}
	if err := r.reconcileFinalizer(ctx, post); err != nil {
		return ctrl.Result{}, err
	}

	// 3. Decide on the cached copy; act on a fresh one. A post that may
	// call a platform is read again from the API server, so the claim
	// below starts from the latest resourceVersion instead of failing on
	// the cache's lag. Posts far from due never get here.
	now := r.Clock.Now()
	if needsFreshRead(post, now) {
		if err := r.APIReader.Get(ctx, req.NamespacedName, post); err != nil {
			return ctrl.Result{}, client.IgnoreNotFound(err)
		}
	}

	// 4. Whatever happens below, write what changed in the status at the
	// end, with the resourceVersion read: a stale copy gets a conflict and
	// is looked at again, never written over newer state.
	s := &postState{post: post, base: post.DeepCopy()}
	defer func() {
		if err := r.writeStatus(ctx, s); err != nil {
			if apierrors.IsConflict(err) {
				result = ctrl.Result{RequeueAfter: conflictRetry}
				return
			}
			retErr = errors.Join(retErr, client.IgnoreNotFound(err))
		}
		if retErr != nil {
			result = ctrl.Result{} // the error's backoff decides when to come back
		}
	}()

	// 5. One delivery per profile; note edits made after publishing began.
	r.mirrorDeliveries(post)
	r.noteSpecChange(post)

	// 6. Canceled and draft posts are never published.
	if post.Spec.Canceled {
		r.cancel(post)
		return ctrl.Result{}, nil
	}
	if post.Spec.Draft {
		return ctrl.Result{}, nil
	}

	// 7. A person asked to retry failed or Unknown deliveries.
	r.handleRetryRequest(post, now)

	// 8. Before the due time: come back exactly then.
	due, err := dueTime(post)
	if err != nil {
		s.invalid = err.Error()
		return ctrl.Result{}, nil
	}
	if now.Before(due) && !anyStarted(post) {
		return ctrl.Result{RequeueAfter: due.Sub(now)}, nil
	}

	// 9. Due: deliver to each profile.
	return r.deliver(ctx, s, due, now)
}

// dueTime parses spec.scheduledAt; the API server has checked its form,
// so an error here means an object written before that validation.
func dueTime(post *socialv1alpha1.ScheduledPost) (time.Time, error) {
	due, err := time.Parse(time.RFC3339, post.Spec.ScheduledAt)
	if err != nil {
		return time.Time{}, fmt.Errorf("spec.scheduledAt %q is not an RFC 3339 time with an offset, such as 2026-07-01T09:00:00Z; fix it to schedule the post", post.Spec.ScheduledAt)
	}
	return due, nil
}

func maxLateness(post *socialv1alpha1.ScheduledPost) time.Duration {
	if post.Spec.MaxLateness != nil && post.Spec.MaxLateness.Duration > 0 {
		return post.Spec.MaxLateness.Duration
	}
	return defaultMaxLateness
}

// needsFreshRead reports whether this reconcile may call a platform or
// settle an interrupted attempt: the post is due (or a retry was
// requested) and some delivery is not final.
func needsFreshRead(post *socialv1alpha1.ScheduledPost, now time.Time) bool {
	if retryRequested(post) {
		return true
	}
	if post.Spec.Draft {
		return false
	}
	for _, d := range post.Status.Deliveries {
		if d.Phase == socialv1alpha1.DeliveryPublishing {
			return true // settle it even when canceled
		}
	}
	if post.Spec.Canceled {
		return false
	}
	due, err := dueTime(post)
	if err != nil || now.Before(due) {
		return false
	}
	if len(post.Status.Deliveries) != len(post.Spec.Profiles) {
		return true
	}
	for _, d := range post.Status.Deliveries {
		switch d.Phase {
		case socialv1alpha1.DeliveryPending:
			if d.NextAttemptAt == nil || !now.Before(d.NextAttemptAt.Time) {
				return true
			}
		case socialv1alpha1.DeliveryRetrying:
			if d.NextAttemptAt == nil || !now.Before(d.NextAttemptAt.Time) {
				return true
			}
		}
	}
	return false
}

// reconcileFinalizer keeps the finalizer exactly while deletionPolicy is
// DeleteRemote: other posts can be deleted without Herald.
func (r *ScheduledPostReconciler) reconcileFinalizer(ctx context.Context, post *socialv1alpha1.ScheduledPost) error {
	var changed bool
	if post.Spec.DeletionPolicy == socialv1alpha1.DeletionDeleteRemote {
		changed = controllerutil.AddFinalizer(post, DeleteRemoteFinalizer)
	} else {
		changed = controllerutil.RemoveFinalizer(post, DeleteRemoteFinalizer)
	}
	if !changed {
		return nil
	}
	return r.Update(ctx, post)
}

// SetupWithManager registers the reconciler with workers parallel
// reconciles. Only spec, annotation and deletion changes wake it: its own
// status writes would otherwise come back as events for every post.
func (r *ScheduledPostReconciler) SetupWithManager(mgr ctrl.Manager, workers int) error {
	deleting := predicate.Funcs{UpdateFunc: func(e event.UpdateEvent) bool {
		return e.ObjectNew.GetDeletionTimestamp() != nil
	}}
	return ctrl.NewControllerManagedBy(mgr).
		For(&socialv1alpha1.ScheduledPost{}, builder.WithPredicates(predicate.Or(
			predicate.GenerationChangedPredicate{}, predicate.AnnotationChangedPredicate{}, deleting))).
		WithOptions(controller.Options{MaxConcurrentReconciles: max(1, workers)}).
		Named("scheduledpost").
		Complete(r)
}
