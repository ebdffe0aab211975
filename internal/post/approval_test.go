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
	unrelated := p.DeepCopy()
	unrelated.Spec.MaxLateness = &metav1.Duration{Duration: time.Hour}
	unrelated.Spec.DeletionPolicy = socialv1alpha1.DeletionDeleteRemote
	if ok, _, _ := ApprovalOf(ws, unrelated); !ok {
		t.Error("changing maxLateness or deletionPolicy withdrew the approval")
	}
	for name, edit := range map[string]func(*socialv1alpha1.ScheduledPostSpec){
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
	} {
		q := p.DeepCopy()
		edit(&q.Spec)
		if ok, reason, msg := ApprovalOf(ws, q); ok || reason != ReasonApprovalWithdrawn || !strings.Contains(msg, "changed after ann approved it") {
			t.Errorf("changing the %s: %v %s %q, want the approval withdrawn", name, ok, reason, msg)
		}
	}
	gitops := p.DeepCopy()
	gitops.Spec.Approval = &socialv1alpha1.PostApproval{ApprovedBy: "reviewed in pull request 42"}
	gitops.Spec.Text = "Anything the review merged"
	if ok, _, _ := ApprovalOf(ws, gitops); !ok {
		t.Error("an approval without a digest (a Git review) holds for the spec as it stands")
	}
}
