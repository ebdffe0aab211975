package recurrence

import (
	"slices"
	"strings"
	"testing"
	"time"

	socialv1alpha1 "github.com/herald-dev/herald/api/v1alpha1"
)

func mustZone(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

func mustParse(t *testing.T, r socialv1alpha1.Recurrence) *Rule {
	t.Helper()
	rule, errs := Parse(&r, "")
	if len(errs) > 0 {
		t.Fatalf("Parse(%+v): %v", r, errs)
	}
	return rule
}

func format(ts []time.Time) string {
	var out []string
	for _, t := range ts {
		out = append(out, t.Format(time.RFC3339))
	}
	return strings.Join(out, " ")
}

func TestWallClockAcrossDaylightSaving(t *testing.T) {
	berlin, newYork := mustZone(t, "Europe/Berlin"), mustZone(t, "America/New_York")
	cases := []struct {
		name string
		got  time.Time
		want string
	}{
		{"Berlin, an ordinary day", WallClock(2026, 3, 28, 2, 30, berlin), "2026-03-28T02:30:00+01:00"},
		{"Berlin, the skipped hour lands as far after the change", WallClock(2026, 3, 29, 2, 30, berlin), "2026-03-29T03:30:00+02:00"},
		{"Berlin, the repeated hour is its first time", WallClock(2026, 10, 25, 2, 30, berlin), "2026-10-25T02:30:00+02:00"},
		{"New York, the skipped hour", WallClock(2026, 3, 8, 2, 30, newYork), "2026-03-08T03:30:00-04:00"},
		{"New York, the repeated hour is its first time", WallClock(2026, 11, 1, 1, 30, newYork), "2026-11-01T01:30:00-04:00"},
		{"New York, after the change", WallClock(2026, 11, 1, 2, 30, newYork), "2026-11-01T02:30:00-05:00"},
	}
	for _, c := range cases {
		if got := c.got.Format(time.RFC3339); got != c.want {
			t.Errorf("%s: %s, want %s", c.name, got, c.want)
		}
	}
}

func TestDailyAcrossBothChanges(t *testing.T) {
	for _, c := range []struct {
		zone, start, at string
		want            []string
	}{
		{"Europe/Berlin", "2026-03-28T00:00:00+01:00", "02:30", []string{
			"2026-03-28T02:30:00+01:00", "2026-03-29T03:30:00+02:00", "2026-03-30T02:30:00+02:00"}},
		{"Europe/Berlin", "2026-10-24T00:00:00+02:00", "02:30", []string{
			"2026-10-24T02:30:00+02:00", "2026-10-25T02:30:00+02:00", "2026-10-26T02:30:00+01:00"}},
		{"America/New_York", "2026-03-07T00:00:00-05:00", "02:30", []string{
			"2026-03-07T02:30:00-05:00", "2026-03-08T03:30:00-04:00", "2026-03-09T02:30:00-04:00"}},
		{"America/New_York", "2026-10-31T00:00:00-04:00", "01:30", []string{
			"2026-10-31T01:30:00-04:00", "2026-11-01T01:30:00-04:00", "2026-11-02T01:30:00-05:00"}},
	} {
		rule := mustParse(t, socialv1alpha1.Recurrence{Frequency: socialv1alpha1.FrequencyDaily, Start: c.start, Times: []string{c.at}, TimeZone: c.zone})
		start, _ := time.Parse(time.RFC3339, c.start)
		got := format(rule.Upcoming(start.Add(-time.Second), 3, nil))
		if want := strings.Join(c.want, " "); got != want {
			t.Errorf("%s daily at %s from %s:\n got %s\nwant %s", c.zone, c.at, c.start, got, want)
		}
	}
}

func TestRules(t *testing.T) {
	count := func(n int32) *int32 { return &n }
	for _, c := range []struct {
		name string
		rule socialv1alpha1.Recurrence
		want string
	}{
		{"weekly on start's weekday and time", socialv1alpha1.Recurrence{Frequency: "Weekly", Start: "2026-12-01T09:00:00+01:00", TimeZone: "Europe/Berlin"},
			"2026-12-01T09:00:00+01:00 2026-12-08T09:00:00+01:00 2026-12-15T09:00:00+01:00 2026-12-22T09:00:00+01:00"},
		{"every other week on Monday and Thursday", socialv1alpha1.Recurrence{Frequency: "Weekly", Interval: 2, ByWeekday: []socialv1alpha1.Weekday{"TH", "MO"}, Start: "2026-12-02T10:00:00Z"},
			"2026-12-03T10:00:00Z 2026-12-14T10:00:00Z 2026-12-17T10:00:00Z 2026-12-28T10:00:00Z"},
		{"monthly on the last day", socialv1alpha1.Recurrence{Frequency: "Monthly", ByMonthDay: []int32{-1}, Times: []string{"18:00"}, Start: "2027-01-15T00:00:00Z"},
			"2027-01-31T18:00:00Z 2027-02-28T18:00:00Z 2027-03-31T18:00:00Z 2027-04-30T18:00:00Z"},
		{"monthly on the 31st passes over shorter months", socialv1alpha1.Recurrence{Frequency: "Monthly", Start: "2027-01-31T08:00:00Z"},
			"2027-01-31T08:00:00Z 2027-03-31T08:00:00Z 2027-05-31T08:00:00Z 2027-07-31T08:00:00Z"},
		{"daily on weekdays only, twice a day", socialv1alpha1.Recurrence{Frequency: "Daily", ByWeekday: []socialv1alpha1.Weekday{"MO", "TU", "WE", "TH", "FR"}, Times: []string{"17:00", "08:30"}, Start: "2026-12-04T12:00:00Z"},
			"2026-12-04T17:00:00Z 2026-12-07T08:30:00Z 2026-12-07T17:00:00Z 2026-12-08T08:30:00Z"},
		{"count ends it", socialv1alpha1.Recurrence{Frequency: "Daily", Count: count(2), Start: "2026-12-01T09:00:00Z"},
			"2026-12-01T09:00:00Z 2026-12-02T09:00:00Z"},
		{"a start with seconds: its own minute counts", socialv1alpha1.Recurrence{Frequency: "Daily", Count: count(2), Start: "2026-12-01T09:00:30Z"},
			"2026-12-01T09:00:00Z 2026-12-02T09:00:00Z"},
		{"until ends it, inclusive", socialv1alpha1.Recurrence{Frequency: "Daily", Until: "2026-12-03T09:00:00Z", Start: "2026-12-01T09:00:00Z"},
			"2026-12-01T09:00:00Z 2026-12-02T09:00:00Z 2026-12-03T09:00:00Z"},
	} {
		rule := mustParse(t, c.rule)
		start, _ := time.Parse(time.RFC3339, c.rule.Start)
		if got := format(rule.Upcoming(start.Add(-time.Hour), 4, nil)); got != c.want {
			t.Errorf("%s:\n got %s\nwant %s", c.name, got, c.want)
		}
	}
}

func TestParseExplainsEveryProblem(t *testing.T) {
	_, errs := Parse(&socialv1alpha1.Recurrence{Frequency: "Hourly", Start: "tomorrow", Times: []string{"9am"}, TimeZone: "Mars/Olympus"}, "")
	joined := strings.Join(errs, "; ")
	for _, want := range []string{`frequency "Hourly"`, `start "tomorrow"`, `times "9am"`, `timeZone "Mars/Olympus"`} {
		if !strings.Contains(joined, want) {
			t.Errorf("errors %q do not mention %s", joined, want)
		}
	}
	_, errs = Parse(&socialv1alpha1.Recurrence{Frequency: "Monthly", ByMonthDay: []int32{30}, Interval: 12, Start: "2027-02-01T09:00:00Z"}, "")
	if len(errs) != 1 || !strings.Contains(errs[0], "names no time") {
		t.Errorf("a rule for the 30th of every February: %v, want that it names no time", errs)
	}
}

func TestSkipAndNames(t *testing.T) {
	rule := mustParse(t, socialv1alpha1.Recurrence{Frequency: "Weekly", Start: "2026-12-01T09:00:00+01:00", TimeZone: "Europe/Berlin"})
	skip, errs := ParseSkip([]string{"2026-12-08T08:00:00Z", "next week"})
	if len(errs) != 1 || !strings.Contains(errs[0], `"next week"`) {
		t.Errorf("ParseSkip errors %v", errs)
	}
	from, _ := time.Parse(time.RFC3339, "2026-12-01T10:00:00+01:00")
	got := format(rule.Upcoming(from, 2, func(t time.Time) bool { return skip[t.Unix()] }))
	if want := "2026-12-15T09:00:00+01:00 2026-12-22T09:00:00+01:00"; got != want {
		t.Errorf("upcoming with the 8th skipped: %s, want %s", got, want)
	}
	named, _ := time.Parse(time.RFC3339, "2026-12-08T09:00:00+01:00")
	if !rule.Names(named) || rule.Names(named.Add(time.Minute)) {
		t.Errorf("Names: the rule names %s and not a minute later", named)
	}
}

// TestIdleYearsCostLittle: a rule that began years ago finds its next time
// from the period it is in, not by walking every earlier one.
func TestIdleYearsCostLittle(t *testing.T) {
	rule := mustParse(t, socialv1alpha1.Recurrence{Frequency: "Daily", Times: []string{"09:00", "21:00"}, Start: "2016-01-01T00:00:00Z"})
	now, _ := time.Parse(time.RFC3339, "2026-06-15T12:00:00Z")
	calls := 0
	rule.walk(now, func(time.Time) bool { calls++; return calls < 3 })
	if calls > 3 {
		t.Fatalf("walk visited %d times", calls)
	}
	times, more := rule.Between(now.Add(-365*24*time.Hour), now, 100)
	if len(times) != 100 || more != 100 {
		t.Errorf("Between over a year: %d times and %d more, want 100 and (counted up to) 100", len(times), more)
	}
	if got := rule.Next(now).Format(time.RFC3339); got != "2026-06-15T21:00:00Z" {
		t.Errorf("Next: %s", got)
	}
}

func TestPickRotates(t *testing.T) {
	day := 24 * time.Hour
	t0, _ := time.Parse(time.RFC3339, "2026-12-01T09:00:00Z")
	last := map[int]time.Time{}
	var order []int
	for d := 0; d < 5; d++ {
		at := t0.Add(time.Duration(d) * day)
		i, ok := Pick(3, last, at, 84*time.Hour)
		if !ok {
			order = append(order, -1)
			continue
		}
		order = append(order, i)
		last[i] = at
	}
	// A, B and C, then A again only 72 h after it was published: within
	// 84 h, as B and C are, so day 4 is skipped; day 5 is A, 96 h on.
	if want := []int{0, 1, 2, -1, 0}; !slices.Equal(order, want) {
		t.Errorf("rotation %v, want %v", order, want)
	}
	// A post added to the rotation goes first.
	if i, _ := Pick(4, last, t0.Add(6*day), 0); i != 3 {
		t.Errorf("with a fourth post never published, picked %d", i)
	}
}

// A recurring post stored before the API server bounded variants (or by a
// writer that skipped validation) is reported invalid, naming the post of
// the rotation, instead of making occurrences the API server refuses.
func TestCheckNamesContentEachOccurrencePostWouldBeRefusedFor(t *testing.T) {
	spec := &socialv1alpha1.RecurringPostSpec{
		Recurrence: socialv1alpha1.Recurrence{Frequency: "Daily", Start: "2026-12-01T09:00:00Z"},
		Evergreen: &socialv1alpha1.Evergreen{Posts: []socialv1alpha1.PostContent{
			{Text: "fine", Profiles: []string{"a"}, Variants: []socialv1alpha1.PostVariant{{Profile: "a", Text: "for a"}}},
			{Text: "twice", Profiles: []string{"a"}, Variants: []socialv1alpha1.PostVariant{{Platform: "x", Text: "1"}, {Platform: "x", Text: "2"}}},
			{Text: "elsewhere", Profiles: []string{"a"}, Variants: []socialv1alpha1.PostVariant{{Profile: "b", Text: "for b"}}},
		}},
	}
	_, errs := Check(spec, "", []string{"a", "b"})
	want := []string{
		`evergreen.posts[1]: variants[1] is a second variant for platform "x", after variants[0]; keep one`,
		`evergreen.posts[2]: variants[0] is for profile "b", which is not one of the post's profiles; add the profile or remove the variant`,
	}
	if !slices.Equal(errs, want) {
		t.Errorf("Check gave %q, want %q", errs, want)
	}
}
