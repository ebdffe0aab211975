package controllers

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"

	socialv1alpha1 "github.com/herald-dev/herald/api/v1alpha1"
	"github.com/herald-dev/herald/internal/inflight"
	"github.com/herald-dev/herald/internal/post"
	"github.com/herald-dev/herald/internal/recurrence"
)

// Reasons the RecurringPost reconciler reports.
const (
	ReasonOccurrenceCreated  = "OccurrenceCreated"
	ReasonOccurrenceSkipped  = "OccurrenceSkipped"
	ReasonOccurrencesMissed  = "OccurrencesMissed"
	ReasonEvergreenExhausted = "EvergreenExhausted"
	ReasonOccurrencePruned   = "OccurrencePruned"
	ReasonRecurrenceEnded    = "RecurrenceEnded"
)

// OccurrenceLead is how long before its time an occurrence's ScheduledPost
// is made: long enough for the post reconciler to hold it when it is due,
// short enough that an edit of the recurring post reaches the next
// occurrence until a minute before it.
const OccurrenceLead = time.Minute

// maxOccurrencesPerReconcile bounds the posts one reconcile makes (the
// occurrences within maxLateness after Herald was away); the rest follow
// on the requeue.
const maxOccurrencesPerReconcile = 20

// upcomingShown is how many next occurrences the status lists.
const upcomingShown = 5

// RecurringPostReconciler makes a ScheduledPost for each occurrence of a
// RecurringPost, a minute before it is due, named after its time so it is
// never made twice; it skips, reports missed occurrences, rotates evergreen
// posts and prunes old occurrence posts.
type RecurringPostReconciler struct {
	client.Client
	// InFlight records each reconcile under way; nil records nothing.
	InFlight *inflight.Tracker
	Recorder events.EventRecorder
	Clock    clock.PassiveClock
}

// +kubebuilder:rbac:groups=social.herald.dev,resources=recurringposts,verbs=get;list;watch
// +kubebuilder:rbac:groups=social.herald.dev,resources=recurringposts/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=social.herald.dev,resources=recurringposts/finalizers,verbs=update
// +kubebuilder:rbac:groups=social.herald.dev,resources=scheduledposts,verbs=get;list;watch;create;patch;delete

