// Package registry assembles every publisher adapter into one
// publish.Registry, so the manager wires them in one call, and lists what
// each declares (publish.Info) for the code that varies by platform: the
// credential checks, the rate limits, the schema enums and the docs. It is
// the one list of platforms; adding a platform is adding its adapter here.
// It lives apart from package publish because the adapters import publish.
package registry

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sync"

	"github.com/herald-dev/herald/internal/publish"
	"github.com/herald-dev/herald/internal/publish/bluesky"
	"github.com/herald-dev/herald/internal/publish/discord"
	"github.com/herald-dev/herald/internal/publish/facebook"
	"github.com/herald-dev/herald/internal/publish/instagram"
	"github.com/herald-dev/herald/internal/publish/linkedin"
	"github.com/herald-dev/herald/internal/publish/mastodon"
	"github.com/herald-dev/herald/internal/publish/pinterest"
	"github.com/herald-dev/herald/internal/publish/sandbox"
	"github.com/herald-dev/herald/internal/publish/slack"
	"github.com/herald-dev/herald/internal/publish/telegram"
	"github.com/herald-dev/herald/internal/publish/threads"
	"github.com/herald-dev/herald/internal/publish/tiktok"
	"github.com/herald-dev/herald/internal/publish/webhook"
	"github.com/herald-dev/herald/internal/publish/x"
	"github.com/herald-dev/herald/internal/publish/youtube"
)

// adapters returns one publisher per platform, in the order docs and enums
// show them.
func adapters(httpClient *http.Client, sandboxFeed *sandbox.Feed) []publish.Publisher {
	return []publish.Publisher{
		sandbox.New(sandboxFeed),
		webhook.New(httpClient),
		mastodon.New(httpClient),
		bluesky.New(httpClient),
		discord.New(httpClient),
		slack.New(httpClient),
		telegram.New(httpClient),
		linkedin.New(httpClient),
		x.New(httpClient),
		facebook.New(httpClient),
		instagram.New(httpClient),
		threads.New(httpClient),
		pinterest.New(httpClient),
		tiktok.New(httpClient),
		youtube.New(httpClient),
	}
}

// Default returns a publisher for every platform, all sending with
// httpClient (give it a timeout: a request without one can hang a
// delivery) and the sandbox recording into sandboxFeed (a new, empty feed
// when nil).
func Default(httpClient *http.Client, sandboxFeed *sandbox.Feed) publish.Registry {
	if sandboxFeed == nil {
		sandboxFeed = &sandbox.Feed{}
	}
	reg := publish.Registry{}
	for _, p := range adapters(httpClient, sandboxFeed) {
		reg[p.Info().Platform] = p
	}
	return reg
}

// infos is what every adapter declares, in order; declarations are fixed,
// so they are read once.
var infos = sync.OnceValue(func() []publish.Info {
	var out []publish.Info
	for _, p := range adapters(nil, &sandbox.Feed{}) {
		out = append(out, p.Info())
	}
	return out
})

// Infos returns what every platform declares, in the order docs and enums
// show them.
func Infos() []publish.Info { return slices.Clone(infos()) }

// Platforms returns the name of every platform, in the order of Infos.
func Platforms() []publish.Platform {
	var out []publish.Platform
	for _, i := range infos() {
		out = append(out, i.Platform)
	}
	return out
}

// Info returns what platform declares; an unknown platform gets a bare
// Info with no limits, named after itself, and ok false.
func Info(platform publish.Platform) (info publish.Info, ok bool) {
	for _, i := range infos() {
		if i.Platform == platform {
			return i, true
		}
	}
	return publish.Registry(nil).Info(platform), false
}

// Relocate moves the API of each platform in apis to its base URL (see
// publish.Relocatable). It refuses a platform Herald does not know, one
// whose profiles name their own server, and a URL that is not an absolute
// http or https URL without query or fragment.
func Relocate(reg publish.Registry, apis map[publish.Platform]string) error {
	for platform, base := range apis {
		pub, err := reg.For(platform)
		if err != nil {
			return fmt.Errorf("%s: Herald knows platforms %v", err, Platforms())
		}
		r, ok := pub.(publish.Relocatable)
		if !ok {
			return fmt.Errorf("platform %s has no fixed API host to move: each profile names its server in spec.endpoint, or its Secret holds the URL", platform)
		}
		u, err := url.Parse(base)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
			return fmt.Errorf("platform %s: %q is not an http or https base URL such as https://graph-proxy.example.com", platform, base)
		}
		r.UseAPI(base)
	}
	return nil
}
