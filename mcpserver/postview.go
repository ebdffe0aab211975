package mcpserver

import (
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"

	socialv1alpha1 "github.com/herald-dev/herald/api/v1alpha1"
	"github.com/herald-dev/herald/internal/post"
)

// PostView is a post as tools report it.
type PostView struct {
	ID          string         `json:"id" jsonschema:"the post id other post tools take as postId"`
	WorkspaceID string         `json:"workspaceId"`
	Text        string         `json:"text"`
	ProfileIDs  []string       `json:"profileIds" jsonschema:"the profiles it publishes to"`
	Variants    []VariantInput `json:"variants,omitempty"`
	Media       []MediaInput   `json:"media,omitempty"`
	BrandKitID  string         `json:"brandKitId,omitempty"`
	ScheduledAt string         `json:"scheduledAt,omitempty" jsonschema:"when it publishes, RFC 3339 with offset"`
	Draft       bool           `json:"draft" jsonschema:"drafts are never published until scheduled"`
	Phase       string         `json:"phase" jsonschema:"Draft, AwaitingApproval, Scheduled, Publishing, Published, PartiallyPublished, Failed, Missed, Canceled or Unknown"`
	Approval    string         `json:"approval,omitempty" jsonschema:"in a workspace that requires approval: who approved the post and when, or who may approve it (with ocoya_approve_post) before it is published"`
	ApprovalURL string         `json:"approvalUrl,omitempty" jsonschema:"where an owner or approver reviews the post, rendered per profile, and approves or rejects it; give it to them"`
	Rejected    string         `json:"rejected,omitempty" jsonschema:"who rejected the post, and why"`
	Deliveries  []DeliveryView `json:"deliveries" jsonschema:"one entry per profile once publishing starts"`
	NextSteps   []string       `json:"nextSteps,omitempty" jsonschema:"what to do about failed or unknown deliveries"`
	Revision    string         `json:"revision" jsonschema:"pass as expectedRevision to ocoya_update_post to refuse concurrent edits"`
	CreatedAt   string         `json:"createdAt"`
	RequestedBy string         `json:"requestedBy,omitempty" jsonschema:"the user who created or last changed it through MCP"`
}

// DeliveryView is the state of publishing to one profile.
type DeliveryView struct {
	ProfileID   string `json:"profileId"`
	Platform    string `json:"platform,omitempty"`
	Phase       string `json:"phase" jsonschema:"Pending, Publishing, Retrying, Published, Failed, Unknown, Missed or Canceled"`
	Attempts    int    `json:"attempts"`
	ExternalID  string `json:"externalId,omitempty" jsonschema:"the platform's id of the published post"`
	URL         string `json:"url,omitempty" jsonschema:"link to the published post"`
	PublishedAt string `json:"publishedAt,omitempty"`
	Error       string `json:"error,omitempty" jsonschema:"the platform's last error"`
}

// VariantInput replaces the text for one profile or one platform.
type VariantInput struct {
	ProfileID string `json:"profileId,omitempty" jsonschema:"a profile of this post; give this or platform"`
	Platform  string `json:"platform,omitempty" jsonschema:"a platform; give this or profileId" enum:"$platforms"`
	Text      string `json:"text" jsonschema:"the text for that profile or platform" minLength:"1" maxLength:"40000"`
}

// MediaInput is an image or video to attach.
type MediaInput struct {
	URL     string `json:"url" jsonschema:"a public http or https URL: Herald, or the platform itself, fetches it when publishing" minLength:"1" maxLength:"2048"`
	AltText string `json:"altText,omitempty" jsonschema:"describes the media for people who cannot see it" maxLength:"1500"`
	Type    string `json:"type,omitempty" jsonschema:"image, video or gif; inferred when omitted" enum:"image,video,gif"`
}

// viewPost describes p as the tools report it. Its phase and deliveries
// are what the reconciler makes of p's spec as it now stands
// (post.AsWritten): a tool that has just written a post describes it as
// written, and one that reads a post the reconciler has not caught up with
// yet agrees with what it will write.
func viewPost(p *socialv1alpha1.ScheduledPost, workspace, prefix string, now time.Time) PostView {
	if p.Status.Phase == "" || p.Status.ObservedGeneration != p.Generation {
		p = post.AsWritten(p, now) // the status describes an earlier spec, or none yet
	}
	v := PostView{
		ID: p.Name, WorkspaceID: workspace, Text: p.Spec.Text, ProfileIDs: append([]string{}, p.Spec.Profiles...),
		BrandKitID: p.Spec.BrandKit, ScheduledAt: p.Spec.ScheduledAt, Draft: p.Spec.Draft,
		Phase: string(p.Status.Phase), Deliveries: []DeliveryView{}, Revision: p.ResourceVersion,
		CreatedAt:   p.CreationTimestamp.UTC().Format(time.RFC3339),
		RequestedBy: p.Annotations[socialv1alpha1.AnnotationRequestedBy],
	}
	if c := meta.FindStatusCondition(p.Status.Conditions, socialv1alpha1.ConditionApproved); c != nil {
		v.Approval = "the post " + c.Message
	}
	if by := p.Annotations[socialv1alpha1.AnnotationRejectedBy]; by != "" {
		v.Rejected = fmt.Sprintf("rejected by %s: %s", by, p.Annotations[socialv1alpha1.AnnotationRejectionReason])
	}
	for _, vr := range p.Spec.Variants {
		v.Variants = append(v.Variants, VariantInput{ProfileID: vr.Profile, Platform: string(vr.Platform), Text: vr.Text})
	}
	for _, m := range p.Spec.Media {
		v.Media = append(v.Media, MediaInput{URL: m.URL, AltText: m.AltText, Type: m.Type})
	}
	for _, d := range p.Status.Deliveries {
		dv := DeliveryView{
			ProfileID: d.Profile, Platform: string(d.Platform), Phase: string(d.Phase), Attempts: int(d.Attempts),
			ExternalID: d.ExternalID, URL: d.URL, Error: d.LastError,
		}
		if d.PublishedAt != nil {
			dv.PublishedAt = d.PublishedAt.UTC().Format(time.RFC3339)
		}
		v.Deliveries = append(v.Deliveries, dv)
		switch d.Phase {
		case socialv1alpha1.DeliveryFailed:
			v.NextSteps = append(v.NextSteps, fmt.Sprintf("Delivery to %s failed: %s. Fix the cause (the text, the profile's credentials), then call %s.", d.Profile, d.LastError, prefixed(prefix, "retry_post")))
		case socialv1alpha1.DeliveryUnknown:
			v.NextSteps = append(v.NextSteps, fmt.Sprintf("Delivery to %s may or may not have been published (%s). Check the account on %s; if the post is not there, call %s with profileIds [%q] (Unknown deliveries are retried only when named).", d.Profile, d.LastError, d.Platform, prefixed(prefix, "retry_post"), d.Profile))
		case socialv1alpha1.DeliveryMissed:
			v.NextSteps = append(v.NextSteps, fmt.Sprintf("Delivery to %s was missed because Herald could not publish it within maxLateness. Give it a new time with %s, or call %s with profileIds [%q] to publish it now, if it is still relevant.", d.Profile, prefixed(prefix, "schedule_post"), prefixed(prefix, "retry_post"), d.Profile))
		}
	}
	return v
}
