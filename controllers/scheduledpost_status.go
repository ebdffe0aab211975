package controllers

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"

	socialv1alpha1 "github.com/herald-dev/herald/api/v1alpha1"
	"github.com/herald-dev/herald/internal/metrics"
	"github.com/herald-dev/herald/internal/post"
)

// postState is the post being reconciled, the status last written (or
// read), and what becomes true once the next write commits: events and
// metrics wait for it, so nothing is announced that was not written, and
// nothing twice when a write is retried.
type postState struct {
	post *socialv1alpha1.ScheduledPost
	base *socialv1alpha1.ScheduledPost
	// invalid, when set, is why the post cannot be scheduled at all.
	invalid string
	pending []announcement
	// written runs once the next write is made: what the dispatcher may
	// forget because the status now records it.
	written []func()
	// unwritten skips the write: a post armed moments before its due time
	// gets its first status with its outcome.
	unwritten bool
	// shard is what this process holds of the post's shard.
	shard *heldShard
}

// announcement is an event, and the metrics that go with it, about a
// transition not yet written.
type announcement struct {
	warning              bool
	reason, action, note string
	// failed and retried name the platform whose failure (with
	// failedReason) or retry to count; published the platform whose
	// publication to count, with its lateness.
	failed, failedReason, retried, published string
	lateness                                 time.Duration
}

func newPostState(p *socialv1alpha1.ScheduledPost) *postState {
	return &postState{post: p, base: p.DeepCopy()}
}

// reset starts over from a fresh copy of the post: what was pending
// belonged to transitions on the old copy.
func (s *postState) reset(fresh *socialv1alpha1.ScheduledPost) {
	s.post, s.base, s.pending, s.written = fresh, fresh.DeepCopy(), nil, nil
}

// afterWrite runs f once the next write is made.
func (s *postState) afterWrite(f func()) { s.written = append(s.written, f) }

func (s *postState) announce(a announcement) { s.pending = append(s.pending, a) }

// noteAll announces what post.ApplySpec did.
func (s *postState) noteAll(notes []post.Note) {
	for _, n := range notes {
		a := announcement{warning: n.Warning, reason: n.Reason, action: "Reconcile", note: fmt.Sprintf("profile %s: %s", n.Profile, n.Message)}
		if n.Reason == post.ReasonDeliveryUnknown {
			if d := post.Find(s.post.Status.Deliveries, n.Profile); d != nil {
				a.failed, a.failedReason = string(d.Platform), ReasonDeliveryUnknown
			}
		}
		s.announce(a)
	}
}

// retrying reports whether some delivery waits for a retry a person asked for.
func (s *postState) retrying() bool {
	return slices.ContainsFunc(s.post.Status.Deliveries, func(d socialv1alpha1.Delivery) bool {
		return d.Phase == socialv1alpha1.DeliveryRetrying
	})
}

// untilClaimsLapse asks to look again when the first claim still in flight
// lapses, so one whose holder never wrote an outcome is settled.
func (s *postState) untilClaimsLapse(now time.Time) ctrl.Result {
	var wait time.Duration
	for i := range s.post.Status.Deliveries {
		d := &s.post.Status.Deliveries[i]
		if post.ClaimLive(d, now) {
			if w := d.ClaimExpiresAt.Sub(now); wait == 0 || w < wait {
				wait = w
			}
		}
	}
	if wait == 0 {
		return ctrl.Result{}
	}
	return ctrl.Result{RequeueAfter: max(wait, minRequeue)}
}

// end makes a delivery final without being published: phase and message,
// its claim released, announced as a warning with reason and counted as
// failed with metricReason (the error's kind, where the event names the
// transition).
func (s *postState) end(d *socialv1alpha1.Delivery, phase socialv1alpha1.DeliveryPhase, reason, metricReason, msg string) {
	d.Phase, d.NextAttemptAt, d.LastError = phase, nil, msg
	d.ClaimedBy, d.ClaimExpiresAt = "", nil
	s.announce(announcement{warning: true, reason: reason, action: "Publish", note: fmt.Sprintf("profile %s: %s", d.Profile, msg),
		failed: string(d.Platform), failedReason: metricReason})
}

