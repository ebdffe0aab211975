package workflow

import (
	"errors"
	"fmt"
	"strings"
	"time"

	socialv1alpha1 "github.com/herald-dev/herald/api/v1alpha1"
	"github.com/herald-dev/herald/internal/post"
)

// Data is what a post template sees.
type Data struct {
	// Inputs are the run's inputs with defaults filled in.
	Inputs map[string]string
	// Item is the feed item that triggered the run, if any.
	Item *FeedItem
	// Workspace is the workspace's id.
	Workspace string
	// Now is when the run started, in the workflow's time zone.
	Now Moment
	// BrandKit is the brand kit the post template names, or nil.
	BrandKit *BrandKitData
}

// Moment is a time as a template writes it: {{ .Now.Weekday }},
// {{ .Now.Date }} or {{ .Now.Format "Monday 2 January" }}.
type Moment struct{ t time.Time }

// NewMoment is t for a template, in loc.
func NewMoment(t time.Time, loc *time.Location) Moment { return Moment{t.In(loc)} }

// Date is the day as 2026-07-07.
func (m Moment) Date() string { return m.t.Format("2006-01-02") }

// Time is the time of day as 09:00.
func (m Moment) Time() string { return m.t.Format("15:04") }

// Weekday is the day's English name, such as Tuesday.
func (m Moment) Weekday() string { return m.t.Weekday().String() }

// Month is the month's English name, such as July.
func (m Moment) Month() string { return m.t.Month().String() }

// Day is the day of the month.
func (m Moment) Day() int { return m.t.Day() }

// Year is the year.
func (m Moment) Year() int { return m.t.Year() }

// Format writes the time with a Go layout (written with the reference
// time Mon Jan 2 15:04:05 2006), such as "Monday 2 January".
func (m Moment) Format(layout string) (string, error) {
	if len(layout) > 64 {
		return "", fmt.Errorf("a date layout holds at most 64 characters, such as \"Monday 2 January\"")
	}
	return m.t.Format(layout), nil
}

// String is the time in RFC 3339, with its zone's offset.
func (m Moment) String() string { return m.t.Format(time.RFC3339) }

// Zone is the time zone a workflow's times are read in: its trigger's,
// else its workspace's (workspaceZone), else UTC. A name that is no zone
// counts as none; validation reports it.
func Zone(spec *socialv1alpha1.WorkflowSpec, workspaceZone string) *time.Location {
	for _, tz := range []string{spec.Trigger.TimeZone, workspaceZone} {
		if tz == "" {
			continue
		}
		if loc, err := time.LoadLocation(tz); err == nil {
			return loc
		}
	}
	return time.UTC
}

// BrandKitData is what a template sees of a brand kit.
type BrandKitData struct {
	// DisplayName, Voice and Signature as the kit has them.
	DisplayName, Voice, Signature string
	// Hashtags are the kit's hashtags, separated by spaces.
	Hashtags string
}

// BrandKitFor is what a template sees of kit; nil stays nil.
func BrandKitFor(kit *socialv1alpha1.BrandKit) *BrandKitData {
	if kit == nil {
		return nil
	}
	return &BrandKitData{DisplayName: kit.Spec.DisplayName, Voice: kit.Spec.Voice, Signature: kit.Spec.Signature,
		Hashtags: strings.Join(kit.Spec.Hashtags, " ")}
}

// FeedItem is one entry of an RSS or Atom feed.
type FeedItem struct {
	ID, Title, Link, Summary string
}

// RenderPost turns a post template into a ScheduledPost spec: text and
// variants rendered, scheduled at start plus the template's delay.
func RenderPost(t socialv1alpha1.PostTemplate, data Data, start time.Time) (*socialv1alpha1.ScheduledPost, error) {
	text, err := render(t.Text, data)
	if err != nil {
		return nil, fmt.Errorf("text: %w", err)
	}
	sp := &socialv1alpha1.ScheduledPost{Spec: socialv1alpha1.ScheduledPostSpec{
		Text: text, Profiles: t.Profiles, Media: t.Media, BrandKit: t.BrandKit, Draft: t.Draft,
	}}
	for i, v := range t.Variants {
		if v.Text, err = render(v.Text, data); err != nil {
			return nil, fmt.Errorf("variants[%d]: %w", i, err)
		}
		sp.Spec.Variants = append(sp.Spec.Variants, v)
	}
	// Each rendering is bounded on its own; together they may still pass
	// what one post holds.
	if problems := post.ContentProblems(sp.Spec.Text, sp.Spec.Profiles, sp.Spec.Variants); len(problems) > 0 {
		return nil, fmt.Errorf("as rendered, %s", strings.Join(problems, "; "))
	}
	at := start
	if t.After != nil {
		at = at.Add(t.After.Duration)
	}
	sp.Spec.ScheduledAt = at.UTC().Format(time.RFC3339)
	return sp, nil
}

func render(text string, data Data) (string, error) {
	t, err := parseTemplate("post", text)
	if err != nil {
		return "", err
	}
	out := &boundedText{deadline: time.Now().Add(RenderTimeout)}
	if err := t.Execute(out, data); err != nil {
		if errors.Is(err, errTooLong) || errors.Is(err, errTooSlow) {
			return "", err
		}
		if data.Item == nil && strings.Contains(err.Error(), ".Item") {
			return "", fmt.Errorf("the template uses .Item, the feed item, which only runs queued by the workflow's feed trigger have: %w", err)
		}
		if data.BrandKit == nil && strings.Contains(err.Error(), ".BrandKit") {
			return "", fmt.Errorf("the template uses .BrandKit, which needs the post template's brandKit to name a BrandKit of this namespace: %w", err)
		}
		return "", err
	}
	if out.b.Len() == 0 {
		return "", fmt.Errorf("the template rendered no text")
	}
	return out.b.String(), nil
}
