package mcpserver

import (
	"context"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	socialv1alpha1 "github.com/herald-dev/herald/api/v1alpha1"
)

type postArgs struct {
	WorkspaceID string `json:"workspaceId" jsonschema:"id of a workspace from ocoya_list_workspaces" minLength:"1"`
	PostID      string `json:"postId" jsonschema:"id of a post from ocoya_list_posts or ocoya_create_post" minLength:"1"`
}

type createPostArgs struct {
	WorkspaceID    string         `json:"workspaceId" jsonschema:"id of a workspace from ocoya_list_workspaces" minLength:"1"`
	Text           string         `json:"text" jsonschema:"the post's text; the brand kit's signature and hashtags are added when it is published" minLength:"1" maxLength:"40000"`
	ProfileIDs     []string       `json:"profileIds,omitempty" jsonschema:"profile ids from ocoya_list_social_profiles for this workspace"`
	ScheduledAt    string         `json:"scheduledAt,omitempty" jsonschema:"when to publish, RFC 3339 with an offset such as 2026-07-01T09:00:00Z; with profileIds the post is scheduled, otherwise it stays a draft"`
	Variants       []VariantInput `json:"variants,omitempty" jsonschema:"texts that replace text for one profile or platform"`
	Media          []MediaInput   `json:"media,omitempty" jsonschema:"images or videos to attach"`
	BrandKitID     string         `json:"brandKitId,omitempty" jsonschema:"a brand kit id from ocoya_list_brand_kits"`
	IdempotencyKey string         `json:"idempotencyKey,omitempty" jsonschema:"any string; sending the same key again returns the same post instead of a duplicate" maxLength:"128"`
}

type updatePostArgs struct {
	WorkspaceID      string         `json:"workspaceId" jsonschema:"id of a workspace from ocoya_list_workspaces" minLength:"1"`
	PostID           string         `json:"postId" jsonschema:"id of the post to change" minLength:"1"`
	Text             string         `json:"text,omitempty" jsonschema:"new text; omit to keep it" maxLength:"40000"`
	ProfileIDs       []string       `json:"profileIds,omitempty" jsonschema:"new list of profile ids; omit to keep them"`
	Variants         []VariantInput `json:"variants,omitempty" jsonschema:"new variants; omit to keep them"`
	Media            []MediaInput   `json:"media,omitempty" jsonschema:"new media; omit to keep them"`
	BrandKitID       string         `json:"brandKitId,omitempty" jsonschema:"new brand kit id; omit to keep it"`
	ExpectedRevision string         `json:"expectedRevision,omitempty" jsonschema:"the revision from ocoya_get_post; the update is refused if the post changed since"`
}

type schedulePostArgs struct {
	WorkspaceID    string   `json:"workspaceId" jsonschema:"id of a workspace from ocoya_list_workspaces" minLength:"1"`
	PostID         string   `json:"postId,omitempty" jsonschema:"the draft or scheduled post to (re)schedule; omit to create a new post from text and profileIds"`
	ScheduledAt    string   `json:"scheduledAt" jsonschema:"when to publish, RFC 3339 with an offset such as 2026-07-01T09:00:00Z" minLength:"1"`
	Text           string   `json:"text,omitempty" jsonschema:"text of a new post, when postId is omitted"`
	ProfileIDs     []string `json:"profileIds,omitempty" jsonschema:"profiles of a new post, or a replacement list for an existing one"`
	IdempotencyKey string   `json:"idempotencyKey,omitempty" jsonschema:"any string; sending the same key again returns the same post instead of a duplicate" maxLength:"128"`
}

type publishPostArgs struct {
	WorkspaceID    string   `json:"workspaceId" jsonschema:"id of a workspace from ocoya_list_workspaces" minLength:"1"`
	PostID         string   `json:"postId,omitempty" jsonschema:"the post to publish now; omit to publish new text to profileIds"`
	Text           string   `json:"text,omitempty" jsonschema:"text of a new post, when postId is omitted"`
	ProfileIDs     []string `json:"profileIds,omitempty" jsonschema:"profiles of a new post"`
	IdempotencyKey string   `json:"idempotencyKey,omitempty" jsonschema:"any string; sending the same key again returns the same post instead of publishing twice" maxLength:"128"`
}

