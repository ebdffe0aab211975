package controllers

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	utilrand "k8s.io/apimachinery/pkg/util/rand"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	socialv1alpha1 "github.com/herald-dev/herald/api/v1alpha1"
	"github.com/herald-dev/herald/internal/compose"
	"github.com/herald-dev/herald/internal/metrics"
	"github.com/herald-dev/herald/internal/publish"
)

// publishTimeout bounds one platform call, media uploads included, so a
// platform that never answers cannot hold a worker; the adapters' HTTP
// client timeouts normally end a call long before.
const publishTimeout = 5 * time.Minute

// errClaimLost means another writer changed the post between the read and
// the claim: nothing was sent, and the post is looked at again.
var errClaimLost = errors.New("claim lost to a concurrent update")

// deliver walks the deliveries of a due post: misses those too late,
// settles interrupted attempts, and publishes those whose time has come.
// It returns when to look again. Decisions use now, the time the
// reconcile decided to read the post fresh, so nothing is attempted on a
// copy that was not read fresh.
func (r *ScheduledPostReconciler) deliver(ctx context.Context, s *postState, due, now time.Time) (ctrl.Result, error) {
	var wait time.Duration
	soonest := func(d time.Duration) {
		if d > 0 && (wait == 0 || d < wait) {
			wait = d
		}
	}
	profiles := make([]string, 0, len(s.post.Status.Deliveries))
	for _, d := range s.post.Status.Deliveries {
		profiles = append(profiles, d.Profile)
	}
	for _, name := range profiles {
		// Each write below replaces s.post, so look the delivery up afresh.
		d := findDelivery(s.post.Status.Deliveries, name)
		if d == nil {
			continue
		}
		switch d.Phase {
		case socialv1alpha1.DeliveryPending:
			if now.Before(due) {
				soonest(due.Sub(now))
				continue
			}
			if late := now.Sub(due); late > maxLateness(s.post) {
				r.miss(s.post, d, due, late)
				continue
			}
			if d.NextAttemptAt != nil && now.Before(d.NextAttemptAt.Time) {
				soonest(d.NextAttemptAt.Sub(now))
				continue
			}
		case socialv1alpha1.DeliveryRetrying:
			if d.NextAttemptAt != nil && now.Before(d.NextAttemptAt.Time) {
				soonest(d.NextAttemptAt.Sub(now))
				continue
			}
		case socialv1alpha1.DeliveryPublishing:
			// Claimed earlier but its outcome never written: the process
			// stopped mid-attempt. Only a platform that deduplicates by
			// the attempt's key may be called again.
			if !r.resumeInterrupted(s.post, d) {
				continue
			}
		default:
			continue
		}
		next, err := r.attempt(ctx, s, name, due)
		if errors.Is(err, errClaimLost) {
			return ctrl.Result{RequeueAfter: conflictRetry}, nil
		}
		if err != nil {
			return ctrl.Result{}, err
		}
		soonest(next)
	}
	return ctrl.Result{RequeueAfter: wait}, nil
}

// miss marks a delivery that was never tried and is now too late.
func (r *ScheduledPostReconciler) miss(post *socialv1alpha1.ScheduledPost, d *socialv1alpha1.Delivery, due time.Time, late time.Duration) {
	d.Phase, d.NextAttemptAt = socialv1alpha1.DeliveryMissed, nil
	d.LastError = fmt.Sprintf("due at %s but not published until %s later, beyond maxLateness %s; stale content is not published. Set a new spec.scheduledAt, or retry to publish it anyway.",
		due.UTC().Format(time.RFC3339), late.Round(time.Second), maxLateness(post))
	metrics.PostsFailed.WithLabelValues(string(d.Platform), ReasonMissedDeadline).Inc()
	r.Recorder.Eventf(post, nil, corev1.EventTypeWarning, ReasonMissedDeadline, "Publish", "profile %s: %s", d.Profile, d.LastError)
}

