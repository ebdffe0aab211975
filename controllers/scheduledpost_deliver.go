package controllers

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	utilrand "k8s.io/apimachinery/pkg/util/rand"
	"k8s.io/client-go/util/retry"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	socialv1alpha1 "github.com/herald-dev/herald/api/v1alpha1"
	"github.com/herald-dev/herald/internal/metrics"
	"github.com/herald-dev/herald/internal/post"
	"github.com/herald-dev/herald/internal/publish"
)

// errClaimLost means another writer changed the post between the read and
// the claim: nothing was sent, and the post is looked at again.
var errClaimLost = errors.New("claim lost to a concurrent update")

// errSettledElsewhere means a delivery no longer holds this process's
// claim when its outcome is written: someone else settled it.
var errSettledElsewhere = errors.New("the delivery was settled by another process")

// deliver walks the deliveries of a due post: misses those too late,
// settles interrupted attempts, and publishes those whose time has come.
// It returns when to look again. Decisions use now, the time the
// reconcile decided to read the post fresh, so nothing is attempted on a
// copy that was not read fresh.
func (r *ScheduledPostReconciler) deliver(ctx context.Context, s *postState, due, now time.Time) (ctrl.Result, error) {
	var wait time.Duration
	soonest := func(d time.Duration) {
		d = max(d, minRequeue)
		if wait == 0 || d < wait {
			wait = d
		}
	}
	profiles := make([]string, 0, len(s.post.Status.Deliveries))
	for _, d := range s.post.Status.Deliveries {
		profiles = append(profiles, d.Profile)
	}
	for _, name := range profiles {
		// Each write below replaces s.post, so look the delivery up afresh.
		d := post.Find(s.post.Status.Deliveries, name)
		if d == nil {
			continue
		}
		switch d.Phase {
		case socialv1alpha1.DeliveryPending, socialv1alpha1.DeliveryRetrying:
			if w, left := s.shard.dispatch.waitFor(s, d, due, now); left {
				soonest(w)
				continue
			}
			switch {
			case d.Phase == socialv1alpha1.DeliveryPending && now.Before(due):
				soonest(due.Sub(now))
				continue
			case d.NextAttemptAt != nil && now.Before(d.NextAttemptAt.Time):
				soonest(d.NextAttemptAt.Sub(now))
				continue
			case now.After(post.SendBy(&s.post.Spec, d, due)):
				r.tooLate(s, d, due, now)
				continue
			}
		case socialv1alpha1.DeliveryPublishing:
			if out := r.attempts.outcome(attemptKey(s.post, d)); out != nil && d.ClaimedBy == r.Identity {
				// This process made the call; only writing its outcome failed.
				next, err := r.writeOutcome(ctx, s, name, d.AttemptID, out, due)
				if err != nil && !errors.Is(err, errSettledElsewhere) {
					return ctrl.Result{}, err
				}
				if next > 0 {
					soonest(next)
				}
				continue
			}
			if !r.ownUnsentClaim(s.post, d) {
				if post.ClaimLive(d, now) {
					soonest(d.ClaimExpiresAt.Sub(now)) // its holder writes the outcome
					continue
				}
				if !r.resumeInterrupted(s, d, due, now) {
					continue
				}
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
		if next > 0 {
			soonest(next)
		}
	}
	return ctrl.Result{RequeueAfter: wait}, nil
}

// sendable is what one delivery is sent as, checked against its
// platform's rules.
type sendable struct {
	profile  *socialv1alpha1.SocialProfile
	platform socialv1alpha1.Platform
	pub      publish.Publisher
	prof     publish.Profile
	info     publish.Info
	rendered post.Rendered
}

// sendProblem is why a delivery cannot be sent as it stands: the user's to
// fix.
type sendProblem struct {
	platform        socialv1alpha1.Platform
	reason, message string
}

// prepare works out what to send to profile name for post p: the profile
// and its credentials (the Secret read with secrets), the publisher, and
// the text rendered for the platform. A problem the user must fix is a
// *sendProblem; an error is the API server's.
func (r *ScheduledPostReconciler) prepare(ctx context.Context, p *socialv1alpha1.ScheduledPost, name string, secrets client.Reader) (*sendable, *sendProblem, error) {
	profile := &socialv1alpha1.SocialProfile{}
	if err := r.Get(ctx, client.ObjectKey{Namespace: p.Namespace, Name: name}, profile); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, &sendProblem{reason: ReasonProfileNotFound, message: fmt.Sprintf("SocialProfile %s/%s does not exist; create it, or remove %s from spec.profiles", p.Namespace, name, name)}, nil
		}
		return nil, nil, err
	}
	platform := profile.Spec.Platform
	pub, err := r.Publishers.For(publish.Platform(platform))
	if err != nil {
		return nil, &sendProblem{platform: platform, reason: ReasonNoPublisher, message: fmt.Sprintf("Herald has no publisher for platform %s", platform)}, nil
	}
	info := pub.Info()
	var kit *socialv1alpha1.BrandKit
	if p.Spec.BrandKit != "" {
		kit = &socialv1alpha1.BrandKit{}
		if err := r.Get(ctx, client.ObjectKey{Namespace: p.Namespace, Name: p.Spec.BrandKit}, kit); err != nil {
			if apierrors.IsNotFound(err) {
				return nil, &sendProblem{platform: platform, reason: ReasonBrandKitNotFound, message: fmt.Sprintf("BrandKit %s/%s named by spec.brandKit does not exist; create it or clear spec.brandKit", p.Namespace, p.Spec.BrandKit)}, nil
			}
			return nil, nil, err
		}
	}
	rendered := post.Render(&p.Spec, profile, kit, info)
	if len(rendered.Problems) > 0 {
		return nil, &sendProblem{platform: platform, reason: rendered.Problems[0].Code, message: fmt.Sprintf("the text for profile %s cannot be published: %s Edit the post, or add a variant for profile %s or platform %s.",
			name, rendered.Message(), name, platform)}, nil
	}
	prof, err := loadProfile(ctx, secrets, profile, info)
	var cerr *credentialsError
	if errors.As(err, &cerr) {
		return nil, &sendProblem{platform: platform, reason: cerr.Reason, message: fmt.Sprintf("SocialProfile %s cannot publish: %s", name, cerr.Message)}, nil
	}
	if err != nil {
		return nil, nil, err
	}
	return &sendable{profile: profile, platform: platform, pub: pub, prof: prof, info: info, rendered: rendered}, nil, nil
}

