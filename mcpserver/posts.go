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
	"github.com/herald-dev/herald/mcpserver/oauth"
)

type postArgs struct {
	workspaceArg
	PostID string `json:"postId" jsonschema:"id of a post from ocoya_list_posts or ocoya_create_post" minLength:"1"`
}

type createPostArgs struct {
	workspaceArg
	Text           string           `json:"text" jsonschema:"the post's text; the brand kit's signature and hashtags are added when it is published" minLength:"1" maxLength:"40000"`
	ProfileIDs     []string         `json:"profileIds,omitempty" jsonschema:"profile ids from ocoya_list_social_profiles for this workspace" maxItems:"50" maxLength:"253"`
	ScheduledAt    string           `json:"scheduledAt,omitempty" jsonschema:"when to publish, RFC 3339 with an offset such as 2026-07-01T09:00:00Z; with profileIds the post is scheduled, otherwise it stays a draft"`
	Variants       []VariantInput   `json:"variants,omitempty" jsonschema:"texts that replace text for one profile or platform, at most one each" maxItems:"50"`
	Media          []MediaInput     `json:"media,omitempty" jsonschema:"images or videos to attach" maxItems:"10"`
	BrandKitID     string           `json:"brandKitId,omitempty" jsonschema:"a brand kit id from ocoya_list_brand_kits"`
	IdempotencyKey string           `json:"idempotencyKey,omitempty" jsonschema:"any string; sending the same key again returns the same post instead of a duplicate" maxLength:"128"`
	Recurrence     *RecurrenceInput `json:"recurrence,omitempty" jsonschema:"makes the post repeat, from scheduledAt on: the answer is then a recurringPost, each of whose occurrences becomes a post of its own a minute before it is due"`
}

type updatePostArgs struct {
	workspaceArg
	PostID           string         `json:"postId" jsonschema:"id of the post to change" minLength:"1"`
	Text             string         `json:"text,omitempty" jsonschema:"new text; omit to keep it" maxLength:"40000"`
	ProfileIDs       []string       `json:"profileIds,omitempty" jsonschema:"new list of profile ids; omit to keep them" maxItems:"50" maxLength:"253"`
	Variants         []VariantInput `json:"variants,omitempty" jsonschema:"new variants, at most one per profile or platform; omit to keep them" maxItems:"50"`
	Media            []MediaInput   `json:"media,omitempty" jsonschema:"new media; omit to keep them" maxItems:"10"`
	BrandKitID       string         `json:"brandKitId,omitempty" jsonschema:"new brand kit id; omit to keep it"`
	ExpectedRevision string         `json:"expectedRevision,omitempty" jsonschema:"the revision from ocoya_get_post; the update is refused if the post changed since"`
}

type schedulePostArgs struct {
	workspaceArg
	PostID         string   `json:"postId,omitempty" jsonschema:"the draft or scheduled post to (re)schedule; omit to create a new post from text and profileIds"`
	ScheduledAt    string   `json:"scheduledAt" jsonschema:"when to publish, RFC 3339 with an offset such as 2026-07-01T09:00:00Z" minLength:"1"`
	Text           string   `json:"text,omitempty" jsonschema:"text of a new post, when postId is omitted" maxLength:"40000"`
	ProfileIDs     []string `json:"profileIds,omitempty" jsonschema:"profiles of a new post, or a replacement list for an existing one" maxItems:"50" maxLength:"253"`
	IdempotencyKey string   `json:"idempotencyKey,omitempty" jsonschema:"any string; sending the same key again returns the same post instead of a duplicate" maxLength:"128"`
}

type publishPostArgs struct {
	workspaceArg
	PostID         string   `json:"postId,omitempty" jsonschema:"the post to publish now; omit to publish new text to profileIds"`
	Text           string   `json:"text,omitempty" jsonschema:"text of a new post, when postId is omitted" maxLength:"40000"`
	ProfileIDs     []string `json:"profileIds,omitempty" jsonschema:"profiles of a new post" maxItems:"50" maxLength:"253"`
	IdempotencyKey string   `json:"idempotencyKey,omitempty" jsonschema:"any string; sending the same key again returns the same post instead of publishing twice" maxLength:"128"`
}

type retryPostArgs struct {
	workspaceArg
	PostID     string   `json:"postId" jsonschema:"id of the post whose deliveries to retry" minLength:"1"`
	ProfileIDs []string `json:"profileIds,omitempty" jsonschema:"the profiles to retry; omit to retry every Failed delivery. A Missed delivery is sent late only when named here; an Unknown one too, after checking the account: it may already be online" maxItems:"50" maxLength:"253"`
}