// resumeInterrupted decides what happens to an attempt whose outcome was
// never written. It reports whether to send again, with the same attempt
// id and so the same idempotency key; otherwise the delivery is Unknown
// and waits for a person.
func (r *ScheduledPostReconciler) resumeInterrupted(post *socialv1alpha1.ScheduledPost, d *socialv1alpha1.Delivery) bool {
	pub, err := r.Publishers.For(publish.Platform(d.Platform))
	if err == nil && pub.SafeRetry() && d.AttemptID != "" {
		metrics.PublishRetries.WithLabelValues(string(d.Platform)).Inc()
		r.Recorder.Eventf(post, nil, corev1.EventTypeNormal, ReasonResumed, "Publish",
			"profile %s: attempt %s was interrupted; sending it again with the same idempotency key, which %s deduplicates", d.Profile, d.AttemptID, d.Platform)
		return true
	}
	d.Phase = socialv1alpha1.DeliveryUnknown
	d.LastError = fmt.Sprintf("attempt %s was interrupted after it was claimed; %s has no idempotency key, so Herald cannot tell whether it was published and will not send it again on its own. Check the account, then retry with ocoya_retry_post (or set the annotation %s) if it is not there.",
		d.AttemptID, d.Platform, socialv1alpha1.AnnotationRetryRequestedAt)
	metrics.PostsFailed.WithLabelValues(string(d.Platform), ReasonDeliveryUnknown).Inc()
	r.Recorder.Eventf(post, nil, corev1.EventTypeWarning, ReasonDeliveryUnknown, "Publish", "profile %s: %s", d.Profile, d.LastError)
	return false
}

// cannotSend ends a delivery that cannot be sent as it stands. For an
// interrupted attempt being resumed that is Unknown, not Failed: its first
// call may have landed.
func (r *ScheduledPostReconciler) cannotSend(post *socialv1alpha1.ScheduledPost, d *socialv1alpha1.Delivery, platform socialv1alpha1.Platform, reason, msg string) {
	if d.Phase != socialv1alpha1.DeliveryPublishing {
		r.failDelivery(post, d, platform, reason, msg)
		return
	}
	d.Phase, d.NextAttemptAt = socialv1alpha1.DeliveryUnknown, nil
	d.LastError = fmt.Sprintf("attempt %s was interrupted and cannot be sent again (%s); it may or may not have been published, so check the account, then retry if it is not there", d.AttemptID, msg)
	metrics.PostsFailed.WithLabelValues(string(d.Platform), ReasonDeliveryUnknown).Inc()
	r.Recorder.Eventf(post, nil, corev1.EventTypeWarning, ReasonDeliveryUnknown, "Publish", "profile %s: %s", d.Profile, d.LastError)
}

