// Package discordtest is a fake Discord for tests of the adapter, the
// reconcilers, the soak and the benchmarks: one fake, following the
// webhook resource Herald uses.
package discordtest

import (
	"net/http"
	"strconv"
	"sync"
	"testing"

	"github.com/herald-dev/herald/internal/publish/platformtest"
)

// The webhook the fake holds: its id and token.
const (
	WebhookID = "111"
	Token     = "discord-webhook-token-XYZ"
)

// Fake follows Discord's webhook resource: GET /api/webhooks/{id}/{token}
// returns the webhook, POST executes it (a message body only with
// ?wait=true), DELETE .../messages/{message} deletes a message the webhook
// sent (204, or 404 Unknown Message), errors are {"message","code"}.
// Discord has no idempotency key: every execution is a message. Messages
// are numbered from 444.
type Fake struct {
	*platformtest.Server

	mu       sync.Mutex
	next     int
	messages map[string]bool
	sent     int
}

// New starts a fake that closes when the test ends.
func New(t testing.TB) *Fake {
	f := &Fake{Server: platformtest.NewServer(t), next: 444, messages: map[string]bool{}}
	check := func(w http.ResponseWriter, r *http.Request) bool {
		switch {
		case r.PathValue("id") != WebhookID:
			platformtest.WriteJSON(w, 404, map[string]any{"message": "Unknown Webhook", "code": 10015})
		case r.PathValue("token") != Token:
			platformtest.WriteJSON(w, 401, map[string]any{"message": "Invalid Webhook Token", "code": 50027})
		default:
			return true
		}
		return false
	}
	f.Handle("GET /api/webhooks/{id}/{token}", func(w http.ResponseWriter, r *http.Request) {
		if check(w, r) {
			platformtest.WriteJSON(w, 200, map[string]any{"id": WebhookID, "type": 1, "name": "Herald", "channel_id": "222", "guild_id": "333"})
		}
	})
	f.Handle("POST /api/webhooks/{id}/{token}", func(w http.ResponseWriter, r *http.Request) {
		if !check(w, r) {
			return
		}
		f.mu.Lock()
		id := strconv.Itoa(f.next)
		f.next++
		f.sent++
		f.messages[id] = true
		f.mu.Unlock()
		if r.URL.Query().Get("wait") != "true" {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		platformtest.WriteJSON(w, 200, map[string]any{"id": id, "channel_id": "222", "webhook_id": WebhookID, "timestamp": "2026-07-01T09:00:00.000000+00:00"})
	})
	f.Handle("DELETE /api/webhooks/{id}/{token}/messages/{message}", func(w http.ResponseWriter, r *http.Request) {
		if !check(w, r) {
			return
		}
		f.mu.Lock()
		held := f.messages[r.PathValue("message")]
		delete(f.messages, r.PathValue("message"))
		f.mu.Unlock()
		if !held {
			platformtest.WriteJSON(w, 404, map[string]any{"message": "Unknown Message", "code": 10008})
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	return f
}

// WebhookURL is the URL a profile's Secret holds as webhookURL.
func (f *Fake) WebhookURL() string { return f.URL + "/api/webhooks/" + WebhookID + "/" + Token }

// ExecuteRoute is the route each message is sent to.
const ExecuteRoute = "POST /api/webhooks/" + WebhookID + "/" + Token

// Holds reports whether the channel still has the message.
func (f *Fake) Holds(id string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.messages[id]
}

// Sent counts the messages the webhook ever posted.
func (f *Fake) Sent() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.sent
}