// tooLate ends a delivery whose time to be sent has passed (maxLateness,
// counted as post.SendBy says): Missed, or Unknown when an earlier attempt
// may have been published.
func (r *ScheduledPostReconciler) tooLate(s *postState, d *socialv1alpha1.Delivery, due, now time.Time) {
	limit := post.MaxLateness(&s.post.Spec)
	if d.AttemptStartedAt == nil {
		s.end(d, socialv1alpha1.DeliveryMissed, ReasonMissedDeadline, ReasonMissedDeadline, fmt.Sprintf(
			"due at %s but not published until %s later, beyond maxLateness %s; stale content is not published. Set a new spec.scheduledAt to publish it then, or %s",
			due.UTC().Format(time.RFC3339), now.Sub(due).Round(time.Second), limit, r.retryHow()))
		return
	}
	msg := fmt.Sprintf("first sent at %s and still not published %s later, beyond maxLateness %s; stale content is not sent again (last error: %s)",
		d.AttemptStartedAt.UTC().Format(time.RFC3339), now.Sub(d.AttemptStartedAt.Time).Round(time.Second), limit, d.LastError)
	if d.Ambiguous {
		s.end(d, socialv1alpha1.DeliveryUnknown, ReasonDeliveryUnknown, ReasonDeliveryUnknown,
			msg+". An attempt got no clear answer, so it may be online: check the account, then "+r.retryHow())
		return
	}
	s.end(d, socialv1alpha1.DeliveryMissed, ReasonMissedDeadline, ReasonMissedDeadline, msg+". "+r.retryHow())
}