// attempt makes one call for one delivery: check it can be sent, take a
// rate-limit token, claim it in status, call the platform, write the
// outcome. It returns how soon the delivery wants another look (0: none).
func (r *ScheduledPostReconciler) attempt(ctx context.Context, s *postState, name string, due time.Time) (time.Duration, error) {
	post := s.post
	d := findDelivery(post.Status.Deliveries, name)

	// 1. What to send and where; problems here are the user's to fix.
	profile := &socialv1alpha1.SocialProfile{}
	if err := r.Get(ctx, client.ObjectKey{Namespace: post.Namespace, Name: name}, profile); err != nil {
		if apierrors.IsNotFound(err) {
			r.cannotSend(post, d, "", ReasonProfileNotFound, fmt.Sprintf("SocialProfile %s/%s does not exist; create it, or remove %s from spec.profiles", post.Namespace, name, name))
			return 0, nil
		}
		return 0, err
	}
	platform := profile.Spec.Platform
	pub, err := r.Publishers.For(publish.Platform(platform))
	if err != nil {
		r.cannotSend(post, d, platform, ReasonNoPublisher, fmt.Sprintf("Herald has no publisher for platform %s", platform))
		return 0, nil
	}
	var kit *socialv1alpha1.BrandKit
	if post.Spec.BrandKit != "" {
		kit = &socialv1alpha1.BrandKit{}
		if err := r.Get(ctx, client.ObjectKey{Namespace: post.Namespace, Name: post.Spec.BrandKit}, kit); err != nil {
			if apierrors.IsNotFound(err) {
				r.cannotSend(post, d, platform, ReasonBrandKitNotFound, fmt.Sprintf("BrandKit %s/%s named by spec.brandKit does not exist; create it or clear spec.brandKit", post.Namespace, post.Spec.BrandKit))
				return 0, nil
			}
			return 0, err
		}
	}
	rendered := compose.ForProfile(&post.Spec, profile, kit)
	if w := compose.BannedWordIn(rendered.Text, kit); w != "" {
		r.cannotSend(post, d, platform, ReasonBannedWord, fmt.Sprintf("the text for profile %s contains %q, a banned word of BrandKit %s; edit the text or the kit", name, w, kit.Name))
		return 0, nil
	}
	if len(rendered.Problems) > 0 {
		r.cannotSend(post, d, platform, rendered.Problems[0].Code, fmt.Sprintf("the text for profile %s does not fit: %s Shorten the text, or add a variant for profile %s or platform %s.",
			name, rendered.Message(), name, profile.Spec.Platform))
		return 0, nil
	}
	text, media := rendered.Text, rendered.Media
	prof, err := loadProfile(ctx, r.APIReader, profile)
	var cerr *credentialsError
	if errors.As(err, &cerr) {
		r.cannotSend(post, d, platform, cerr.Reason, fmt.Sprintf("SocialProfile %s cannot publish: %s", name, cerr.Message))
		return 0, nil
	}
	if err != nil {
		return 0, err
	}

	// 2. The profile's rate limit: wait by requeueing, never in a worker.
	now := r.Clock.Now()
	wait, giveBack := r.limiters.reserve(profile, now)
	if wait > 0 {
		next := metav1.NewTime(ceilSecond(now.Add(wait)))
		msg := fmt.Sprintf("waiting for the rate limit of %d posts per hour on profile %s", postsPerHour(profile), name)
		if d.LastError != msg { // announce the wait once, not on every look
			r.Recorder.Eventf(post, nil, corev1.EventTypeNormal, ReasonRateLimited, "Publish", "profile %s: %s, until %s", name, msg, next.UTC().Format(time.RFC3339))
		}
		d.NextAttemptAt, d.LastError = &next, msg
		return next.Sub(now), nil
	}

	// 3. Claim: record the attempt before calling the platform. Update
	// carries the resourceVersion read, so of two writers only one wins.
	if d.AttemptID == "" {
		d.AttemptID = utilrand.String(10)
	}
	d.Phase, d.Platform, d.LastError = socialv1alpha1.DeliveryPublishing, platform, ""
	d.Attempts++
	d.NextAttemptAt = nil
	at := metav1.NewTime(now)
	d.LastAttemptAt = &at
	attemptID, attempts := d.AttemptID, d.Attempts
	if err := r.writeStatus(ctx, s); err != nil {
		giveBack()
		if apierrors.IsConflict(err) {
			return 0, errClaimLost
		}
		return 0, err
	}

	// 4. Call the platform.
	metrics.DeliveriesInFlight.Inc()
	callAt := r.Clock.Now()
	pctx, cancel := context.WithTimeout(ctx, publishTimeout)
	res, perr := pub.Publish(pctx, prof, publish.Post{Text: text, Media: media, IdempotencyKey: IdempotencyKey(post.UID, name, attemptID)})
	cancel()
	metrics.DeliveriesInFlight.Dec()

	// 5. Write the outcome at once. A conflict here (someone edited the
	// post meanwhile) must not lose it: re-read and apply it again, as long
	// as the delivery still holds this attempt.
	var next time.Duration
	apply := func(d *socialv1alpha1.Delivery) {
		next = r.outcome(s.post, d, pub, attempts, res, perr, callAt, due)
	}
	return next, r.writeOutcome(ctx, s, name, attemptID, apply)
}

// writeOutcome applies the outcome to the delivery and writes it, retrying
// on conflicts with fresh reads.
func (r *ScheduledPostReconciler) writeOutcome(ctx context.Context, s *postState, name, attemptID string, apply func(*socialv1alpha1.Delivery)) error {
	for try := 0; ; try++ {
		d := findDelivery(s.post.Status.Deliveries, name)
		if d == nil || d.AttemptID != attemptID || d.Phase != socialv1alpha1.DeliveryPublishing {
			return nil // settled by someone else; theirs stands
		}
		apply(d)
		err := r.writeStatus(ctx, s)
		if !apierrors.IsConflict(err) || try >= 5 {
			return err
		}
		fresh := &socialv1alpha1.ScheduledPost{}
		if err := r.APIReader.Get(ctx, client.ObjectKeyFromObject(s.post), fresh); err != nil {
			return err
		}
		s.post, s.base = fresh, fresh.DeepCopy()
	}
}

