// Package slacktest is a fake Slack for tests of the adapter, the
// reconcilers and the soak: one fake, following the incoming webhooks
// Herald uses.
package slacktest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"testing"

	"github.com/herald-dev/herald/internal/publish/platformtest"
)

// HookPath is the path of the webhook the fake holds; the last part is its
// secret.
const HookPath = "/services/T000/B000/slack-secret-part"

// Fake follows Slack's incoming webhooks: "ok" on success, plain-text error
// codes otherwise (400 invalid_payload or no_text, 404 no_service for an
// unknown webhook). Incoming webhooks have no idempotency key: every
// accepted post is a message.
type Fake struct {
	*platformtest.Server

	mu   sync.Mutex
	sent int
}

// New starts a fake that closes when the test ends.
func New(t testing.TB) *Fake {
	f := &Fake{Server: platformtest.NewServer(t)}
	f.Handle("POST /services/", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != HookPath {
			http.Error(w, "no_service", http.StatusNotFound)
			return
		}
		var msg struct {
			Text   string
			Blocks []any
		}
		if err := json.NewDecoder(r.Body).Decode(&msg); err != nil {
			http.Error(w, "invalid_payload", http.StatusBadRequest)
			return
		}
		if msg.Text == "" && len(msg.Blocks) == 0 {
			http.Error(w, "no_text", http.StatusBadRequest)
			return
		}
		f.mu.Lock()
		f.sent++
		f.mu.Unlock()
		fmt.Fprint(w, "ok")
	})
	return f
}

// WebhookURL is the URL a profile's Secret holds as webhookURL.
func (f *Fake) WebhookURL() string { return f.URL + HookPath }

// Route is where every message is posted.
const Route = "POST " + HookPath

// Sent counts the messages Slack accepted.
func (f *Fake) Sent() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.sent
}
