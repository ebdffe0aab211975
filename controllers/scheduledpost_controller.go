package controllers

import (
	"context"
	"errors"
	"fmt"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/clock"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"

	socialv1alpha1 "github.com/herald-dev/herald/api/v1alpha1"
	"github.com/herald-dev/herald/internal/inflight"
	"github.com/herald-dev/herald/internal/post"
	"github.com/herald-dev/herald/internal/publish"
)

// DeleteRemoteFinalizer holds a post whose deletionPolicy is DeleteRemote
// until Herald has dealt with what it published.
const DeleteRemoteFinalizer = "social.herald.dev/delete-remote"

// conflictRetry is how soon a reconcile that lost an optimistic-concurrency
// race looks again, once the cache has caught up.
const conflictRetry = 200 * time.Millisecond

// minRequeue is the shortest wait a reconcile asks for: a wait that has
// already run out (a call that took longer than its backoff) must still
// bring the post back, and RequeueAfter 0 would not.
const minRequeue = 50 * time.Millisecond

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
	ReasonDeliveryUnknown    = post.ReasonDeliveryUnknown
	ReasonDueAgain           = post.ReasonDueAgain
	ReasonResumed            = "ResumedInterrupted"
	ReasonRateLimited        = "RateLimited"
	ReasonInvalidSchedule    = "InvalidSchedule"
	ReasonProfileNotFound    = "ProfileNotFound"
	ReasonBrandKitNotFound   = "BrandKitNotFound"
	ReasonBannedWord         = post.ProblemBannedWord
	ReasonNoPublisher        = "NoPublisher"
	ReasonNotLeading         = "NotLeading"
	ReasonNotApproved        = "NotApproved"
	ReasonSpecChangeIgnored  = "SpecChangedAfterPublishing"
	ReasonRemoteDeleted      = "RemoteDeleted"
	ReasonRemoteDeleteFailed = "RemoteDeleteFailed"
	ReasonRemoteDeleteRetry  = "RemoteDeleteRetrying"
	ReasonRemoteDeleteWait   = "RemoteDeleteWaiting"
)

// ScheduledPostReconciler publishes each post to its profiles at the due
// time, at most once per profile: each delivery is claimed in status before
// its platform is called, and its outcome is written at once.
type ScheduledPostReconciler struct {
	client.Client
	// InFlight records each reconcile under way, so a shutdown that
	// overruns names it; nil records nothing.
	InFlight *inflight.Tracker
	// APIReader gives the fresh reads a claim is made on, and reads Secrets.
	APIReader  client.Reader
	Recorder   events.EventRecorder
	Clock      clock.PassiveClock
	Publishers publish.Registry
	Retry      RetryPolicy
	Timing     Timing
	// Identity names this process in the claims it writes; it must differ
	// between processes (main.go uses the host name and a random suffix).
	Identity string
	// Leading reports whether this process still holds the leader lease;
	// a claim's holder asks just before each send, so a leader that was
	// paused past its lease never sends. Nil means no election (one
	// process): always true.
	Leading func() bool
	// RetryHint says, in messages, how a person asks for a retry besides
	// the annotation, such as "the MCP tool ocoya_retry_post".
	RetryHint string
	// Dispatch, when set, sends first attempts at their due instant under
	// claims in the publishing ledger; nil claims every attempt in status.
	Dispatch *Dispatcher
	// Shards, when set, splits the posts among replicas by namespace: this
	// process reconciles a post only while it holds its shard's Lease, and
	// each shard has its own ledger. Nil: the leader reconciles every post.
	Shards *postShards

	// wake brings a post back from outside the watch: the dispatcher has
	// sent it or given it back, or its shard was just acquired.
	wake     chan event.GenericEvent
	limiters profileLimiters
	quota    quotaMemory
	attempts localAttempts
}

// +kubebuilder:rbac:groups=social.herald.dev,resources=scheduledposts,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=social.herald.dev,resources=scheduledposts/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=social.herald.dev,resources=scheduledposts/finalizers,verbs=update
// +kubebuilder:rbac:groups=social.herald.dev,resources=socialprofiles,verbs=get;list;watch
// +kubebuilder:rbac:groups=social.herald.dev,resources=brandkits,verbs=get;list;watch
// +kubebuilder:rbac:groups=social.herald.dev,resources=workspaces,verbs=get;list;watch
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

