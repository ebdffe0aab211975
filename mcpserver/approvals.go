package mcpserver

import (
	"context"
	"strings"
	"time"

	socialv1alpha1 "github.com/herald-dev/herald/api/v1alpha1"
	"github.com/herald-dev/herald/internal/post"
	"github.com/herald-dev/herald/internal/recurrence"
)

type approvePostArgs struct {
	workspaceArg
	PostID           string `json:"postId" jsonschema:"the post to approve, from ocoya_list_posts with status AwaitingApproval" minLength:"1"`
	ExpectedRevision string `json:"expectedRevision,omitempty" jsonschema:"the revision from ocoya_get_post that you reviewed; the approval is refused if the post changed since"`
}

type rejectPostArgs struct {
	workspaceArg
	PostID string `json:"postId" jsonschema:"the post to reject" minLength:"1"`
	Reason string `json:"reason" jsonschema:"why, for the person who wrote it" minLength:"1" maxLength:"500"`
}

func approvalTools() []Tool {
	return []Tool{
		declare(Tool{
			Name: "approve_post", Title: "Approve a post", Scope: socialv1alpha1.ScopePostsApprove, Idempotent: true,
			Description: "Approves a post awaiting approval, in a workspace that requires it, as it now stands: it then publishes at its scheduled time. An edit of its text, media, profiles or time afterwards withdraws the approval. Given a recurring post's id, approves all its occurrences (until its recurrence or posts change). Only owners and approvers may approve. Call ocoya_preview_post first, and pass expectedRevision from ocoya_get_post so what you approve is what you reviewed.",
		}, func(ctx context.Context, s *toolCall, in approvePostArgs) (*PostResult, error) {
			if _, err := s.post(ctx, in.PostID); err != nil {
				if rp, ok := s.asRecurring(ctx, in.PostID); ok {
					return s.approveSeries(ctx, rp, in.ExpectedRevision)
				}
				return nil, err
			}
			return s.changePost(ctx, in.PostID, in.ExpectedRevision, func(p *socialv1alpha1.ScheduledPost) error {
				if !post.NeedsApproval(s.ws, p) {
					return invalidArgument("post %q needs no approval: workspace %q does not require it for this post, so it publishes at its time", p.Name, s.ws.Name)
				}
				if p.Spec.Canceled {
					return invalidArgument("post %q is canceled (or was rejected); there is nothing to approve", p.Name)
				}
				post.Approve(p, s.caller.Subject, s.clock.Now())
				return nil
			})
		}),
		declare(Tool{
			Name: "reject_post", Title: "Reject a post", Scope: socialv1alpha1.ScopePostsApprove, Destructive: true, Idempotent: true,
			Description: "Rejects a post awaiting approval, with the reason: the post is canceled and never published, and its author sees who rejected it and why. Only owners and approvers may reject.",
		}, func(ctx context.Context, s *toolCall, in rejectPostArgs) (*PostResult, error) {
			reason := strings.TrimSpace(in.Reason)
			if reason == "" {
				return nil, invalidArgument("give a reason, for the person who wrote the post")
			}
			return s.changePost(ctx, in.PostID, "", func(p *socialv1alpha1.ScheduledPost) error {
				if !post.NeedsApproval(s.ws, p) {
					return invalidArgument("post %q needs no approval in workspace %q; to stop it, call %s", p.Name, s.ws.Name, s.toolName("delete_post"))
				}
				post.Reject(p, s.caller.Subject, reason)
				return nil
			})
		}),
	}
}

// seriesAsPost is a stand-in post for the approval policy: what a
// recurring post's occurrences will be, as far as the policy looks.
func seriesAsPost(rp *socialv1alpha1.RecurringPost) *socialv1alpha1.ScheduledPost {
	p := &socialv1alpha1.ScheduledPost{}
	p.Annotations = rp.Annotations
	for _, c := range recurrence.Contents(&rp.Spec) {
		p.Spec.Profiles = append(p.Spec.Profiles, c.Profiles...)
	}
	return p
}

// approveSeries approves every occurrence of rp as it now stands.
func (s *toolCall) approveSeries(ctx context.Context, rp *socialv1alpha1.RecurringPost, expectedRevision string) (*PostResult, error) {
	if !post.NeedsApproval(s.ws, seriesAsPost(rp)) {
		return nil, invalidArgument("recurring post %q needs no approval: workspace %q does not require it for its posts", rp.Name, s.ws.Name)
	}
	err := s.updateFresh(ctx, rp, func() error {
		if err := writable(rp, "recurring post"); err != nil {
			return err
		}
		if expectedRevision != "" && expectedRevision != rp.ResourceVersion {
			return invalidArgument("recurring post %q changed since revision %s (it is now at %s); look at it again with %s", rp.Name, expectedRevision, rp.ResourceVersion, s.toolName("get_post"))
		}
		rp.Spec.Approval = &socialv1alpha1.PostApproval{ApprovedBy: s.caller.Subject, ApprovedAt: s.clock.Now().UTC().Format(time.RFC3339), ContentDigest: recurrence.SeriesDigest(&rp.Spec)}
		stamp(rp, s.caller)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &PostResult{Recurring: s.viewRecurring(rp)}, nil
}
