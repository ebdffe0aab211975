package mcpserver

import (
	"context"
	"strings"

	socialv1alpha1 "github.com/herald-dev/herald/api/v1alpha1"
	"github.com/herald-dev/herald/internal/post"
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
			Description: "Approves a post awaiting approval, in a workspace that requires it, as it now stands: it then publishes at its scheduled time. An edit of its text, media, profiles or time afterwards withdraws the approval. Only owners and approvers may approve. Call ocoya_preview_post first, and pass expectedRevision from ocoya_get_post so what you approve is what you reviewed.",
		}, func(ctx context.Context, s *toolCall, in approvePostArgs) (*PostResult, error) {
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
				if p.Annotations == nil {
					p.Annotations = map[string]string{}
				}
				p.Annotations[socialv1alpha1.AnnotationRejectedBy] = s.caller.Subject
				p.Annotations[socialv1alpha1.AnnotationRejectionReason] = reason
				p.Spec.Canceled, p.Spec.Approval = true, nil
				return nil
			})
		}),
	}
}
