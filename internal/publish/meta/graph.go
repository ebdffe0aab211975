// Package meta is what Herald's adapters for Meta's platforms share:
// Facebook Pages and Instagram speak the Graph API (graph.facebook.com),
// Threads its twin (graph.threads.net), with one error format, one way to
// send a token, and, for Instagram and Threads, one way to publish: a
// media container that the platform prepares and then publishes once
// (Containers). Each platform's adapter lives in its own package.
package meta

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/herald-dev/herald/internal/publish"
)

// The hosts and versions Herald calls. Meta retires a Graph API version
// about two years after its release: move them on with the changelog.
const (
	GraphURL       = "https://graph.facebook.com"
	GraphVersion   = "v24.0"
	ThreadsURL     = "https://graph.threads.net"
	ThreadsVersion = "v1.0"
)

// Graph sends calls to one Graph API host as one token.
type Graph struct {
	api    publish.API
	prefix string
	header http.Header
}

// Host says where a Graph is and which version it speaks; a zero Host is
// the Graph API.
type Host struct {
	// BaseURL replaces GraphURL (tests point it at a fake).
	BaseURL string
	// Version replaces GraphVersion.
	Version string
}

// NewGraph returns a Graph at h (base and version filled in from the
// defaults given) that sends token as a Bearer header, never in a URL, and
// redacts every credential of secrets from its errors.
func NewGraph(platform publish.Platform, client *http.Client, h Host, defaultURL, defaultVersion, token string, secrets publish.Credentials) *Graph {
	base, version := strings.TrimRight(h.BaseURL, "/"), h.Version
	if base == "" {
		base = defaultURL
	}
	if version == "" {
		version = defaultVersion
	}
	return &Graph{
		api:    publish.API{Platform: platform, Client: client, Secrets: secrets, Decode: Decode},
		prefix: base + "/" + version,
		header: http.Header{"Authorization": {"Bearer " + token}},
	}
}

// WithToken returns a copy of g that sends token instead (a Page's own
// token, read with the user's).
func (g *Graph) WithToken(token string) *Graph {
	c := *g
	c.header = http.Header{"Authorization": {"Bearer " + token}}
	c.api.Secrets = publish.Credentials{"pageAccessToken": []byte(token)}
	for k, v := range g.api.Secrets {
		c.api.Secrets[k] = v
	}
	return &c
}

// Get reads node (an id, or id/edge) with query into out; a GET cannot
// act twice, so a lost answer is Retryable.
func (g *Graph) Get(ctx context.Context, node string, query url.Values, out any) error {
	u := g.prefix + "/" + node
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	_, err := g.api.Do(ctx, publish.Request{Op: "GET /" + opPath(node), Method: http.MethodGet, URL: u, Header: g.header, Out: out})
	return err
}

// Post sends form to node; idempotent marks a call whose repeat makes no
// second post (a container, an unpublished photo), so a lost answer is
// Retryable instead of Unknown.
func (g *Graph) Post(ctx context.Context, node string, form url.Values, idempotent bool, out any) error {
	_, err := g.api.Do(ctx, publish.Request{Op: "POST /" + opPath(node), Method: http.MethodPost, URL: g.prefix + "/" + node,
		Header: g.header, Form: form, Idempotent: idempotent, Out: out})
	return err
}

// Delete deletes node; deleting twice does no more than once. A node
// already gone is not an error.
func (g *Graph) Delete(ctx context.Context, node string) error {
	var out struct {
		Success bool `json:"success"`
	}
	_, err := g.api.Do(ctx, publish.Request{Op: "DELETE /:id", Method: http.MethodDelete, URL: g.prefix + "/" + url.PathEscape(node),
		Header: g.header, Idempotent: true, Out: &out})
	switch {
	case publish.IsNotFound(err) || isGone(err):
		return nil
	case err != nil:
		return err
	case !out.Success:
		return publish.Errorf(publish.Retryable, "%s DELETE /:id: the platform did not confirm the deletion", g.api.Platform)
	}
	return nil
}

// opPath names a node's path in messages by its shape, not its ids:
// "1784…/media" becomes ":id/media".
func opPath(node string) string {
	parts := strings.Split(node, "/")
	if parts[0] != "me" {
		parts[0] = ":id"
	}
	return strings.Join(parts, "/")
}

// graphError is the Graph API's error body.
type graphError struct {
	Error struct {
		Message   string `json:"message"`
		Type      string `json:"type"`
		Code      int    `json:"code"`
		Subcode   int    `json:"error_subcode"`
		UserTitle string `json:"error_user_title"`
		UserMsg   string `json:"error_user_msg"`
	} `json:"error"`
}

// The Graph API's error codes and subcodes Herald tells apart.
const (
	codeTooManyCalls      = 4
	codeUserTooManyCalls  = 17
	codePageTooManyCalls  = 32
	codeCallsExceeded     = 613
	codePermission        = 10
	codeInvalidParam      = 100
	codeSession           = 102
	codeTokenInvalid      = 190
	codeDuplicate         = 506
	codeBlocked           = 368
	codeActionLimit       = 9
	codeMediaNotReady     = 9007
	subcodeMediaNotReady  = 2207027
	subcodePublishLimit   = 2207042
	codeNodeDoesNotExist  = 803
	subcodeObjectNotFound = 33
)

// Decode reads the Graph API's error body and decides what it means where
// the HTTP status alone cannot: Meta answers 400 for an expired token and
// for a rate limit alike.
func Decode(status int, body []byte) publish.Failure {
	var e graphError
	if json.Unmarshal(body, &e) != nil || e.Error.Message == "" {
		return publish.Failure{}
	}
	msg := e.Error.Message
	if e.Error.UserMsg != "" && e.Error.UserMsg != msg {
		msg += " " + e.Error.UserMsg
	}
	msg += fmt.Sprintf(" (%s code %d", e.Error.Type, e.Error.Code)
	if e.Error.Subcode != 0 {
		msg += fmt.Sprintf(", subcode %d", e.Error.Subcode)
	}
	msg += ")"
	f := publish.Failure{Message: strings.TrimPrefix(msg, " ")}
	switch c := e.Error.Code; {
	case c == codeTooManyCalls || c == codeUserTooManyCalls || c == codePageTooManyCalls || c == codeCallsExceeded || (c >= 80001 && c <= 80014):
		// Meta refused the call for its rate limits before acting on it.
		f.Kind, f.RetryAfter = publish.Retryable, time.Minute
	case c == codeActionLimit && e.Error.Subcode == subcodePublishLimit:
		f.Kind, f.RetryAfter = publish.Retryable, time.Hour
	case c == codeMediaNotReady && e.Error.Subcode == subcodeMediaNotReady:
		f.Kind, f.RetryAfter = publish.Retryable, 30*time.Second
	case c == codeTokenInvalid || c == codeSession || c == codePermission || (c >= 200 && c <= 299):
		f.Kind = publish.CredentialsRejected
	case c == codeInvalidParam || c == codeDuplicate || c == codeBlocked || c == codeNodeDoesNotExist:
		f.Kind = publish.Permanent
	}
	return f
}

// isGone reports a Graph answer that an object does not exist (Meta
// answers 400, code 100, subcode 33, rather than 404).
func isGone(err error) bool {
	var pe *publish.Error
	return errors.As(err, &pe) && strings.Contains(pe.Message, fmt.Sprintf("code %d, subcode %d)", codeInvalidParam, subcodeObjectNotFound))
}
