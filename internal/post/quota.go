package post

import (
	"fmt"
	"time"

	socialv1alpha1 "github.com/herald-dev/herald/api/v1alpha1"
)

// The limits that apply when a Workspace's spec.limits do not say.
const (
	DefaultMaxScheduledPosts = 1000
	DefaultMaxDrafts         = 1000
)

// Holding is what a post takes of its workspace's limits.
type Holding string

// What a post may hold.
const (
	// HoldsNothing: published, publishing, finished or canceled.
	HoldsNothing Holding = ""
	// HoldsDraft: a draft that never started publishing.
	HoldsDraft Holding = "draft"
	// HoldsWaiting: a post that will publish and has not started.
	HoldsWaiting Holding = "waiting"
)

// HoldingOf says what p takes of its workspace's limits.
func HoldingOf(p *socialv1alpha1.ScheduledPost) Holding {
	switch {
	case AnyStarted(p):
		return HoldsNothing
	case p.Spec.Draft:
		return HoldsDraft
	case p.Spec.Canceled:
		return HoldsNothing
	}
	for _, d := range p.Status.Deliveries {
		if d.Phase != socialv1alpha1.DeliveryPending {
			return HoldsNothing // it ended before starting: failed, missed or canceled
		}
	}
	return HoldsWaiting
}

// Quota is a workspace's limits on posts with their defaults applied; a
// negative limit is no limit.
type Quota struct {
	Workspace                     string
	MaxWaiting, MaxDrafts, PerDay int
	// Location is the workspace's time zone, whose calendar days
	// maxPostsPerDay counts.
	Location *time.Location
}

// QuotaOf returns ws's limits. A namespace no Workspace owns has none.
func QuotaOf(ws *socialv1alpha1.Workspace) Quota {
	if ws == nil {
		return Quota{MaxWaiting: -1, MaxDrafts: -1, PerDay: -1, Location: time.UTC}
	}
	q := Quota{Workspace: ws.Name, MaxWaiting: DefaultMaxScheduledPosts, MaxDrafts: DefaultMaxDrafts, PerDay: -1, Location: time.UTC}
	if loc, err := time.LoadLocation(ws.Spec.TimeZone); err == nil && ws.Spec.TimeZone != "" {
		q.Location = loc
	}
	if l := ws.Spec.Limits; l != nil {
		if l.MaxScheduledPosts != nil {
			q.MaxWaiting = int(*l.MaxScheduledPosts)
		}
		if l.MaxDrafts != nil {
			q.MaxDrafts = int(*l.MaxDrafts)
		}
		if l.MaxPostsPerDay != nil {
			q.PerDay = int(*l.MaxPostsPerDay)
		}
	}
	return q
}

// Day is the calendar day t falls on in the workspace's time zone.
func (q Quota) Day(t time.Time) string { return t.In(q.Location).Format(time.DateOnly) }

// Tally is what a workspace's posts hold of its limits.
type Tally struct {
	Drafts, Waiting int
	// PerDay counts, by day, the posts that started publishing on it and
	// the waiting posts due on it.
	PerDay map[string]int
}

// Count adds p to the tally.
func (q Quota) Count(t *Tally, p *socialv1alpha1.ScheduledPost) {
	if t.PerDay == nil {
		t.PerDay = map[string]int{}
	}
	switch HoldingOf(p) {
	case HoldsDraft:
		t.Drafts++
		return
	case HoldsWaiting:
		t.Waiting++
		if due, err := Due(&p.Spec); err == nil {
			t.PerDay[q.Day(due)]++
		}
		return
	}
	if started, ok := StartedAt(p); ok {
		t.PerDay[q.Day(started)]++
	}
}

// StartedAt is when p's first delivery started publishing.
func StartedAt(p *socialv1alpha1.ScheduledPost) (time.Time, bool) {
	var first time.Time
	for _, d := range p.Status.Deliveries {
		at := d.AttemptStartedAt
		if at == nil {
			at = d.PublishedAt
		}
		if at != nil && (first.IsZero() || at.Time.Before(first)) {
			first = at.Time
		}
	}
	return first, !first.IsZero()
}

// LimitError says which of a workspace's limits a post would pass.
type LimitError struct {
	// Limit is the spec.limits field, such as maxDrafts.
	Limit   string
	Message string
}

func (e *LimitError) Error() string { return e.Message }

// Admit checks that p, counted as it now stands, fits beside the posts in
// t (which must not include p). day is the day it would publish on, for a
// waiting post; empty means its due day.
func (q Quota) Admit(t Tally, p *socialv1alpha1.ScheduledPost, day string) error {
	ws := q.Workspace
	switch HoldingOf(p) {
	case HoldsDraft:
		if q.MaxDrafts >= 0 && t.Drafts >= q.MaxDrafts {
			return &LimitError{Limit: "maxDrafts", Message: fmt.Sprintf(
				"workspace %s already holds %s, the most its spec.limits.maxDrafts allows; publish or delete some drafts, or have an owner raise the limit",
				ws, plural(t.Drafts, "draft"))}
		}
	case HoldsWaiting:
		if err := q.AdmitWaiting(t); err != nil {
			return err
		}
		if day == "" {
			due, err := Due(&p.Spec)
			if err != nil {
				return nil // the due time's own error is reported where it is read
			}
			day = q.Day(due)
		}
		return q.AdmitDay(t, day)
	}
	return nil
}

// AdmitWaiting checks that one more post may wait for publishing.
func (q Quota) AdmitWaiting(t Tally) error {
	if q.MaxWaiting >= 0 && t.Waiting >= q.MaxWaiting {
		return &LimitError{Limit: "maxScheduledPosts", Message: fmt.Sprintf(
			"workspace %s already has %s waiting to publish, the most its spec.limits.maxScheduledPosts allows; delete some or wait until they are published, or have an owner raise the limit",
			q.Workspace, plural(t.Waiting, "post"))}
	}
	return nil
}

// AdmitDay checks that one more post may publish on day.
func (q Quota) AdmitDay(t Tally, day string) error {
	if q.PerDay >= 0 && t.PerDay[day] >= q.PerDay {
		return &LimitError{Limit: "maxPostsPerDay", Message: fmt.Sprintf(
			"workspace %s already publishes %s on %s (%s), the most its spec.limits.maxPostsPerDay allows; choose another day, or have an owner raise the limit",
			q.Workspace, plural(t.PerDay[day], "post"), day, q.Location)}
	}
	return nil
}

func plural(n int, one string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %ss", n, one)
}
