package meta_test

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/herald-dev/herald/internal/publish"
	"github.com/herald-dev/herald/internal/publish/meta"
	"github.com/herald-dev/herald/internal/publish/platformtest"
)

// graphBody is Meta's error answer with code and subcode.
func graphBody(code, subcode int, msg string) string {
	return fmt.Sprintf(`{"error":{"message":%q,"type":"OAuthException","code":%d,"error_subcode":%d,"fbtrace_id":"Ab1"}}`, msg, code, subcode)
}

// TestErrorCodes maps the Graph API's own codes, which Meta sends with
// HTTP 400 or 403 whatever they mean, for a call that is not idempotent
// (a publish).
func TestErrorCodes(t *testing.T) {
	token := "graph-token-secret-1"
	c := func(name string, status, code, subcode int, kind publish.ErrorKind, wait time.Duration) platformtest.ErrorCase {
		msg := "meta says " + name
		return platformtest.ErrorCase{Name: name, Status: status, Body: graphBody(code, subcode, msg), Kind: kind, RetryAfter: wait, Message: msg}
	}
	cases := []platformtest.ErrorCase{
		c("expired token", 400, 190, 463, publish.CredentialsRejected, 0),
		c("missing permission", 403, 200, 0, publish.CredentialsRejected, 0),
		c("app rate limit", 400, 4, 0, publish.Retryable, time.Minute),
		c("user rate limit", 400, 17, 0, publish.Retryable, time.Minute),
		c("page rate limit", 400, 32, 0, publish.Retryable, time.Minute),
		c("business use case limit", 400, 80001, 0, publish.Retryable, time.Minute),
		c("media not ready", 400, 9007, 2207027, publish.Retryable, 30*time.Second),
		c("publishing limit", 400, 9, 2207042, publish.Retryable, time.Hour),
		c("invalid parameter", 400, 100, 0, publish.Permanent, 0),
		c("blocked by policy", 400, 368, 0, publish.Permanent, 0),
		c("duplicate", 400, 506, 0, publish.Permanent, 0),
		c("transient server error", 500, 2, 0, publish.Unknown, 0),
	}
	cases = append(cases, platformtest.StandardCases(func(status int, msg string) string { return graphBody(1, 0, msg) })...)
	platformtest.CheckErrors(t, cases, []string{token}, func(t *testing.T, client *http.Client, answer http.HandlerFunc) error {
		s := platformtest.NewServer(t)
		s.Handle("POST /v24.0/42/feed", answer)
		g := meta.NewGraph("facebook", client, meta.Host{BaseURL: s.URL}, meta.GraphURL, meta.GraphVersion, token, publish.Credentials{"accessToken": []byte(token)})
		err := g.Post(context.Background(), "42/feed", nil, false, nil)
		if r := s.Last(t, "POST /v24.0/42/feed"); r.Header.Get("Authorization") != "Bearer "+token || r.Query.Has("access_token") {
			t.Errorf("the token travels in the Authorization header only: %v %v", r.Header, r.Query)
		}
		return err
	})
}