// Reconcile moves one post towards published: it waits for the due time,
// then claims and publishes each delivery, writing every outcome at once.
func (r *ScheduledPostReconciler) Reconcile(ctx context.Context, req ctrl.Request) (result ctrl.Result, retErr error) {
	// 1. A post of a shard another replica holds is that replica's. Fetch
	// the post from the cache; a deleted one needs nothing more.
	sh := r.shardOf(req.Namespace)
	if sh == nil {
		return ctrl.Result{}, nil
	}
	p := &socialv1alpha1.ScheduledPost{}
	if err := r.Get(ctx, req.NamespacedName, p); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}

	// 2. Decide on the cached copy; act on a fresh one. A post that may
	// call a platform is read again from the API server, so the claim
	// below starts from the latest resourceVersion instead of failing on
	// the cache's lag, and a deletion the cache has not seen yet stops it.
	// Posts far from due never get here.
	now := r.Clock.Now()
	if r.needsFreshRead(sh, p, now) {
		if err := r.APIReader.Get(ctx, req.NamespacedName, p); err != nil {
			return ctrl.Result{}, client.IgnoreNotFound(err)
		}
	}

	// 3. Deletion, and the finalizer that only DeleteRemote needs.
	if !p.DeletionTimestamp.IsZero() {
		return r.reconcileDelete(ctx, p)
	}
	if err := r.reconcileFinalizer(ctx, p); err != nil {
		return ctrl.Result{}, err
	}

	// 4. Whatever happens below, write what changed in the status at the
	// end, with the resourceVersion read: a stale copy gets a conflict and
	// is looked at again, never written over newer state. The write (and
	// any outcome it carries) is made even when shutdown has begun.
	s := newPostState(p)
	s.shard = sh
	defer func() {
		wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.Timing.WriteTimeout)
		defer cancel()
		if err := r.commit(wctx, s); err != nil {
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

	// 5. What the spec alone decides: one delivery per profile, deliveries
	// made due again by a new time, stopped by a cancel; edits made after
	// publishing began are noted; an approval written without its digest
	// is pinned to the content it was first seen with.
	s.noteAll(post.ApplySpec(p, now))
	post.RecordApproval(p)
	r.noteSpecChange(s)
	r.applyDispatched(s, now)

	// 6. Canceled and draft posts are never published; a claim still in
	// flight is left to its holder, and looked at once it lapses.
	if p.Spec.Canceled {
		return s.untilClaimsLapse(now), nil
	}
	if p.Spec.Draft {
		return ctrl.Result{}, nil
	}

	// 7. A person asked to retry some deliveries.
	r.handleRetryRequest(s, now)

	// 8. The workspace's limits: a post joins the queue, and starts to
	// publish, only within them.
	due, err := post.Due(&p.Spec)
	if err != nil {
		s.invalid = err.Error()
		return ctrl.Result{}, nil
	}
	ws, err := workspaceOf(ctx, r, p.Namespace)
	if err != nil {
		return ctrl.Result{}, err
	}
	if msg, err := r.checkQuota(ctx, p, ws, due, now); err != nil {
		return ctrl.Result{}, err
	} else if msg != "" {
		r.refuseForQuota(s, msg)
		return ctrl.Result{}, nil
	}

	// 9. Approval: a post its workspace requires approval for is never
	// claimed before it is approved (as it now stands). Unapproved past
	// maxLateness, it is Missed, saying why; an approval, being a spec
	// change, wakes it sooner.
	approved := post.ApplyApproval(ws, p)
	if c := meta.FindStatusCondition(p.Status.Conditions, socialv1alpha1.ConditionApproved); c != nil && c.Status == metav1.ConditionTrue &&
		!meta.IsStatusConditionTrue(s.base.Status.Conditions, socialv1alpha1.ConditionApproved) {
		s.announce(announcement{reason: post.ReasonApproved, action: "Approve", note: "the post was " + c.Message})
	}
	if !approved && !post.AnyStarted(p) {
		late := due.Add(post.MaxLateness(&p.Spec))
		if now.Before(late) {
			return ctrl.Result{RequeueAfter: late.Sub(now)}, nil
		}
		_, _, why := post.ApprovalOf(ws, p)
		for i := range p.Status.Deliveries {
			if d := &p.Status.Deliveries[i]; d.Phase == socialv1alpha1.DeliveryPending {
				s.end(d, socialv1alpha1.DeliveryMissed, ReasonMissedDeadline, ReasonNotApproved, fmt.Sprintf(
					"due at %s and not approved within maxLateness %s: the post %s. Give it a new spec.scheduledAt once approved",
					due.UTC().Format(time.RFC3339), post.MaxLateness(&p.Spec), why))
			}
		}
		return ctrl.Result{}, nil
	}

	// 10. Before the due time: hand the post to the dispatcher, which
	// sends it at the instant; otherwise come back exactly then. A post
	// the dispatcher takes moments before its due time gets its first
	// status with its outcome.
	if now.Before(due) && !post.AnyStarted(p) && !s.retrying() {
		if r.armDispatch(ctx, s, due) {
			s.unwritten = s.base.Status.ObservedGeneration == 0 && due.Sub(now) < 2*sh.dispatch.Window
			return ctrl.Result{RequeueAfter: due.Sub(now) + dispatchFallback}, nil
		}
		return ctrl.Result{RequeueAfter: due.Sub(now)}, nil
	}

	// 11. Due: deliver to each profile.
	return r.deliver(ctx, s, due, now)
}

