package oauth

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strings"

	"github.com/ory/fosite"
	"github.com/ory/fosite/handler/oauth2"
	"github.com/ory/fosite/token/jwt"

	"github.com/herald-dev/herald/api/v1alpha1"
	"github.com/herald-dev/herald/internal/metrics"
)

func (s *Server) memberWorkspaces(ctx context.Context, subject string) ([]workspaceChoice, error) {
	var list v1alpha1.WorkspaceList
	if err := s.c.List(ctx, &list); err != nil {
		return nil, err
	}
	var out []workspaceChoice
	for i := range list.Items {
		ws := &list.Items[i]
		if role := ws.RoleOf(subject); role != "" {
			name := ws.Spec.DisplayName
			if name == "" {
				name = ws.Name
			}
			out = append(out, workspaceChoice{Name: ws.Name, DisplayName: name, Role: string(role), Approval: approvalWords(ws.Spec.Approval)})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// approvalWords tells a person which posts of a workspace wait for approval.
func approvalWords(a *v1alpha1.ApprovalPolicy) string {
	switch {
	case a == nil:
		return ""
	case a.Required == v1alpha1.ApproveThroughMCP:
		return "posts made through this connection wait for an owner's or approver's approval before they are published"
	case a.Required == v1alpha1.ApproveProfiles:
		return "posts to " + strings.Join(a.Profiles, ", ") + " wait for an owner's or approver's approval before they are published"
	}
	return "every post waits for an owner's or approver's approval before it is published"
}

func (s *Server) renderConsent(w http.ResponseWriter, r *http.Request, d pageData, ws []workspaceChoice, scopes []v1alpha1.Scope, status int) {
	d.Title, d.CSRF, d.Workspaces = "Allow access", s.csrfToken(w, r), ws
	for _, sc := range scopes {
		d.Scopes = append(d.Scopes, scopeLine{Name: string(sc), Words: scopeWords[sc]})
	}
	s.pages.render(w, "consent.html", status, d)
}

func (s *Server) handleConsent(w http.ResponseWriter, r *http.Request, ar fosite.AuthorizeRequester, cl *mcpClient, d pageData, subject string, ws []workspaceChoice, requested []v1alpha1.Scope) {
	if !s.validCSRF(r) {
		d.Error = "This consent form expired or was not sent from this page. Decide again."
		s.renderConsent(w, r, d, ws, requested, http.StatusForbidden)
		return
	}
	if r.PostFormValue("action") != "approve" {
		logFor(r.Context()).Info("access denied by user", "client", cl.GetID(), "user", subject)
		s.redirectError(w, r, ar, "access_denied", "The user denied access.")
		return
	}
	chosen, roles, errMsg := pickWorkspaces(ws, r.PostForm["workspace"])
	if errMsg != "" {
		d.Error = errMsg
		s.renderConsent(w, r, d, ws, requested, http.StatusBadRequest)
		return
	}
	var granted []v1alpha1.Scope
	for _, sc := range requested {
		if !slices.ContainsFunc(roles, func(role v1alpha1.WorkspaceRole) bool { return !role.Allows(sc) }) {
			granted = append(granted, sc)
		}
	}
	if len(granted) == 0 {
		s.redirectError(w, r, ar, "invalid_scope", "Your role in the chosen workspaces allows none of the requested scopes; ask a workspace owner for a higher role.")
		return
	}
	ctx := r.Context()
	if err := s.recordApproval(ctx, cl); err != nil {
		logFor(ctx).Error(err, "recording the client failed", "client", cl.GetID())
		s.redirectError(w, r, ar, "server_error", "The approval could not be stored; try connecting again.")
		return
	}
	grant, err := s.upsertGrant(ctx, cl.GetID(), subject, chosen, granted)
	if err != nil {
		logFor(r.Context()).Error(err, "storing grant failed", "client", cl.GetID())
		s.redirectError(w, r, ar, "server_error", "The approval could not be stored; try connecting again.")
		return
	}
	sess := newSession(subject, cl.GetID(), grant, chosen)
	for _, sc := range granted {
		ar.GrantScope(string(sc))
	}
	ar.GrantAudience(s.mcpURL())
	resp, err := s.provider.NewAuthorizeResponse(ctx, ar, sess)
	if err != nil {
		s.authorizeError(w, r, ar, err)
		return
	}
	resp.AddParameter("iss", s.baseFor(r))
	metrics.OAuthGrantsApproved.Inc()
	logFor(r.Context()).Info("access approved", "client", cl.GetID(), "user", subject, "grant", grant, "workspaces", chosen, "scopes", granted)
	s.provider.WriteAuthorizeResponse(ctx, w, ar, resp)
}

// pickWorkspaces checks the ticked workspaces against the user's memberships.
func pickWorkspaces(ws []workspaceChoice, ticked []string) ([]string, []v1alpha1.WorkspaceRole, string) {
	if len(ticked) == 0 {
		return nil, nil, "Tick at least one workspace the app may use, or choose Deny."
	}
	var names []string
	var roles []v1alpha1.WorkspaceRole
	for _, t := range ticked {
		i := slices.IndexFunc(ws, func(c workspaceChoice) bool { return c.Name == t })
		if i < 0 {
			return nil, nil, fmt.Sprintf("You are not a member of workspace %q; tick only the workspaces listed.", t)
		}
		if !slices.Contains(names, t) {
			names = append(names, t)
			roles = append(roles, v1alpha1.WorkspaceRole(ws[i].Role))
		}
	}
	sort.Strings(names)
	return names, roles, ""
}

func newSession(subject, clientID, grant string, workspaces []string) *oauth2.JWTSession {
	return &oauth2.JWTSession{
		Subject: subject, Username: subject,
		JWTClaims: &jwt.JWTClaims{Subject: subject, Extra: map[string]interface{}{
			claimClientID: clientID, claimGrant: grant, claimWorkspaces: workspaces,
		}},
		JWTHeader: &jwt.Headers{},
	}
}