type deletePostArgs struct {
	WorkspaceID string `json:"workspaceId" jsonschema:"id of a workspace from ocoya_list_workspaces" minLength:"1"`
	PostID      string `json:"postId" jsonschema:"the post to cancel or delete" minLength:"1"`
	Remove      bool   `json:"remove,omitempty" jsonschema:"also delete Herald's record of the post; published copies on the platforms stay unless its deletionPolicy is DeleteRemote"`
}

// PostResult is the output of the tools that return one post.
type PostResult struct {
	Post     PostView `json:"post"`
	Created  bool     `json:"created,omitempty" jsonschema:"false when an idempotencyKey returned an existing post"`
	Warnings []string `json:"warnings,omitempty" jsonschema:"problems that would stop this draft from publishing"`
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
			Description: "Shows one post: text, profiles, schedule, phase and every delivery (external id, URL, publish time, error), with what to do next when a delivery failed.",
		}, func(ctx context.Context, s *Server, in postArgs) (*PostResult, error) {
			ws, err := s.workspace(ctx, in.WorkspaceID, socialv1alpha1.ScopePostsRead)
			if err != nil {
				return nil, err
			}
			p, err := s.post(ctx, ws, in.PostID)
			if err != nil {
				return nil, err
			}
			return &PostResult{Post: viewPost(p, ws.Name, s.opts.ToolPrefix)}, nil
		}),
		previewPostTool(),
		declare(Tool{
			Name: "create_post", Title: "Create a post", Scope: socialv1alpha1.ScopePostsWrite,
			Description: "Creates a post. With profileIds and scheduledAt it is scheduled; otherwise it is a draft that ocoya_schedule_post or ocoya_publish_post sends later. Call ocoya_list_social_profiles first for the profile ids. Pass an idempotencyKey so a retried call cannot create a duplicate.",
		}, func(ctx context.Context, s *Server, in createPostArgs) (*PostResult, error) {
			ws, err := s.workspace(ctx, in.WorkspaceID, socialv1alpha1.ScopePostsWrite)
			if err != nil {
				return nil, err
			}
			post := s.newPost(ws, in.IdempotencyKey)
			if err := s.apply(ctx, ws, postContent{in.Text, in.ProfileIDs, in.Variants, in.Media, in.BrandKitID}, &post.Spec); err != nil {
				return nil, err
			}
			if in.ScheduledAt != "" {
				if post.Spec.ScheduledAt, err = s.scheduleTime(in.ScheduledAt); err != nil {
					return nil, err
				}
			}
			post.Spec.Draft = post.Spec.ScheduledAt == "" || len(post.Spec.Profiles) == 0
			var warnings []string
			if post.Spec.Draft {
				if warnings, err = s.problems(ctx, ws, &post.Spec); err != nil {
					return nil, err
				}
			} else if err := s.readyToPublish(ctx, ws, &post.Spec); err != nil {
				return nil, err
			}
			return s.create(ctx, ws, post, in.IdempotencyKey, warnings)
		}),
		declare(Tool{
			Name: "update_post", Title: "Update a post", Scope: socialv1alpha1.ScopePostsWrite, Idempotent: true,
			Description: "Changes a draft or scheduled post's text, profiles, variants, media or brand kit. Refused once publishing started (create a new post instead). Pass expectedRevision from ocoya_get_post to refuse the change if someone else edited the post meanwhile.",
		}, func(ctx context.Context, s *Server, in updatePostArgs) (*PostResult, error) {
			ws, err := s.workspace(ctx, in.WorkspaceID, socialv1alpha1.ScopePostsWrite)
			if err != nil {
				return nil, err
			}
			return s.changePost(ctx, ws, in.PostID, in.ExpectedRevision, func(p *socialv1alpha1.ScheduledPost) error {
				if err := s.apply(ctx, ws, postContent{in.Text, in.ProfileIDs, in.Variants, in.Media, in.BrandKitID}, &p.Spec); err != nil {
					return err
				}
				if !p.Spec.Draft {
					return s.readyToPublish(ctx, ws, &p.Spec)
				}
				return nil
			})
		}),
		declare(Tool{
			Name: "schedule_post", Title: "Schedule a post", Scope: socialv1alpha1.ScopePostsWrite, Idempotent: true,
			Description: "Schedules a draft, reschedules a post that has not been published yet, or (without postId) creates a scheduled post from text and profileIds. scheduledAt is RFC 3339 with an offset, such as 2026-07-01T09:00:00Z.",
		}, func(ctx context.Context, s *Server, in schedulePostArgs) (*PostResult, error) {
			ws, err := s.workspace(ctx, in.WorkspaceID, socialv1alpha1.ScopePostsWrite)
			if err != nil {
				return nil, err
			}
			at, err := s.scheduleTime(in.ScheduledAt)
			if err != nil {
				return nil, err
			}
			if in.PostID == "" {
				return s.createAndSend(ctx, ws, in.Text, in.ProfileIDs, at, in.IdempotencyKey)
			}
			return s.changePost(ctx, ws, in.PostID, "", func(p *socialv1alpha1.ScheduledPost) error {
				if err := s.apply(ctx, ws, postContent{ProfileIDs: in.ProfileIDs, Text: in.Text}, &p.Spec); err != nil {
					return err
				}
				p.Spec.ScheduledAt, p.Spec.Draft, p.Spec.Canceled = at, false, false
				return s.readyToPublish(ctx, ws, &p.Spec)
			})
		}),
		declare(Tool{
			Name: "publish_post", Title: "Publish a post now", Scope: socialv1alpha1.ScopePostsPublish, Destructive: true,
			Description: "Publishes a post immediately to all its profiles: a draft or scheduled post by postId, or (without postId) new text to profileIds. This posts publicly; confirm with the user first. Follow up with ocoya_get_post to see each delivery's URL.",
		}, func(ctx context.Context, s *Server, in publishPostArgs) (*PostResult, error) {
			ws, err := s.workspace(ctx, in.WorkspaceID, socialv1alpha1.ScopePostsPublish)
			if err != nil {
				return nil, err
			}
			now := s.clock.Now().UTC().Format(time.RFC3339)
			if in.PostID == "" {
				return s.createAndSend(ctx, ws, in.Text, in.ProfileIDs, now, in.IdempotencyKey)
			}
			return s.changePost(ctx, ws, in.PostID, "", func(p *socialv1alpha1.ScheduledPost) error {
				p.Spec.ScheduledAt, p.Spec.Draft, p.Spec.Canceled = now, false, false
				return s.readyToPublish(ctx, ws, &p.Spec)
			})
		}),
		declare(Tool{
			Name: "delete_post", Title: "Cancel or delete a post", Scope: socialv1alpha1.ScopePostsWrite, Destructive: true, Idempotent: true,
			Description: "Cancels a post: deliveries not yet made will not be made. The record of a post stays (so its published URLs remain visible) unless remove is true. Copies already published on the platforms stay, unless the post's deletionPolicy (set in Kubernetes) is DeleteRemote: then removing it deletes them where the platform allows.",
		}, func(ctx context.Context, s *Server, in deletePostArgs) (*DeleteResult, error) {
			ws, err := s.workspace(ctx, in.WorkspaceID, socialv1alpha1.ScopePostsWrite)
			if err != nil {
				return nil, err
			}
			p, err := s.post(ctx, ws, in.PostID)
			if err != nil {
				return nil, err
			}
			if err := writable(p, "post"); err != nil {
				return nil, err
			}
			out := &DeleteResult{PostID: p.Name}
			if in.Remove {
				if err := s.client.Delete(ctx, p); err != nil && !apierrors.IsNotFound(err) {
					return nil, err
				}
				s.settle(ctx, p, true)
				out.Canceled, out.Removed = true, true
				out.Message = "The post was deleted from Herald. Anything already published stays on the platforms."
				if p.Spec.DeletionPolicy == socialv1alpha1.DeletionDeleteRemote {
					out.Message = "The post was deleted from Herald. Its deletionPolicy is DeleteRemote, so Herald deletes the published copies on the platforms that allow it; the post's Kubernetes events name any that stay."
				}
				return out, nil
			}
			if _, err := s.changePost(ctx, ws, in.PostID, "", func(p *socialv1alpha1.ScheduledPost) error {
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
			Description: "Queues the post's Failed or Unknown deliveries for another attempt. For an Unknown delivery, first check the platform: the earlier attempt may have been published.",
		}, func(ctx context.Context, s *Server, in postArgs) (*PostResult, error) {
			ws, err := s.workspace(ctx, in.WorkspaceID, socialv1alpha1.ScopePostsPublish)
			if err != nil {
				return nil, err
			}
			return s.changePost(ctx, ws, in.PostID, "", func(p *socialv1alpha1.ScheduledPost) error {
				var retryable []string
				for _, d := range p.Status.Deliveries {
					if d.Phase == socialv1alpha1.DeliveryFailed || d.Phase == socialv1alpha1.DeliveryUnknown {
						retryable = append(retryable, d.Profile)
					}
				}
				if len(retryable) == 0 {
					return invalidArgument("post %q has no Failed or Unknown deliveries to retry (phase %s)", p.Name, phaseOf(p))
				}
				if p.Annotations == nil {
					p.Annotations = map[string]string{}
				}
				p.Annotations[socialv1alpha1.AnnotationRetryRequestedAt] = s.clock.Now().UTC().Format(time.RFC3339Nano)
				return nil
			}, allowAfterStart)
		}),
	}
}

