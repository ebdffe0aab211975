package oauth

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"time"
)

// secureCookies reports whether the cookies are Secure: whenever the
// public URL is https. Over a plain-http public URL (dev mode's loopback, a
// cluster's internal Service name) a browser would never send a Secure
// cookie back, and no one could sign in.
func (s *Server) secureCookies() bool { return s.public.Scheme == "https" }

// cookieName gives the __Host- name (Secure, host-only, path /) wherever
// the cookies are Secure.
func (s *Server) cookieName(base string) string {
	if !s.secureCookies() {
		return "herald-" + base
	}
	return "__Host-herald-" + base
}

func (s *Server) setCookie(w http.ResponseWriter, base, value string, maxAge time.Duration) {
	http.SetCookie(w, &http.Cookie{
		Name: s.cookieName(base), Value: value, Path: "/",
		MaxAge: int(maxAge.Seconds()), HttpOnly: true, Secure: s.secureCookies(),
		SameSite: http.SameSiteLaxMode,
	})
}

func (s *Server) cookieKey(purpose string) []byte {
	m := hmac.New(sha256.New, s.keys.hmacSecret)
	m.Write([]byte("herald-cookie:" + purpose))
	return m.Sum(nil)
}

func (s *Server) mac(purpose, value string) string {
	m := hmac.New(sha256.New, s.cookieKey(purpose))
	m.Write([]byte(value))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

type loginSession struct {
	Subject string `json:"sub"`
	Expires int64  `json:"exp"`
}

// setLogin remembers a signed-in user in a signed cookie; any replica can
// verify it with the shared HMAC secret.
func (s *Server) setLogin(w http.ResponseWriter, subject string) {
	body, _ := json.Marshal(loginSession{Subject: subject, Expires: s.clock.Now().Add(LoginLifetime).Unix()})
	payload := base64.RawURLEncoding.EncodeToString(body)
	s.setCookie(w, "session", payload+"."+s.mac("session", payload), LoginLifetime)
}

// loginFrom returns the signed-in subject, or "" when there is none.
func (s *Server) loginFrom(r *http.Request) string {
	c, err := r.Cookie(s.cookieName("session"))
	if err != nil {
		return ""
	}
	payload, sig, ok := strings.Cut(c.Value, ".")
	if !ok || !hmac.Equal([]byte(sig), []byte(s.mac("session", payload))) {
		return ""
	}
	body, err := base64.RawURLEncoding.DecodeString(payload)
	if err != nil {
		return ""
	}
	var ls loginSession
	if json.Unmarshal(body, &ls) != nil || s.clock.Now().Unix() >= ls.Expires {
		return ""
	}
	// A local user removed since signing in is signed out.
	if localUserName(ls.Subject) {
		if removed, err := s.localUserRemoved(r.Context(), ls.Subject); err != nil || removed {
			return ""
		}
	}
	return ls.Subject
}

// csrfToken returns the hidden-field token for this browser, setting the
// double-submit cookie it is bound to when the browser has none.
func (s *Server) csrfToken(w http.ResponseWriter, r *http.Request) string {
	var seed string
	if c, err := r.Cookie(s.cookieName("csrf")); err == nil && len(c.Value) >= 32 {
		seed = c.Value
	} else {
		seed = randomToken(32)
		s.setCookie(w, "csrf", seed, LoginLifetime)
	}
	return s.mac("csrf", seed)
}

// validCSRF checks the posted csrf_token against the browser's cookie.
func (s *Server) validCSRF(r *http.Request) bool {
	c, err := r.Cookie(s.cookieName("csrf"))
	tok := r.PostFormValue("csrf_token")
	return err == nil && tok != "" && hmac.Equal([]byte(tok), []byte(s.mac("csrf", c.Value)))
}
