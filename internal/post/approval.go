package post

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	socialv1alpha1 "github.com/herald-dev/herald/api/v1alpha1"
)

// Reasons of the Approved condition.
const (
	ReasonAwaitingApproval  = "AwaitingApproval"
	ReasonApprovalWithdrawn = "ApprovalWithdrawn"
	ReasonApproved          = "Approved"
)

// ContentDigest is the digest an approval records of what it approves:
// text, variants, media, profiles, brand kit and scheduledAt.
func ContentDigest(spec *socialv1alpha1.ScheduledPostSpec) string {
	data, _ := json.Marshal(struct { // plain values: cannot fail
		Text        string                       `json:"text"`
		Variants    []socialv1alpha1.PostVariant `json:"variants"`
		Media       []socialv1alpha1.PostMedia   `json:"media"`
		Profiles    []string                     `json:"profiles"`
		BrandKit    string                       `json:"brandKit"`
		ScheduledAt string                       `json:"scheduledAt"`
	}{spec.Text, spec.Variants, spec.Media, spec.Profiles, spec.BrandKit, spec.ScheduledAt})
	sum := sha256.Sum256(data)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// NeedsApproval reports whether ws requires approval for p.
func NeedsApproval(ws *socialv1alpha1.Workspace, p *socialv1alpha1.ScheduledPost) bool {
	if ws == nil || ws.Spec.Approval == nil {
		return false
	}
	switch a := ws.Spec.Approval; a.Required {
	case socialv1alpha1.ApproveAll:
		return true
	case socialv1alpha1.ApproveThroughMCP:
		return p.Annotations[socialv1alpha1.AnnotationRequestedVia] != ""
	case socialv1alpha1.ApproveProfiles:
		return slices.ContainsFunc(p.Spec.Profiles, func(name string) bool { return slices.Contains(a.Profiles, name) })
	}
	return false
}

// Approvers are the members of ws who may approve its posts.
func Approvers(ws *socialv1alpha1.Workspace) []string {
	var out []string
	for _, m := range ws.Spec.Members {
		if m.Role.Allows(socialv1alpha1.ScopePostsApprove) {
			out = append(out, m.Subject)
		}
	}
	return out
}

// ApprovalOf says whether p may publish as far as approval goes: ok when
// ws does not require approval for it, or it carries an approval of its
// content as it stands; otherwise the reason (AwaitingApproval,
// ApprovalWithdrawn) and a message naming who can approve.
func ApprovalOf(ws *socialv1alpha1.Workspace, p *socialv1alpha1.ScheduledPost) (ok bool, reason, message string) {
	a := p.Spec.Approval
	if !NeedsApproval(ws, p) {
		if a != nil {
			return true, ReasonApproved, approvedMessage(a)
		}
		return true, "", ""
	}
	who := "an owner of workspace " + ws.Name
	if names := Approvers(ws); len(names) > 0 {
		who = "an owner or approver of workspace " + ws.Name + " (" + strings.Join(names, ", ") + ")"
	}
	switch {
	case a == nil:
		return false, ReasonAwaitingApproval, "waits for approval by " + who + " before it is published"
	case approvedDigest(p) != ContentDigest(&p.Spec):
		return false, ReasonApprovalWithdrawn, fmt.Sprintf("was changed after %s approved it, which withdrew the approval; it waits for a new approval by %s", a.ApprovedBy, who)
	}
	return true, ReasonApproved, approvedMessage(a)
}

// approvedDigest is the digest of the content p's approval approved.
func approvedDigest(p *socialv1alpha1.ScheduledPost) string {
	return ApprovedDigest(p.Spec.Approval, p.Status.Approval, ContentDigest(&p.Spec))
}

// RecordApproval keeps p's status.approval (PinApproval). The reconciler
// calls it on every pass, before anything judges the approval.
func RecordApproval(p *socialv1alpha1.ScheduledPost) {
	p.Status.Approval = PinApproval(p.Spec.Approval, p.Status.Approval, ContentDigest(&p.Spec))
}

// ApprovedDigest is the digest of the content approval a approved: the one
// it carries or, for one written without (in Git, with kubectl), the one
// pinned when it was first seen (recorded, from PinApproval). An approval
// not seen before approves the content as it stands (current).
func ApprovedDigest(a, recorded *socialv1alpha1.PostApproval, current string) string {
	switch {
	case a.ContentDigest != "":
		return a.ContentDigest
	case sameApproval(recorded, a):
		return recorded.ContentDigest
	}
	return current
}

// PinApproval is what status.approval holds for approval a, given what it
// held (recorded) and the digest of the content as it stands (current): for
// an approval written without a contentDigest, the digest of the content it
// was first seen with, so that an edit afterwards withdraws it as it
// withdraws an approval that carries its digest. A different approvedBy or
// approvedAt is a new approval, of the content as it then stands. An
// approval with its digest needs no record.
func PinApproval(a, recorded *socialv1alpha1.PostApproval, current string) *socialv1alpha1.PostApproval {
	switch {
	case a == nil || a.ContentDigest != "":
		return nil
	case sameApproval(recorded, a):
		return recorded
	}
	return &socialv1alpha1.PostApproval{ApprovedBy: a.ApprovedBy, ApprovedAt: a.ApprovedAt, ContentDigest: current}
}

func sameApproval(recorded, a *socialv1alpha1.PostApproval) bool {
	return recorded != nil && recorded.ApprovedBy == a.ApprovedBy && recorded.ApprovedAt == a.ApprovedAt
}

func approvedMessage(a *socialv1alpha1.PostApproval) string {
	if a.ApprovedAt != "" {
		return fmt.Sprintf("approved by %s at %s", a.ApprovedBy, a.ApprovedAt)
	}
	return "approved by " + a.ApprovedBy
}

// Approve records subject's approval of p's content as it stands.
func Approve(p *socialv1alpha1.ScheduledPost, subject string, now time.Time) {
	p.Spec.Approval = &socialv1alpha1.PostApproval{ApprovedBy: subject, ApprovedAt: now.UTC().Format(time.RFC3339), ContentDigest: ContentDigest(&p.Spec)}
}

// Reject records subject's rejection of p, and why, and cancels it.
func Reject(p *socialv1alpha1.ScheduledPost, subject, reason string) {
	if p.Annotations == nil {
		p.Annotations = map[string]string{}
	}
	p.Annotations[socialv1alpha1.AnnotationRejectedBy] = subject
	p.Annotations[socialv1alpha1.AnnotationRejectionReason] = reason
	p.Spec.Canceled, p.Spec.Approval = true, nil
}

// ApplyApproval writes p's Approved condition for ws, as the reconciler
// and the tools describe it; a post that needs no approval and has none
// carries no such condition. It reports whether p may publish.
func ApplyApproval(ws *socialv1alpha1.Workspace, p *socialv1alpha1.ScheduledPost) bool {
	ok, reason, message := ApprovalOf(ws, p)
	if reason == "" {
		meta.RemoveStatusCondition(&p.Status.Conditions, socialv1alpha1.ConditionApproved)
		return true
	}
	status := metav1.ConditionFalse
	if ok {
		status = metav1.ConditionTrue
	}
	meta.SetStatusCondition(&p.Status.Conditions, metav1.Condition{Type: socialv1alpha1.ConditionApproved, Status: status,
		ObservedGeneration: p.Generation, Reason: reason, Message: message})
	return ok
}

// awaitingApproval reports whether p's Approved condition holds it back.
func awaitingApproval(p *socialv1alpha1.ScheduledPost) bool {
	c := meta.FindStatusCondition(p.Status.Conditions, socialv1alpha1.ConditionApproved)
	return c != nil && c.Status == metav1.ConditionFalse
}