// newPost starts a post in the workspace's namespace, named after the
// idempotency key when there is one.
func (s *Server) newPost(ws *socialv1alpha1.Workspace, key string) *socialv1alpha1.ScheduledPost {
	p := &socialv1alpha1.ScheduledPost{ObjectMeta: metav1.ObjectMeta{Namespace: ws.NamespaceName(), GenerateName: "post-"}}
	if key != "" {
		p.Name, p.GenerateName = idempotentName("post-", ws.Name, key), ""
		p.Spec.IdempotencyKey = key
	}
	return p
}

func (s *Server) create(ctx context.Context, ws *socialv1alpha1.Workspace, p *socialv1alpha1.ScheduledPost, key string, warnings []string) (*PostResult, error) {
	stamp(p, s.caller(ctx))
	created, err := s.createOnce(ctx, p, key)
	if err != nil {
		return nil, err
	}
	return &PostResult{Post: viewPost(p, ws.Name, s.opts.ToolPrefix), Created: created, Warnings: warnings}, nil
}

// createAndSend creates a post that publishes at at.
func (s *Server) createAndSend(ctx context.Context, ws *socialv1alpha1.Workspace, text string, profiles []string, at, key string) (*PostResult, error) {
	if strings.TrimSpace(text) == "" {
		return nil, invalidArgument("give postId, or text and profileIds for a new post")
	}
	p := s.newPost(ws, key)
	if err := s.apply(ctx, ws, postContent{Text: text, ProfileIDs: profiles}, &p.Spec); err != nil {
		return nil, err
	}
	p.Spec.ScheduledAt = at
	if err := s.readyToPublish(ctx, ws, &p.Spec); err != nil {
		return nil, err
	}
	return s.create(ctx, ws, p, key, nil)
}