// Reconcile makes the due occurrences of one RecurringPost.
func (r *RecurringPostReconciler) Reconcile(ctx context.Context, req ctrl.Request) (result ctrl.Result, retErr error) {
	// 1. Fetch the recurring post; its status is written once, at the end.
	rp := &socialv1alpha1.RecurringPost{}
	if err := r.Get(ctx, req.NamespacedName, rp); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !rp.DeletionTimestamp.IsZero() {
		return ctrl.Result{}, nil
	}
	base := rp.DeepCopy()
	defer func() {
		rp.Status.ObservedGeneration = rp.Generation
		if err := patchStatus(ctx, r.Client, rp, base); err != nil && !apierrors.IsNotFound(err) {
			retErr = errors.Join(retErr, err)
		}
	}()

	// An approval written without its digest is pinned to the series it
	// was first seen with, before anything judges it.
	recurrence.RecordApproval(rp)

	// 2. Validate against the workspace's zone and the profiles that exist now.
	spec, errs, err := r.check(ctx, rp)
	if err != nil {
		return ctrl.Result{}, err
	}
	rp.Status.ValidationErrors = errs
	if len(errs) > 0 {
		msg := strings.Join(errs, "; ")
		setCondition(&rp.Status.Conditions, rp.Generation, socialv1alpha1.ConditionValid, metav1.ConditionFalse, ReasonInvalid, msg)
		if markStalled(&rp.Status.Conditions, rp.Generation, ReasonInvalid, msg) {
			r.Recorder.Eventf(rp, nil, corev1.EventTypeWarning, ReasonInvalid, "Validate", msg)
		}
		rp.Status.NextOccurrences, rp.Status.NextOccurrenceTime = nil, nil
		return ctrl.Result{}, nil
	}
	setCondition(&rp.Status.Conditions, rp.Generation, socialv1alpha1.ConditionValid, metav1.ConditionTrue, ReasonValid, "the recurring post passed validation")

	// 3. Read its occurrence posts: they, not the status, say which
	// occurrences were made, so a lost status write makes none twice.
	posts := &socialv1alpha1.ScheduledPostList{}
	if err := r.List(ctx, posts, client.InNamespace(rp.Namespace), client.MatchingLabels{socialv1alpha1.LabelRecurringPost: rp.Name}); err != nil {
		return ctrl.Result{}, err
	}
	now := r.Clock.Now()
	cursor := rp.CreationTimestamp.Time
	if t := rp.Status.LastOccurrenceTime; t != nil && t.After(cursor) {
		cursor = t.Time
	}
	for i := range posts.Items {
		if t, ok := occurrenceOf(&posts.Items[i]); ok && t.After(cursor) {
			cursor = t
		}
	}
	r.recordPublished(rp, posts.Items)
	if err := r.cancelSkipped(ctx, rp, spec, posts.Items); err != nil {
		return ctrl.Result{}, err
	}
	if err := r.prune(ctx, rp, posts.Items); err != nil {
		return ctrl.Result{}, err
	}

	// 4. Make the occurrences due within the lead, unless disabled: those
	// pass by unmade, and are not made up later.
	horizon := now.Add(OccurrenceLead)
	if !rp.Spec.Enabled {
		if horizon.After(cursor) {
			cursor = horizon
		}
		rp.Status.LastOccurrenceTime = &metav1.Time{Time: cursor}
		rp.Status.NextOccurrences, rp.Status.NextOccurrenceTime = nil, nil
		markReady(&rp.Status.Conditions, rp.Generation, ReasonDisabled, "the recurring post is disabled; enable it to publish its occurrences")
		return r.requeueAt(spec.Rule.Next(cursor), now), nil
	}
	lateness := 15 * time.Minute
	if rp.Spec.MaxLateness != nil {
		lateness = rp.Spec.MaxLateness.Duration
	}
	if earliest := now.Add(-lateness); earliest.After(cursor) {
		missed, more := spec.Rule.Between(cursor, earliest, 100)
		n := 0
		for _, t := range missed {
			if !spec.Skipped(t) {
				n++
			}
		}
		if n > 0 || more > 0 {
			count := fmt.Sprint(n)
			if more > 0 {
				count = "more than " + fmt.Sprint(n)
			}
			r.Recorder.Eventf(rp, nil, corev1.EventTypeWarning, ReasonOccurrencesMissed, "Schedule",
				"%s occurrences were missed since %s (Herald was not running): each was due longer ago than maxLateness %s, so none was published",
				count, cursor.UTC().Format(time.RFC3339), lateness)
		}
		cursor = earliest
	}
	due, more := spec.Rule.Between(cursor, horizon, maxOccurrencesPerReconcile)
	for _, t := range due {
		if err := r.occur(ctx, rp, spec, t, posts.Items); err != nil {
			rp.Status.LastOccurrenceTime = &metav1.Time{Time: cursor}
			return ctrl.Result{}, err
		}
		cursor = t
	}
	rp.Status.LastOccurrenceTime = &metav1.Time{Time: cursor}

	// 5. Report what comes next.
	loc := spec.Rule.Location()
	upcoming := spec.Rule.Upcoming(cursor, upcomingShown, spec.Skipped)
	rp.Status.NextOccurrences = nil
	for _, t := range upcoming {
		rp.Status.NextOccurrences = append(rp.Status.NextOccurrences, t.In(loc).Format(time.RFC3339))
	}
	if len(upcoming) == 0 {
		rp.Status.NextOccurrenceTime = nil
		if markReady(&rp.Status.Conditions, rp.Generation, ReasonRecurrenceEnded, "the recurrence names no more occurrences") {
			r.Recorder.Eventf(rp, nil, corev1.EventTypeNormal, ReasonRecurrenceEnded, "Schedule", "The recurrence names no more occurrences")
		}
		return ctrl.Result{}, nil
	}
	rp.Status.NextOccurrenceTime = &metav1.Time{Time: upcoming[0]}
	markReady(&rp.Status.Conditions, rp.Generation, ReasonNextRunScheduled, fmt.Sprintf("next occurrence at %s (%s)", rp.Status.NextOccurrences[0], loc))
	if more > 0 {
		return ctrl.Result{RequeueAfter: time.Second}, nil
	}
	return r.requeueAt(spec.Rule.Next(cursor), now), nil
}