// resumeInterrupted decides what happens to an attempt whose claim lapsed
// without an outcome: its holder stopped mid-call. It reports whether to
// send again, with the same attempt id and so the same idempotency key,
// which only a platform that recognises a repeat, still within its window
// and maxLateness, allows; otherwise the delivery is Unknown and waits for
// a person.
func (r *ScheduledPostReconciler) resumeInterrupted(s *postState, d *socialv1alpha1.Delivery, due, now time.Time) bool {
	info := r.Publishers.Info(publish.Platform(d.Platform))
	var started time.Time
	if d.AttemptStartedAt != nil {
		started = d.AttemptStartedAt.Time
	}
	d.Ambiguous = true
	var why string
	switch {
	case d.AttemptID == "":
		why = "it carries no attempt id to send it again under"
	case !info.Resend.Safe(started, now):
		why = noResend(info)
	case now.After(post.SendBy(&s.post.Spec, d, due)):
		why = fmt.Sprintf("it is now later than its maxLateness %s", post.MaxLateness(&s.post.Spec))
	default:
		s.announce(announcement{reason: ReasonResumed, action: "Publish", retried: string(d.Platform), note: fmt.Sprintf(
			"profile %s: attempt %s was interrupted; sending it again with the same idempotency key, which %s recognises (%s)", d.Profile, d.AttemptID, info.Name(), info.Resend.By)})
		return true
	}
	s.end(d, socialv1alpha1.DeliveryUnknown, ReasonDeliveryUnknown, ReasonDeliveryUnknown, fmt.Sprintf(
		"attempt %s was interrupted after it was claimed, and its outcome was never written; %s. Check the account, then %s", d.AttemptID, why, r.retryHow()))
	return false
}

// noResend says why an attempt whose outcome is unknown is not sent again.
func noResend(info publish.Info) string {
	if info.Resend.By == "" {
		return fmt.Sprintf("%s has no idempotency key or other way to recognise a repeated post, so Herald cannot tell whether it was published and will not send it again on its own", info.Name())
	}
	return fmt.Sprintf("%s: %s, and that time has passed, so Herald will not send it again on its own", info.Name(), info.Resend.Describe())
}

// cannotSend ends a delivery that cannot be sent as it stands: Failed, or
// Unknown for one that may already be online (an interrupted attempt being
// resumed, an earlier attempt without a clear answer).
func (r *ScheduledPostReconciler) cannotSend(s *postState, d *socialv1alpha1.Delivery, platform socialv1alpha1.Platform, reason, msg string) {
	if platform != "" {
		d.Platform = platform
	}
	if post.MayBeOnline(d) {
		s.end(d, socialv1alpha1.DeliveryUnknown, ReasonDeliveryUnknown, ReasonDeliveryUnknown, fmt.Sprintf(
			"an earlier attempt may have been published, and it cannot be sent again (%s); check the account, then %s", msg, r.retryHow()))
		return
	}
	s.end(d, socialv1alpha1.DeliveryFailed, reason, reason, msg)
}