// allowAfterStart lets a change through after publishing started (cancel, retry).
type changeOption int

const allowAfterStart changeOption = 1

// changePost applies mutate to a fresh copy of the post and writes it with
// optimistic concurrency, refusing GitOps-owned posts and, unless allowed,
// posts whose publishing started. Without an expected revision a conflict
// (the reconciler writing status a moment after a create) is retried on a
// fresh copy; with one, it is the caller's answer.
func (s *Server) changePost(ctx context.Context, ws *socialv1alpha1.Workspace, id, expectedRevision string, mutate func(*socialv1alpha1.ScheduledPost) error, opts ...changeOption) (*PostResult, error) {
	var p *socialv1alpha1.ScheduledPost
	attempt := func() error {
		var err error
		if p, err = s.postFrom(ctx, s.reader(), ws, id); err != nil {
			return err
		}
		if err := writable(p, "post"); err != nil {
			return err
		}
		if expectedRevision != "" && expectedRevision != p.ResourceVersion {
			return invalidArgument("post %q changed since revision %s (it is now at %s). Call %s, check the change, and try again with the new revision.",
				id, expectedRevision, p.ResourceVersion, s.toolName("get_post"))
		}
		if len(opts) == 0 && publishingStarted(p) {
			return invalidArgument("post %q is %s: publishing started, so it can no longer be changed. Create a new post with %s instead.",
				id, phaseOf(p), s.toolName("create_post"))
		}
		if err := mutate(p); err != nil {
			return err
		}
		stamp(p, s.caller(ctx))
		return s.client.Update(ctx, p)
	}
	err := attempt()
	for tries := 1; apierrors.IsConflict(err) && expectedRevision == "" && tries < 5; tries++ {
		err = attempt()
	}
	switch {
	case err == nil:
		s.settle(ctx, p, false)
		return &PostResult{Post: viewPost(p, ws.Name, s.opts.ToolPrefix)}, nil
	case apierrors.IsConflict(err):
		return nil, invalidArgument("post %q was changed by someone else while this call ran. Call %s and try again.", id, s.toolName("get_post"))
	case apierrors.IsInvalid(err):
		return nil, invalidArgument("the change was refused: %v", err)
	}
	return nil, err
}
