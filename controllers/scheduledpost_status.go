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

	socialv1alpha1 "github.com/herald-dev/herald/api/v1alpha1"
	"github.com/herald-dev/herald/internal/metrics"
)

// postState is the post being reconciled and the status last written (or
// read), so writeStatus only writes what changed.
type postState struct {
	post *socialv1alpha1.ScheduledPost
	base *socialv1alpha1.ScheduledPost
	// invalid, when set, is why the post cannot be scheduled at all.
	invalid string
}

// writeStatus sums up the deliveries into the phase and conditions and,
// when the status changed, writes it with Update: the resourceVersion of
// the copy read makes a stale copy fail with a conflict. On success the
// base moves on, so later writes in the same reconcile see the new version.
func (r *ScheduledPostReconciler) writeStatus(ctx context.Context, s *postState) error {
	r.summarize(s)
	s.post.Status.ObservedGeneration = s.post.Generation
	if equality.Semantic.DeepEqual(s.base.Status, s.post.Status) {
		return nil
	}
	if err := r.Status().Update(ctx, s.post); err != nil {
		return err
	}
	if old, cur := s.base.Status.Phase, s.post.Status.Phase; old != cur && phaseNeedsEvent(s.post, cur) {
		r.phaseEvent(s.post, cur)
	}
	s.base = s.post.DeepCopy()
	return nil
}

// mirrorDeliveries keeps one delivery per profile. Until publishing starts
// the list follows spec.profiles exactly; afterwards added profiles get a
// new delivery and removed ones are canceled if not yet final, so nothing
// already sent is forgotten.
func (r *ScheduledPostReconciler) mirrorDeliveries(post *socialv1alpha1.ScheduledPost) {
	st := &post.Status
	started := anyStarted(post)
	var out []socialv1alpha1.Delivery
	for _, name := range post.Spec.Profiles {
		if d := findDelivery(st.Deliveries, name); d != nil {
			out = append(out, *d)
		} else {
			out = append(out, socialv1alpha1.Delivery{Profile: name, Phase: socialv1alpha1.DeliveryPending})
		}
	}
	if started {
		for _, d := range st.Deliveries {
			if slices.Contains(post.Spec.Profiles, d.Profile) {
				continue
			}
			if d.Phase == socialv1alpha1.DeliveryPending || d.Phase == socialv1alpha1.DeliveryRetrying {
				d.Phase, d.NextAttemptAt = socialv1alpha1.DeliveryCanceled, nil
				d.LastError = "profile was removed from spec.profiles before it was published"
			}
			out = append(out, d)
		}
	}
	st.Deliveries = out
}

func findDelivery(ds []socialv1alpha1.Delivery, profile string) *socialv1alpha1.Delivery {
	for i := range ds {
		if ds[i].Profile == profile {
			return &ds[i]
		}
	}
	return nil
}

// anyStarted reports whether some delivery got past Pending: from then on
// the post's spec no longer changes what was sent.
func anyStarted(post *socialv1alpha1.ScheduledPost) bool {
	for _, d := range post.Status.Deliveries {
		if d.Phase != socialv1alpha1.DeliveryPending || d.Attempts > 0 {
			return true
		}
	}
	return false
}

// noteSpecChange sets SpecChangeIgnored when the spec changed after
// publishing started: what was delivered keeps what was sent.
func (r *ScheduledPostReconciler) noteSpecChange(post *socialv1alpha1.ScheduledPost) {
	st := &post.Status
	if st.ObservedGeneration == 0 || post.Generation <= st.ObservedGeneration || !anyStarted(post) {
		return
	}
	msg := fmt.Sprintf("the spec changed (generation %d) after publishing started; deliveries already made keep what was sent, and only deliveries not yet published use the new spec", post.Generation)
	if setCondition(&st.Conditions, post.Generation, socialv1alpha1.ConditionSpecIgnored, metav1.ConditionTrue, ReasonSpecChangeIgnored, msg) {
		r.Recorder.Eventf(post, nil, corev1.EventTypeNormal, ReasonSpecChangeIgnored, "Reconcile", msg)
	}
}