// attempt makes one call for one delivery: check it can be sent, take a
// rate-limit token, claim it in status, check this process still leads,
// call the platform, write the outcome. It returns how soon the delivery
// wants another look (0: none).
func (r *ScheduledPostReconciler) attempt(ctx context.Context, s *postState, name string, due time.Time) (time.Duration, error) {
	p := s.post
	d := post.Find(p.Status.Deliveries, name)
	ownUnsent := r.ownUnsentClaim(p, d)

	// 1. What to send and where; problems here are the user's to fix.
	send, problem, err := r.prepare(ctx, p, name, r.APIReader)
	if err != nil {
		return 0, err
	}
	if problem != nil {
		r.cannotSend(s, d, problem.platform, problem.reason, problem.message)
		return 0, nil
	}
	profile, platform, pub, prof, info, rendered := send.profile, send.platform, send.pub, send.prof, send.info, send.rendered

	// 2. The profile's rate limit: wait by requeueing, never in a worker.
	// A delivery takes one token, for its first call: a retry, or an
	// interrupted attempt sent again, is the same post, not another.
	now := r.Clock.Now()
	giveBack := func() {}
	if d.Attempts == 0 {
		wait, back := r.limiters.reserve(profile, post.PostsPerHour(profile, info), now)
		if wait > 0 {
			next := metav1.NewTime(ceilSecond(now.Add(wait)))
			msg := fmt.Sprintf("waiting for the rate limit of %d posts per hour on profile %s", post.PostsPerHour(profile, info), name)
			if d.LastError != msg { // announce the wait once, not on every look
				s.announce(announcement{reason: ReasonRateLimited, action: "Publish", note: fmt.Sprintf("profile %s: %s, until %s", name, msg, next.UTC().Format(time.RFC3339))})
			}
			d.NextAttemptAt, d.LastError = &next, msg
			return next.Sub(now), nil
		}
		giveBack = back
	}

	// 3. Once shutdown has begun, nothing new is claimed.
	if ctx.Err() != nil {
		giveBack()
		return 0, nil
	}

	// 4. Claim: record the attempt, its holder and its deadline before
	// calling the platform. Update carries the resourceVersion read, so of
	// two writers only one wins.
	before := d.DeepCopy()
	if d.AttemptID == "" {
		d.AttemptID = utilrand.String(10)
	}
	d.Phase, d.Platform, d.LastError, d.NextAttemptAt = socialv1alpha1.DeliveryPublishing, platform, "", nil
	if !ownUnsent {
		d.Attempts++
	}
	at := metav1.NewTime(now)
	d.LastAttemptAt = &at
	if d.AttemptStartedAt == nil {
		d.AttemptStartedAt = &at
	}
	expires := metav1.NewTime(now.Add(r.Timing.ClaimTTL))
	d.ClaimedBy, d.ClaimExpiresAt = r.Identity, &expires
	attemptID, key, progress := d.AttemptID, attemptKey(p, d), d.Progress
	// The claim's write is not cut short by shutdown either: a write the
	// API server made whose answer was lost would leave a claim nobody
	// sends under, which on a platform without idempotency ends Unknown.
	cctx, ccancel := context.WithTimeout(context.WithoutCancel(ctx), r.Timing.WriteTimeout)
	err = r.commit(cctx, s)
	ccancel()
	if err != nil {
		giveBack()
		// The write may have been made although its answer says otherwise:
		// remember that nothing was sent under this claim.
		r.attempts.claimed(key)
		if apierrors.IsConflict(err) {
			return 0, errClaimLost
		}
		return 0, err
	}
	r.attempts.claimed(key)

	// 5. Send only while this process leads, and while the claim holds
	// for the whole call and the outcome's write.
	now = r.Clock.Now()
	callFor := min(r.Timing.CallTimeout, expires.Sub(now)-r.Timing.WriteTimeout)
	if !s.shard.leads() || callFor <= 0 {
		r.attempts.forget(key)
		return 0, r.releaseClaim(ctx, s, name, attemptID, *before)
	}

	// 6. Call the platform, on a context shutdown does not cancel: a call
	// in flight finishes, within its bound, and its outcome is written.
	r.attempts.sending(key)
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), callFor)
	metrics.DeliveriesInFlight.Inc()
	callAt := r.Clock.Now()
	res, perr := pub.Publish(cctx, prof, publish.Post{
		Text: rendered.Text, Media: rendered.Media, IdempotencyKey: IdempotencyKey(p.UID, name, attemptID),
		Progress: progress,
		Record: func(rctx context.Context, progress string) error {
			return r.recordProgress(rctx, s, name, attemptID, progress)
		},
	})
	metrics.DeliveriesInFlight.Dec()
	cancel()
	out := &callOutcome{res: res, err: perr, callAt: callAt}
	r.attempts.answered(key, out)

	// 7. Write the outcome at once, even when shutdown has begun. If the
	// write fails, the outcome stays in memory and the next look writes it.
	wctx, wcancel := context.WithTimeout(context.WithoutCancel(ctx), r.Timing.WriteTimeout)
	defer wcancel()
	next, err := r.writeOutcome(wctx, s, name, attemptID, out, due)
	if errors.Is(err, errSettledElsewhere) {
		return 0, nil
	}
	return next, err
}

// releaseClaim undoes a claim this process made but will not send under
// (it no longer leads, or the claim would lapse during the call): the
// delivery goes back to what it was, so whoever leads next sends it as if
// it had never been claimed. If the claim was taken over meanwhile, the
// resourceVersion refuses the write and theirs stands.
func (r *ScheduledPostReconciler) releaseClaim(ctx context.Context, s *postState, name, attemptID string, before socialv1alpha1.Delivery) error {
	d := post.Find(s.post.Status.Deliveries, name)
	if d == nil || d.AttemptID != attemptID || d.ClaimedBy != r.Identity {
		return nil
	}
	*d = before
	s.announce(announcement{reason: ReasonNotLeading, action: "Publish", note: fmt.Sprintf(
		"profile %s: not sent, because this Herald process no longer holds the leader lease (or its claim would lapse during the call); the leader sends it", name)})
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.Timing.WriteTimeout)
	defer cancel()
	return client.IgnoreNotFound(r.commit(wctx, s))
}

