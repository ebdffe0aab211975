package post

import (
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	socialv1alpha1 "github.com/herald-dev/herald/api/v1alpha1"
)

func scheduled(name, at string) *socialv1alpha1.ScheduledPost {
	return &socialv1alpha1.ScheduledPost{ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec:   socialv1alpha1.ScheduledPostSpec{Text: "hi", Profiles: []string{"a"}, ScheduledAt: at},
		Status: socialv1alpha1.ScheduledPostStatus{Deliveries: []socialv1alpha1.Delivery{{Profile: "a", Phase: socialv1alpha1.DeliveryPending}}}}
}

func TestHoldingOf(t *testing.T) {
	draft := &socialv1alpha1.ScheduledPost{Spec: socialv1alpha1.ScheduledPostSpec{Text: "hi", Draft: true}}
	waiting := scheduled("w", "2026-12-01T09:00:00Z")
	started := scheduled("s", "2026-12-01T09:00:00Z")
	started.Status.Deliveries[0].Phase, started.Status.Deliveries[0].Attempts = socialv1alpha1.DeliveryPublished, 1
	failed := scheduled("f", "2026-12-01T09:00:00Z")
	failed.Status.Deliveries[0].Phase = socialv1alpha1.DeliveryFailed
	canceled := scheduled("c", "2026-12-01T09:00:00Z")
	canceled.Spec.Canceled = true
	for _, c := range []struct {
		p    *socialv1alpha1.ScheduledPost
		want Holding
	}{{draft, HoldsDraft}, {waiting, HoldsWaiting}, {started, HoldsNothing}, {failed, HoldsNothing}, {canceled, HoldsNothing}} {
		if got := HoldingOf(c.p); got != c.want {
			t.Errorf("HoldingOf(%s) = %q, want %q", c.p.Name, got, c.want)
		}
	}
}

func TestQuotaAdmit(t *testing.T) {
	if q := QuotaOf(&socialv1alpha1.Workspace{}); q.MaxWaiting != DefaultMaxScheduledPosts || q.MaxDrafts != DefaultMaxDrafts || q.PerDay != -1 {
		t.Errorf("defaults = %+v", q)
	}
	if q := QuotaOf(nil); q.MaxWaiting >= 0 || q.MaxDrafts >= 0 || q.PerDay >= 0 {
		t.Errorf("a namespace without a workspace has limits: %+v", q)
	}
	ws := &socialv1alpha1.Workspace{ObjectMeta: metav1.ObjectMeta{Name: "acme"}, Spec: socialv1alpha1.WorkspaceSpec{TimeZone: "Europe/Berlin",
		Limits: &socialv1alpha1.WorkspaceLimits{MaxScheduledPosts: ptr.To[int32](2), MaxDrafts: ptr.To[int32](1), MaxPostsPerDay: ptr.To[int32](1)}}}
	q := QuotaOf(ws)

	var tally Tally
	// 23:30 UTC on 30 November is 00:30 on 1 December in Berlin.
	q.Count(&tally, scheduled("late", "2026-11-30T23:30:00Z"))
	q.Count(&tally, &socialv1alpha1.ScheduledPost{Spec: socialv1alpha1.ScheduledPostSpec{Text: "d", Draft: true}})
	if tally.Waiting != 1 || tally.Drafts != 1 || tally.PerDay["2026-12-01"] != 1 {
		t.Fatalf("tally = %+v", tally)
	}

	err := q.Admit(tally, &socialv1alpha1.ScheduledPost{Spec: socialv1alpha1.ScheduledPostSpec{Text: "d2", Draft: true}}, "")
	if err == nil || err.(*LimitError).Limit != "maxDrafts" || !strings.Contains(err.Error(), "workspace acme already holds 1 draft, the most its spec.limits.maxDrafts allows") {
		t.Errorf("a second draft: %v", err)
	}
	err = q.Admit(tally, scheduled("same-day", "2026-12-01T20:00:00Z"), "")
	if err == nil || err.(*LimitError).Limit != "maxPostsPerDay" || !strings.Contains(err.Error(), "already publishes 1 post on 2026-12-01 (Europe/Berlin)") {
		t.Errorf("a second post on the same Berlin day: %v", err)
	}
	if err := q.Admit(tally, scheduled("next-day", "2026-12-01T23:30:00Z"), ""); err != nil {
		t.Errorf("a post on the next Berlin day: %v", err)
	}
	q.Count(&tally, scheduled("next-day", "2026-12-01T23:30:00Z"))
	err = q.Admit(tally, scheduled("third", "2026-12-05T09:00:00Z"), "")
	if err == nil || err.(*LimitError).Limit != "maxScheduledPosts" || !strings.Contains(err.Error(), "already has 2 posts waiting to publish") {
		t.Errorf("a third waiting post: %v", err)
	}

	// A post that started counts on the day it started.
	started := scheduled("started", "2026-12-03T09:00:00Z")
	at := metav1.NewTime(time.Date(2026, 12, 3, 8, 0, 0, 0, time.UTC))
	started.Status.Deliveries[0].Phase, started.Status.Deliveries[0].Attempts, started.Status.Deliveries[0].AttemptStartedAt = socialv1alpha1.DeliveryPublished, 1, &at
	q.Count(&tally, started)
	if tally.PerDay["2026-12-03"] != 1 || tally.Waiting != 2 {
		t.Errorf("tally after a started post = %+v", tally)
	}
}
