package registry_test

import (
	"testing"

	. "github.com/onsi/gomega"

	"github.com/herald-dev/herald/internal/publish"
	"github.com/herald-dev/herald/internal/publish/registry"
	"github.com/herald-dev/herald/internal/publish/sandbox"
)

func TestDefaultCoversEveryPlatform(t *testing.T) {
	g := NewWithT(t)
	reg := registry.Default(nil, &sandbox.Feed{})
	g.Expect(reg).To(HaveLen(len(publish.Platforms)))
	safe := map[publish.Platform]bool{}
	for _, p := range publish.Platforms {
		pub, err := reg.For(p)
		g.Expect(err).NotTo(HaveOccurred(), string(p))
		safe[p] = pub.SafeRetry()
	}
	// Only platforms with a way to recognise a repeat are safe to retry.
	g.Expect(safe).To(Equal(map[publish.Platform]bool{
		publish.Sandbox: true, publish.Webhook: true, publish.Mastodon: true, publish.Bluesky: true,
		publish.Discord: false, publish.Slack: false, publish.Telegram: false, publish.LinkedIn: false, publish.X: false,
	}))
	_, err := reg.For(publish.Threads)
	g.Expect(publish.KindOf(err)).To(Equal(publish.Permanent))
}
