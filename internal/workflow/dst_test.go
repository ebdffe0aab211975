package workflow

import (
	"testing"
	"time"
)

// TestScheduleAcrossDaylightSaving walks each schedule through both
// daylight-saving changes of Europe/Berlin and America/New_York and expects
// wall-clock times: a repeated time fires once, at its first occurrence; a
// time the clocks skip does not fire that day.
func TestScheduleAcrossDaylightSaving(t *testing.T) {
	cases := []struct {
		zone, schedule, from, to string
		want                     []string // UTC
	}{
		{"Europe/Berlin", "30 2 * * *", "2026-03-28T12:00:00Z", "2026-03-30T12:00:00Z",
			[]string{"2026-03-30T00:30:00Z"}}, // 02:30 does not happen on 29 March
		{"Europe/Berlin", "0 9 * * *", "2026-03-28T12:00:00Z", "2026-03-30T12:00:00Z",
			[]string{"2026-03-29T07:00:00Z", "2026-03-30T07:00:00Z"}}, // 09:00 CEST
		{"Europe/Berlin", "30 2 * * *", "2026-10-24T12:00:00Z", "2026-10-26T12:00:00Z",
			[]string{"2026-10-25T00:30:00Z", "2026-10-26T01:30:00Z"}}, // once on 25 October, at 02:30 CEST
		{"Europe/Berlin", "*/30 * * * *", "2026-10-24T23:45:00Z", "2026-10-25T02:10:00Z",
			[]string{"2026-10-25T00:00:00Z", "2026-10-25T00:30:00Z", "2026-10-25T02:00:00Z"}}, // 02:00 and 02:30 once, then 03:00 CET
		{"America/New_York", "30 2 * * *", "2026-03-07T00:00:00Z", "2026-03-09T12:00:00Z",
			[]string{"2026-03-07T07:30:00Z", "2026-03-09T06:30:00Z"}}, // none on 8 March
		{"America/New_York", "30 1 * * *", "2026-10-31T12:00:00Z", "2026-11-02T12:00:00Z",
			[]string{"2026-11-01T05:30:00Z", "2026-11-02T06:30:00Z"}}, // once, at 01:30 EDT
		{"America/New_York", "0 9 * * MON", "2026-10-26T00:00:00Z", "2026-11-10T00:00:00Z",
			[]string{"2026-10-26T13:00:00Z", "2026-11-02T14:00:00Z", "2026-11-09T14:00:00Z"}}, // 09:00 local, EDT then EST
	}
	for _, c := range cases {
		loc, err := time.LoadLocation(c.zone)
		if err != nil {
			t.Fatal(err)
		}
		sched, err := ParseSchedule(c.schedule)
		if err != nil {
			t.Fatal(err)
		}
		from, _ := time.Parse(time.RFC3339, c.from)
		to, _ := time.Parse(time.RFC3339, c.to)
		var got []string
		for n := sched.Next(from.In(loc)); !n.IsZero() && n.Before(to); n = sched.Next(n) {
			got = append(got, n.UTC().Format(time.RFC3339))
		}
		if len(got) != len(c.want) {
			t.Errorf("%s %q from %s: fired at %v, want %v", c.zone, c.schedule, c.from, got, c.want)
			continue
		}
		for i := range got {
			if got[i] != c.want[i] {
				t.Errorf("%s %q from %s: fired at %v, want %v", c.zone, c.schedule, c.from, got, c.want)
				break
			}
		}
	}
}

// TestLatestDueFiresARepeatedTimeOnce: a controller that wakes up just
// after the second 02:30 of the night clocks go back finds the run it
// already queued at the first, not a new one.
func TestLatestDueFiresARepeatedTimeOnce(t *testing.T) {
	loc, _ := time.LoadLocation("Europe/Berlin")
	sched, _ := ParseSchedule("30 2 * * *")
	first := time.Date(2026, 10, 25, 0, 30, 0, 0, time.UTC).In(loc)
	afterSecond := time.Date(2026, 10, 25, 1, 31, 0, 0, time.UTC).In(loc)
	if got := LatestDue(sched, first, afterSecond); !got.IsZero() {
		t.Errorf("LatestDue since the first 02:30 = %s, want none", got)
	}
}