// requeueAt wakes the reconciler when the occurrence at next is within the
// lead; a due time already passed still waits a moment, so the requeue is
// never dropped.
func (r *RecurringPostReconciler) requeueAt(next, now time.Time) ctrl.Result {
	if next.IsZero() {
		return ctrl.Result{}
	}
	return ctrl.Result{RequeueAfter: max(next.Add(-OccurrenceLead).Sub(now), 100*time.Millisecond)}
}

// check validates the spec in the workspace's time zone.
func (r *RecurringPostReconciler) check(ctx context.Context, rp *socialv1alpha1.RecurringPost) (*recurrence.Spec, []string, error) {
	ws, err := workspaceOf(ctx, r, rp.Namespace)
	if err != nil {
		return nil, nil, err
	}
	zone := ""
	if ws != nil {
		zone = ws.Spec.TimeZone
	}
	profiles := &socialv1alpha1.SocialProfileList{}
	if err := r.List(ctx, profiles, client.InNamespace(rp.Namespace)); err != nil {
		return nil, nil, err
	}
	names := make([]string, 0, len(profiles.Items))
	for _, p := range profiles.Items {
		names = append(names, p.Name)
	}
	spec, errs := recurrence.Check(&rp.Spec, zone, names)
	return spec, errs, nil
}

// occur makes the ScheduledPost of the occurrence at t, unless it is
// skipped or, in an evergreen rotation, every post was published too
// recently.
func (r *RecurringPostReconciler) occur(ctx context.Context, rp *socialv1alpha1.RecurringPost, spec *recurrence.Spec, t time.Time, posts []socialv1alpha1.ScheduledPost) error {
	at := t.In(spec.Rule.Location()).Format(time.RFC3339)
	if spec.Skipped(t) {
		r.Recorder.Eventf(rp, nil, corev1.EventTypeNormal, ReasonOccurrenceSkipped, "Schedule", "Skipped the occurrence at %s, listed in spec.skip", at)
		return nil
	}
	contents := recurrence.Contents(&rp.Spec)
	item := 0
	if ev := rp.Spec.Evergreen; ev != nil {
		var within time.Duration
		if ev.SkipPublishedWithin != nil {
			within = ev.SkipPublishedWithin.Duration
		}
		i, ok := recurrence.Pick(len(contents), lastPublished(rp, posts), t, within)
		if !ok {
			r.Recorder.Eventf(rp, nil, corev1.EventTypeWarning, ReasonEvergreenExhausted, "Schedule",
				"Skipped the occurrence at %s: every post of the rotation was published less than %s before it (skipPublishedWithin)", at, within)
			return nil
		}
		item = i
	}
	c := contents[item]
	p := &socialv1alpha1.ScheduledPost{
		ObjectMeta: metav1.ObjectMeta{
			Namespace:   rp.Namespace,
			Name:        recurrence.OccurrenceName(rp.Name, t),
			Labels:      map[string]string{},
			Annotations: map[string]string{socialv1alpha1.AnnotationOccurrence: t.UTC().Format(time.RFC3339)},
		},
		Spec: socialv1alpha1.ScheduledPostSpec{
			Text: c.Text, Profiles: c.Profiles, Variants: c.Variants, Media: c.Media, BrandKit: c.BrandKit,
			ScheduledAt: at, MaxLateness: rp.Spec.MaxLateness,
		},
	}
	for k, v := range rp.Spec.Labels {
		p.Labels[k] = v
	}
	p.Labels[socialv1alpha1.LabelRecurringPost] = rp.Name
	if rp.Spec.Evergreen != nil {
		p.Labels[socialv1alpha1.LabelRotationItem] = strconv.Itoa(item)
	}
	for _, k := range []string{socialv1alpha1.AnnotationRequestedBy, socialv1alpha1.AnnotationRequestedVia} {
		if v, ok := rp.Annotations[k]; ok {
			p.Annotations[k] = v
		}
	}
	if a := rp.Spec.Approval; a != nil && recurrence.SeriesApproved(rp) {
		// The series was approved as it stands: so is this occurrence.
		p.Spec.Approval = &socialv1alpha1.PostApproval{ApprovedBy: a.ApprovedBy, ApprovedAt: a.ApprovedAt}
		p.Spec.Approval.ContentDigest = post.ContentDigest(&p.Spec)
	}
	if err := ctrl.SetControllerReference(rp, p, r.Scheme()); err != nil {
		return err
	}
	switch err := r.Create(ctx, p); {
	case apierrors.IsAlreadyExists(err):
		return nil
	case err != nil:
		return fmt.Errorf("making the post of the occurrence at %s: %w", at, err)
	}
	rp.Status.Occurrences++
	rp.Status.LastPost = p.Name
	if rp.Spec.Evergreen != nil {
		setRotation(rp, item, t)
	}
	r.Recorder.Eventf(rp, p, corev1.EventTypeNormal, ReasonOccurrenceCreated, "Schedule", "Made post %s for the occurrence at %s", p.Name, at)
	return nil
}

