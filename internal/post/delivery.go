package post

import (
	"fmt"
	"slices"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	socialv1alpha1 "github.com/herald-dev/herald/api/v1alpha1"
)

// DefaultMaxLateness applies when spec.maxLateness is unset (the API server
// defaults it, so only for objects written before that default).
const DefaultMaxLateness = 15 * time.Minute

// Due returns when the post publishes: spec.scheduledAt. The API server
// checks its form, so an error means an object written before that check;
// its message says how to fix it.
func Due(spec *socialv1alpha1.ScheduledPostSpec) (time.Time, error) {
	due, err := time.Parse(time.RFC3339, spec.ScheduledAt)
	if err != nil {
		return time.Time{}, fmt.Errorf("spec.scheduledAt %q is not an RFC 3339 time with an offset, such as 2026-07-01T09:00:00Z; fix it to schedule the post", spec.ScheduledAt)
	}
	return due, nil
}

// MaxLateness is how late past its due time a delivery may still be sent.
func MaxLateness(spec *socialv1alpha1.ScheduledPostSpec) time.Duration {
	if spec.MaxLateness != nil && spec.MaxLateness.Duration > 0 {
		return spec.MaxLateness.Duration
	}
	return DefaultMaxLateness
}

// SendBy is the latest time d may still be sent. Lateness counts only what
// Herald did not choose: from the post's due time, or from when Herald's
// own rate limit (or a person's retry) set it to go (nextAttemptAt of a
// delivery not yet sent), or, for an attempt already sent, from its first
// send, so its retries have maxLateness after it.
func SendBy(spec *socialv1alpha1.ScheduledPostSpec, d *socialv1alpha1.Delivery, due time.Time) time.Time {
	from := due
	switch {
	case d.AttemptStartedAt != nil:
		from = d.AttemptStartedAt.Time
	case d.NextAttemptAt != nil && d.NextAttemptAt.After(due):
		from = d.NextAttemptAt.Time
	}
	return from.Add(MaxLateness(spec))
}

// Started reports whether a delivery got as far as a platform call, or may
// have: from then on what it sent is fixed, edits do not change it, and a
// new time does not make it due again.
func Started(d *socialv1alpha1.Delivery) bool {
	switch d.Phase {
	case socialv1alpha1.DeliveryPublishing, socialv1alpha1.DeliveryPublished, socialv1alpha1.DeliveryUnknown:
		return true
	}
	return d.Attempts > 0 || d.Ambiguous
}

// AnyStarted reports whether any delivery of p started: the post's content
// is then fixed for those deliveries (a rate-limited post waiting for its
// turn has not started).
func AnyStarted(p *socialv1alpha1.ScheduledPost) bool {
	return slices.ContainsFunc(p.Status.Deliveries, func(d socialv1alpha1.Delivery) bool { return Started(&d) })
}

// Find returns p's delivery to profile, or nil.
func Find(ds []socialv1alpha1.Delivery, profile string) *socialv1alpha1.Delivery {
	for i := range ds {
		if ds[i].Profile == profile {
			return &ds[i]
		}
	}
	return nil
}

// ClaimLive reports whether d is Publishing under a claim that has not
// lapsed at now: its holder may be calling the platform, and nobody else
// may touch it until it writes the outcome or the claim lapses.
func ClaimLive(d *socialv1alpha1.Delivery, now time.Time) bool {
	return d.Phase == socialv1alpha1.DeliveryPublishing && d.ClaimExpiresAt != nil && now.Before(d.ClaimExpiresAt.Time)
}

// MayBeOnline reports whether d's post may be on the platform although
// Herald has no record of it there: a claim in flight or lapsed, an
// Unknown outcome, or an ambiguous attempt still retrying.
func MayBeOnline(d *socialv1alpha1.Delivery) bool {
	switch d.Phase {
	case socialv1alpha1.DeliveryPublishing, socialv1alpha1.DeliveryUnknown:
		return true
	}
	return d.Ambiguous && d.Phase != socialv1alpha1.DeliveryPublished
}

// Note is a transition ApplySpec made that a person should hear of; the
// reconciler turns each into an event once the status that holds it is
// written.
type Note struct {
	Profile string
	Warning bool
	Reason  string
	Message string
}

// Reasons of the notes ApplySpec makes.
const (
	ReasonDueAgain        = "DueAgain"
	ReasonDeliveryUnknown = "DeliveryUnknown"
)