// commit sums up the deliveries into the phase and conditions and, when
// the status changed, writes it with Update: the resourceVersion of the
// copy read makes a stale copy fail with a conflict. On success the base
// moves on and what was pending is announced. On failure nothing of it
// stands: the status goes back to the one stored, so no later write
// persists a transition that was not written (a claim whose write failed
// must not be written by the deferred write as if it had been made).
func (r *ScheduledPostReconciler) commit(ctx context.Context, s *postState) error {
	if s.unwritten && len(s.written) == 0 {
		return nil
	}
	r.summarize(s)
	s.post.Status.ObservedGeneration = s.post.Generation
	if !equality.Semantic.DeepEqual(s.base.Status, s.post.Status) {
		if err := r.Status().Update(ctx, s.post); err != nil {
			s.post.Status = *s.base.Status.DeepCopy()
			s.pending, s.written = nil, nil
			return err
		}
		if old, cur := s.base.Status.Phase, s.post.Status.Phase; old != cur && phaseNeedsEvent(s.post, cur) {
			s.announce(r.phaseAnnouncement(s.post, cur))
		}
		s.base = s.post.DeepCopy()
	}
	for _, a := range s.pending {
		r.emit(s.post, a)
	}
	for _, f := range s.written {
		f()
	}
	s.pending, s.written = nil, nil
	return nil
}

// emit records an announcement whose transition is written.
func (r *ScheduledPostReconciler) emit(p *socialv1alpha1.ScheduledPost, a announcement) {
	switch {
	case a.published != "":
		metrics.PostsPublished.WithLabelValues(a.published).Inc()
		metrics.PublishLateness.Observe(a.lateness.Seconds())
	case a.failed != "" || a.failedReason != "":
		metrics.PostsFailed.WithLabelValues(a.failed, a.failedReason).Inc()
	}
	if a.retried != "" {
		metrics.PublishRetries.WithLabelValues(a.retried).Inc()
	}
	if a.reason == "" {
		return
	}
	typ := corev1.EventTypeNormal
	if a.warning {
		typ = corev1.EventTypeWarning
	}
	r.Recorder.Eventf(p, nil, typ, a.reason, a.action, "%s", a.note)
}

// noteSpecChange sets SpecChangeIgnored when the spec changed after
// publishing started: what was delivered keeps what was sent.
func (r *ScheduledPostReconciler) noteSpecChange(s *postState) {
	p := s.post
	st := &p.Status
	if st.ObservedGeneration == 0 || p.Generation <= st.ObservedGeneration || !post.AnyStarted(p) {
		return
	}
	msg := fmt.Sprintf("the spec changed (generation %d) after publishing started; deliveries already made keep what was sent, and only deliveries not yet published use the new spec", p.Generation)
	if setCondition(&st.Conditions, p.Generation, socialv1alpha1.ConditionSpecIgnored, metav1.ConditionTrue, ReasonSpecChangeIgnored, msg) {
		s.announce(announcement{reason: ReasonSpecChangeIgnored, action: "Reconcile", note: msg})
	}
}

// retryRequested reports whether the retry annotation holds a value not
// yet acted on.
func retryRequested(p *socialv1alpha1.ScheduledPost) bool {
	v := p.Annotations[socialv1alpha1.AnnotationRetryRequestedAt]
	return v != "" && v != p.Status.LastHandledRetry
}

