package mcpserver

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"sync"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"
)

// linkAnswer is an output that carries a link for the person to open: where
// the client shows links itself (URL-mode elicitation, protocol 2025-11-25
// and later), Herald asks it to before answering, and the output says what
// the person chose. The link stays in the output either way.
type linkAnswer interface {
	linkToOpen() (url, message string)
	setOpened(action string)
}

// openLinkRequest keys the elicitation among a call's input requests.
const openLinkRequest = "open-link"

// linkShowers remembers, by MCP session id, the sessions whose client
// declared at initialize that it shows links (elicitation with url mode).
// Herald's sessions are otherwise stateless, each request served by any
// replica, so this is a hint kept where the session began: a request on
// another replica, or after a restart, is answered with the link alone, as
// for any client that cannot show links.
type linkShowers struct {
	mu  sync.Mutex
	ids map[string]time.Time
}

// linkShowersKept bounds the memory; a session's hint lasts linkShowerTTL.
const (
	linkShowersKept = 10_000
	linkShowerTTL   = 24 * time.Hour
)

func (l *linkShowers) afterInitialize(ctx context.Context, _ any, req *mcp.InitializeRequest, _ *mcp.InitializeResult) {
	sess := server.ClientSessionFromContext(ctx)
	caps := req.Params.Capabilities.Elicitation
	if sess == nil || sess.SessionID() == "" || caps == nil || caps.URL == nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.ids == nil || len(l.ids) >= linkShowersKept {
		l.ids = map[string]time.Time{} // a flood of sessions: start again rather than grow
	}
	l.ids[sess.SessionID()] = time.Now()
}

// shows reports whether the request's session can be asked to show a link:
// its client declared it does, and the request's answer can carry the ask
// (mcp-go's own session for the request; a batch element's cannot).
func (l *linkShowers) shows(ctx context.Context) bool {
	sess := server.ClientSessionFromContext(ctx)
	if _, ok := sess.(server.SessionWithElicitation); !ok || sess == nil {
		return false
	}
	if withInfo, ok := sess.(server.SessionWithClientInfo); ok {
		if e := withInfo.GetClientCapabilities().Elicitation; e != nil && e.URL != nil {
			return true
		}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	at, ok := l.ids[sess.SessionID()]
	return ok && time.Since(at) < linkShowerTTL
}

// askToOpen turns out's link into the input request that asks the client
// to show it, or returns nil when the client cannot or already answered (the
// answer is then recorded in out).
func (l *linkShowers) askToOpen(ctx context.Context, req mcp.CallToolRequest, out any) *mcp.CallToolResult {
	la, ok := out.(linkAnswer)
	if !ok {
		return nil
	}
	if answer := server.ElicitationResponse(req.Params.InputResponses, openLinkRequest); answer != nil {
		la.setOpened(string(answer.Action))
		return nil
	}
	link, message := la.linkToOpen()
	if link == "" || !l.shows(ctx) {
		return nil
	}
	id := make([]byte, 12)
	_, _ = rand.Read(id)
	return server.NewInputRequestBuilder("").Elicit(openLinkRequest, mcp.ElicitationParams{
		Mode: mcp.ElicitationModeURL, ElicitationID: hex.EncodeToString(id), URL: link, Message: message,
	}).ToolResult()
}