type deletePostArgs struct {
	workspaceArg
	PostID string `json:"postId" jsonschema:"the post to cancel or delete" minLength:"1"`
	Remove bool   `json:"remove,omitempty" jsonschema:"also delete Herald's record of the post; published copies on the platforms stay unless its deletionPolicy is DeleteRemote"`
}

// PostResult is the output of the tools that return one post or one
// recurring post.
type PostResult struct {
	Post      *PostView          `json:"post,omitempty" jsonschema:"the post; absent when the answer is a recurring post"`
	Recurring *RecurringPostView `json:"recurringPost,omitempty" jsonschema:"the recurring post, for a post made recurring or a recurringPostId"`
	Created   bool               `json:"created,omitempty" jsonschema:"false when an idempotencyKey returned an existing post"`
	Warnings  []string           `json:"warnings,omitempty" jsonschema:"problems that would stop this draft from publishing"`
}

// DeleteResult is the output of delete_post.
type DeleteResult struct {
	PostID   string `json:"postId"`
	Canceled bool   `json:"canceled" jsonschema:"deliveries not yet made will not be made"`
	Removed  bool   `json:"removed" jsonschema:"Herald's record of the post was deleted"`
	Message  string `json:"message"`
}

func postTools() []Tool {
	return []Tool{
		listPostsTool(),
		declare(Tool{
			Name: "get_post", Title: "Get a post", Scope: socialv1alpha1.ScopePostsRead, ReadOnly: true, Idempotent: true,
			Description: "Shows one post: text, profiles, schedule, phase and every delivery (external id, URL, publish time, error), with what to do next when a delivery failed. Given a recurring post's id, shows the recurring post and its next occurrences.",
		}, func(ctx context.Context, s *toolCall, in postArgs) (*PostResult, error) {
			p, err := s.post(ctx, in.PostID)
			if err != nil {
				if rp, ok := s.asRecurring(ctx, in.PostID); ok {
					return &PostResult{Recurring: s.viewRecurring(rp)}, nil
				}
				return nil, err
			}
			return &PostResult{Post: s.view(p)}, nil
		}),
		previewPostTool(),
		declare(Tool{
			Name: "create_post", Title: "Create a post", Scope: socialv1alpha1.ScopePostsWrite,
			Description: "Creates a post. With profileIds and scheduledAt it is scheduled; otherwise it is a draft that ocoya_schedule_post or ocoya_publish_post sends later. With a recurrence (and profileIds and scheduledAt) it repeats: daily, weekly or monthly, on chosen weekdays or days of the month and times, for a count or until a time; ocoya_list_posts shows its upcoming occurrences and ocoya_skip_occurrence skips one. Call ocoya_list_social_profiles first for the profile ids. Pass an idempotencyKey so a retried call cannot create a duplicate.",
		}, func(ctx context.Context, s *toolCall, in createPostArgs) (*PostResult, error) {
			if in.Recurrence != nil {
				return s.createRecurring(ctx, in)
			}
			p := s.newPost(in.IdempotencyKey)
			if err := s.apply(ctx, postContent{in.Text, in.ProfileIDs, in.Variants, in.Media, in.BrandKitID}, &p.Spec); err != nil {
				return nil, err
			}
			if in.ScheduledAt != "" {
				at, err := s.scheduleTime(in.ScheduledAt)
				if err != nil {
					return nil, err
				}
				p.Spec.ScheduledAt = at
			}
			p.Spec.Draft = p.Spec.ScheduledAt == "" || len(p.Spec.Profiles) == 0
			var warnings []string
			if p.Spec.Draft {
				var err error
				if warnings, err = s.problems(ctx, &p.Spec); err != nil {
					return nil, err
				}
			} else if err := s.readyToPublish(ctx, &p.Spec); err != nil {
				return nil, err
			}
			return s.create(ctx, p, in.IdempotencyKey, warnings)
		}),
		declare(Tool{
			Name: "update_post", Title: "Update a post", Scope: socialv1alpha1.ScopePostsWrite, Idempotent: true,
			Description: "Changes a draft or scheduled post's text, profiles, variants, media or brand kit. Refused once publishing started (create a new post instead). Pass expectedRevision from ocoya_get_post to refuse the change if someone else edited the post meanwhile.",
		}, func(ctx context.Context, s *toolCall, in updatePostArgs) (*PostResult, error) {
			return s.changePost(ctx, in.PostID, in.ExpectedRevision, func(p *socialv1alpha1.ScheduledPost) error {
				if err := s.apply(ctx, postContent{in.Text, in.ProfileIDs, in.Variants, in.Media, in.BrandKitID}, &p.Spec); err != nil {
					return err
				}
				if !p.Spec.Draft {
					return s.readyToPublish(ctx, &p.Spec)
				}
				return nil
			})
		}),
		declare(Tool{
			Name: "schedule_post", Title: "Schedule a post", Scope: socialv1alpha1.ScopePostsWrite, Idempotent: true,
			Description: "Schedules a draft, reschedules a post that has not been published yet (a Missed or canceled one included), or (without postId) creates a scheduled post from text and profileIds. scheduledAt is RFC 3339 with an offset, such as 2026-07-01T09:00:00Z.",
		}, func(ctx context.Context, s *toolCall, in schedulePostArgs) (*PostResult, error) {
			at, err := s.scheduleTime(in.ScheduledAt)
			if err != nil {
				return nil, err
			}
			if in.PostID == "" {
				return s.createAndSend(ctx, in.Text, in.ProfileIDs, at, in.IdempotencyKey)
			}
			return s.changePost(ctx, in.PostID, "", func(p *socialv1alpha1.ScheduledPost) error {
				if err := s.apply(ctx, postContent{ProfileIDs: in.ProfileIDs, Text: in.Text}, &p.Spec); err != nil {
					return err
				}
				p.Spec.ScheduledAt, p.Spec.Draft, p.Spec.Canceled = at, false, false
				return s.readyToPublish(ctx, &p.Spec)
			})
		}),
		declare(Tool{
			Name: "publish_post", Title: "Publish a post now", Scope: socialv1alpha1.ScopePostsPublish, Destructive: true,
			Description: "Publishes a post immediately to all its profiles: a draft or scheduled post by postId, or (without postId) new text to profileIds. This posts publicly; confirm with the user first. In a workspace that requires approval (see ocoya_get_me) the post is held instead: the answer has phase AwaitingApproval, who may approve it and the approvalUrl to give them; it publishes once approved. Follow up with ocoya_get_post to see each delivery's URL.",
		}, func(ctx context.Context, s *toolCall, in publishPostArgs) (*PostResult, error) {
			now := s.clock.Now().UTC().Format(time.RFC3339)
			if in.PostID == "" {
				return s.createAndSend(ctx, in.Text, in.ProfileIDs, now, in.IdempotencyKey)
			}
			return s.changePost(ctx, in.PostID, "", func(p *socialv1alpha1.ScheduledPost) error {
				p.Spec.ScheduledAt, p.Spec.Draft, p.Spec.Canceled = now, false, false
				return s.readyToPublish(ctx, &p.Spec)
			})
		}),
		declare(Tool{
			Name: "delete_post", Title: "Cancel or delete a post", Scope: socialv1alpha1.ScopePostsWrite, Destructive: true, Idempotent: true,
			Description: "Cancels a post: deliveries not yet made will not be made. The record of a post stays (so its published URLs remain visible) unless remove is true. Copies already published on the platforms stay, unless the post's deletionPolicy (set in Kubernetes) is DeleteRemote: then removing it deletes them where the platform allows. Given a recurring post's id, stops it: no further occurrences are made (remove deletes it).",
		}, func(ctx context.Context, s *toolCall, in deletePostArgs) (*DeleteResult, error) {
			p, err := s.post(ctx, in.PostID)
			if err != nil {
				if rp, ok := s.asRecurring(ctx, in.PostID); ok {
					return s.stopRecurring(ctx, rp, in.Remove)
				}
				return nil, err
			}
			if err := writable(p, "post"); err != nil {
				return nil, err
			}
			out := &DeleteResult{PostID: p.Name}
			if in.Remove {
				if err := s.writeSeen(ctx, p, true, func() error { return client.IgnoreNotFound(s.client.Delete(ctx, p)) }); err != nil {
					return nil, err
				}
				out.Canceled, out.Removed = true, true
				out.Message = "The post was deleted from Herald. Anything already published stays on the platforms."
				if p.Spec.DeletionPolicy == socialv1alpha1.DeletionDeleteRemote {
					out.Message = "The post was deleted from Herald. Its deletionPolicy is DeleteRemote, so Herald deletes the published copies on the platforms that allow it; the post's Kubernetes events name any that stay."
				}
				return out, nil
			}
			if _, err := s.changePost(ctx, in.PostID, "", func(p *socialv1alpha1.ScheduledPost) error {
				p.Spec.Canceled = true
				return nil
			}, allowAfterStart); err != nil {
				return nil, err
			}
			out.Canceled = true
			out.Message = "The post is canceled; deliveries not yet made will not be made. Call again with remove: true to delete the record."
			return out, nil
		}),
		declare(Tool{
			Name: "retry_post", Title: "Retry failed deliveries", Scope: socialv1alpha1.ScopePostsPublish, Destructive: true,
			Description: "Sends a post's deliveries again, each as a new attempt: without profileIds every Failed one, and only those. A Missed delivery (its time passed before it was sent) is sent now only when named in profileIds. An Unknown delivery may already be online, so it too is retried only when named; check the account first, or the post may appear twice.",
		}, func(ctx context.Context, s *toolCall, in retryPostArgs) (*PostResult, error) {
			return s.changePost(ctx, in.PostID, "", func(p *socialv1alpha1.ScheduledPost) error {
				targets, err := retryTargets(p, in.ProfileIDs, s.toolName("retry_post"))
				if err != nil {
					return err
				}
				if p.Annotations == nil {
					p.Annotations = map[string]string{}
				}
				p.Annotations[socialv1alpha1.AnnotationRetryRequestedAt] = s.clock.Now().UTC().Format(time.RFC3339Nano)
				delete(p.Annotations, socialv1alpha1.AnnotationRetryProfiles)
				if len(in.ProfileIDs) > 0 {
					p.Annotations[socialv1alpha1.AnnotationRetryProfiles] = strings.Join(targets, ",")
				}
				return nil
			}, allowAfterStart)
		}),
	}
}