// occurrenceOf is the time of the occurrence p publishes.
func occurrenceOf(p *socialv1alpha1.ScheduledPost) (time.Time, bool) {
	t, err := time.Parse(time.RFC3339, p.Annotations[socialv1alpha1.AnnotationOccurrence])
	return t, err == nil
}

// onItsWay reports whether p published, or still will.
func onItsWay(p *socialv1alpha1.ScheduledPost) bool {
	if p.Spec.Canceled {
		return false
	}
	switch p.Status.Phase {
	case socialv1alpha1.PostFailed, socialv1alpha1.PostMissed, socialv1alpha1.PostCanceled:
		return false
	}
	return true
}

// lastPublished is when each post of the rotation was last published or
// is due to be: the status's record, and the occurrence posts on their way.
func lastPublished(rp *socialv1alpha1.RecurringPost, posts []socialv1alpha1.ScheduledPost) map[int]time.Time {
	last := map[int]time.Time{}
	for _, e := range rp.Status.Rotation {
		if e.LastPublishedTime != nil {
			last[int(e.Index)] = e.LastPublishedTime.Time
		}
	}
	for i := range posts {
		p := &posts[i]
		item, err := strconv.Atoi(p.Labels[socialv1alpha1.LabelRotationItem])
		t, ok := occurrenceOf(p)
		if err != nil || !ok || !onItsWay(p) {
			continue
		}
		if prev, seen := last[item]; !seen || t.After(prev) {
			last[item] = t
		}
	}
	return last
}

// recordPublished keeps, in the status, when each rotation post was last
// published, before historyLimit deletes the posts that show it.
func (r *RecurringPostReconciler) recordPublished(rp *socialv1alpha1.RecurringPost, posts []socialv1alpha1.ScheduledPost) {
	for i := range posts {
		p := &posts[i]
		item, err := strconv.Atoi(p.Labels[socialv1alpha1.LabelRotationItem])
		t, ok := occurrenceOf(p)
		if err != nil || !ok {
			continue
		}
		if ph := p.Status.Phase; ph == socialv1alpha1.PostPublished || ph == socialv1alpha1.PostPartiallyPublished {
			setRotation(rp, item, t)
		}
	}
}