// handleRetryRequest makes the deliveries a retry request takes due now,
// each as a new attempt (a new idempotency key: a person decided to send
// again) with a fresh count of attempts. Without names it takes the Failed
// deliveries; a Missed or Unknown one only when named.
func (r *ScheduledPostReconciler) handleRetryRequest(s *postState, now time.Time) {
	p := s.post
	if !retryRequested(p) {
		return
	}
	p.Status.LastHandledRetry = p.Annotations[socialv1alpha1.AnnotationRetryRequestedAt]
	named := post.RetryProfiles(p)
	var retried, refused []string
	for i := range p.Status.Deliveries {
		d := &p.Status.Deliveries[i]
		isNamed := slices.Contains(named, d.Profile)
		if len(named) > 0 && !isNamed {
			continue
		}
		ok, why := post.Retryable(d, isNamed)
		whenNamed, _ := post.Retryable(d, true)
		switch {
		case ok:
			post.Retry(d, now)
			retried = append(retried, d.Profile)
		case isNamed || whenNamed:
			refused = append(refused, fmt.Sprintf("%s (%s)", d.Profile, why))
		}
	}
	for _, name := range named {
		if post.Find(p.Status.Deliveries, name) == nil {
			refused = append(refused, fmt.Sprintf("%s (the post has no delivery to it)", name))
		}
	}
	msg := "retry requested, but no delivery is Failed"
	if len(retried) > 0 {
		msg = "retrying the deliveries to " + strings.Join(retried, ", ") + " as requested"
	}
	if len(refused) > 0 {
		msg += "; not retried: " + strings.Join(refused, "; ")
	}
	s.announce(announcement{warning: len(retried) == 0, reason: ReasonRetryRequested, action: "Retry", note: msg})
}

// summarize sets the phase and the Ready and Published conditions from the
// deliveries.
func (r *ScheduledPostReconciler) summarize(s *postState) {
	p := s.post
	st := &p.Status
	gen := p.Generation
	phase := post.Phase(p)
	if s.invalid != "" {
		phase = socialv1alpha1.PostFailed
	}
	st.Phase = phase
	n := len(st.Deliveries)
	published := len(deliveryList(st.Deliveries, socialv1alpha1.DeliveryPublished))

	if phase == socialv1alpha1.PostPublished {
		setCondition(&st.Conditions, gen, socialv1alpha1.ConditionPublished, metav1.ConditionTrue, ReasonPublished, fmt.Sprintf("published to %d profile(s)", n))
	} else {
		setCondition(&st.Conditions, gen, socialv1alpha1.ConditionPublished, metav1.ConditionFalse, string(phase),
			fmt.Sprintf("%s: %d of %d profile(s) published", phase, published, n))
	}

	switch phase {
	case socialv1alpha1.PostPublished:
		markReady(&st.Conditions, gen, ReasonPublished, fmt.Sprintf("published to %s", strings.Join(deliveryList(st.Deliveries, socialv1alpha1.DeliveryPublished), ", ")))
	case socialv1alpha1.PostScheduled:
		markReady(&st.Conditions, gen, ReasonScheduled, fmt.Sprintf("publishes at %s to %s", p.Spec.ScheduledAt, strings.Join(p.Spec.Profiles, ", ")))
	case socialv1alpha1.PostAwaitingApproval:
		// Waiting for a person is where this post should be: Ready, as a
		// draft is, with the condition saying who can approve it.
		c := meta.FindStatusCondition(st.Conditions, socialv1alpha1.ConditionApproved)
		markReady(&st.Conditions, gen, post.ReasonAwaitingApproval, fmt.Sprintf("publishes at %s once approved: the post %s", p.Spec.ScheduledAt, c.Message))
	case socialv1alpha1.PostDraft:
		markReady(&st.Conditions, gen, ReasonDraft, "draft: nothing is published until spec.draft is false")
	case socialv1alpha1.PostCanceled:
		markReady(&st.Conditions, gen, ReasonCanceled, "canceled: nothing more is published")
	case socialv1alpha1.PostPublishing:
		markReconciling(&st.Conditions, gen, ReasonPublishing, publishingMessage(st.Deliveries))
	default:
		reason, msg := string(phase), r.problemsMessage(st.Deliveries)
		if s.invalid != "" {
			reason, msg = ReasonInvalidSchedule, s.invalid
		}
		markStalled(&st.Conditions, gen, reason, msg)
	}
}