// retryTargets checks a retry request against the post's deliveries, by
// the rule the reconciler applies (post.Retryable), and returns the
// profiles it takes.
func retryTargets(p *socialv1alpha1.ScheduledPost, named []string, tool string) ([]string, error) {
	var targets, onlyNamed, refused []string
	if len(named) == 0 {
		for i := range p.Status.Deliveries {
			d := &p.Status.Deliveries[i]
			ok, why := post.Retryable(d, false)
			if ok {
				targets = append(targets, d.Profile)
			} else if whenNamed, _ := post.Retryable(d, true); whenNamed {
				onlyNamed = append(onlyNamed, fmt.Sprintf("%s: %s", d.Profile, why))
			}
		}
		if len(targets) > 0 {
			return targets, nil
		}
		if len(onlyNamed) > 0 {
			return nil, invalidArgument("post %q has no Failed deliveries, the only ones a retry without profileIds takes (%s); call %s with profileIds naming those to send, and for an Unknown one check the account first: it may already be online",
				p.Name, strings.Join(onlyNamed, "; "), tool)
		}
		return nil, invalidArgument("post %q has no Failed, Missed or Unknown deliveries to retry (phase %s)", p.Name, p.Status.Phase)
	}
	for _, name := range named {
		d := post.Find(p.Status.Deliveries, name)
		if d == nil {
			refused = append(refused, fmt.Sprintf("%s is not one of its profiles", name))
			continue
		}
		if ok, why := post.Retryable(d, true); !ok {
			refused = append(refused, fmt.Sprintf("%s: %s", name, why))
			continue
		}
		if !slices.Contains(targets, name) {
			targets = append(targets, name)
		}
	}
	if len(refused) > 0 {
		return nil, invalidArgument("post %q cannot retry %s; only Failed, Missed and Unknown deliveries are retried", p.Name, strings.Join(refused, "; "))
	}
	return targets, nil
}