// ApplySpec brings p's deliveries in line with what its spec alone decides,
// at now. The reconciler applies it before anything else; the tools apply
// it to a copy to describe a post as it was just written.
//
//   - One delivery per profile: until publishing starts the list follows
//     spec.profiles exactly; afterwards an added profile gets a new
//     delivery, and a removed one is canceled unless it started, so nothing
//     sent is forgotten.
//   - A spec that changed since the status was written (a new scheduledAt,
//     canceled: false, a corrected text) makes due again every delivery
//     that never started and ended Missed, Canceled or Failed.
//   - A canceled post's deliveries not yet made are Canceled. A claim in
//     flight cannot be recalled: its holder writes the outcome; a claim
//     that lapsed may have been sent, so it becomes Unknown.
func ApplySpec(p *socialv1alpha1.ScheduledPost, now time.Time) []Note {
	st := &p.Status
	started := AnyStarted(p)
	var out []socialv1alpha1.Delivery
	for _, name := range p.Spec.Profiles {
		if d := Find(st.Deliveries, name); d != nil {
			out = append(out, *d)
		} else {
			out = append(out, socialv1alpha1.Delivery{Profile: name, Phase: socialv1alpha1.DeliveryPending})
		}
	}
	var notes []Note
	if started {
		for _, d := range st.Deliveries {
			if slices.Contains(p.Spec.Profiles, d.Profile) {
				continue
			}
			if n := stop(&d, now, "its profile was removed from spec.profiles"); n != nil {
				notes = append(notes, *n)
			}
			out = append(out, d)
		}
	}
	st.Deliveries = out

	if p.Generation != st.ObservedGeneration && !p.Spec.Canceled && !p.Spec.Draft {
		for i := range st.Deliveries {
			d := &st.Deliveries[i]
			if Started(d) || !slices.Contains(p.Spec.Profiles, d.Profile) {
				continue
			}
			switch d.Phase {
			case socialv1alpha1.DeliveryMissed, socialv1alpha1.DeliveryCanceled, socialv1alpha1.DeliveryFailed:
				was := d.Phase
				*d = socialv1alpha1.Delivery{Profile: d.Profile, Platform: d.Platform, Phase: socialv1alpha1.DeliveryPending}
				notes = append(notes, Note{Profile: d.Profile, Reason: ReasonDueAgain,
					Message: fmt.Sprintf("was %s and never sent; the changed spec makes it due again at %s", was, p.Spec.ScheduledAt)})
			}
		}
	}
	if p.Spec.Canceled {
		notes = append(notes, cancel(p, now)...)
	}
	return notes
}

// cancel stops every delivery of p not yet made.
func cancel(p *socialv1alpha1.ScheduledPost, now time.Time) []Note {
	var notes []Note
	for i := range p.Status.Deliveries {
		if n := stop(&p.Status.Deliveries[i], now, "canceled"); n != nil {
			notes = append(notes, *n)
		}
	}
	return notes
}

// stop ends a delivery not yet made, for why ("canceled"). One that may
// have been sent (an ambiguous attempt, a claim that lapsed) becomes
// Unknown with a note; a claim in flight is left to its holder.
func stop(d *socialv1alpha1.Delivery, now time.Time, why string) *Note {
	switch {
	case d.Phase == socialv1alpha1.DeliveryPending, d.Phase == socialv1alpha1.DeliveryRetrying && !d.Ambiguous:
		d.Phase, d.NextAttemptAt, d.LastError = socialv1alpha1.DeliveryCanceled, nil, why+" before it was published"
		return nil
	case d.Phase == socialv1alpha1.DeliveryRetrying:
		d.Phase, d.NextAttemptAt = socialv1alpha1.DeliveryUnknown, nil
		d.LastError = why + " while retrying an attempt that got no clear answer; it may or may not have been published, check the platform"
	case d.Phase == socialv1alpha1.DeliveryPublishing && !ClaimLive(d, now):
		d.Phase, d.ClaimedBy, d.ClaimExpiresAt = socialv1alpha1.DeliveryUnknown, "", nil
		d.LastError = why + " after an attempt was sent whose outcome was never written; it may or may not have been published, check the platform"
	default:
		return nil
	}
	return &Note{Profile: d.Profile, Warning: true, Reason: ReasonDeliveryUnknown, Message: d.LastError}
}

// Phase sums up p's deliveries, as the status and the tools report it.
func Phase(p *socialv1alpha1.ScheduledPost) socialv1alpha1.PostPhase {
	count := map[socialv1alpha1.DeliveryPhase]int{}
	waiting := 0 // due, but held back by Herald's rate limit
	for _, d := range p.Status.Deliveries {
		count[d.Phase]++
		if d.Phase == socialv1alpha1.DeliveryPending && d.NextAttemptAt != nil {
			waiting++
		}
	}
	n := len(p.Status.Deliveries)
	inFlight := count[socialv1alpha1.DeliveryPublishing] + count[socialv1alpha1.DeliveryRetrying]
	pending := count[socialv1alpha1.DeliveryPending]
	published := count[socialv1alpha1.DeliveryPublished]
	switch {
	case p.Spec.Draft && !AnyStarted(p):
		return socialv1alpha1.PostDraft
	case n == 0 && p.Spec.Canceled:
		return socialv1alpha1.PostCanceled
	case pending == n && waiting == 0:
		if p.Spec.Canceled {
			return socialv1alpha1.PostCanceled
		}
		if awaitingApproval(p) {
			return socialv1alpha1.PostAwaitingApproval
		}
		return socialv1alpha1.PostScheduled
	case inFlight > 0 || pending > 0:
		return socialv1alpha1.PostPublishing
	case count[socialv1alpha1.DeliveryUnknown] > 0:
		return socialv1alpha1.PostUnknown
	case published == n:
		return socialv1alpha1.PostPublished
	case published > 0:
		return socialv1alpha1.PostPartiallyPublished
	case count[socialv1alpha1.DeliveryCanceled] == n:
		return socialv1alpha1.PostCanceled
	case count[socialv1alpha1.DeliveryMissed]+count[socialv1alpha1.DeliveryCanceled] == n:
		return socialv1alpha1.PostMissed
	}
	return socialv1alpha1.PostFailed
}

