package controllers

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	socialv1alpha1 "github.com/herald-dev/herald/api/v1alpha1"
	"github.com/herald-dev/herald/internal/inflight"
	"github.com/herald-dev/herald/internal/post"
	"github.com/herald-dev/herald/internal/workflow"
)

// Reasons the Workflow reconciler reports.
const (
	ReasonValid            = "Valid"
	ReasonInvalid          = "ValidationFailed"
	ReasonDisabled         = "Disabled"
	ReasonNextRunScheduled = "Scheduled"
	ReasonRunQueued        = "RunQueued"
	ReasonFeedPolled       = "FeedRead"
	ReasonFeedBaseline     = "FeedBaseline"
	ReasonFeedUnreachable  = "FeedUnreachable"
	ReasonFeedItemsSkipped = "FeedItemsSkipped"
	ReasonRunSkipped       = "RunSkipped"
	ReasonRunReplaced      = "RunReplaced"
	ReasonRunPruned        = "RunPruned"
	ReasonRunsMissed       = "RunsMissed"
	annotationScheduleAt   = "social.herald.dev/scheduled-for"
)

// WorkflowReconciler validates workflows, reports their runs, queues a run
// of each schedule-triggered workflow at every time its cron names and one
// for each new item of a feed-triggered workflow's feed.
type WorkflowReconciler struct {
	client.Client
	// APIReader confirms, around the cache, that a feed workflow has never
	// been read before it takes a fresh start: a cached copy older than the
	// last status write would skip every item published since. Nil trusts
	// the cache.
	APIReader client.Reader
	// InFlight records each reconcile under way, so a shutdown that
	// overruns names it; nil records nothing.
	InFlight *inflight.Tracker
	Recorder events.EventRecorder
	Clock    clock.PassiveClock
	// FeedClient reads feeds.
	FeedClient *http.Client
	// Workers is how many workflows are reconciled at once: a feed read
	// holds its worker for up to the client's timeout, and must not hold
	// every other workflow's schedule with it.
	Workers int
	// ParseSchedule reads a trigger's cron expression; nil is
	// workflow.ParseSchedule. A test wraps what it returns to count the
	// times a reconcile asks a schedule for, which is the work catching up
	// costs.
	ParseSchedule func(string) (cron.Schedule, error)
}

// +kubebuilder:rbac:groups=social.herald.dev,resources=workflows,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=social.herald.dev,resources=workflows/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=social.herald.dev,resources=workflowruns,verbs=get;list;watch;create;patch;delete
// +kubebuilder:rbac:groups=social.herald.dev,resources=scheduledposts,verbs=get;list;watch