// cancel stops every delivery not yet made. An attempt that was in flight
// cannot be recalled: its outcome is Unknown.
func (r *ScheduledPostReconciler) cancel(post *socialv1alpha1.ScheduledPost) {
	for i := range post.Status.Deliveries {
		d := &post.Status.Deliveries[i]
		switch d.Phase {
		case socialv1alpha1.DeliveryPending, socialv1alpha1.DeliveryRetrying:
			d.Phase, d.NextAttemptAt, d.LastError = socialv1alpha1.DeliveryCanceled, nil, "canceled before it was published"
		case socialv1alpha1.DeliveryPublishing:
			d.Phase = socialv1alpha1.DeliveryUnknown
			d.LastError = "canceled while an attempt was in flight; it may or may not have been published, check the platform"
			r.Recorder.Eventf(post, nil, corev1.EventTypeWarning, ReasonDeliveryUnknown, "Cancel", "profile %s: %s", d.Profile, d.LastError)
		}
	}
}

// retryRequested reports whether the retry annotation holds a value not
// yet acted on.
func retryRequested(post *socialv1alpha1.ScheduledPost) bool {
	v := post.Annotations[socialv1alpha1.AnnotationRetryRequestedAt]
	return v != "" && v != post.Status.LastHandledRetry
}

// handleRetryRequest turns Failed, Unknown and Missed deliveries into
// Retrying, due now, with a fresh attempt (a new idempotency key: a person
// decided to send again) and a fresh count of attempts.
func (r *ScheduledPostReconciler) handleRetryRequest(post *socialv1alpha1.ScheduledPost, now time.Time) {
	if !retryRequested(post) {
		return
	}
	post.Status.LastHandledRetry = post.Annotations[socialv1alpha1.AnnotationRetryRequestedAt]
	var retried []string
	at := metav1.NewTime(now)
	for i := range post.Status.Deliveries {
		d := &post.Status.Deliveries[i]
		switch d.Phase {
		case socialv1alpha1.DeliveryFailed, socialv1alpha1.DeliveryUnknown, socialv1alpha1.DeliveryMissed:
			d.Phase, d.NextAttemptAt, d.AttemptID, d.Attempts, d.LastError = socialv1alpha1.DeliveryRetrying, &at, "", 0, ""
			retried = append(retried, d.Profile)
		}
	}
	if len(retried) == 0 {
		r.Recorder.Eventf(post, nil, corev1.EventTypeNormal, ReasonRetryRequested, "Retry", "retry requested, but no delivery is Failed, Unknown or Missed")
		return
	}
	r.Recorder.Eventf(post, nil, corev1.EventTypeNormal, ReasonRetryRequested, "Retry", "retrying the deliveries to %s as requested", strings.Join(retried, ", "))
}

// summarize sets the phase and the Ready and Published conditions from the
// deliveries.
func (r *ScheduledPostReconciler) summarize(s *postState) {
	post := s.post
	st := &post.Status
	gen := post.Generation
	count := map[socialv1alpha1.DeliveryPhase]int{}
	waiting := 0 // due, but held back by a rate limit
	for _, d := range st.Deliveries {
		count[d.Phase]++
		if d.Phase == socialv1alpha1.DeliveryPending && d.NextAttemptAt != nil {
			waiting++
		}
	}
	n := len(st.Deliveries)
	inFlight := count[socialv1alpha1.DeliveryPublishing] + count[socialv1alpha1.DeliveryRetrying]
	pending := count[socialv1alpha1.DeliveryPending]
	published := count[socialv1alpha1.DeliveryPublished]

	var phase socialv1alpha1.PostPhase
	switch {
	case s.invalid != "":
		phase = socialv1alpha1.PostFailed
	case post.Spec.Draft && !anyStarted(post):
		phase = socialv1alpha1.PostDraft
	case n == 0 && post.Spec.Canceled:
		phase = socialv1alpha1.PostCanceled
	case pending == n && waiting == 0:
		phase = socialv1alpha1.PostScheduled
		if post.Spec.Canceled {
			phase = socialv1alpha1.PostCanceled
		}
	case inFlight > 0 || pending > 0:
		phase = socialv1alpha1.PostPublishing
	case count[socialv1alpha1.DeliveryUnknown] > 0:
		phase = socialv1alpha1.PostUnknown
	case published == n:
		phase = socialv1alpha1.PostPublished
	case published > 0:
		phase = socialv1alpha1.PostPartiallyPublished
	case count[socialv1alpha1.DeliveryCanceled] == n:
		phase = socialv1alpha1.PostCanceled
	case count[socialv1alpha1.DeliveryMissed]+count[socialv1alpha1.DeliveryCanceled] == n:
		phase = socialv1alpha1.PostMissed
	default:
		phase = socialv1alpha1.PostFailed
	}
	st.Phase = phase

	if phase == socialv1alpha1.PostPublished {
		setCondition(&st.Conditions, gen, socialv1alpha1.ConditionPublished, metav1.ConditionTrue, ReasonPublished, fmt.Sprintf("published to %d profile(s)", n))
	} else {
		setCondition(&st.Conditions, gen, socialv1alpha1.ConditionPublished, metav1.ConditionFalse, string(phase), publishedMessage(phase, count, n))
	}

	switch phase {
	case socialv1alpha1.PostPublished:
		markReady(&st.Conditions, gen, ReasonPublished, fmt.Sprintf("published to %s", strings.Join(deliveryList(st.Deliveries, socialv1alpha1.DeliveryPublished), ", ")))
	case socialv1alpha1.PostScheduled:
		markReady(&st.Conditions, gen, ReasonScheduled, fmt.Sprintf("publishes at %s to %s", post.Spec.ScheduledAt, strings.Join(post.Spec.Profiles, ", ")))
	case socialv1alpha1.PostDraft:
		markReady(&st.Conditions, gen, ReasonDraft, "draft: nothing is published until spec.draft is false")
	case socialv1alpha1.PostCanceled:
		markReady(&st.Conditions, gen, ReasonCanceled, "canceled: nothing more is published")
	case socialv1alpha1.PostPublishing:
		markReconciling(&st.Conditions, gen, ReasonPublishing, publishingMessage(st.Deliveries))
	default:
		reason, msg := string(phase), problemsMessage(st.Deliveries)
		if s.invalid != "" {
			reason, msg = ReasonInvalidSchedule, s.invalid
		}
		markStalled(&st.Conditions, gen, reason, msg)
	}
}

