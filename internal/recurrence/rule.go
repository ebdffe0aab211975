// Package recurrence reads a RecurringPost's rule (a subset of RFC 5545's
// RRULE) and names the times it publishes at, on the wall clock of its time
// zone, without walking every occurrence since the rule began.
package recurrence

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	socialv1alpha1 "github.com/herald-dev/herald/api/v1alpha1"
)

// Rule is a parsed recurrence.
type Rule struct {
	freq      socialv1alpha1.Frequency
	interval  int
	weekdays  []time.Weekday // Monday first; empty: every day (Daily)
	monthDays []int
	times     []int // minutes after midnight, ascending
	start     time.Time
	until     time.Time // zero: none
	count     int       // 0: none
	loc       *time.Location
}

// maxPeriods bounds the periods a search scans past the first: a rule whose
// days are rare (the 29th of February, every year) finds one within a few
// dozen; one that names nothing in this many never will.
const maxPeriods = 500

var weekdays = map[socialv1alpha1.Weekday]time.Weekday{
	"MO": time.Monday, "TU": time.Tuesday, "WE": time.Wednesday, "TH": time.Thursday,
	"FR": time.Friday, "SA": time.Saturday, "SU": time.Sunday,
}

// Zone is the time zone a recurrence is read in: its own, else the
// workspace's, else UTC.
func Zone(r *socialv1alpha1.Recurrence, workspaceZone string) (*time.Location, error) {
	name := r.TimeZone
	if name == "" {
		name = workspaceZone
	}
	if name == "" {
		return time.UTC, nil
	}
	if loc, ok := zones.Load(name); ok {
		return loc.(*time.Location), nil
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, fmt.Errorf("timeZone %q is not an IANA time zone such as Europe/Berlin or America/New_York", name)
	}
	zones.Store(name, loc)
	return loc, nil
}

// zones keeps the zones loaded: time.LoadLocation reads the zone database
// each time, and every list_posts reads every recurring post's zone.
var zones sync.Map

// Parse reads a recurrence in the given workspace time zone, listing every
// problem found.
func Parse(r *socialv1alpha1.Recurrence, workspaceZone string) (*Rule, []string) {
	var errs []string
	loc, err := Zone(r, workspaceZone)
	if err != nil {
		errs = append(errs, err.Error())
		loc = time.UTC
	}
	rule := &Rule{freq: r.Frequency, interval: int(r.Interval), loc: loc}
	if rule.interval < 1 {
		rule.interval = 1
	}
	start, err := time.Parse(time.RFC3339, r.Start)
	if err != nil {
		errs = append(errs, fmt.Sprintf("start %q is not an RFC 3339 time such as 2026-12-01T09:00:00Z", r.Start))
	}
	rule.start = start.In(loc).Truncate(time.Minute) // occurrences are whole minutes: start's own counts
	if r.Until != "" {
		if rule.until, err = time.Parse(time.RFC3339, r.Until); err != nil {
			errs = append(errs, fmt.Sprintf("until %q is not an RFC 3339 time such as 2027-06-30T23:59:59Z", r.Until))
		} else if rule.until.Before(start) {
			errs = append(errs, fmt.Sprintf("until %s is before start %s", r.Until, r.Start))
		}
	}
	if r.Count != nil {
		rule.count = int(*r.Count)
	}
	switch r.Frequency {
	case socialv1alpha1.FrequencyDaily, socialv1alpha1.FrequencyWeekly, socialv1alpha1.FrequencyMonthly:
	default:
		errs = append(errs, fmt.Sprintf("frequency %q is not Daily, Weekly or Monthly", r.Frequency))
	}
	for _, d := range r.ByWeekday {
		wd, ok := weekdays[d]
		if !ok {
			errs = append(errs, fmt.Sprintf("byWeekday %q is not one of MO, TU, WE, TH, FR, SA, SU", d))
			continue
		}
		if !slices.Contains(rule.weekdays, wd) {
			rule.weekdays = append(rule.weekdays, wd)
		}
	}
	if r.Frequency == socialv1alpha1.FrequencyWeekly && len(rule.weekdays) == 0 {
		rule.weekdays = []time.Weekday{rule.start.Weekday()}
	}
	slices.SortFunc(rule.weekdays, func(a, b time.Weekday) int { return mondayFirst(a) - mondayFirst(b) })
	for _, d := range r.ByMonthDay {
		if d == 0 || d < -31 || d > 31 {
			errs = append(errs, fmt.Sprintf("byMonthDay %d is not 1 to 31 or -1 to -31", d))
			continue
		}
		rule.monthDays = append(rule.monthDays, int(d))
	}
	if r.Frequency == socialv1alpha1.FrequencyMonthly && len(rule.monthDays) == 0 {
		rule.monthDays = []int{rule.start.Day()}
	}
	for _, t := range r.Times {
		var h, m int
		if _, err := fmt.Sscanf(t, "%2d:%2d", &h, &m); err != nil || len(t) != 5 || h > 23 || m > 59 || h < 0 || m < 0 {
			errs = append(errs, fmt.Sprintf("times %q is not a time of day HH:MM such as 09:00", t))
			continue
		}
		rule.times = append(rule.times, h*60+m)
	}
	if len(rule.times) == 0 {
		rule.times = []int{rule.start.Hour()*60 + rule.start.Minute()}
	}
	slices.Sort(rule.times)
	rule.times = slices.Compact(rule.times)
	if len(errs) == 0 && rule.Next(rule.start.Add(-time.Second)).IsZero() {
		errs = append(errs, "the recurrence names no time at or after start: check byMonthDay, until and count")
	}
	return rule, errs
}

