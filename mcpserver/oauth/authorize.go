package oauth

import (
	"net/http"
	"net/url"

	"github.com/ory/fosite"

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
	if !s.readPageForm(w, r) {
		return
	}
	if id := r.URL.Query().Get("client_id"); isMetadataURL(id) {
		// fosite would only say that the client does not exist; the
		// client's developer needs to know what is wrong with the document.
		if _, err := s.clients.docs.get(ctx, id); err != nil {
			logFor(ctx).Info("client metadata document refused", "client", id, "reason", err.Error())
			s.pages.errorPage(w, http.StatusBadRequest, "This connection request cannot be used",
				err.Error()+". The app that sent you here needs to fix its metadata document; nothing was shared.")
			return
		}
	}
	ar, err := s.provider.NewAuthorizeRequest(withRequestedRedirect(ctx, r.URL.Query().Get("redirect_uri")), queryOnly(r))
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
	if doc := cl.obj.Spec.MetadataDocumentURL; doc != "" {
		if u, err := url.Parse(doc); err == nil {
			d.ClientHost = u.Host
		}
	}
	if s.oidc != nil {
		d.OIDCName, d.OIDCURL = s.oidc.cfg.Name, oidcStartURL(r.URL.RequestURI())
	}

	subject := s.signedIn(w, r, d)
	if subject == "" {
		return
	}
	d.Subject = subject
	workspaces, err := s.memberWorkspaces(ctx, subject)
	if err != nil {
		logFor(r.Context()).Error(err, "listing workspaces failed")
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
	if ar == nil || !ar.IsRedirectURIValid() || ar.GetRedirectURI() == nil || !redirectsErrors(ar) {
		s.pages.errorPage(w, http.StatusBadRequest, "This connection request cannot be used",
			describe(rfc)+" The app that sent you here needs to fix its request; nothing was shared.")
		return
	}
	s.redirectError(w, r, ar, rfc.ErrorField, describe(rfc))
}

// redirectsErrors reports whether an error may go to the request's
// redirect URI without a person having seen the client: anyone can
// register a client, so sending its visitors on to any web address it
// names would make Herald an open redirector. An error goes back to a
// loopback address (a native app on the person's machine), to a client an
// operator registered, or to one a person approved before; otherwise a
// page says what is wrong. A metadata document is no better than a
// registration here: anyone can publish one.
func redirectsErrors(ar fosite.AuthorizeRequester) bool {
	if isLoopbackRedirect(ar.GetRedirectURI()) {
		return true
	}
	cl, ok := ar.GetClient().(*mcpClient)
	if !ok {
		return false
	}
	operatorMade := !cl.obj.Spec.Dynamic && cl.obj.Spec.MetadataDocumentURL == ""
	return operatorMade || cl.obj.Status.LastAuthorizedAt != nil
}

func isLoopbackRedirect(u *url.URL) bool {
	if u.Scheme != "http" {
		return false
	}
	switch u.Hostname() {
	case "127.0.0.1", "::1", "localhost":
		return true
	}
	return false
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

func requestedScopes(ar fosite.AuthorizeRequester, cl *mcpClient) []v1alpha1.Scope {
	toScopes := func(names []string) []v1alpha1.Scope {
		var out []v1alpha1.Scope
		for _, n := range names {
			out = append(out, v1alpha1.Scope(n))
		}
		return sortScopes(out) // drops the tolerated non-Herald scopes
	}
	if out := toScopes(ar.GetRequestedScopes()); len(out) > 0 {
		return out
	}
	return toScopes(cl.GetScopes()) // older clients send none: offer what the client may have
}