// Reconcile checks one Workflow and queues its due scheduled run.
func (r *WorkflowReconciler) Reconcile(ctx context.Context, req ctrl.Request) (result ctrl.Result, retErr error) {
	// 1. Fetch the workflow.
	wf := &socialv1alpha1.Workflow{}
	if err := r.Get(ctx, req.NamespacedName, wf); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if stale, err := r.staleFeedCopy(ctx, wf); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	} else if stale {
		return ctrl.Result{RequeueAfter: time.Second}, nil // the cache catches up
	}
	base := wf.DeepCopy()
	defer func() {
		wf.Status.ObservedGeneration = wf.Generation
		if err := patchStatus(ctx, r.Client, wf, base); err != nil && !apierrors.IsNotFound(err) {
			retErr = errors.Join(retErr, err)
		}
	}()

	// 2. Validate against the profiles that exist now.
	profiles := &socialv1alpha1.SocialProfileList{}
	if err := r.List(ctx, profiles, client.InNamespace(wf.Namespace)); err != nil {
		return ctrl.Result{}, err
	}
	names := make([]string, 0, len(profiles.Items))
	for _, p := range profiles.Items {
		names = append(names, p.Name)
	}
	errs := workflow.Validate(&wf.Spec, names)
	wf.Status.ValidationErrors = errs
	if len(errs) > 0 {
		msg := strings.Join(errs, "; ")
		setCondition(&wf.Status.Conditions, wf.Generation, socialv1alpha1.ConditionValid, metav1.ConditionFalse, ReasonInvalid, msg)
		if markStalled(&wf.Status.Conditions, wf.Generation, ReasonInvalid, msg) {
			r.Recorder.Eventf(wf, nil, corev1.EventTypeWarning, ReasonInvalid, "Validate", msg)
		}
		wf.Status.NextRunTime = nil
		return ctrl.Result{}, nil
	}
	setCondition(&wf.Status.Conditions, wf.Generation, socialv1alpha1.ConditionValid, metav1.ConditionTrue, ReasonValid, "the workflow passed validation")

	// 3. Report the newest run.
	runs := &socialv1alpha1.WorkflowRunList{}
	if err := r.List(ctx, runs, client.InNamespace(wf.Namespace), client.MatchingFields{IndexRunWorkflow: wf.Name}); err != nil {
		return ctrl.Result{}, err
	}
	for i := range runs.Items {
		run := &runs.Items[i]
		if wf.Status.LastRunTime == nil || wf.Status.LastRunTime.Before(&run.CreationTimestamp) {
			wf.Status.LastRun, wf.Status.LastRunTime = run.Name, run.CreationTimestamp.DeepCopy()
		}
	}
	if err := r.pruneRuns(ctx, wf, runs.Items); err != nil {
		return ctrl.Result{}, err
	}

	// 4. Triggers.
	switch {
	case !wf.Spec.Enabled:
		wf.Status.NextRunTime = nil
		markReady(&wf.Status.Conditions, wf.Generation, ReasonDisabled, "the workflow is disabled; enable it to run it")
		return ctrl.Result{}, nil
	case wf.Spec.Trigger.Type == socialv1alpha1.TriggerSchedule:
		return r.reconcileSchedule(ctx, wf, runs.Items)
	case wf.Spec.Trigger.Type == socialv1alpha1.TriggerFeed && wf.Spec.Trigger.Feed != nil:
		return r.reconcileFeed(ctx, wf)
	}
	markReady(&wf.Status.Conditions, wf.Generation, ReasonValid, "the workflow runs when asked")
	return ctrl.Result{}, nil
}

// reconcileSchedule queues the run due at the latest cron time not yet run,
// named after that time so a repeated reconcile cannot queue it twice, and
// requeues for the next one (as Kubernetes' CronJob controller does).
func (r *WorkflowReconciler) reconcileSchedule(ctx context.Context, wf *socialv1alpha1.Workflow, runs []socialv1alpha1.WorkflowRun) (ctrl.Result, error) {
	loc, err := r.location(ctx, wf)
	if err != nil {
		return ctrl.Result{}, err
	}
	parse := workflow.ParseSchedule
	if r.ParseSchedule != nil {
		parse = r.ParseSchedule
	}
	sched, err := parse(wf.Spec.Trigger.Schedule)
	if err != nil { // validation already caught it; keep the reconciler safe
		return ctrl.Result{}, nil
	}
	now := r.Clock.Now().In(loc)
	since := wf.CreationTimestamp.Time
	for _, t := range []*metav1.Time{wf.Status.LastRunTime, wf.Status.LastSkippedTime} {
		if t != nil && t.After(since) {
			since = t.Time
		}
	}
	// The latest missed time only: a controller that was down does not flood.
	if due := workflow.LatestDue(sched, since.In(loc), now); !due.IsZero() {
		if missed := workflow.MissedSince(sched, since.In(loc), due); missed > 0 {
			count := fmt.Sprint(missed)
			if missed > workflow.MaxMissed {
				count = fmt.Sprintf("more than %d", workflow.MaxMissed)
			}
			r.Recorder.Eventf(wf, nil, corev1.EventTypeWarning, ReasonRunsMissed, "Schedule",
				"%s scheduled runs were missed since %s (Herald was not running, or the workflow was disabled); only the latest, due %s, is considered",
				count, since.UTC().Format(time.RFC3339), due.UTC().Format(time.RFC3339))
		}
		if err := r.startScheduled(ctx, wf, due, now, runs); err != nil {
			return ctrl.Result{}, err
		}
	}
	next := sched.Next(now)
	if next.IsZero() { // validation refuses such schedules; keep the reconciler safe
		wf.Status.NextRunTime, wf.Status.NextRunLocal = nil, ""
		return ctrl.Result{}, nil
	}
	wf.Status.NextRunTime = &metav1.Time{Time: next}
	wf.Status.NextRunLocal = fmt.Sprintf("%s (%s)", next.Format(time.RFC3339), loc)
	markReady(&wf.Status.Conditions, wf.Generation, ReasonNextRunScheduled, fmt.Sprintf("next run at %s", wf.Status.NextRunLocal))
	return ctrl.Result{RequeueAfter: next.Sub(now)}, nil
}

