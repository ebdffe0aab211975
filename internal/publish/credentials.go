package publish

import (
	"net/http"
	"net/url"
	"sort"
	"strings"
)

// Get returns the value of a required credential key with surrounding
// whitespace removed (Secrets made from files often end in a newline). A
// missing or empty key is a Permanent error naming the key, never a value.
func (c Credentials) Get(key string) (string, error) {
	v, ok := c[key]
	if !ok {
		return "", Errorf(Permanent, "credentials have no key %s", key)
	}
	s := strings.TrimSpace(string(v))
	if s == "" {
		return "", Errorf(Permanent, "credentials key %s is empty", key)
	}
	return s, nil
}

// Bearer returns the Authorization header for the OAuth access token the
// profile's Secret holds under accessToken.
func (c Credentials) Bearer() (http.Header, error) {
	token, err := c.Get("accessToken")
	if err != nil {
		return nil, err
	}
	return http.Header{"Authorization": {"Bearer " + token}}, nil
}

// minRedacted is the shortest value Redact hides: shorter ones (a chat id
// such as "42") would garble messages without protecting anything.
const minRedacted = 6

// Redact returns s with every credential value (raw, trimmed and
// URL-escaped, as it may appear in a URL) replaced by "[redacted]".
func (c Credentials) Redact(s string) string {
	var secrets []string
	for _, v := range c {
		t := strings.TrimSpace(string(v))
		for _, form := range []string{string(v), t, url.PathEscape(t), url.QueryEscape(t)} {
			if len(form) >= minRedacted {
				secrets = append(secrets, form)
			}
		}
	}
	// Longest first, so a value containing another is hidden whole.
	sort.Slice(secrets, func(i, j int) bool { return len(secrets[i]) > len(secrets[j]) })
	for _, v := range secrets {
		s = strings.ReplaceAll(s, v, "[redacted]")
	}
	return s
}

// redactError hides credential values in err's message when it is an *Error.
func (c Credentials) redactError(err error) error {
	if e, ok := err.(*Error); ok && len(c) > 0 {
		e.Message = c.Redact(e.Message)
	}
	return err
}
