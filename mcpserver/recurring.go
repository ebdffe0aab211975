package mcpserver

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	socialv1alpha1 "github.com/herald-dev/herald/api/v1alpha1"
	"github.com/herald-dev/herald/internal/post"
	"github.com/herald-dev/herald/internal/recurrence"
)

// RecurrenceInput makes a post repeat; it is a RecurringPost's recurrence.
type RecurrenceInput struct {
	Frequency  string   `json:"frequency" jsonschema:"Daily, Weekly or Monthly" enum:"Daily,Weekly,Monthly"`
	Interval   int      `json:"interval,omitempty" jsonschema:"every interval-th day, week or month (2 with Weekly: every other week); default 1" minimum:"1" maximum:"366"`
	ByWeekday  []string `json:"byWeekday,omitempty" jsonschema:"days of the week: with Weekly the days it publishes on (default the day of scheduledAt); with Daily the only days it publishes on" enum:"MO,TU,WE,TH,FR,SA,SU" maxItems:"7"`
	ByMonthDay []int    `json:"byMonthDay,omitempty" jsonschema:"with Monthly, days of the month 1 to 31, or -1 for the last day (default the day of scheduledAt); months without the day are passed over" minimum:"-31" maximum:"31" maxItems:"31"`
	Times      []string `json:"times,omitempty" jsonschema:"times of day HH:MM it publishes at, on the wall clock of timeZone (default the time of scheduledAt)" maxItems:"24"`
	Count      int      `json:"count,omitempty" jsonschema:"how many times it publishes in all; omit, or give until, to go on" minimum:"1" maximum:"1000"`
	Until      string   `json:"until,omitempty" jsonschema:"the last time it may publish, RFC 3339; give count or until, not both"`
	TimeZone   string   `json:"timeZone,omitempty" jsonschema:"IANA time zone the times are read in, such as Europe/Berlin; default the workspace's"`
}

// RecurringPostView is a recurring post as tools report it.
type RecurringPostView struct {
	ID               string          `json:"id" jsonschema:"the recurring post's id: ocoya_skip_occurrence takes it as recurringPostId, ocoya_get_post and ocoya_delete_post as postId"`
	WorkspaceID      string          `json:"workspaceId"`
	Enabled          bool            `json:"enabled" jsonschema:"disabled recurring posts publish nothing"`
	Text             string          `json:"text,omitempty" jsonschema:"what every occurrence publishes; empty for an evergreen rotation"`
	ProfileIDs       []string        `json:"profileIds,omitempty"`
	Evergreen        int             `json:"evergreen,omitempty" jsonschema:"for an evergreen rotation, how many posts it rotates"`
	Recurrence       RecurrenceInput `json:"recurrence"`
	Start            string          `json:"start" jsonschema:"the first time it may publish"`
	Skip             []string        `json:"skip,omitempty" jsonschema:"occurrences that will not be published"`
	NextOccurrences  []string        `json:"nextOccurrences" jsonschema:"the next times it publishes, in its time zone, skipped ones left out; empty when the recurrence has ended"`
	Occurrences      int             `json:"occurrences" jsonschema:"how many occurrence posts it has made"`
	LastPostID       string          `json:"lastPostId,omitempty" jsonschema:"the post of its latest occurrence, for ocoya_get_post"`
	ValidationErrors []string        `json:"validationErrors,omitempty"`
	Approval         string          `json:"approval,omitempty" jsonschema:"in a workspace that requires approval: who approved its occurrences, or that each waits for an owner or approver (ocoya_approve_post with this id approves them all)"`
	ReadOnly         bool            `json:"readOnly" jsonschema:"true when it is managed in Git"`
	Revision         string          `json:"revision"`
}

// upcomingPreview is how many next occurrences a recurring post's view lists.
const upcomingPreview = 5

