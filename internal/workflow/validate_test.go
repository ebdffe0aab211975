package workflow

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/robfig/cron/v3"

	socialv1alpha1 "github.com/herald-dev/herald/api/v1alpha1"
)

// countingSchedule counts the steps LatestDue takes.
type countingSchedule struct {
	cron.Schedule
	steps int
}

func (c *countingSchedule) Next(t time.Time) time.Time {
	c.steps++
	return c.Schedule.Next(t)
}

func TestLatestDue(t *testing.T) {
	now := time.Date(2026, 12, 1, 9, 30, 17, 0, time.UTC)
	cases := []struct {
		schedule string
		since    time.Time
		want     time.Time
		maxSteps int
	}{
		{"* * * * *", now.AddDate(-3, 0, 0), time.Date(2026, 12, 1, 9, 30, 0, 0, time.UTC), 10},
		{"0 9 * * MON", now.AddDate(-1, 0, 0), time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC), 200},
		{"0 9 * * MON", time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC), time.Time{}, 200}, // nothing since the last run
		{"0 0 1 1 *", time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC), time.Time{}, 200},    // the next is next year
		{"30 9 * * *", time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC), time.Date(2026, 12, 1, 9, 30, 0, 0, time.UTC), 50},
		{"0 0 30 2 *", now.AddDate(-20, 0, 0), time.Time{}, 200}, // never occurs
		{"* * * * *", now.Add(time.Hour), time.Time{}, 1},        // since after now
	}
	for _, c := range cases {
		sched, err := ParseSchedule(c.schedule)
		if err != nil {
			t.Fatal(err)
		}
		counted := &countingSchedule{Schedule: sched}
		if got := LatestDue(counted, c.since, now); !got.Equal(c.want) {
			t.Errorf("LatestDue(%q, since %s) = %s, want %s", c.schedule, c.since, got, c.want)
		}
		if counted.steps > c.maxSteps {
			t.Errorf("LatestDue(%q, since %s) took %d steps, want at most %d", c.schedule, c.since, counted.steps, c.maxSteps)
		}
	}
}

func TestValidateRefusesAScheduleThatNeverOccurs(t *testing.T) {
	spec := &socialv1alpha1.WorkflowSpec{Trigger: socialv1alpha1.WorkflowTrigger{Type: socialv1alpha1.TriggerSchedule, Schedule: "0 0 30 2 *"}}
	errs := Validate(spec, nil)
	if len(errs) != 1 || !strings.Contains(errs[0], "names no time that occurs, such as 30 February") {
		t.Errorf("Validate = %q, want one error saying the schedule never occurs", errs)
	}
	spec.Trigger.Schedule = "0 0 29 2 *" // every fourth year is still a schedule
	if errs := Validate(spec, nil); len(errs) != 0 {
		t.Errorf("Validate(29 February) = %q, want no error", errs)
	}
}

func TestMissedSinceStopsPastTheBound(t *testing.T) {
	sched, _ := ParseSchedule("* * * * *")
	since := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	latest := since.Add(10 * time.Minute)
	if got := MissedSince(sched, since, latest); got != 9 {
		t.Errorf("MissedSince over 10 minutes of a per-minute schedule = %d, want 9 (the tenth is the one that runs)", got)
	}
	counted := &countingSchedule{Schedule: sched}
	if got := MissedSince(counted, since, since.AddDate(1, 0, 0)); got != MaxMissed+1 {
		t.Errorf("MissedSince over a year = %d, want %d (stopped past the bound)", got, MaxMissed+1)
	}
	if counted.steps > MaxMissed+2 {
		t.Errorf("MissedSince over a year took %d steps", counted.steps)
	}
}

// A post template whose variants no post could hold makes the workflow
// invalid, so no run gets as far as the API server refusing its posts.
func TestValidateRefusesVariantsNoPostHolds(t *testing.T) {
	spec := &socialv1alpha1.WorkflowSpec{Trigger: socialv1alpha1.WorkflowTrigger{Type: socialv1alpha1.TriggerManual},
		Posts: []socialv1alpha1.PostTemplate{
			{Text: "fine", Profiles: []string{"a"}, Variants: []socialv1alpha1.PostVariant{{Profile: "a", Text: "a"}, {Platform: "x", Text: "x"}}},
			{Text: "twice", Profiles: []string{"a"}, Variants: []socialv1alpha1.PostVariant{{Profile: "a", Text: "1"}, {Profile: "a", Text: "2"}}},
			{Text: "elsewhere", Profiles: []string{"a"}, Variants: []socialv1alpha1.PostVariant{{Profile: "b", Text: "b"}}},
		}}
	want := []string{
		`posts[1]: variants[1] is a second variant for profile "a", after variants[0]; keep one`,
		`posts[2]: variants[0] is for profile "b", which is not one of the post's profiles; add the profile or remove the variant`,
	}
	if errs := Validate(spec, []string{"a", "b"}); !slices.Equal(errs, want) {
		t.Errorf("Validate = %q, want %q", errs, want)
	}
}
