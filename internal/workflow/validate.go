// Package workflow checks Workflows and the inputs of their runs; the MCP
// tools and the reconciler share it so both report the same problems.
package workflow

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/robfig/cron/v3"

	socialv1alpha1 "github.com/herald-dev/herald/api/v1alpha1"
	"github.com/herald-dev/herald/internal/post"
)

// cronParser reads the five-field schedules the API documents.
var cronParser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// Validate lists every problem in a workflow's spec; profiles are the names
// of the SocialProfiles in its namespace. Empty means valid.
func Validate(spec *socialv1alpha1.WorkflowSpec, profiles []string) []string {
	var errs []string
	t := spec.Trigger
	if t.TimeZone != "" {
		if _, err := time.LoadLocation(t.TimeZone); err != nil {
			errs = append(errs, fmt.Sprintf("trigger.timeZone %q is not an IANA time zone such as Europe/Berlin", t.TimeZone))
		}
	}
	if t.Type == socialv1alpha1.TriggerSchedule {
		if sched, err := ParseSchedule(t.Schedule); err != nil {
			errs = append(errs, fmt.Sprintf("trigger.schedule %q is not a five-field cron expression such as \"0 9 * * MON\": %v", t.Schedule, err))
		} else if sched.Next(neverReference).IsZero() {
			errs = append(errs, fmt.Sprintf("trigger.schedule %q names no time that occurs, such as 30 February; name a day every month or year has", t.Schedule))
		}
	}
	for i, p := range spec.Posts {
		if _, err := parseTemplate("text", p.Text); err != nil {
			errs = append(errs, fmt.Sprintf("posts[%d].text is not a valid post template: %v", i, err))
		}
		for _, v := range p.Variants {
			if _, err := parseTemplate("variant", v.Text); err != nil {
				errs = append(errs, fmt.Sprintf("posts[%d] has a variant that is not a valid post template: %v", i, err))
			}
		}
		for _, name := range p.Profiles {
			if !slices.Contains(profiles, name) {
				errs = append(errs, fmt.Sprintf("posts[%d].profiles names %q, which is not a SocialProfile in this namespace", i, name))
			}
		}
		for _, msg := range post.ContentProblems(p.Text, p.Profiles, p.Variants) {
			errs = append(errs, fmt.Sprintf("posts[%d]: %s", i, msg))
		}
	}
	for _, in := range spec.Inputs {
		if in.Default != "" {
			if msg := checkValue(in, in.Default); msg != "" {
				errs = append(errs, fmt.Sprintf("inputs %s has a default that %s", in.Name, msg))
			}
		}
	}
	return errs
}

// ValidateInputs checks a run's inputs against the declared ones and returns
// them with defaults filled in, or every problem found.
func ValidateInputs(spec *socialv1alpha1.WorkflowSpec, given map[string]string) (map[string]string, []string) {
	out := map[string]string{}
	var errs []string
	declared := map[string]bool{}
	for _, in := range spec.Inputs {
		declared[in.Name] = true
		v, ok := given[in.Name]
		if !ok || v == "" {
			if in.Required && in.Default == "" {
				errs = append(errs, fmt.Sprintf("input %s is required: %s", in.Name, in.Description))
				continue
			}
			v = in.Default
		}
		if v != "" {
			if msg := checkValue(in, v); msg != "" {
				errs = append(errs, fmt.Sprintf("input %s %s", in.Name, msg))
				continue
			}
		}
		out[in.Name] = v
	}
	for name := range given {
		if !declared[name] {
			errs = append(errs, fmt.Sprintf("input %s is not declared by the workflow", name))
		}
	}
	slices.Sort(errs)
	return out, errs
}

func checkValue(in socialv1alpha1.WorkflowInput, v string) string {
	if len(in.Enum) > 0 && !slices.Contains(in.Enum, v) {
		return fmt.Sprintf("must be one of %s, not %q", strings.Join(in.Enum, ", "), v)
	}
	switch in.Type {
	case "number":
		if _, err := strconv.ParseFloat(v, 64); err != nil {
			return fmt.Sprintf("must be a number, not %q", v)
		}
	case "boolean":
		if _, err := strconv.ParseBool(v); err != nil {
			return fmt.Sprintf("must be true or false, not %q", v)
		}
	case "datetime":
		if _, err := time.Parse(time.RFC3339, v); err != nil {
			return fmt.Sprintf("must be an RFC 3339 time such as 2026-07-01T09:00:00Z, not %q", v)
		}
	case "url":
		if !strings.HasPrefix(v, "http://") && !strings.HasPrefix(v, "https://") {
			return fmt.Sprintf("must be an http or https URL, not %q", v)
		}
	}
	return ""
}

// neverReference is any instant: a schedule that names no time in the five
// years after it (the cron library's horizon) names an impossible date,
// which no other instant would find either.
var neverReference = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

// LatestDue returns the latest time sched names after since and not after
// now, or zero when there is none. It looks back from now over a window
// that doubles until it finds one or reaches since, so a schedule every
// minute since years ago costs a few steps, not millions.
func LatestDue(sched cron.Schedule, since, now time.Time) time.Time {
	if !now.After(since) {
		return time.Time{}
	}
	for window := time.Minute; ; window *= 2 {
		from := now.Add(-window)
		if !from.After(since) {
			from = since
		}
		var due time.Time
		for t := sched.Next(from); !t.IsZero() && !t.After(now); t = sched.Next(t) {
			due = t
		}
		if !due.IsZero() || from.Equal(since) {
			return due
		}
	}
}

// MaxMissed is how many missed times MissedSince counts before it stops:
// past it, a controller says so rather than counting on (as Kubernetes'
// CronJob does with "too many missed start times").
const MaxMissed = 100

// MissedSince counts the times sched named after since and before latest
// (the latest due time, which is not missed but about to run), stopping
// past MaxMissed.
func MissedSince(sched cron.Schedule, since, latest time.Time) int {
	n := 0
	for t := sched.Next(since); !t.IsZero() && t.Before(latest) && n <= MaxMissed; t = sched.Next(t) {
		n++
	}
	return n
}

// ParseSchedule reads a trigger's five-field cron expression. The schedule
// follows the wall clock of the zone its times are given in, across
// daylight-saving changes: a wall-clock time that happens twice (the hour
// repeated when clocks go back) fires once, at its first occurrence, and a
// time that does not happen (the hour skipped when clocks go forward) does
// not fire that day, as in Kubernetes' CronJob.
func ParseSchedule(spec string) (cron.Schedule, error) {
	s, err := cronParser.Parse(spec)
	if err != nil {
		return nil, err
	}
	return onceByWallClock{s}, nil
}

// onceByWallClock leaves out the second instant of a repeated wall-clock
// time: the cron library names both.
type onceByWallClock struct{ cron.Schedule }

func (s onceByWallClock) Next(t time.Time) time.Time {
	for i := 0; i < 8; i++ { // a few repeats at most, in an hour that happens twice
		n := s.Schedule.Next(t)
		if n.IsZero() || !repeatedWallClock(n) {
			return n
		}
		t = n
	}
	return time.Time{}
}

// repeatedWallClock reports whether the wall-clock time of t also happened
// earlier: clocks went back by 30 minutes or an hour (the shifts in use)
// within that span before t.
func repeatedWallClock(t time.Time) bool {
	for _, back := range []time.Duration{30 * time.Minute, time.Hour} {
		e := t.Add(-back)
		if e.Hour() == t.Hour() && e.Minute() == t.Minute() && e.Day() == t.Day() {
			return true
		}
	}
	return false
}