// viewRecurring describes rp as written: its next occurrences are computed
// from its spec, after what its status says was already dealt with.
func (s *toolCall) viewRecurring(rp *socialv1alpha1.RecurringPost) *RecurringPostView {
	r := rp.Spec.Recurrence
	v := &RecurringPostView{
		ID: rp.Name, WorkspaceID: s.ws.Name, Enabled: rp.Spec.Enabled, Start: r.Start, Skip: rp.Spec.Skip,
		Recurrence:      RecurrenceInput{Frequency: string(r.Frequency), Interval: int(r.Interval), Times: r.Times, Until: r.Until, TimeZone: r.TimeZone},
		NextOccurrences: []string{}, Occurrences: int(rp.Status.Occurrences), LastPostID: rp.Status.LastPost,
		ReadOnly: socialv1alpha1.GitOpsOwner(rp) != "", Revision: rp.ResourceVersion,
	}
	for _, d := range r.ByWeekday {
		v.Recurrence.ByWeekday = append(v.Recurrence.ByWeekday, string(d))
	}
	for _, d := range r.ByMonthDay {
		v.Recurrence.ByMonthDay = append(v.Recurrence.ByMonthDay, int(d))
	}
	if r.Count != nil {
		v.Recurrence.Count = int(*r.Count)
	}
	if p := rp.Spec.Post; p != nil {
		v.Text, v.ProfileIDs = p.Text, p.Profiles
	}
	if e := rp.Spec.Evergreen; e != nil {
		v.Evergreen = len(e.Posts)
	}
	switch a := rp.Spec.Approval; {
	case a != nil && recurrence.SeriesApproved(rp):
		v.Approval = "its occurrences are approved by " + a.ApprovedBy
	case post.NeedsApproval(s.ws, seriesAsPost(rp)):
		v.Approval = "each occurrence waits for approval by an owner or approver of workspace " + s.ws.Name + "; " + s.toolName("approve_post") + " with this id approves them all"
		if a != nil {
			v.Approval = "the approval by " + a.ApprovedBy + " was withdrawn by a change of the recurrence or posts; " + v.Approval
		}
	}
	spec, errs := recurrence.Check(&rp.Spec, s.ws.Spec.TimeZone, nil)
	v.ValidationErrors = errs
	if len(v.ValidationErrors) > 0 || !rp.Spec.Enabled {
		return v
	}
	for _, t := range spec.Rule.Upcoming(s.dealtWith(rp), upcomingPreview, spec.Skipped) {
		v.NextOccurrences = append(v.NextOccurrences, t.In(spec.Rule.Location()).Format(time.RFC3339))
	}
	return v
}

// dealtWith is the time up to which rp's occurrences are made, skipped or
// missed: the reconciler's record, or now.
func (s *toolCall) dealtWith(rp *socialv1alpha1.RecurringPost) time.Time {
	t := s.clock.Now()
	if l := rp.Status.LastOccurrenceTime; l != nil && l.After(t) {
		t = l.Time
	}
	return t
}

// createRecurring makes the post of a create_post call with a recurrence
// a RecurringPost: scheduledAt is its start.
func (s *toolCall) createRecurring(ctx context.Context, in createPostArgs) (*PostResult, error) {
	if in.ScheduledAt == "" || len(in.ProfileIDs) == 0 {
		return nil, invalidArgument("a recurring post needs scheduledAt (the first time it may publish) and profileIds (from %s)", s.toolName("list_social_profiles"))
	}
	start, err := parseTime("scheduledAt", in.ScheduledAt)
	if err != nil {
		return nil, err
	}
	check := &socialv1alpha1.ScheduledPost{}
	if err := s.apply(ctx, postContent{in.Text, in.ProfileIDs, in.Variants, in.Media, in.BrandKitID}, &check.Spec); err != nil {
		return nil, err
	}
	if err := s.readyToPublish(ctx, &check.Spec); err != nil {
		return nil, err
	}
	rc := in.Recurrence
	r := socialv1alpha1.Recurrence{Frequency: socialv1alpha1.Frequency(rc.Frequency), Interval: int32(max(rc.Interval, 1)),
		Times: rc.Times, Until: rc.Until, TimeZone: rc.TimeZone, Start: start.Format(time.RFC3339)}
	for _, d := range rc.ByWeekday {
		r.ByWeekday = append(r.ByWeekday, socialv1alpha1.Weekday(d))
	}
	for _, d := range rc.ByMonthDay {
		r.ByMonthDay = append(r.ByMonthDay, int32(d))
	}
	if rc.Count > 0 {
		r.Count = new(int32)
		*r.Count = int32(rc.Count)
	}
	rp := &socialv1alpha1.RecurringPost{
		ObjectMeta: metav1.ObjectMeta{Namespace: s.ws.NamespaceName(), GenerateName: "recurring-"},
		Spec: socialv1alpha1.RecurringPostSpec{Enabled: true, Recurrence: r, Post: &socialv1alpha1.PostContent{
			Text: check.Spec.Text, Profiles: check.Spec.Profiles, Variants: check.Spec.Variants, Media: check.Spec.Media, BrandKit: check.Spec.BrandKit}},
	}
	spec, errs := recurrence.Check(&rp.Spec, s.ws.Spec.TimeZone, check.Spec.Profiles)
	if len(errs) > 0 {
		return nil, invalidArgument("the recurrence is not valid: %s", strings.Join(errs, "; "))
	}
	first := spec.Rule.Next(s.clock.Now())
	if first.IsZero() {
		return nil, invalidArgument("the recurrence names no time after now (it is now %s); check scheduledAt, until and count", s.clock.Now().UTC().Format(time.RFC3339))
	}
	if _, err := s.scheduleTime(first.Format(time.RFC3339)); err != nil {
		return nil, invalidArgument("its first occurrence, %s, cannot be scheduled: %v", first.Format(time.RFC3339), err)
	}
	if err := s.admitRecurring(ctx); err != nil {
		return nil, err
	}
	if in.IdempotencyKey != "" {
		rp.Name, rp.GenerateName = idempotentName("recurring-", s.ws.Name, in.IdempotencyKey), ""
	}
	stamp(rp, s.caller)
	created, err := s.createOnce(ctx, rp, in.IdempotencyKey)
	if err != nil {
		if apierrors.IsInvalid(err) {
			return nil, invalidArgument("the recurring post was refused: %v", err)
		}
		return nil, err
	}
	return &PostResult{Recurring: s.viewRecurring(rp), Created: created}, nil
}