// needsFreshRead reports whether this reconcile may call a platform or
// settle an interrupted attempt: the post is due (or a retry was
// requested) and some delivery is not final.
func (r *ScheduledPostReconciler) needsFreshRead(sh *heldShard, p *socialv1alpha1.ScheduledPost, now time.Time) bool {
	if retryRequested(p) {
		return true
	}
	if p.Spec.Draft {
		return false
	}
	if sh.dispatch.only(p) {
		return false
	}
	for _, d := range p.Status.Deliveries {
		if d.Phase == socialv1alpha1.DeliveryPublishing {
			return true // settle it even when canceled
		}
	}
	if p.Spec.Canceled {
		return false
	}
	due, err := post.Due(&p.Spec)
	if err != nil || now.Before(due) {
		return false
	}
	if len(p.Status.Deliveries) != len(p.Spec.Profiles) || p.Generation != p.Status.ObservedGeneration {
		return true
	}
	for _, d := range p.Status.Deliveries {
		switch d.Phase {
		case socialv1alpha1.DeliveryPending, socialv1alpha1.DeliveryRetrying:
			if d.NextAttemptAt == nil || !now.Before(d.NextAttemptAt.Time) {
				return true
			}
		}
	}
	return false
}

// reconcileFinalizer keeps the finalizer exactly while deletionPolicy is
// DeleteRemote: other posts can be deleted without Herald.
func (r *ScheduledPostReconciler) reconcileFinalizer(ctx context.Context, p *socialv1alpha1.ScheduledPost) error {
	var changed bool
	if p.Spec.DeletionPolicy == socialv1alpha1.DeletionDeleteRemote {
		changed = controllerutil.AddFinalizer(p, DeleteRemoteFinalizer)
	} else {
		changed = controllerutil.RemoveFinalizer(p, DeleteRemoteFinalizer)
	}
	if !changed {
		return nil
	}
	return r.Update(ctx, p)
}

// SetupWithManager registers the reconciler with workers parallel
// reconciles. Only spec, annotation and deletion changes wake it: its own
// status writes would otherwise come back as events for every post.
func (r *ScheduledPostReconciler) SetupWithManager(mgr ctrl.Manager, workers int) error {
	deleting := predicate.Funcs{UpdateFunc: func(e event.UpdateEvent) bool {
		return e.ObjectNew.GetDeletionTimestamp() != nil
	}}
	// A post settled when the cache first sees it needs no reconcile: at
	// start-up a large install would otherwise queue every post it ever
	// published, and the queue's bookkeeping keeps its high-water mark.
	unsettled := predicate.Funcs{CreateFunc: func(e event.CreateEvent) bool {
		p, ok := e.Object.(*socialv1alpha1.ScheduledPost)
		return !ok || !post.Settled(p)
	}}
	// A workspace's approval policy changing looks again at the posts it
	// holds back; posts not waiting meet the policy when they fall due.
	awaiting := handler.EnqueueRequestsFromMapFunc(func(ctx context.Context, o client.Object) []reconcile.Request {
		ws, ok := o.(*socialv1alpha1.Workspace)
		if !ok {
			return nil
		}
		var posts socialv1alpha1.ScheduledPostList
		if err := r.List(ctx, &posts, client.InNamespace(ws.NamespaceName()), client.UnsafeDisableDeepCopy); err != nil {
			return nil
		}
		var reqs []reconcile.Request
		for i := range posts.Items {
			if posts.Items[i].Status.Phase == socialv1alpha1.PostAwaitingApproval {
				reqs = append(reqs, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&posts.Items[i])})
			}
		}
		return reqs
	})
	b := ctrl.NewControllerManagedBy(mgr).
		For(&socialv1alpha1.ScheduledPost{}, builder.WithPredicates(unsettled, predicate.Or(
			predicate.GenerationChangedPredicate{}, predicate.AnnotationChangedPredicate{}, deleting))).
		Watches(&socialv1alpha1.Workspace{}, awaiting, builder.WithPredicates(predicate.GenerationChangedPredicate{}))
	if r.wake != nil {
		b = b.WatchesRawSource(source.Channel(r.wake, &handler.EnqueueRequestForObject{}))
	}
	opts := controller.Options{MaxConcurrentReconciles: max(1, workers)}
	if r.Shards != nil {
		opts.NeedLeaderElection = ptr.To(false) // every replica reconciles the posts of its shards
	}
	return b.WithOptions(opts).
		Named("scheduledpost").
		Complete(r.InFlight.Reconciler("ScheduledPost", r))
}