func deliveryList(ds []socialv1alpha1.Delivery, phase socialv1alpha1.DeliveryPhase) []string {
	var out []string
	for _, d := range ds {
		if d.Phase == phase {
			out = append(out, d.Profile)
		}
	}
	return out
}

func publishingMessage(ds []socialv1alpha1.Delivery) string {
	var parts []string
	for _, d := range ds {
		switch d.Phase {
		case socialv1alpha1.DeliveryRetrying, socialv1alpha1.DeliveryPending:
			p := fmt.Sprintf("%s %s", d.Profile, strings.ToLower(string(d.Phase)))
			if d.NextAttemptAt != nil {
				p += " until " + d.NextAttemptAt.UTC().Format(time.RFC3339)
			}
			if d.LastError != "" {
				p += " (" + d.LastError + ")"
			}
			parts = append(parts, p)
		case socialv1alpha1.DeliveryPublishing:
			parts = append(parts, d.Profile+" publishing")
		}
	}
	return truncate("publishing: " + strings.Join(parts, "; "))
}

// problemsMessage lists each delivery that did not publish with its
// reason, and how to try again.
func (r *ScheduledPostReconciler) problemsMessage(ds []socialv1alpha1.Delivery) string {
	var parts []string
	for _, d := range ds {
		switch d.Phase {
		case socialv1alpha1.DeliveryFailed, socialv1alpha1.DeliveryUnknown, socialv1alpha1.DeliveryMissed:
			parts = append(parts, fmt.Sprintf("%s %s: %s", d.Profile, d.Phase, d.LastError))
		}
	}
	return truncate(strings.Join(parts, "; ") + ". After fixing the cause (or checking the platform, for Unknown), " + r.retryHow())
}

// retryHow says how a person asks for a retry.
func (r *ScheduledPostReconciler) retryHow() string {
	how := fmt.Sprintf("retry by setting the annotation %s to a new value (with %s naming the profiles; without it only Failed deliveries are retried, a Missed or Unknown one only when named)",
		socialv1alpha1.AnnotationRetryRequestedAt, socialv1alpha1.AnnotationRetryProfiles)
	if r.RetryHint != "" {
		how += ", or with " + r.RetryHint
	}
	return how + "."
}

// truncate keeps a condition message within the API's 32768 bytes.
func truncate(s string) string {
	const limit = 32000
	if len(s) <= limit {
		return s
	}
	return s[:limit] + "…"
}

// phaseNeedsEvent reports whether a new phase says something the
// delivery events have not. Publishing is a claim followed within the
// same reconcile by the outcome's own event (or by RetryScheduled,
// RateLimited or Resumed when it lasts); a one-profile post's Published is
// its delivery's Published event, written a moment before. Both are on
// the hot path of every due post, and an event is an API write.
func phaseNeedsEvent(p *socialv1alpha1.ScheduledPost, phase socialv1alpha1.PostPhase) bool {
	switch phase {
	case socialv1alpha1.PostPublishing:
		return false
	case socialv1alpha1.PostPublished:
		return len(p.Status.Deliveries) > 1
	}
	return true
}

// phaseAnnouncement announces the post's new phase.
func (r *ScheduledPostReconciler) phaseAnnouncement(p *socialv1alpha1.ScheduledPost, phase socialv1alpha1.PostPhase) announcement {
	a := announcement{reason: string(phase), action: "Reconcile", note: string(phase)}
	switch phase {
	case socialv1alpha1.PostFailed, socialv1alpha1.PostPartiallyPublished, socialv1alpha1.PostMissed, socialv1alpha1.PostUnknown:
		a.warning = true
	}
	if c := meta.FindStatusCondition(p.Status.Conditions, socialv1alpha1.ConditionReady); c != nil {
		a.note = c.Message
	}
	return a
}
