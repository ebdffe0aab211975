package post

import (
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	socialv1alpha1 "github.com/herald-dev/herald/api/v1alpha1"
)

func TestNeedsApproval(t *testing.T) {
	ws := func(a *socialv1alpha1.ApprovalPolicy) *socialv1alpha1.Workspace {
		return &socialv1alpha1.Workspace{ObjectMeta: metav1.ObjectMeta{Name: "acme"}, Spec: socialv1alpha1.WorkspaceSpec{Approval: a}}
	}
	byKubectl := &socialv1alpha1.ScheduledPost{Spec: socialv1alpha1.ScheduledPostSpec{Profiles: []string{"masto"}}}
	byMCP := byKubectl.DeepCopy()
	byMCP.Annotations = map[string]string{socialv1alpha1.AnnotationRequestedVia: "claude"}
	for _, c := range []struct {
		name   string
		ws     *socialv1alpha1.Workspace
		p      *socialv1alpha1.ScheduledPost
		needed bool
	}{
		{"no workspace", nil, byMCP, false},
		{"no policy", ws(nil), byMCP, false},
		{"All", ws(&socialv1alpha1.ApprovalPolicy{Required: socialv1alpha1.ApproveAll}), byKubectl, true},
		{"ThroughMCP, a post written with kubectl", ws(&socialv1alpha1.ApprovalPolicy{Required: socialv1alpha1.ApproveThroughMCP}), byKubectl, false},
		{"ThroughMCP, a post written through MCP", ws(&socialv1alpha1.ApprovalPolicy{Required: socialv1alpha1.ApproveThroughMCP}), byMCP, true},
		{"Profiles, another profile", ws(&socialv1alpha1.ApprovalPolicy{Required: socialv1alpha1.ApproveProfiles, Profiles: []string{"linkedin"}}), byKubectl, false},
		{"Profiles, one of them", ws(&socialv1alpha1.ApprovalPolicy{Required: socialv1alpha1.ApproveProfiles, Profiles: []string{"linkedin", "masto"}}), byKubectl, true},
	} {
		if got := NeedsApproval(c.ws, c.p); got != c.needed {
			t.Errorf("%s: NeedsApproval = %v, want %v", c.name, got, c.needed)
		}
	}
}

func TestApprovalCoversWhatWasApproved(t *testing.T) {
	ws := &socialv1alpha1.Workspace{ObjectMeta: metav1.ObjectMeta{Name: "acme"}, Spec: socialv1alpha1.WorkspaceSpec{
		Approval: &socialv1alpha1.ApprovalPolicy{Required: socialv1alpha1.ApproveAll},
		Members:  []socialv1alpha1.WorkspaceMember{{Subject: "ed", Role: socialv1alpha1.RoleEditor}, {Subject: "ann", Role: socialv1alpha1.RoleApprover}}}}
	p := &socialv1alpha1.ScheduledPost{Spec: socialv1alpha1.ScheduledPostSpec{Text: "Hello", Profiles: []string{"masto"}, ScheduledAt: "2030-01-01T09:00:00Z"}}
	if ok, reason, msg := ApprovalOf(ws, p); ok || reason != ReasonAwaitingApproval || !strings.Contains(msg, "(ann)") {
		t.Fatalf("unapproved: %v %s %q, want waiting for ann", ok, reason, msg)
	}
	Approve(p, "ann", time.Date(2029, 12, 31, 9, 0, 0, 0, time.UTC))
	if ok, _, msg := ApprovalOf(ws, p); !ok || msg != "approved by ann at 2029-12-31T09:00:00Z" {
		t.Fatalf("approved: %v %q", ok, msg)
	}
	edits := map[string]func(*socialv1alpha1.ScheduledPostSpec){
		"text":     func(s *socialv1alpha1.ScheduledPostSpec) { s.Text = "Hello!" },
		"time":     func(s *socialv1alpha1.ScheduledPostSpec) { s.ScheduledAt = "2030-01-01T10:00:00Z" },
		"profiles": func(s *socialv1alpha1.ScheduledPostSpec) { s.Profiles = append(s.Profiles, "x") },
		"media": func(s *socialv1alpha1.ScheduledPostSpec) {
			s.Media = []socialv1alpha1.PostMedia{{URL: "https://a.example/b.png"}}
		},
		"variants": func(s *socialv1alpha1.ScheduledPostSpec) {
			s.Variants = []socialv1alpha1.PostVariant{{Platform: "x", Text: "Hi"}}
		},
		"brandKit": func(s *socialv1alpha1.ScheduledPostSpec) { s.BrandKit = "summer" },
	}
	inGit := p.DeepCopy()
	inGit.Spec.Approval = &socialv1alpha1.PostApproval{ApprovedBy: "ann", ApprovedAt: "2029-12-31T09:00:00Z"}
	RecordApproval(inGit) // the reconciler's first pass that sees it
	if inGit.Status.Approval == nil || inGit.Status.Approval.ContentDigest != ContentDigest(&inGit.Spec) {
		t.Fatalf("an approval without a digest was not pinned to the content it was first seen with: %+v", inGit.Status.Approval)
	}
	for how, approved := range map[string]*socialv1alpha1.ScheduledPost{"with its digest": p, "without a digest, as Git writes it": inGit} {
		unrelated := approved.DeepCopy()
		unrelated.Spec.MaxLateness = &metav1.Duration{Duration: time.Hour}
		unrelated.Spec.DeletionPolicy = socialv1alpha1.DeletionDeleteRemote
		RecordApproval(unrelated)
		if ok, _, _ := ApprovalOf(ws, unrelated); !ok {
			t.Errorf("%s: changing maxLateness or deletionPolicy withdrew the approval", how)
		}
		for name, edit := range edits {
			q := approved.DeepCopy()
			edit(&q.Spec)
			if ok, reason, msg := ApprovalOf(ws, q); ok || reason != ReasonApprovalWithdrawn || !strings.Contains(msg, "changed after ann approved it") {
				t.Errorf("%s: changing the %s: %v %s %q, want the approval withdrawn", how, name, ok, reason, msg)
			}
			RecordApproval(q) // later passes keep the pin
			if ok, _, _ := ApprovalOf(ws, q); ok {
				t.Errorf("%s: changing the %s: the next pass approved the edit", how, name)
			}
		}
	}

	reapproved := inGit.DeepCopy()
	reapproved.Spec.Text = "Reworded, and approved again in the same commit"
	reapproved.Spec.Approval.ApprovedAt = "2030-01-01T08:00:00Z"
	RecordApproval(reapproved)
	if ok, _, _ := ApprovalOf(ws, reapproved); !ok {
		t.Error("a new approvedAt did not approve the content as it then stood")
	}
	firstSeen := p.DeepCopy()
	firstSeen.Spec.Approval = &socialv1alpha1.PostApproval{ApprovedBy: "reviewed in pull request 42"}
	firstSeen.Spec.Text = "Anything the review merged"
	if ok, _, _ := ApprovalOf(ws, firstSeen); !ok {
		t.Error("an approval without a digest, not seen before, holds for the spec it arrived with")
	}
	RecordApproval(p)
	if p.Status.Approval != nil {
		t.Errorf("an approval carrying its digest needs no pin, got %+v", p.Status.Approval)
	}
}