// writeOutcome applies the outcome of the call to the delivery and writes
// it, under the claim (see underClaim). Once written, the outcome is
// forgotten.
func (r *ScheduledPostReconciler) writeOutcome(ctx context.Context, s *postState, name, attemptID string, out *callOutcome, due time.Time) (time.Duration, error) {
	var next time.Duration
	err := r.underClaim(ctx, s, name, attemptID, func(d *socialv1alpha1.Delivery) func() {
		key := attemptKey(s.post, d)
		next = r.outcome(s, d, out, due)
		return func() { r.attempts.forget(key) }
	})
	return next, err
}

// recordProgress writes what the platform holds for an attempt in flight
// (Post.Checkpoint) into its delivery, under the claim. The adapter goes
// on to publish only once it is written, so a resumed attempt always
// finds it.
func (r *ScheduledPostReconciler) recordProgress(ctx context.Context, s *postState, name, attemptID, progress string) error {
	return r.underClaim(ctx, s, name, attemptID, func(d *socialv1alpha1.Delivery) func() {
		d.Progress = progress
		return nil
	})
}

// underClaim changes a delivery this process holds the claim of, with
// change, and writes it. A conflict (someone edited the post meanwhile)
// must not lose the change: it reads the post again and applies it anew,
// as long as the delivery still holds this process's claim on the
// attempt; otherwise errSettledElsewhere. The function change returns, if
// any, runs once the write is made.
func (r *ScheduledPostReconciler) underClaim(ctx context.Context, s *postState, name, attemptID string, change func(*socialv1alpha1.Delivery) func()) error {
	fresh := false
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		if fresh {
			p := &socialv1alpha1.ScheduledPost{}
			if err := r.APIReader.Get(ctx, client.ObjectKeyFromObject(s.post), p); err != nil {
				return err
			}
			s.reset(p)
		}
		fresh = true
		d := post.Find(s.post.Status.Deliveries, name)
		if d == nil || d.AttemptID != attemptID || d.Phase != socialv1alpha1.DeliveryPublishing || d.ClaimedBy != r.Identity {
			return errSettledElsewhere
		}
		written := change(d)
		if err := r.commit(ctx, s); err != nil {
			return err
		}
		if written != nil {
			written()
		}
		return nil
	})
}

// outcome records what the platform answered and returns how soon to try
// again (0: the delivery is final). An attempt without a clear answer
// (Unknown) marks the delivery ambiguous: from then on it ends Published
// or Unknown, never Failed, since one of its calls may have landed.
func (r *ScheduledPostReconciler) outcome(s *postState, d *socialv1alpha1.Delivery, out *callOutcome, due time.Time) time.Duration {
	platform := string(d.Platform)
	info := r.Publishers.Info(publish.Platform(d.Platform))
	d.ClaimedBy, d.ClaimExpiresAt = "", nil
	err := out.err
	kind := publish.KindOf(err)
	if kind == publish.Unknown {
		d.Ambiguous = true
	}
	var firstSent time.Time
	if d.AttemptStartedAt != nil {
		firstSent = d.AttemptStartedAt.Time
	}
	now := r.Clock.Now()
	switch {
	case err == nil:
		d.Phase, d.ExternalID, d.URL, d.LastError, d.NextAttemptAt = socialv1alpha1.DeliveryPublished, out.res.ExternalID, out.res.URL, "", nil
		at := out.res.PublishedAt
		if at.IsZero() {
			at = out.callAt
		}
		t := metav1.NewTime(at)
		d.PublishedAt = &t
		where := out.res.URL
		if where == "" {
			where = out.res.ExternalID
		}
		s.announce(announcement{reason: ReasonPublished, action: "Publish", published: platform, lateness: out.callAt.Sub(due),
			note: fmt.Sprintf("profile %s: published on %s %s", d.Profile, platform, where)})
		return 0
	case kind == publish.Retryable || (kind == publish.Unknown && info.Resend.Safe(firstSent, now)):
		if d.Attempts >= r.Retry.MaxAttempts {
			r.giveUp(s, d, fmt.Sprintf("gave up after %d attempts; the last one failed: %v", d.Attempts, err))
			return 0
		}
		// The same attempt id is kept, so the retry carries the same
		// idempotency key: where the first call did land, it dedupes.
		next := metav1.NewTime(ceilSecond(out.callAt.Add(r.backoff(d.Attempts, publish.RetryAfter(err)))))
		d.Phase, d.NextAttemptAt, d.LastError = socialv1alpha1.DeliveryRetrying, &next, err.Error()
		s.announce(announcement{reason: ReasonRetryScheduled, action: "Publish", retried: platform, note: fmt.Sprintf(
			"profile %s: attempt %d failed (%v); trying again at %s", d.Profile, d.Attempts, err, next.UTC().Format(time.RFC3339))})
		// A call that outlasted its backoff is due again at once, and must
		// still be looked at: never 0, which would mean "final".
		return max(next.Sub(now), minRequeue)
	case kind == publish.Unknown:
		s.end(d, socialv1alpha1.DeliveryUnknown, ReasonDeliveryUnknown, ReasonDeliveryUnknown, fmt.Sprintf("%v. %s; check the account, then %s", err, noResend(info), r.retryHow()))
		return 0
	case d.Ambiguous:
		r.giveUp(s, d, fmt.Sprintf("the platform now refuses the post: %v", err))
		return 0
	}
	// Permanent, CredentialsRejected: nothing was published.
	s.end(d, socialv1alpha1.DeliveryFailed, ReasonPublishFailed, string(kind), err.Error())
	return 0
}