// admitRecurring refuses a recurring post past the workspace's
// maxScheduledPosts: each holds an occurrence waiting to be published.
func (s *toolCall) admitRecurring(ctx context.Context) error {
	limit := 1000
	if l := s.ws.Spec.Limits; l != nil && l.MaxScheduledPosts != nil {
		limit = int(*l.MaxScheduledPosts)
	}
	list := &socialv1alpha1.RecurringPostList{}
	if err := s.client.List(ctx, list, client.InNamespace(s.ws.NamespaceName())); err != nil {
		return err
	}
	if len(list.Items) >= limit {
		return invalidArgument("workspace %q already has %d recurring posts, its limit (limits.maxScheduledPosts); delete one with %s first",
			s.ws.Name, len(list.Items), s.toolName("delete_post"))
	}
	return nil
}

type skipOccurrenceArgs struct {
	workspaceArg
	RecurringPostID string `json:"recurringPostId" jsonschema:"the recurring post, from ocoya_list_posts (upcoming) or ocoya_create_post" minLength:"1"`
	At              string `json:"at" jsonschema:"the occurrence to skip, as listed in nextOccurrences or upcoming (RFC 3339; any offset)" minLength:"1"`
	Restore         bool   `json:"restore,omitempty" jsonschema:"publish a skipped occurrence after all"`
}

func recurringTools() []Tool {
	return []Tool{
		declare(Tool{
			Name: "skip_occurrence", Title: "Skip one occurrence of a recurring post", Scope: socialv1alpha1.ScopePostsWrite, Idempotent: true,
			Description: "Skips one occurrence of a recurring post (or, with restore, publishes a skipped one after all); the other occurrences stay as they are. If the occurrence's post was already made (a minute before it is due) it is canceled, unless publishing started. Answers the recurring post with its next occurrences.",
		}, func(ctx context.Context, s *toolCall, in skipOccurrenceArgs) (*PostResult, error) {
			at, err := parseTime("at", in.At)
			if err != nil {
				return nil, err
			}
			rp := &socialv1alpha1.RecurringPost{ObjectMeta: metav1.ObjectMeta{Namespace: s.ws.NamespaceName(), Name: in.RecurringPostID}}
			err = s.updateFresh(ctx, rp, func() error {
				if err := writable(rp, "recurring post"); err != nil {
					return err
				}
				spec, _ := recurrence.Check(&rp.Spec, s.ws.Spec.TimeZone, nil)
				if !spec.Rule.Names(at) {
					return invalidArgument("%s is not an occurrence of recurring post %q; its next occurrences are %s",
						in.At, rp.Name, strings.Join(s.viewRecurring(rp).NextOccurrences, ", "))
				}
				if !in.Restore && !at.After(s.clock.Now()) {
					return invalidArgument("the occurrence at %s has already passed (it is now %s); call %s for its post", in.At, s.clock.Now().UTC().Format(time.RFC3339), s.toolName("list_posts"))
				}
				var kept []string
				for _, v := range rp.Spec.Skip {
					if t, err := time.Parse(time.RFC3339, v); err != nil || !t.Equal(at) {
						kept = append(kept, v)
					}
				}
				if !in.Restore {
					if len(kept) >= 500 {
						return invalidArgument("recurring post %q already skips 500 occurrences, the most it can; change its recurrence instead", rp.Name)
					}
					kept = append(kept, at.In(spec.Rule.Location()).Format(time.RFC3339))
				}
				slices.Sort(kept)
				rp.Spec.Skip = kept
				stamp(rp, s.caller)
				return nil
			})
			switch {
			case apierrors.IsNotFound(err):
				return nil, invalidArgument("recurring post %q not found in workspace %q. Call %s: its upcoming occurrences name their recurringPostId.", in.RecurringPostID, s.ws.Name, s.toolName("list_posts"))
			case apierrors.IsConflict(err):
				return nil, invalidArgument("recurring post %q was changed by someone else while this call ran; try again", in.RecurringPostID)
			case err != nil:
				return nil, err
			}
			return &PostResult{Recurring: s.viewRecurring(rp)}, nil
		}),
	}
}

