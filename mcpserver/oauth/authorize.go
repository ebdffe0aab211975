package oauth

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"

	"github.com/ory/fosite"
	"github.com/ory/fosite/handler/oauth2"
	"github.com/ory/fosite/token/jwt"

	"github.com/herald-dev/herald/api/v1alpha1"
)

// Claims Herald adds to access tokens.
const (
	claimClientID   = "client_id"
	claimGrant      = "grant"
	claimWorkspaces = "workspaces"
)

const maxFormBody = 64 << 10

// handleAuthorize runs the whole front channel on one URL: the authorization
// request stays in the query string, the login and consent forms post back
// to it, so any replica can serve any step.
func (s *Server) handleAuthorize(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	if r.Method == http.MethodPost {
		r.Body = http.MaxBytesReader(w, r.Body, maxFormBody)
		if err := r.ParseForm(); err != nil {
			s.pages.errorPage(w, http.StatusBadRequest, "Bad form", "The form could not be read; go back and submit it again.")
			return
		}
	}
	ar, err := s.provider.NewAuthorizeRequest(ctx, queryOnly(r))
	if err != nil {
		s.authorizeError(w, r, ar, err)
		return
	}
	if err := s.checkAuthorizeParams(r.URL.Query()); err != nil {
		s.authorizeError(w, r, ar, err)
		return
	}
	cl, ok := ar.GetClient().(*mcpClient)
	if !ok {
		s.pages.errorPage(w, http.StatusInternalServerError, "Unexpected client", "The client could not be loaded; try again.")
		return
	}
	d := pageData{Action: r.URL.RequestURI(), ClientName: cl.obj.Spec.ClientName, RedirectURI: ar.GetRedirectURI().String()}

	if r.Method == http.MethodPost && r.PostForm.Has("username") {
		s.handleLogin(w, r, d)
		return
	}
	subject := s.loginFrom(r)
	if subject == "" {
		d.Title, d.CSRF = "Sign in", s.csrfToken(w, r)
		s.pages.render(w, "login.html", http.StatusOK, d)
		return
	}
	d.Subject = subject
	workspaces, err := s.memberWorkspaces(ctx, subject)
	if err != nil {
		log.Error(err, "listing workspaces failed")
		s.pages.errorPage(w, http.StatusServiceUnavailable, "Try again", "Your workspaces could not be listed right now; reload the page in a moment.")
		return
	}
	requested := requestedScopes(ar, cl)
	if r.Method == http.MethodPost && r.PostForm.Has("action") {
		s.handleConsent(w, r, ar, cl, d, subject, workspaces, requested)
		return
	}
	s.renderConsent(w, r, d, workspaces, requested, http.StatusOK)
}

// queryOnly is the request fosite sees: the query string alone, so form
// fields such as the password never reach fosite or its stored requests.
func queryOnly(r *http.Request) *http.Request {
	fr := r.Clone(r.Context())
	fr.Method = http.MethodGet
	fr.Body, fr.ContentLength = http.NoBody, 0
	fr.Form, fr.PostForm = nil, nil
	fr.Header.Del("Content-Type")
	return fr
}

// checkAuthorizeParams enforces what fosite does not: PKCE with S256 before
// the user signs in (not after), and RFC 8707 resource indicators.
func (s *Server) checkAuthorizeParams(q url.Values) error {
	if q.Get("code_challenge") == "" {
		return fosite.ErrInvalidRequest.WithHint("PKCE is required: send code_challenge and code_challenge_method=S256.")
	}
	if q.Get("code_challenge_method") != "S256" {
		return fosite.ErrInvalidRequest.WithHint("Only the PKCE method S256 is accepted; send code_challenge_method=S256 (plain is refused).")
	}
	for _, res := range q["resource"] {
		if !s.isOurResource(res) {
			return errInvalidTarget(s.mcpURL())
		}
	}
	return nil
}

func errInvalidTarget(mcpURL string) *fosite.RFC6749Error {
	return (&fosite.RFC6749Error{ErrorField: "invalid_target", DescriptionField: "The requested resource is not served here.", CodeField: http.StatusBadRequest}).
		WithHintf("Set resource to %s, the MCP URL this server issues tokens for.", mcpURL)
}