// giveUp ends a delivery that will not be tried again on its own: Failed,
// or Unknown when an earlier attempt got no clear answer and may be online.
func (r *ScheduledPostReconciler) giveUp(s *postState, d *socialv1alpha1.Delivery, msg string) {
	if d.Ambiguous {
		s.end(d, socialv1alpha1.DeliveryUnknown, ReasonDeliveryUnknown, ReasonDeliveryUnknown,
			msg+". An earlier attempt got no clear answer, so the post may be online: check the account, then "+r.retryHow())
		return
	}
	s.end(d, socialv1alpha1.DeliveryFailed, ReasonRetriesExhausted, ReasonRetriesExhausted, msg)
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

// callOutcome is what one platform call answered.
type callOutcome struct {
	res    publish.Result
	err    error
	callAt time.Time
}

// localAttempts remembers, for the claims this process made, whether it
// sent under them and what the platform answered, until the outcome is
// written. A write that fails (the API server unavailable for longer than
// the write's bound) must not lose a post that went out; and a claim whose
// write failed, although it was made, must not be taken for one sent.
type localAttempts struct {
	mu sync.Mutex
	m  map[string]*localAttempt
}

type localAttempt struct {
	sent    bool
	outcome *callOutcome
}

// attemptKey names one claim: the post, the profile, the attempt and the
// call it is for.
func attemptKey(p *socialv1alpha1.ScheduledPost, d *socialv1alpha1.Delivery) string {
	return string(p.UID) + "/" + d.Profile + "/" + d.AttemptID + "/" + strconv.Itoa(int(d.Attempts))
}

func (l *localAttempts) update(key string, f func(*localAttempt)) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.m == nil {
		l.m = map[string]*localAttempt{}
	}
	a := l.m[key]
	if a == nil {
		a = &localAttempt{}
		l.m[key] = a
	}
	f(a)
}

func (l *localAttempts) claimed(key string) { l.update(key, func(*localAttempt) {}) }
func (l *localAttempts) sending(key string) { l.update(key, func(a *localAttempt) { a.sent = true }) }
func (l *localAttempts) answered(key string, out *callOutcome) {
	l.update(key, func(a *localAttempt) { a.sent, a.outcome = true, out })
}

func (l *localAttempts) forget(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.m, key)
}

func (l *localAttempts) get(key string) (localAttempt, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if a, ok := l.m[key]; ok {
		return *a, true
	}
	return localAttempt{}, false
}

func (l *localAttempts) outcome(key string) *callOutcome {
	a, _ := l.get(key)
	return a.outcome
}

// ownUnsentClaim reports whether d is Publishing under a claim this process
// made and never sent under: it may send it now.
func (r *ScheduledPostReconciler) ownUnsentClaim(p *socialv1alpha1.ScheduledPost, d *socialv1alpha1.Delivery) bool {
	if d.Phase != socialv1alpha1.DeliveryPublishing || d.ClaimedBy != r.Identity || r.Identity == "" {
		return false
	}
	a, ok := r.attempts.get(attemptKey(p, d))
	return ok && !a.sent
}