// view describes p for the caller's workspace.
// view describes p as written, its approval judged against the
// workspace's policy as it now stands.
func (s *toolCall) view(p *socialv1alpha1.ScheduledPost) *PostView {
	p = p.DeepCopy()
	approved := post.ApplyApproval(s.ws, p)
	v := viewPost(p, s.ws.Name, s.opts.ToolPrefix, s.clock.Now())
	if !approved && !p.Spec.Canceled && s.opts.PublicURL != "" {
		v.ApprovalURL = strings.TrimSuffix(s.opts.PublicURL, "/") + oauth.ApprovalPath(s.ws.Name, p.Name)
	}
	return &v
}

// newPost starts a post in the workspace's namespace, named after the
// idempotency key when there is one.
func (s *toolCall) newPost(key string) *socialv1alpha1.ScheduledPost {
	p := &socialv1alpha1.ScheduledPost{ObjectMeta: metav1.ObjectMeta{Namespace: s.ws.NamespaceName(), GenerateName: "post-"}}
	if key != "" {
		p.Name, p.GenerateName = idempotentName("post-", s.ws.Name, key), ""
		p.Spec.IdempotencyKey = key
	}
	return p
}

// create creates p (or, for an idempotency key sent before, finds the post
// the first call made) and describes it as written.
func (s *toolCall) create(ctx context.Context, p *socialv1alpha1.ScheduledPost, key string, warnings []string) (*PostResult, error) {
	stamp(p, s.caller)
	if err := s.admit(ctx, p, nil); err != nil {
		// A retried call finds the post its first call made, limit or not.
		if key == "" || s.reader().Get(ctx, client.ObjectKeyFromObject(p), p) != nil {
			return nil, err
		}
		return &PostResult{Post: s.view(p), Created: false, Warnings: warnings}, nil
	}
	created, err := s.createOnce(ctx, p, key)
	if err != nil {
		return nil, err
	}
	return &PostResult{Post: s.view(p), Created: created, Warnings: warnings}, nil
}

