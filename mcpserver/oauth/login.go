package oauth

import (
	"fmt"
	"net/http"

	"github.com/herald-dev/herald/internal/metrics"
)

// signedIn is who is signed in, for a page behind Herald's sign-in. When
// the request is the sign-in form, or nobody is signed in (the sign-in page
// is shown), it answers the request itself and returns "".
func (s *Server) signedIn(w http.ResponseWriter, r *http.Request, d pageData) string {
	if r.Method == http.MethodPost && r.PostForm.Has("username") {
		s.handleLogin(w, r, d)
		return ""
	}
	subject := s.loginFrom(r)
	if subject == "" {
		d.Title, d.CSRF = "Sign in", s.csrfToken(w, r)
		s.pages.render(w, "login.html", http.StatusOK, d)
	}
	return subject
}

func (s *Server) handleLogin(w http.ResponseWriter, r *http.Request, d pageData) {
	d.Title = "Sign in"
	if !s.validCSRF(r) {
		d.CSRF, d.Error = s.csrfToken(w, r), "This sign-in form expired or was not sent from this page. Sign in again."
		s.pages.render(w, "login.html", http.StatusForbidden, d)
		return
	}
	user, password := r.PostFormValue("username"), r.PostFormValue("password")
	addr := s.clientAddr(r)
	d.CSRF, d.Username = s.csrfToken(w, r), user
	if blocked, wait := s.limiter.blocked(user, addr); blocked {
		w.Header().Set("Retry-After", fmt.Sprint(int(wait.Seconds())+1))
		d.Error = fmt.Sprintf("Too many failed sign-ins. Wait %d minutes, then try again.", int(wait.Minutes())+1)
		logFor(r.Context()).Info("sign-in refused by rate limit", "addr", addr)
		metrics.OAuthRefused.WithLabelValues("rate_limited").Inc()
		s.pages.render(w, "login.html", http.StatusTooManyRequests, d)
		return
	}
	known, ok, err := s.checkPassword(r.Context(), user, password)
	if err != nil {
		logFor(r.Context()).Error(err, "reading users failed")
		d.Error = "Sign-in is unavailable right now; try again in a moment."
		s.pages.render(w, "login.html", http.StatusServiceUnavailable, d)
		return
	}
	if !ok {
		s.limiter.fail(user, addr)
		// An unknown name is often a password typed into the wrong field.
		logged := user
		if !known {
			logged = "(unknown user)"
		}
		logFor(r.Context()).Info("sign-in failed", "user", logged, "addr", addr)
		metrics.OAuthRefused.WithLabelValues("sign_in").Inc()
		d.Error = "Wrong user name or password."
		s.pages.render(w, "login.html", http.StatusUnauthorized, d)
		return
	}
	logFor(r.Context()).Info("signed in", "user", user)
	s.setLogin(w, user)
	http.Redirect(w, r, r.URL.RequestURI(), http.StatusSeeOther)
}
