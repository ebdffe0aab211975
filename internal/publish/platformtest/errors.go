package platformtest

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/herald-dev/herald/internal/publish"
)

// ErrorCase is one failure a fake answers with, and the error the adapter
// must turn it into.
type ErrorCase struct {
	// Name names the subtest.
	Name string
	// Status and Body (and Header) are the fake's answer; Timeout instead
	// makes the fake never answer.
	Status  int
	Header  http.Header
	Body    string
	Timeout bool
	// Kind, RetryAfter and Message (a substring: the platform's own words)
	// are what the returned *publish.Error must carry.
	Kind       publish.ErrorKind
	RetryAfter time.Duration
	Message    string
}

// Handler returns the fake's answer for the case.
func (c ErrorCase) Handler(t testing.TB) http.HandlerFunc {
	if c.Timeout {
		return Blocking(t)
	}
	return func(w http.ResponseWriter, r *http.Request) {
		for k, vs := range c.Header {
			w.Header()[k] = vs
		}
		if strings.HasPrefix(strings.TrimSpace(c.Body), "{") {
			w.Header().Set("Content-Type", "application/json")
		}
		w.WriteHeader(c.Status)
		_, _ = w.Write([]byte(c.Body))
	}
}

// StandardCases returns the failures every adapter maps the same way for a
// request that is not idempotent (a publish), with bodies in the platform's
// format: body(status, message) renders an error body carrying message.
// Each case's Message is that message. A server error or a timeout after
// the request was sent may come after the platform acted: Unknown.
func StandardCases(body func(status int, message string) string) []ErrorCase {
	c := func(name string, status int, kind publish.ErrorKind) ErrorCase {
		msg := fmt.Sprintf("platform says %d", status)
		return ErrorCase{Name: name, Status: status, Body: body(status, msg), Kind: kind, Message: msg}
	}
	rateLimited := c("429 with Retry-After", http.StatusTooManyRequests, publish.Retryable)
	rateLimited.Header = http.Header{"Retry-After": {"7"}}
	rateLimited.RetryAfter = 7 * time.Second
	return []ErrorCase{
		c("400", http.StatusBadRequest, publish.Permanent),
		c("401", http.StatusUnauthorized, publish.CredentialsRejected),
		c("403", http.StatusForbidden, publish.CredentialsRejected),
		c("404", http.StatusNotFound, publish.Permanent),
		c("422", http.StatusUnprocessableEntity, publish.Permanent),
		rateLimited,
		c("500", http.StatusInternalServerError, publish.Unknown),
		c("502", http.StatusBadGateway, publish.Unknown),
		c("503", http.StatusServiceUnavailable, publish.Unknown),
		c("504", http.StatusGatewayTimeout, publish.Unknown),
		{Name: "timeout after sending", Timeout: true, Kind: publish.Unknown, Message: "may or may not have taken effect"},
	}
}

// DeleteCases adapts failure cases to a deletion: sending a DELETE again
// cannot do more than the first, so a server error or a lost answer is
// Retryable rather than Unknown; and where notFoundIsDeleted, the 404 case
// is left out, since a post already gone counts as deleted.
func DeleteCases(cases []ErrorCase, notFoundIsDeleted bool) []ErrorCase {
	out := slices.DeleteFunc(slices.Clone(cases), func(c ErrorCase) bool {
		return c.Timeout || (notFoundIsDeleted && c.Status == http.StatusNotFound)
	})
	for i := range out {
		if out[i].Status >= 500 && out[i].Kind == publish.Unknown {
			out[i].Kind = publish.Retryable
		}
	}
	return append(out, ErrorCase{Name: "timeout after sending", Timeout: true, Kind: publish.Retryable, Message: "no answer"})
}

// CheckRefusedIDs asserts that deleting each id in refused fails as
// Permanent with a message containing refused[id], and that fake received
// no request: an id the platform could not have given is refused before
// any call.
func CheckRefusedIDs(t *testing.T, fake *Server, refused map[string]string, del func(id string) error) {
	t.Helper()
	for id, want := range refused {
		err := del(id)
		if publish.KindOf(err) != publish.Permanent || err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Delete(%q) = %v; want a Permanent error containing %q", id, err, want)
		}
	}
	if routes := fake.Routes(); len(routes) > 0 {
		t.Errorf("refused ids still reached the platform: %v", routes)
	}
}

// CheckErrors runs each case: call must install answer where the adapter's
// request under test goes, run the adapter with client (which has
// ClientTimeout) and return its error. CheckErrors asserts the error is a
// *publish.Error with the case's kind, status, wait and message, and that
// its message contains none of the secrets.
func CheckErrors(t *testing.T, cases []ErrorCase, secrets []string, call func(t *testing.T, client *http.Client, answer http.HandlerFunc) error) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.Name, func(t *testing.T) {
			err := call(t, Client(), c.Handler(t))
			var pe *publish.Error
			if !errors.As(err, &pe) {
				t.Fatalf("want a *publish.Error of kind %s, got %T: %v", c.Kind, err, err)
			}
			if pe.Kind != c.Kind {
				t.Errorf("kind = %s, want %s (%v)", pe.Kind, c.Kind, err)
			}
			if !c.Timeout && pe.StatusCode != c.Status {
				t.Errorf("status = %d, want %d", pe.StatusCode, c.Status)
			}
			if pe.RetryAfter != c.RetryAfter {
				t.Errorf("RetryAfter = %v, want %v", pe.RetryAfter, c.RetryAfter)
			}
			if !strings.Contains(pe.Message, c.Message) {
				t.Errorf("message %q does not contain %q", pe.Message, c.Message)
			}
			if Contains(pe.Message, secrets...) {
				t.Errorf("message %q contains a credential value", pe.Message)
			}
		})
	}
}