func publishedMessage(phase socialv1alpha1.PostPhase, count map[socialv1alpha1.DeliveryPhase]int, n int) string {
	return fmt.Sprintf("%s: %d of %d profile(s) published", phase, count[socialv1alpha1.DeliveryPublished], n)
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
func problemsMessage(ds []socialv1alpha1.Delivery) string {
	var parts []string
	for _, d := range ds {
		switch d.Phase {
		case socialv1alpha1.DeliveryFailed, socialv1alpha1.DeliveryUnknown, socialv1alpha1.DeliveryMissed:
			parts = append(parts, fmt.Sprintf("%s %s: %s", d.Profile, d.Phase, d.LastError))
		}
	}
	return truncate(strings.Join(parts, "; ") + ". After fixing the cause (or checking the platform, for Unknown), retry with ocoya_retry_post or set the annotation " +
		socialv1alpha1.AnnotationRetryRequestedAt + " to a new value.")
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
func phaseNeedsEvent(post *socialv1alpha1.ScheduledPost, phase socialv1alpha1.PostPhase) bool {
	switch phase {
	case socialv1alpha1.PostPublishing:
		return false
	case socialv1alpha1.PostPublished:
		return len(post.Status.Deliveries) > 1
	}
	return true
}

// phaseEvent announces the post's new phase.
func (r *ScheduledPostReconciler) phaseEvent(post *socialv1alpha1.ScheduledPost, phase socialv1alpha1.PostPhase) {
	typ := corev1.EventTypeNormal
	switch phase {
	case socialv1alpha1.PostFailed, socialv1alpha1.PostPartiallyPublished, socialv1alpha1.PostMissed, socialv1alpha1.PostUnknown:
		typ = corev1.EventTypeWarning
	}
	c := meta.FindStatusCondition(post.Status.Conditions, socialv1alpha1.ConditionReady)
	msg := string(phase)
	if c != nil {
		msg = c.Message
	}
	r.Recorder.Eventf(post, nil, typ, string(phase), "Reconcile", "%s", msg)
}

// failDelivery ends a delivery that will not be published without a
// person: Failed with the reason's words.
func (r *ScheduledPostReconciler) failDelivery(post *socialv1alpha1.ScheduledPost, d *socialv1alpha1.Delivery, platform socialv1alpha1.Platform, reason, msg string) {
	d.Phase, d.NextAttemptAt, d.LastError = socialv1alpha1.DeliveryFailed, nil, msg
	if platform != "" {
		d.Platform = platform
	}
	metrics.PostsFailed.WithLabelValues(string(d.Platform), reason).Inc()
	r.Recorder.Eventf(post, nil, corev1.EventTypeWarning, reason, "Publish", "profile %s: %s", d.Profile, msg)
}