// startScheduled starts the run due at due, unless it is past the
// trigger's startingDeadline or an unfinished run forbids it; Replace
// cancels the unfinished runs first.
func (r *WorkflowReconciler) startScheduled(ctx context.Context, wf *socialv1alpha1.Workflow, due, now time.Time, runs []socialv1alpha1.WorkflowRun) error {
	skip := func(why string) {
		wf.Status.LastSkippedTime = &metav1.Time{Time: due}
		r.Recorder.Eventf(wf, nil, corev1.EventTypeWarning, ReasonRunSkipped, "Schedule", "Skipped the run due at %s: %s", due.Format(time.RFC3339), why)
	}
	if d := wf.Spec.Trigger.StartingDeadline; d != nil && now.Sub(due) > d.Duration {
		skip(fmt.Sprintf("found %s after its time, later than startingDeadline %s", now.Sub(due).Round(time.Second), d.Duration))
		return nil
	}
	var unfinished []*socialv1alpha1.WorkflowRun
	for i := range runs {
		if !finished(runs[i].Status.Phase) && runs[i].Spec.Status != socialv1alpha1.RunCancelled {
			unfinished = append(unfinished, &runs[i])
		}
	}
	if len(unfinished) > 0 {
		switch wf.Spec.Trigger.ConcurrencyPolicy {
		case socialv1alpha1.ConcurrencyForbid:
			skip(fmt.Sprintf("run %s has not finished and concurrencyPolicy is Forbid", unfinished[0].Name))
			return nil
		case socialv1alpha1.ConcurrencyReplace:
			for _, run := range unfinished {
				patch := client.MergeFrom(run.DeepCopy())
				run.Spec.Status = socialv1alpha1.RunCancelled
				if err := r.Patch(ctx, run, patch); client.IgnoreNotFound(err) != nil {
					return err
				}
				r.Recorder.Eventf(wf, nil, corev1.EventTypeNormal, ReasonRunReplaced, "Schedule", "Cancelled run %s: the run due at %s replaces it (concurrencyPolicy Replace)", run.Name, due.Format(time.RFC3339))
			}
		}
	}
	run := &socialv1alpha1.WorkflowRun{
		ObjectMeta: metav1.ObjectMeta{Namespace: wf.Namespace, Name: fmt.Sprintf("%s-%d", wf.Name, due.Unix()),
			Annotations: map[string]string{annotationScheduleAt: due.UTC().Format(time.RFC3339)}},
		Spec: socialv1alpha1.WorkflowRunSpec{WorkflowRef: socialv1alpha1.LocalObjectReference{Name: wf.Name},
			RequestedBy: &socialv1alpha1.Requester{Via: "schedule"}},
	}
	if err := r.Create(ctx, run); err != nil && !apierrors.IsAlreadyExists(err) {
		return err
	} else if err == nil {
		r.Recorder.Eventf(wf, nil, corev1.EventTypeNormal, ReasonRunQueued, "Schedule", "Queued run %s for %s", run.Name, due.Format(time.RFC3339))
	}
	wf.Status.LastRun, wf.Status.LastRunTime = run.Name, &metav1.Time{Time: r.Clock.Now()}
	return nil
}