// setRotation records that the rotation's post item published at t, if
// that is later than what the status holds.
func setRotation(rp *socialv1alpha1.RecurringPost, item int, t time.Time) {
	for i := range rp.Status.Rotation {
		e := &rp.Status.Rotation[i]
		if int(e.Index) == item {
			if e.LastPublishedTime == nil || t.After(e.LastPublishedTime.Time) {
				e.LastPublishedTime = &metav1.Time{Time: t}
			}
			return
		}
	}
	rp.Status.Rotation = append(rp.Status.Rotation, socialv1alpha1.RotationEntry{Index: int32(item), LastPublishedTime: &metav1.Time{Time: t}})
	slices.SortFunc(rp.Status.Rotation, func(a, b socialv1alpha1.RotationEntry) int { return int(a.Index - b.Index) })
}

// cancelSkipped cancels the occurrence posts that spec.skip now lists, as
// long as their publishing has not started.
func (r *RecurringPostReconciler) cancelSkipped(ctx context.Context, rp *socialv1alpha1.RecurringPost, spec *recurrence.Spec, posts []socialv1alpha1.ScheduledPost) error {
	for i := range posts {
		p := &posts[i]
		t, ok := occurrenceOf(p)
		if !ok || !spec.Skipped(t) || p.Spec.Canceled || post.AnyStarted(p) || post.Done(p.Status.Phase) {
			continue
		}
		patch := client.MergeFrom(p.DeepCopy())
		p.Spec.Canceled = true
		if err := r.Patch(ctx, p, patch); client.IgnoreNotFound(err) != nil {
			return err
		}
		r.Recorder.Eventf(rp, p, corev1.EventTypeNormal, ReasonOccurrenceSkipped, "Skip", "Canceled post %s: its occurrence is listed in spec.skip", p.Name)
	}
	return nil
}

// prune deletes the oldest finished occurrence posts past historyLimit.
func (r *RecurringPostReconciler) prune(ctx context.Context, rp *socialv1alpha1.RecurringPost, posts []socialv1alpha1.ScheduledPost) error {
	keep := 10
	if rp.Spec.HistoryLimit != nil {
		keep = int(*rp.Spec.HistoryLimit)
	}
	var finished []*socialv1alpha1.ScheduledPost
	for i := range posts {
		if _, ok := occurrenceOf(&posts[i]); ok && post.Done(posts[i].Status.Phase) {
			finished = append(finished, &posts[i])
		}
	}
	sort.Slice(finished, func(i, j int) bool { return finished[i].Name > finished[j].Name }) // newest first: names end in the time
	for _, p := range finished[min(keep, len(finished)):] {
		if err := r.Delete(ctx, p); client.IgnoreNotFound(err) != nil {
			return err
		}
		r.Recorder.Eventf(rp, p, corev1.EventTypeNormal, ReasonOccurrencePruned, "Prune", "Deleted post %s, past the recurring post's historyLimit", p.Name)
	}
	return nil
}

// SetupWithManager registers the reconciler; its occurrence posts changing
// re-check it, and profiles changing re-check every recurring post of
// their namespace.
func (r *RecurringPostReconciler) SetupWithManager(mgr ctrl.Manager, workers int) error {
	toNamespace := enqueueNamespace(r, func() client.ObjectList { return &socialv1alpha1.RecurringPostList{} })
	return ctrl.NewControllerManagedBy(mgr).
		For(&socialv1alpha1.RecurringPost{}).
		Owns(&socialv1alpha1.ScheduledPost{}).
		Watches(&socialv1alpha1.SocialProfile{}, toNamespace).
		WithOptions(controller.Options{MaxConcurrentReconciles: max(1, workers)}).
		Named("recurringpost").
		Complete(r.InFlight.Reconciler("RecurringPost", r))
}