// outcome records what the platform answered and returns how soon to try
// again (0: the delivery is final).
func (r *ScheduledPostReconciler) outcome(post *socialv1alpha1.ScheduledPost, d *socialv1alpha1.Delivery, pub publish.Publisher,
	attempts int32, res publish.Result, err error, callAt, due time.Time) time.Duration {
	platform := string(d.Platform)
	kind := publish.KindOf(err)
	switch {
	case err == nil:
		d.Phase, d.ExternalID, d.URL, d.LastError = socialv1alpha1.DeliveryPublished, res.ExternalID, res.URL, ""
		at := res.PublishedAt
		if at.IsZero() {
			at = callAt
		}
		t := metav1.NewTime(at)
		d.PublishedAt = &t
		metrics.PostsPublished.WithLabelValues(platform).Inc()
		metrics.PublishLateness.Observe(callAt.Sub(due).Seconds())
		where := res.URL
		if where == "" {
			where = res.ExternalID
		}
		r.Recorder.Eventf(post, nil, corev1.EventTypeNormal, ReasonPublished, "Publish", "profile %s: published on %s %s", d.Profile, platform, where)
		return 0
	case kind == publish.Retryable || (kind == publish.Unknown && pub.SafeRetry() && attempts < r.Retry.MaxAttempts):
		if attempts >= r.Retry.MaxAttempts {
			d.Phase, d.NextAttemptAt = socialv1alpha1.DeliveryFailed, nil
			d.LastError = fmt.Sprintf("gave up after %d attempts; the last one failed: %v", attempts, err)
			metrics.PostsFailed.WithLabelValues(platform, ReasonRetriesExhausted).Inc()
			r.Recorder.Eventf(post, nil, corev1.EventTypeWarning, ReasonRetriesExhausted, "Publish", "profile %s: %s", d.Profile, d.LastError)
			return 0
		}
		// The same attempt id is kept, so the retry carries the same
		// idempotency key: where the first call did land, it dedupes.
		next := metav1.NewTime(ceilSecond(callAt.Add(r.backoff(attempts, publish.RetryAfter(err)))))
		wait := next.Sub(r.Clock.Now())
		d.Phase, d.NextAttemptAt, d.LastError = socialv1alpha1.DeliveryRetrying, &next, err.Error()
		metrics.PublishRetries.WithLabelValues(platform).Inc()
		r.Recorder.Eventf(post, nil, corev1.EventTypeNormal, ReasonRetryScheduled, "Publish", "profile %s: attempt %d failed (%v); trying again at %s",
			d.Profile, attempts, err, next.UTC().Format(time.RFC3339))
		return wait
	case kind == publish.Unknown:
		// Either the platform has no idempotency key, or the attempts ran
		// out: the last call may have landed, so it is not Failed.
		why := fmt.Sprintf("%s has no idempotency key, so Herald will not send it again on its own", platform)
		if pub.SafeRetry() {
			why = fmt.Sprintf("that was attempt %d of %d, so Herald stops here", attempts, r.Retry.MaxAttempts)
		}
		d.Phase, d.NextAttemptAt = socialv1alpha1.DeliveryUnknown, nil
		d.LastError = fmt.Sprintf("%v. %s; check the account, then retry if it is not there.", err, why)
		metrics.PostsFailed.WithLabelValues(platform, ReasonDeliveryUnknown).Inc()
		r.Recorder.Eventf(post, nil, corev1.EventTypeWarning, ReasonDeliveryUnknown, "Publish", "profile %s: %s", d.Profile, d.LastError)
		return 0
	default: // Permanent, CredentialsRejected
		d.Phase, d.NextAttemptAt, d.LastError = socialv1alpha1.DeliveryFailed, nil, err.Error()
		metrics.PostsFailed.WithLabelValues(platform, string(kind)).Inc()
		r.Recorder.Eventf(post, nil, corev1.EventTypeWarning, ReasonPublishFailed, "Publish", "profile %s: %s", d.Profile, d.LastError)
		return 0
	}
}

// backoff returns the wait before the next attempt: exponential from
// Retry.Backoff, capped at Retry.MaxBackoff, never shorter than the
// platform's Retry-After, plus up to a fifth at random so posts that
// failed together spread out.
func (r *ScheduledPostReconciler) backoff(attempts int32, retryAfter time.Duration) time.Duration {
	wait := r.Retry.Backoff
	for i := int32(1); i < attempts && wait < r.Retry.MaxBackoff; i++ {
		wait *= 2
	}
	wait = min(wait, r.Retry.MaxBackoff)
	wait = max(wait, retryAfter)
	return wait + time.Duration(rand.Int64N(int64(wait/5)+1))
}

// ceilSecond rounds t up to a whole second. Status times are stored to the
// second; rounding down could let a retry go out before the platform's
// Retry-After.
func ceilSecond(t time.Time) time.Time {
	if down := t.Truncate(time.Second); !down.Equal(t) {
		return down.Add(time.Second)
	}
	return t
}

// IdempotencyKey is the key sent with one attempt of one delivery: derived
// from the post's UID, the profile and the attempt id, so it is the same
// whenever the same attempt is sent again (after a crash or a retryable
// error) and differs for a post recreated under the same name.
func IdempotencyKey(postUID types.UID, profile, attemptID string) string {
	sum := sha256.Sum256([]byte(string(postUID) + "/" + profile + "/" + attemptID))
	return "herald-" + hex.EncodeToString(sum[:16])
}
