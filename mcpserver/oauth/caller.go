package oauth

import (
	"context"
	"fmt"
	"net/http"
	"slices"

	"github.com/herald-dev/herald/api/v1alpha1"
)

// Caller is who is calling /mcp: the user, through which client and grant,
// with what the grant allows right now.
type Caller struct {
	Subject    string
	ClientID   string
	ClientName string
	Grant      string
	Scopes     []v1alpha1.Scope
	Workspaces []string
}

// HasScope reports whether the caller was granted s.
func (c *Caller) HasScope(s v1alpha1.Scope) bool { return c != nil && slices.Contains(c.Scopes, s) }

type callerKey struct{}

// CallerFrom returns the caller RequireToken put in the context.
func CallerFrom(ctx context.Context) (*Caller, bool) {
	c, ok := ctx.Value(callerKey{}).(*Caller)
	return c, ok
}

// WithCaller returns a context carrying c, for tests of handlers behind RequireToken.
func WithCaller(ctx context.Context, c *Caller) context.Context {
	return context.WithValue(ctx, callerKey{}, c)
}

// challengeWriter carries the metadata URL to WriteInsufficientScope, which
// handlers call with only the ResponseWriter in hand.
type challengeWriter struct {
	http.ResponseWriter
	metadataURL string
}

// Unwrap lets http.ResponseController reach the original writer (Flush for streaming).
func (c *challengeWriter) Unwrap() http.ResponseWriter { return c.ResponseWriter }

// Flush keeps streaming responses working for handlers that type-assert http.Flusher.
func (c *challengeWriter) Flush() {
	if f, ok := c.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// WriteInsufficientScope answers 403 naming the scopes the call needs, so the
// client can ask the user for them (RFC 6750 §3.1).
func WriteInsufficientScope(w http.ResponseWriter, needed ...v1alpha1.Scope) {
	meta := ""
	for ww := w; ww != nil; {
		if cw, ok := ww.(*challengeWriter); ok {
			meta = cw.metadataURL
			break
		}
		u, ok := ww.(interface{ Unwrap() http.ResponseWriter })
		if !ok {
			break
		}
		ww = u.Unwrap()
	}
	desc := "This call needs the scope " + scopeString(needed) + "; connect again and approve it (a workspace role may cap it)."
	v := fmt.Sprintf(`Bearer error="insufficient_scope", scope=%q, error_description=%q`, scopeString(needed), desc)
	if meta != "" {
		v += fmt.Sprintf(`, resource_metadata=%q`, meta)
	}
	w.Header().Set("WWW-Authenticate", v)
	writeJSON(w, http.StatusForbidden, map[string]string{"error": "insufficient_scope", "error_description": desc})
}
