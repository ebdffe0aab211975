package controllers

import (
	"testing"
	"time"

	"github.com/onsi/gomega"
	"k8s.io/client-go/tools/events"

	socialv1alpha1 "github.com/herald-dev/herald/api/v1alpha1"
)

func TestBackoffDoublesHonoursRetryAfterAndCaps(t *testing.T) {
	g := gomega.NewWithT(t)
	r := &ScheduledPostReconciler{Retry: RetryPolicy{MaxAttempts: 5, Backoff: time.Second, MaxBackoff: 8 * time.Second}}
	for attempts, want := range map[int32]time.Duration{1: time.Second, 2: 2 * time.Second, 3: 4 * time.Second, 4: 8 * time.Second, 9: 8 * time.Second} {
		got := r.backoff(attempts, 0)
		g.Expect(got).To(gomega.BeNumerically(">=", want), "attempt %d", attempts)
		g.Expect(got).To(gomega.BeNumerically("<=", want+want/5), "attempt %d", attempts)
	}
	g.Expect(r.backoff(1, 30*time.Second)).To(gomega.BeNumerically(">=", 30*time.Second), "Retry-After wins when longer")
}

func TestCeilSecondNeverRoundsDown(t *testing.T) {
	g := gomega.NewWithT(t)
	base := time.Date(2026, 7, 1, 9, 0, 0, 0, time.UTC)
	g.Expect(ceilSecond(base)).To(gomega.Equal(base))
	g.Expect(ceilSecond(base.Add(time.Millisecond))).To(gomega.Equal(base.Add(time.Second)))
}

func TestIdempotencyKeyIsStablePerAttempt(t *testing.T) {
	g := gomega.NewWithT(t)
	k := IdempotencyKey("uid-1", "masto", "a1")
	g.Expect(IdempotencyKey("uid-1", "masto", "a1")).To(gomega.Equal(k))
	g.Expect(IdempotencyKey("uid-2", "masto", "a1")).NotTo(gomega.Equal(k), "a recreated post gets new keys")
	g.Expect(IdempotencyKey("uid-1", "other", "a1")).NotTo(gomega.Equal(k))
	g.Expect(IdempotencyKey("uid-1", "masto", "a2")).NotTo(gomega.Equal(k))
}

func TestSummarizePhases(t *testing.T) {
	d := func(phase socialv1alpha1.DeliveryPhase) socialv1alpha1.Delivery {
		return socialv1alpha1.Delivery{Profile: string(phase), Phase: phase}
	}
	for _, tc := range []struct {
		name       string
		draft      bool
		deliveries []socialv1alpha1.Delivery
		want       socialv1alpha1.PostPhase
	}{
		{"waiting", false, []socialv1alpha1.Delivery{d("Pending")}, socialv1alpha1.PostScheduled},
		{"draft", true, []socialv1alpha1.Delivery{d("Pending")}, socialv1alpha1.PostDraft},
		{"one retrying", false, []socialv1alpha1.Delivery{d("Published"), d("Retrying")}, socialv1alpha1.PostPublishing},
		{"all published", false, []socialv1alpha1.Delivery{d("Published")}, socialv1alpha1.PostPublished},
		{"one failed", false, []socialv1alpha1.Delivery{d("Published"), d("Failed")}, socialv1alpha1.PostPartiallyPublished},
		{"unknown needs a person first", false, []socialv1alpha1.Delivery{d("Published"), d("Unknown")}, socialv1alpha1.PostUnknown},
		{"missed", false, []socialv1alpha1.Delivery{d("Missed")}, socialv1alpha1.PostMissed},
		{"all failed", false, []socialv1alpha1.Delivery{d("Failed"), d("Missed")}, socialv1alpha1.PostFailed},
		{"canceled", false, []socialv1alpha1.Delivery{d("Canceled")}, socialv1alpha1.PostCanceled},
	} {
		t.Run(tc.name, func(t *testing.T) {
			post := &socialv1alpha1.ScheduledPost{Spec: socialv1alpha1.ScheduledPostSpec{Draft: tc.draft}}
			post.Status.Deliveries = tc.deliveries
			r := &ScheduledPostReconciler{Recorder: &events.FakeRecorder{}}
			r.summarize(&postState{post: post})
			gomega.NewWithT(t).Expect(post.Status.Phase).To(gomega.Equal(tc.want))
		})
	}
}
