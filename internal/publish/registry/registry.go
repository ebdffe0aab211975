// Package registry assembles every publisher adapter into one
// publish.Registry, so the manager wires them in one call. It lives apart
// from package publish because the adapters import publish.
package registry

import (
	"net/http"

	"github.com/herald-dev/herald/internal/publish"
	"github.com/herald-dev/herald/internal/publish/bluesky"
	"github.com/herald-dev/herald/internal/publish/discord"
	"github.com/herald-dev/herald/internal/publish/linkedin"
	"github.com/herald-dev/herald/internal/publish/mastodon"
	"github.com/herald-dev/herald/internal/publish/sandbox"
	"github.com/herald-dev/herald/internal/publish/slack"
	"github.com/herald-dev/herald/internal/publish/telegram"
	"github.com/herald-dev/herald/internal/publish/webhook"
	"github.com/herald-dev/herald/internal/publish/x"
)

// Default returns a publisher for every platform in publish.Platforms,
// all sending with httpClient (give it a timeout: a request without one can
// hang a delivery) and the sandbox recording into sandboxFeed (a new,
// empty feed when nil).
func Default(httpClient *http.Client, sandboxFeed *sandbox.Feed) publish.Registry {
	if sandboxFeed == nil {
		sandboxFeed = &sandbox.Feed{}
	}
	return publish.Registry{
		publish.Sandbox:  sandbox.New(sandboxFeed),
		publish.Webhook:  webhook.New(httpClient),
		publish.Mastodon: mastodon.New(httpClient),
		publish.Bluesky:  bluesky.New(httpClient),
		publish.Discord:  discord.New(httpClient),
		publish.Slack:    slack.New(httpClient),
		publish.Telegram: telegram.New(httpClient),
		publish.LinkedIn: linkedin.New(httpClient),
		publish.X:        x.New(httpClient),
	}
}