// pruneRuns deletes the workflow's oldest finished runs past its history
// limits, keeping any run with a post not yet done: deleting a run takes
// its posts with it.
func (r *WorkflowReconciler) pruneRuns(ctx context.Context, wf *socialv1alpha1.Workflow, runs []socialv1alpha1.WorkflowRun) error {
	limit := func(l *int32, def int) int {
		if l == nil {
			return def
		}
		return int(*l)
	}
	keep := map[bool]int{true: limit(wf.Spec.SuccessfulRunsHistoryLimit, 3), false: limit(wf.Spec.FailedRunsHistoryLimit, 1)}
	sorted := append([]socialv1alpha1.WorkflowRun(nil), runs...)
	sort.Slice(sorted, func(i, j int) bool { // newest first
		if !sorted[i].CreationTimestamp.Equal(&sorted[j].CreationTimestamp) {
			return sorted[j].CreationTimestamp.Before(&sorted[i].CreationTimestamp)
		}
		return sorted[i].Name > sorted[j].Name
	})
	for i := range sorted {
		run := &sorted[i]
		if !finished(run.Status.Phase) {
			continue
		}
		ok := run.Status.Phase != socialv1alpha1.RunFailed
		if keep[ok] > 0 {
			keep[ok]--
			continue
		}
		done, err := r.postsDone(ctx, run)
		if err != nil || !done {
			continue // kept until its posts are done (or readable)
		}
		if err := r.Delete(ctx, run, client.PropagationPolicy(metav1.DeletePropagationBackground)); client.IgnoreNotFound(err) != nil {
			return err
		}
		r.Recorder.Eventf(wf, nil, corev1.EventTypeNormal, ReasonRunPruned, "Prune", "Deleted run %s, past the workflow's history limit", run.Name)
	}
	return nil
}

// postsDone reports whether every post of the run is published, failed,
// missed or canceled (or gone).
func (r *WorkflowReconciler) postsDone(ctx context.Context, run *socialv1alpha1.WorkflowRun) (bool, error) {
	for _, name := range run.Status.Posts {
		p := &socialv1alpha1.ScheduledPost{}
		if err := r.Get(ctx, client.ObjectKey{Namespace: run.Namespace, Name: name}, p); apierrors.IsNotFound(err) {
			continue
		} else if err != nil {
			return false, err
		}
		if !post.Done(p.Status.Phase) {
			return false, nil
		}
	}
	return true, nil
}

// location is the trigger's time zone, else the workspace's, else UTC.
func (r *WorkflowReconciler) location(ctx context.Context, wf *socialv1alpha1.Workflow) (*time.Location, error) {
	ws, err := workspaceOf(ctx, r, wf.Namespace)
	if err != nil {
		return nil, err
	}
	return zoneOf(&wf.Spec, ws), nil
}

// zoneOf is the time zone a workflow's times are read in (workflow.Zone).
func zoneOf(spec *socialv1alpha1.WorkflowSpec, ws *socialv1alpha1.Workspace) *time.Location {
	if ws == nil {
		return workflow.Zone(spec, "")
	}
	return workflow.Zone(spec, ws.Spec.TimeZone)
}

// SetupWithManager registers the reconciler; runs and profiles changing
// re-check the workflows of their namespace.
func (r *WorkflowReconciler) SetupWithManager(mgr ctrl.Manager) error {
	toWorkflow := handler.EnqueueRequestsFromMapFunc(func(_ context.Context, o client.Object) []reconcile.Request {
		if run, ok := o.(*socialv1alpha1.WorkflowRun); ok {
			return []reconcile.Request{{NamespacedName: client.ObjectKey{Namespace: run.Namespace, Name: run.Spec.WorkflowRef.Name}}}
		}
		return nil
	})
	toNamespace := enqueueNamespace(r, func() client.ObjectList { return &socialv1alpha1.WorkflowList{} })
	return ctrl.NewControllerManagedBy(mgr).
		For(&socialv1alpha1.Workflow{}).
		Watches(&socialv1alpha1.WorkflowRun{}, toWorkflow).
		Watches(&socialv1alpha1.SocialProfile{}, toNamespace).
		WithOptions(controller.Options{MaxConcurrentReconciles: max(r.Workers, 1)}).
		Named("workflow").
		Complete(r.InFlight.Reconciler("Workflow", r))
}