// Occurrence is an upcoming occurrence of a recurring post whose post is
// not made yet.
type Occurrence struct {
	RecurringPostID string   `json:"recurringPostId" jsonschema:"the recurring post; ocoya_skip_occurrence skips this occurrence"`
	At              string   `json:"at" jsonschema:"when it publishes, RFC 3339 in the recurrence's time zone"`
	ProfileIDs      []string `json:"profileIds"`
	Text            string   `json:"text" jsonschema:"the text, cut after 100 characters; for an evergreen rotation, which post is chosen when the occurrence is made"`
}

// upcomingWindow is how far ahead list_posts shows occurrences when no
// "to" is given.
const upcomingWindow = 30 * 24 * time.Hour

// upcoming lists the occurrences of the workspace's recurring posts from
// from (or now) to to (or 30 days on), soonest first, at most limit.
func (s *toolCall) upcoming(ctx context.Context, from, to time.Time, profile string, limit int) ([]*Occurrence, error) {
	list := &socialv1alpha1.RecurringPostList{}
	if err := s.client.List(ctx, list, client.InNamespace(s.ws.NamespaceName())); err != nil {
		return nil, err
	}
	now := s.clock.Now()
	if to.IsZero() {
		to = now.Add(upcomingWindow)
	}
	type timed struct {
		at time.Time
		o  *Occurrence
	}
	var all []timed
	for i := range list.Items {
		rp := &list.Items[i]
		spec, errs := recurrence.Check(&rp.Spec, s.ws.Spec.TimeZone, nil)
		if !rp.Spec.Enabled || len(errs) > 0 {
			continue
		}
		contents := recurrence.Contents(&rp.Spec)
		profiles, text := []string{}, ""
		for _, c := range contents {
			for _, p := range c.Profiles {
				if !slices.Contains(profiles, p) {
					profiles = append(profiles, p)
				}
			}
		}
		if profile != "" && !slices.Contains(profiles, profile) {
			continue
		}
		if len(contents) == 1 {
			text = truncateText(contents[0].Text)
		} else {
			text = fmt.Sprintf("(evergreen: one of %d posts)", len(contents))
		}
		after := s.dealtWith(rp)
		if from.After(after) {
			after = from.Add(-time.Nanosecond)
		}
		for _, t := range spec.Rule.Upcoming(after, limit, spec.Skipped) {
			if !t.Before(to) {
				break
			}
			all = append(all, timed{t, &Occurrence{RecurringPostID: rp.Name, At: t.In(spec.Rule.Location()).Format(time.RFC3339), ProfileIDs: profiles, Text: text}})
		}
	}
	slices.SortStableFunc(all, func(a, b timed) int { return a.at.Compare(b.at) })
	out := []*Occurrence{}
	for _, t := range all[:min(limit, len(all))] {
		out = append(out, t.o)
	}
	return out, nil
}

// asRecurring finds the recurring post a post tool was given the id of.
func (s *toolCall) asRecurring(ctx context.Context, id string) (*socialv1alpha1.RecurringPost, bool) {
	rp := &socialv1alpha1.RecurringPost{}
	if err := s.get(ctx, client.ObjectKey{Namespace: s.ws.NamespaceName(), Name: id}, rp); err != nil {
		return nil, false
	}
	return rp, true
}

// stopRecurring disables a recurring post, or with remove deletes it.
func (s *toolCall) stopRecurring(ctx context.Context, rp *socialv1alpha1.RecurringPost, remove bool) (*DeleteResult, error) {
	if err := writable(rp, "recurring post"); err != nil {
		return nil, err
	}
	out := &DeleteResult{PostID: rp.Name, Canceled: true}
	if remove {
		if err := s.writeSeen(ctx, rp, true, func() error { return client.IgnoreNotFound(s.client.Delete(ctx, rp)) }); err != nil {
			return nil, err
		}
		out.Removed = true
		out.Message = "The recurring post was deleted: no further occurrences are made. Posts of past occurrences go with it; what was published stays on the platforms."
		return out, nil
	}
	if err := s.updateFresh(ctx, rp, func() error {
		rp.Spec.Enabled = false
		stamp(rp, s.caller)
		return nil
	}); err != nil {
		return nil, err
	}
	out.Message = "The recurring post is stopped: no further occurrences are made. Call again with remove: true to delete it."
	return out, nil
}
