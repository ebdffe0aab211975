package oauth

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/herald-dev/herald/api/v1alpha1"
	"github.com/herald-dev/herald/internal/post"
	"github.com/herald-dev/herald/internal/publish"
	"github.com/herald-dev/herald/internal/publish/registry"
)

// ApprovalPath is where the approval page of a post is: the link the post
// tools give for a post that waits for approval.
func ApprovalPath(workspace, postName string) string {
	return "/approve/" + workspace + "/" + postName
}

// approvalPage is what the approval page shows of one post.
type approvalPage struct {
	Workspace, WorkspaceName, Post string
	Text, ScheduledAt, Revision    string
	Status                         string // the approval as it stands
	Waiting                        bool   // an approve or reject decision is open
	Previews                       []approvalPreview
}

type approvalPreview struct {
	Profile, Platform, Text string
	Length, Limit           int
	Unit                    string
	Problems                []string
}

// handleApproval serves the approval page: behind Herald's sign-in, for
// owners and approvers of the post's workspace, it shows the post rendered
// for each of its profiles and takes the decision. Anyone else, and any
// post outside the workspaces the person approves in, is "not found".
func (s *Server) handleApproval(w http.ResponseWriter, r *http.Request) {
	if !s.readPageForm(w, r) {
		return
	}
	d := pageData{Action: r.URL.RequestURI()}
	subject := s.signedIn(w, r, d)
	if subject == "" {
		return
	}
	ctx := r.Context()
	notFound := func() {
		s.pages.errorPage(w, http.StatusNotFound, "Not found", "There is no such post awaiting your approval. Check the link, or ask an owner of the workspace to make you an approver.")
	}
	ws := &v1alpha1.Workspace{}
	if err := s.c.Get(ctx, client.ObjectKey{Name: r.PathValue("workspace")}, ws); err != nil || !ws.RoleOf(subject).Allows(v1alpha1.ScopePostsApprove) {
		notFound()
		return
	}
	p := &v1alpha1.ScheduledPost{}
	if err := s.apiReader.Get(ctx, client.ObjectKey{Namespace: ws.NamespaceName(), Name: r.PathValue("post")}, p); err != nil {
		if !apierrors.IsNotFound(err) {
			logFor(ctx).Error(err, "reading a post for the approval page failed")
		}
		notFound()
		return
	}
	d.Subject, d.CSRF = subject, s.csrfToken(w, r)
	status := http.StatusOK
	if r.Method == http.MethodPost {
		msg, code := s.decide(r, ws, p, subject)
		d.Error, status = msg, code
	}
	d.Approval = s.approvalView(ctx, ws, p)
	d.Title = "Approve a post"
	s.pages.render(w, "approval.html", status, d)
}

// decide applies the approver's decision to p, written with the revision
// the page showed: a post changed since is not approved unseen.
func (s *Server) decide(r *http.Request, ws *v1alpha1.Workspace, p *v1alpha1.ScheduledPost, subject string) (string, int) {
	if !s.validCSRF(r) {
		return "This form expired or was not sent from this page. Look at the post again and decide.", http.StatusForbidden
	}
	if r.PostFormValue("revision") != p.ResourceVersion {
		return "The post changed since you opened this page. Look at it again before you decide.", http.StatusConflict
	}
	if !post.NeedsApproval(ws, p) || p.Spec.Canceled || post.AnyStarted(p) {
		return "This post does not wait for approval (any more).", http.StatusConflict
	}
	if owner := v1alpha1.GitOpsOwner(p); owner != "" {
		return "This post is read-only here because " + owner + ": approve it there, by setting spec.approval in the reviewed commit.", http.StatusConflict
	}
	switch r.PostFormValue("decision") {
	case "approve":
		post.Approve(p, subject, s.clock.Now())
	case "reject":
		reason := strings.TrimSpace(r.PostFormValue("reason"))
		if reason == "" || len(reason) > 500 {
			return "Give a reason (at most 500 characters), for the person who wrote the post.", http.StatusBadRequest
		}
		post.Reject(p, subject, reason)
	default:
		return "Choose Approve or Reject.", http.StatusBadRequest
	}
	if p.Annotations == nil {
		p.Annotations = map[string]string{}
	}
	p.Annotations[v1alpha1.AnnotationRequestedBy] = subject
	if err := s.c.Update(r.Context(), p); err != nil {
		if apierrors.IsConflict(err) {
			return "The post changed while you decided. Look at it again before you decide.", http.StatusConflict
		}
		logFor(r.Context()).Error(err, "writing an approval failed")
		return "Your decision could not be saved; try again.", http.StatusServiceUnavailable
	}
	logFor(r.Context()).Info("post decided on the approval page", "workspace", ws.Name, "post", p.Name, "user", subject, "decision", r.PostFormValue("decision"))
	return "", http.StatusOK
}

// approvalView renders p for each of its profiles, as publishing would.
func (s *Server) approvalView(ctx context.Context, ws *v1alpha1.Workspace, p *v1alpha1.ScheduledPost) *approvalPage {
	p = p.DeepCopy()
	ok, _, status := post.ApprovalOf(ws, p)
	v := &approvalPage{Workspace: ws.Name, WorkspaceName: ws.Spec.DisplayName, Post: p.Name, Text: p.Spec.Text,
		ScheduledAt: p.Spec.ScheduledAt, Revision: p.ResourceVersion, Status: "The post " + status + ".",
		Waiting: !ok && !p.Spec.Canceled && !post.AnyStarted(p)}
	if by := p.Annotations[v1alpha1.AnnotationRejectedBy]; by != "" {
		v.Status = fmt.Sprintf("The post was rejected by %s: %s", by, p.Annotations[v1alpha1.AnnotationRejectionReason])
	} else if status == "" {
		v.Status = "The post needs no approval."
	}
	var kit *v1alpha1.BrandKit
	if p.Spec.BrandKit != "" {
		k := &v1alpha1.BrandKit{}
		if err := s.c.Get(ctx, client.ObjectKey{Namespace: p.Namespace, Name: p.Spec.BrandKit}, k); err == nil {
			kit = k
		}
	}
	for _, name := range p.Spec.Profiles {
		prof := &v1alpha1.SocialProfile{}
		pv := approvalPreview{Profile: name}
		if err := s.c.Get(ctx, client.ObjectKey{Namespace: p.Namespace, Name: name}, prof); err != nil {
			pv.Problems = []string{"the profile does not exist"}
			v.Previews = append(v.Previews, pv)
			continue
		}
		info, _ := registry.Info(publish.Platform(prof.Spec.Platform))
		r := post.Render(&p.Spec, prof, kit, info)
		pv.Platform, pv.Text, pv.Length, pv.Limit, pv.Unit = string(prof.Spec.Platform), r.Text, r.Length, r.Limit, r.Unit
		for _, pr := range r.Problems {
			pv.Problems = append(pv.Problems, pr.Message)
		}
		v.Previews = append(v.Previews, pv)
	}
	return v
}
