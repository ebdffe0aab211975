package signin

import (
	"context"
	"fmt"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
)

// ConnectOptions say which connection page to fill, as whom, with what.
type ConnectOptions struct {
	// URL is the connection page, as ocoya_get_social_connection_url gives it.
	URL string
	// Username and Password of a local user who may connect accounts there.
	Username, Password string
	// Fields are the form's values, such as handle and appPassword.
	Fields url.Values
	// Transport makes the connections; nil is http.DefaultTransport.
	Transport http.RoundTripper
}

// Connect fills one of Herald's connection pages that are forms (Bluesky,
// Discord, Slack, Telegram, webhook) as a person would: it signs in, submits
// the fields and returns the page Herald answered with, which says what was
// connected or what is wrong.
func Connect(ctx context.Context, o ConnectOptions) (status int, body string, err error) {
	u, err := url.Parse(o.URL)
	if err != nil || u.Host == "" {
		return 0, "", fmt.Errorf("connection URL %q is not absolute", o.URL)
	}
	base := u.Scheme + "://" + u.Host
	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar, Transport: o.Transport, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	p, err := fetch(ctx, browser, http.MethodGet, o.URL, nil)
	if err != nil {
		return 0, "", err
	}
	if strings.Contains(p.body, `name="password"`) && strings.Contains(p.body, `name="username"`) {
		if p, err = submit(ctx, browser, base, p, url.Values{"username": {o.Username}, "password": {o.Password}}); err != nil {
			return 0, "", fmt.Errorf("signing in: %w", err)
		}
		if p.status != http.StatusSeeOther {
			return p.status, p.body, fmt.Errorf("signing in was refused (status %d): %s", p.status, snippet(p.body))
		}
		if p, err = fetch(ctx, browser, http.MethodGet, o.URL, nil); err != nil {
			return 0, "", err
		}
	}
	values := url.Values{}
	for k, v := range o.Fields {
		values[k] = v
	}
	if p, err = submit(ctx, browser, base, p, values); err != nil {
		return 0, "", fmt.Errorf("submitting the connection form: %w", err)
	}
	return p.status, p.body, nil
}