// authorizeError sends the client an error per RFC 6749 §4.1.2.1: to its
// redirect URI when that was verified, otherwise on a page for the person.
func (s *Server) authorizeError(w http.ResponseWriter, r *http.Request, ar fosite.AuthorizeRequester, err error) {
	rfc := fosite.ErrorToRFC6749Error(err)
	if ar == nil || !ar.IsRedirectURIValid() || ar.GetRedirectURI() == nil {
		s.pages.errorPage(w, http.StatusBadRequest, "This connection request cannot be used",
			describe(rfc)+" The app that sent you here needs to fix its request; nothing was shared.")
		return
	}
	s.redirectError(w, r, ar, rfc.ErrorField, describe(rfc))
}

func (s *Server) redirectError(w http.ResponseWriter, r *http.Request, ar fosite.AuthorizeRequester, code, desc string) {
	u := *ar.GetRedirectURI()
	q := u.Query()
	q.Set("error", code)
	q.Set("error_description", desc)
	if st := ar.GetState(); st != "" {
		q.Set("state", st)
	}
	q.Set("iss", s.baseFor(r))
	u.RawQuery = q.Encode()
	http.Redirect(w, r, u.String(), http.StatusSeeOther)
}

func describe(e *fosite.RFC6749Error) string {
	d := e.GetDescription()
	if d == "" {
		d = e.ErrorField
	}
	return d
}

func (s *Server) handleLogin(w http.ResponseWriter, r *http.Request, d pageData) {
	d.Title = "Sign in"
	if !s.validCSRF(r) {
		d.CSRF, d.Error = s.csrfToken(w, r), "This sign-in form expired or was not sent from this page. Sign in again."
		s.pages.render(w, "login.html", http.StatusForbidden, d)
		return
	}
	user, password := r.PostFormValue("username"), r.PostFormValue("password")
	addr := clientAddr(r)
	d.CSRF, d.Username = s.csrfToken(w, r), user
	if blocked, wait := s.limiter.blocked(user, addr); blocked {
		w.Header().Set("Retry-After", fmt.Sprint(int(wait.Seconds())+1))
		d.Error = fmt.Sprintf("Too many failed sign-ins. Wait %d minutes, then try again.", int(wait.Minutes())+1)
		log.Info("sign-in refused by rate limit", "user", user, "addr", addr)
		s.pages.render(w, "login.html", http.StatusTooManyRequests, d)
		return
	}
	ok, err := s.checkPassword(r.Context(), user, password)
	if err != nil {
		log.Error(err, "reading users failed")
		d.Error = "Sign-in is unavailable right now; try again in a moment."
		s.pages.render(w, "login.html", http.StatusServiceUnavailable, d)
		return
	}
	if !ok {
		s.limiter.fail(user, addr)
		log.Info("sign-in failed", "user", user, "addr", addr)
		d.Error = "Wrong user name or password."
		s.pages.render(w, "login.html", http.StatusUnauthorized, d)
		return
	}
	log.Info("signed in", "user", user)
	s.setLogin(w, user)
	http.Redirect(w, r, r.URL.RequestURI(), http.StatusSeeOther)
}

// clientAddr is the peer address. Proxy headers are ignored: trusting them
// would let anyone reset their rate-limit budget.
func clientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

func requestedScopes(ar fosite.AuthorizeRequester, cl *mcpClient) []v1alpha1.Scope {
	names := []string(ar.GetRequestedScopes())
	if len(names) == 0 { // older clients send none: offer what the client may have
		names = cl.GetScopes()
	}
	var out []v1alpha1.Scope
	for _, n := range names {
		out = append(out, v1alpha1.Scope(n))
	}
	return sortScopes(out)
}

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
			out = append(out, workspaceChoice{Name: ws.Name, DisplayName: name, Role: string(role)})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
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
		log.Info("access denied by user", "client", cl.GetID(), "user", subject)
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
		if !slices.ContainsFunc(roles, func(role v1alpha1.WorkspaceRole) bool { return !allowedByRole(role, sc) }) {
			granted = append(granted, sc)
		}
	}
	if len(granted) == 0 {
		s.redirectError(w, r, ar, "invalid_scope", "Your role in the chosen workspaces allows none of the requested scopes; ask a workspace owner for a higher role.")
		return
	}
	ctx := r.Context()
	grant, err := s.upsertGrant(ctx, cl.GetID(), subject, chosen, granted)
	if err != nil {
		log.Error(err, "storing grant failed", "client", cl.GetID())
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
	s.markClientAuthorized(ctx, cl.obj)
	log.Info("access approved", "client", cl.GetID(), "user", subject, "grant", grant, "workspaces", chosen, "scopes", granted)
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

var errNotOurs = errors.New("not a token this server issued")

func joinScopes(sc []v1alpha1.Scope) string { return strings.TrimSpace(scopeString(sc)) }
