package registry_test

import (
	"context"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"

	"github.com/herald-dev/herald/internal/controlplane"
	"github.com/herald-dev/herald/internal/publish"
	"github.com/herald-dev/herald/internal/publish/meta/metatest"
	"github.com/herald-dev/herald/internal/publish/registry"
	"github.com/herald-dev/herald/internal/publish/sandbox"
)

func TestDefaultCoversEveryPlatform(t *testing.T) {
	g := NewWithT(t)
	reg := registry.Default(nil, &sandbox.Feed{})
	g.Expect(reg).To(HaveLen(len(registry.Platforms())))
	resend := map[publish.Platform]bool{}
	for _, p := range registry.Platforms() {
		pub, err := reg.For(p)
		g.Expect(err).NotTo(HaveOccurred(), string(p))
		g.Expect(pub.Info().Platform).To(Equal(p))
		resend[p] = pub.Info().Resend.By != ""
		_, deletes := pub.(publish.Deleter)
		g.Expect(pub.Info().Deletes).To(Equal(deletes), "%s declares whether it deletes as its adapter does", p)
		g.Expect(pub.Info().Name()).NotTo(BeEmpty())
	}
	// Only platforms with a way to recognise a repeat are sent an
	// interrupted attempt again.
	g.Expect(resend).To(Equal(map[publish.Platform]bool{
		"sandbox": true, "webhook": true, "mastodon": true, "bluesky": true,
		"discord": false, "slack": false, "telegram": false, "linkedin": false, "x": false,
		"facebook": true, "instagram": true, "threads": true, "pinterest": true,
		"tiktok": true, "youtube": true,
	}))
	mastodon, _ := registry.Info("mastodon")
	g.Expect(mastodon.Resend.Window).To(BeNumerically("<", time.Hour), "Mastodon forgets a key after an hour")
	_, err := reg.For("myspace")
	g.Expect(publish.KindOf(err)).To(Equal(publish.Permanent))
	_, known := registry.Info("myspace")
	g.Expect(known).To(BeFalse())
}

// TestTheAPIMatchesTheRegistry keeps what kubectl explain shows (the
// Platform enum, the Secret keys, where an endpoint is required) equal to
// what the adapters declare.
func TestTheAPIMatchesTheRegistry(t *testing.T) {
	g := NewWithT(t)
	crds, err := controlplane.CRDs()
	g.Expect(err).NotTo(HaveOccurred())
	var profile *apiextensionsv1.CustomResourceDefinition
	for _, c := range crds {
		if c.Spec.Names.Kind == "SocialProfile" {
			profile = c
		}
	}
	g.Expect(profile).NotTo(BeNil())
	spec := profile.Spec.Versions[0].Schema.OpenAPIV3Schema.Properties["spec"]
	var enum []publish.Platform
	for _, v := range spec.Properties["platform"].Enum {
		enum = append(enum, publish.Platform(strings.Trim(string(v.Raw), `"`)))
	}
	g.Expect(enum).To(Equal(registry.Platforms()), "the Platform enum in api/v1alpha1 lists every adapter, in the registry's order")

	keys := spec.Properties["credentialsSecretRef"].Description
	var required []string
	for _, info := range registry.Infos() {
		for _, k := range info.CredentialKeys {
			g.Expect(keys).To(ContainSubstring(k), "credentialsSecretRef's description names %s's key %s", info.Platform, k)
		}
		if info.EndpointRequired {
			required = append(required, "'"+string(info.Platform)+"'")
		}
	}
	var rule string
	for _, r := range spec.XValidations {
		if strings.Contains(r.Rule, "has(self.endpoint)") {
			rule = r.Rule
		}
	}
	g.Expect(rule).To(ContainSubstring("["+strings.Join(required, ", ")+"]"), "the CEL rule requires an endpoint exactly where an adapter does")
}

var update = flag.Bool("update", false, "rewrite docs/platforms.md")

// TestDocs keeps docs/platforms.md generated from the registry.
func TestDocs(t *testing.T) {
	path := filepath.Join("..", "..", "..", "docs", "platforms.md")
	want := registry.Markdown()
	if *update {
		if err := os.WriteFile(path, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != want {
		t.Errorf("docs/platforms.md is stale: run go test ./internal/publish/registry -update")
	}
}

func TestRelocate(t *testing.T) {
	g := NewWithT(t)
	reg := registry.Default(nil, &sandbox.Feed{})
	g.Expect(registry.Relocate(reg, map[publish.Platform]string{"myspace": "https://api.example"})).To(MatchError(ContainSubstring("no publisher for platform")))
	g.Expect(registry.Relocate(reg, map[publish.Platform]string{"mastodon": "https://api.example"})).To(MatchError(ContainSubstring("spec.endpoint")))
	for _, bad := range []string{"ftp://api.example", "api.example", "https://api.example/?token=1", ""} {
		g.Expect(registry.Relocate(reg, map[publish.Platform]string{"instagram": bad})).To(MatchError(ContainSubstring("not an http or https base URL")), bad)
	}

	// A moved platform sends its calls to the new host.
	fake := metatest.New(t)
	g.Expect(registry.Relocate(reg, map[publish.Platform]string{"instagram": fake.URL, "threads": fake.URL})).To(Succeed())
	for platform, creds := range map[publish.Platform]publish.Credentials{
		"instagram": {"accessToken": []byte(metatest.UserToken), "igUserId": []byte(metatest.IGUserID)},
		"threads":   {"accessToken": []byte(metatest.ThreadsToken)},
	} {
		pub, _ := reg.For(platform)
		acct, err := pub.Verify(context.Background(), publish.Profile{Platform: platform, Credentials: creds})
		g.Expect(err).NotTo(HaveOccurred(), string(platform))
		g.Expect(acct.Handle).To(Equal("@" + metatest.Username))
	}
	g.Expect(fake.Routes()).To(ConsistOf("GET /v24.0/"+metatest.IGUserID, "GET /v1.0/me"))
}