// Done reports whether a post in this phase is finished with nothing
// left for a person to act on: published everywhere, failed, missed or
// canceled. Partly published and Unknown posts are not done: a person may
// retry them, and needs their record to.
func Done(phase socialv1alpha1.PostPhase) bool {
	switch phase {
	case socialv1alpha1.PostPublished, socialv1alpha1.PostFailed, socialv1alpha1.PostMissed, socialv1alpha1.PostCanceled:
		return true
	}
	return false
}

// AsWritten returns a copy of p whose status says what the reconciler will
// make of p's spec as it now stands (ApplySpec at now), so a tool that has
// just written a post describes the post as written, not the status the
// reconciler wrote for the previous spec.
func AsWritten(p *socialv1alpha1.ScheduledPost, now time.Time) *socialv1alpha1.ScheduledPost {
	out := p.DeepCopy()
	ApplySpec(out, now)
	out.Status.Phase = Phase(out)
	return out
}

// PhaseOf is the phase the tools report for p: the stored one when the
// status describes the spec as it now stands, otherwise the phase the
// reconciler will give the spec as just written (AsWritten).
func PhaseOf(p *socialv1alpha1.ScheduledPost, now time.Time) socialv1alpha1.PostPhase {
	if p.Status.Phase != "" && p.Status.ObservedGeneration == p.Generation {
		return p.Status.Phase
	}
	return AsWritten(p, now).Status.Phase
}

// RetryProfiles reads the profiles a retry request names
// (AnnotationRetryProfiles), or nil when it names none.
func RetryProfiles(p *socialv1alpha1.ScheduledPost) []string {
	var out []string
	for _, name := range strings.Split(p.Annotations[socialv1alpha1.AnnotationRetryProfiles], ",") {
		if name = strings.TrimSpace(name); name != "" && !slices.Contains(out, name) {
			out = append(out, name)
		}
	}
	return out
}

// Retryable says whether a retry may take d, and why not. A retry without
// names takes only Failed deliveries. A Missed one never reached the
// platform, but its time passed: sending it late is a person's choice, made
// by naming it (or by giving the post a new time). An Unknown one may be
// online, so it too is retried only when named (named), the account checked
// first.
func Retryable(d *socialv1alpha1.Delivery, named bool) (bool, string) {
	switch d.Phase {
	case socialv1alpha1.DeliveryFailed:
		return true, ""
	case socialv1alpha1.DeliveryMissed:
		if named {
			return true, ""
		}
		return false, "it was Missed and never sent; name it to send it now, or give the post a new scheduledAt"
	case socialv1alpha1.DeliveryUnknown:
		if named {
			return true, ""
		}
		return false, "it is Unknown and may already be online; name it to retry it once the account was checked"
	case socialv1alpha1.DeliveryPublished:
		return false, "it is published"
	case socialv1alpha1.DeliveryCanceled:
		return false, "it was canceled"
	}
	return false, fmt.Sprintf("it is %s", d.Phase)
}

// Retry makes d due now as a new attempt, with a new idempotency key: a
// person decided to send it again.
func Retry(d *socialv1alpha1.Delivery, now time.Time) {
	at := metav1.NewTime(now)
	*d = socialv1alpha1.Delivery{Profile: d.Profile, Platform: d.Platform, Phase: socialv1alpha1.DeliveryRetrying, NextAttemptAt: &at}
}

// Settled reports whether the reconciler has nothing left to do for p as it
// stands: its status was written for its current generation, every delivery
// has ended, no retry request is unanswered and p is not being deleted. A
// restart need not look at a settled post again (a large install holds far
// more of them than posts in progress); an edit, a retry request or a
// deletion brings it back.
func Settled(p *socialv1alpha1.ScheduledPost) bool {
	if p.DeletionTimestamp != nil || p.Status.ObservedGeneration != p.Generation || len(p.Status.Deliveries) == 0 ||
		p.Annotations[socialv1alpha1.AnnotationRetryRequestedAt] != p.Status.LastHandledRetry {
		return false
	}
	for i := range p.Status.Deliveries {
		switch p.Status.Deliveries[i].Phase {
		case socialv1alpha1.DeliveryPublished, socialv1alpha1.DeliveryFailed, socialv1alpha1.DeliveryUnknown,
			socialv1alpha1.DeliveryMissed, socialv1alpha1.DeliveryCanceled:
		default:
			return false
		}
	}
	return true
}