// Location is the zone the rule reads times in.
func (r *Rule) Location() *time.Location { return r.loc }

// Next is the first time the rule names after t, or zero when it names no
// more.
func (r *Rule) Next(t time.Time) time.Time {
	var found time.Time
	r.walk(t, func(at time.Time) bool {
		if at.After(t) {
			found = at
			return false
		}
		return true
	})
	return found
}

// Upcoming lists the next n times after t that are not in skip.
func (r *Rule) Upcoming(t time.Time, n int, skip func(time.Time) bool) []time.Time {
	var out []time.Time
	r.walk(t, func(at time.Time) bool {
		if at.After(t) && (skip == nil || !skip(at)) {
			out = append(out, at)
		}
		return len(out) < n
	})
	return out
}

// Between lists the times the rule names after from and not after to, at
// most limit of them (the earliest), and how many more there were, counted
// up to limit.
func (r *Rule) Between(from, to time.Time, limit int) (times []time.Time, more int) {
	r.walk(from, func(at time.Time) bool {
		if at.After(to) {
			return false
		}
		if !at.After(from) {
			return true
		}
		if len(times) < limit {
			times = append(times, at)
			return true
		}
		more++
		return more < limit
	})
	return times, more
}

// Names reports whether the rule names the instant t.
func (r *Rule) Names(t time.Time) bool {
	return r.Next(t.Add(-time.Nanosecond)).Equal(t)
}

// walk calls f with the rule's times in order, from the period holding t
// (or, with a count, from the first, as the count is of all of them) until
// f returns false or the rule ends.
func (r *Rule) walk(t time.Time, f func(time.Time) bool) {
	k := 0
	if r.count == 0 {
		k = max(r.periodOf(t.In(r.loc)), 0)
	}
	seen, empty := 0, 0
	for ; empty < maxPeriods; k++ {
		times := r.period(k)
		if len(times) == 0 {
			empty++
		}
		for _, at := range times {
			if at.Before(r.start) {
				continue
			}
			if !r.until.IsZero() && at.After(r.until) {
				return
			}
			if seen++; r.count > 0 && seen > r.count {
				return
			}
			empty = 0
			if !f(at) {
				return
			}
		}
		if !r.until.IsZero() && r.periodStart(k).After(r.until) {
			return
		}
	}
}

// periodOf is the index of the period (day, week or month, counted in
// intervals from start's) holding the local time t.
func (r *Rule) periodOf(t time.Time) int {
	switch r.freq {
	case socialv1alpha1.FrequencyDaily:
		return floorDiv(dayNumber(t)-dayNumber(r.start), r.interval)
	case socialv1alpha1.FrequencyWeekly:
		return floorDiv(dayNumber(t)-mondayFirst(t.Weekday())-(dayNumber(r.start)-mondayFirst(r.start.Weekday())), 7*r.interval)
	default:
		months := (t.Year()-r.start.Year())*12 + int(t.Month()) - int(r.start.Month())
		return floorDiv(months, r.interval)
	}
}