// createAndSend creates a post that publishes at at.
func (s *toolCall) createAndSend(ctx context.Context, text string, profiles []string, at, key string) (*PostResult, error) {
	if strings.TrimSpace(text) == "" {
		return nil, invalidArgument("give postId, or text and profileIds for a new post")
	}
	p := s.newPost(key)
	if err := s.apply(ctx, postContent{Text: text, ProfileIDs: profiles}, &p.Spec); err != nil {
		return nil, err
	}
	p.Spec.ScheduledAt = at
	if err := s.readyToPublish(ctx, &p.Spec); err != nil {
		return nil, err
	}
	return s.create(ctx, p, key, nil)
}

// allowAfterStart lets a change through after publishing started (cancel, retry).
type changeOption int

const allowAfterStart changeOption = 1

// changePost applies mutate to a fresh copy of the post and writes it with
// optimistic concurrency, refusing GitOps-owned posts and, unless allowed,
// posts whose publishing started. Without an expected revision a conflict
// (the reconciler writing status a moment after a create) is retried on a
// fresh copy; with one, it is the caller's answer. The answer describes the
// post as written.
func (s *toolCall) changePost(ctx context.Context, id, expectedRevision string, mutate func(*socialv1alpha1.ScheduledPost) error, opts ...changeOption) (*PostResult, error) {
	p := &socialv1alpha1.ScheduledPost{ObjectMeta: metav1.ObjectMeta{Namespace: s.ws.NamespaceName(), Name: id}}
	change := func() error {
		if err := writable(p, "post"); err != nil {
			return err
		}
		if expectedRevision != "" && expectedRevision != p.ResourceVersion {
			return invalidArgument("post %q changed since revision %s (it is now at %s). Call %s, check the change, and try again with the new revision.",
				id, expectedRevision, p.ResourceVersion, s.toolName("get_post"))
		}
		if len(opts) == 0 && post.AnyStarted(p) {
			return invalidArgument("post %q is %s: publishing started, so it can no longer be changed. Create a new post with %s instead.",
				id, post.PhaseOf(p, s.clock.Now()), s.toolName("create_post"))
		}
		before := p.DeepCopy()
		if err := mutate(p); err != nil {
			return err
		}
		if err := s.admit(ctx, post.AsWritten(p, s.clock.Now()), post.AsWritten(before, s.clock.Now())); err != nil {
			return err
		}
		stamp(p, s.caller)
		return nil
	}
	var err error
	if expectedRevision == "" {
		err = s.updateFresh(ctx, p, change)
	} else if err = s.reader().Get(ctx, client.ObjectKeyFromObject(p), p); err == nil {
		before := p.DeepCopy()
		if err = change(); err == nil {
			err = s.writeSeen(ctx, p, false, func() error { return s.update(ctx, p, before) })
		}
	}
	switch {
	case err == nil:
		return &PostResult{Post: s.view(p)}, nil
	case apierrors.IsNotFound(err):
		return nil, invalidArgument("post %q not found in workspace %q. Call %s to find its id.", id, s.ws.Name, s.toolName("list_posts"))
	case apierrors.IsConflict(err):
		return nil, invalidArgument("post %q was changed by someone else while this call ran. Call %s and try again.", id, s.toolName("get_post"))
	case apierrors.IsInvalid(err):
		return nil, invalidArgument("the change was refused: %v", err)
	}
	return nil, err
}