// periodStart is the first day of period k, at midnight.
func (r *Rule) periodStart(k int) time.Time {
	y, m, d := r.start.Date()
	switch r.freq {
	case socialv1alpha1.FrequencyDaily:
		return time.Date(y, m, d+k*r.interval, 0, 0, 0, 0, r.loc)
	case socialv1alpha1.FrequencyWeekly:
		return time.Date(y, m, d-mondayFirst(r.start.Weekday())+7*k*r.interval, 0, 0, 0, 0, r.loc)
	default:
		return time.Date(y, m+time.Month(k*r.interval), 1, 0, 0, 0, 0, r.loc)
	}
}

// period lists the times of period k, in order.
func (r *Rule) period(k int) []time.Time {
	first := r.periodStart(k)
	y, m, d := first.Date()
	var days []int // days of the month of first (may run past its end: time.Date normalizes)
	switch r.freq {
	case socialv1alpha1.FrequencyDaily:
		if len(r.weekdays) == 0 || slices.Contains(r.weekdays, first.Weekday()) {
			days = []int{d}
		}
	case socialv1alpha1.FrequencyWeekly:
		for _, wd := range r.weekdays {
			days = append(days, d+mondayFirst(wd))
		}
	default:
		last := time.Date(y, m+1, 0, 0, 0, 0, 0, time.UTC).Day()
		for _, md := range r.monthDays {
			if md < 0 {
				md = last + md + 1
			}
			if md >= 1 && md <= last {
				days = append(days, md)
			}
		}
		slices.Sort(days)
		days = slices.Compact(days)
	}
	out := make([]time.Time, 0, len(days)*len(r.times))
	for _, day := range days {
		for _, minutes := range r.times {
			out = append(out, WallClock(y, m, day, minutes/60, minutes%60, r.loc))
		}
	}
	slices.SortFunc(out, func(a, b time.Time) int { return a.Compare(b) })
	return slices.CompactFunc(out, func(a, b time.Time) bool { return a.Equal(b) })
}

// WallClock is the instant the wall clock of loc reads hh:mm on that day, as
// RFC 5545 reads a local time: where the time happens twice, the first;
// where it does not happen (clocks went forward past it), the time as read
// with the offset in force before the change, which lands as far after the
// change as the time was into the gap.
func WallClock(y int, m time.Month, d, hh, mm int, loc *time.Location) time.Time {
	civil := time.Date(y, m, d, hh, mm, 0, 0, time.UTC)
	var best time.Time
	var offsets []int
	for _, around := range []time.Duration{-24 * time.Hour, 0, 24 * time.Hour} {
		_, off := civil.Add(around).In(loc).Zone()
		if !slices.Contains(offsets, off) {
			offsets = append(offsets, off)
		}
	}
	for _, off := range offsets {
		at := civil.Add(-time.Duration(off) * time.Second).In(loc)
		if ay, am, ad := at.Date(); ay == civil.Year() && am == civil.Month() && ad == civil.Day() && at.Hour() == hh && at.Minute() == mm {
			if best.IsZero() || at.Before(best) {
				best = at
			}
		}
	}
	if !best.IsZero() {
		return best
	}
	_, before := civil.Add(-24 * time.Hour).In(loc).Zone()
	return civil.Add(-time.Duration(before) * time.Second).In(loc)
}

// ParseSkip reads the times a spec skips; a value that is not an RFC 3339
// time is reported.
func ParseSkip(values []string) (map[int64]bool, []string) {
	skip := map[int64]bool{}
	var errs []string
	for _, v := range values {
		t, err := time.Parse(time.RFC3339, strings.TrimSpace(v))
		if err != nil {
			errs = append(errs, fmt.Sprintf("skip %q is not an RFC 3339 time such as 2026-12-08T09:00:00+01:00", v))
			continue
		}
		skip[t.Unix()] = true
	}
	return skip, errs
}

func dayNumber(t time.Time) int {
	y, m, d := t.Date()
	return int(time.Date(y, m, d, 0, 0, 0, 0, time.UTC).Unix() / 86400)
}

// mondayFirst numbers the days of the week from Monday (0) to Sunday (6).
func mondayFirst(d time.Weekday) int { return (int(d) + 6) % 7 }

func floorDiv(a, b int) int {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}
