package post

import (
	"testing"

	"github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	socialv1alpha1 "github.com/herald-dev/herald/api/v1alpha1"
	"github.com/herald-dev/herald/internal/publish"
	"github.com/herald-dev/herald/internal/publish/registry"
)

func info(p *socialv1alpha1.SocialProfile) publish.Info {
	i, _ := registry.Info(publish.Platform(p.Spec.Platform))
	return i
}

func render(post *socialv1alpha1.ScheduledPost, p *socialv1alpha1.SocialProfile, kit *socialv1alpha1.BrandKit) (string, int) {
	r := Render(&post.Spec, p, kit, info(p))
	return r.Text, len(r.Problems)
}

func TestRenderPostPicksVariantAndOverride(t *testing.T) {
	g := gomega.NewWithT(t)
	sig := "— on Mastodon"
	kit := &socialv1alpha1.BrandKit{Spec: socialv1alpha1.BrandKitSpec{
		Signature: "— Acme", Hashtags: []string{"acme"},
		PlatformOverrides: []socialv1alpha1.BrandPlatformOverride{{Platform: socialv1alpha1.Platform("mastodon"), Signature: &sig}},
	}}
	post := &socialv1alpha1.ScheduledPost{Spec: socialv1alpha1.ScheduledPostSpec{
		Text: "base",
		Variants: []socialv1alpha1.PostVariant{
			{Platform: socialv1alpha1.Platform("mastodon"), Text: "for mastodon"},
			{Profile: "special", Text: "for special"},
		},
	}}
	masto := func(name string) *socialv1alpha1.SocialProfile {
		return &socialv1alpha1.SocialProfile{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: socialv1alpha1.SocialProfileSpec{Platform: socialv1alpha1.Platform("mastodon")}}
	}
	text, _ := render(post, masto("plain"), kit)
	g.Expect(text).To(gomega.Equal("for mastodon\n\n— on Mastodon\n\n#acme"))
	text, _ = render(post, masto("special"), kit)
	g.Expect(text).To(gomega.Equal("for special\n\n— on Mastodon\n\n#acme"), "a profile variant beats a platform variant")
	x := &socialv1alpha1.SocialProfile{Spec: socialv1alpha1.SocialProfileSpec{Platform: socialv1alpha1.Platform("x")}}
	text, _ = render(post, x, kit)
	g.Expect(text).To(gomega.Equal("base\n\n— Acme\n\n#acme"))
}

func TestBannedWordMatchesWholeWordsOnly(t *testing.T) {
	g := gomega.NewWithT(t)
	kit := &socialv1alpha1.BrandKit{Spec: socialv1alpha1.BrandKitSpec{BannedWords: []string{"cheap"}}}
	g.Expect(BannedWordIn("Not CHEAP at all", kit)).To(gomega.Equal("cheap"))
	g.Expect(BannedWordIn("cheapskate coffee", kit)).To(gomega.BeEmpty())
	g.Expect(BannedWordIn("anything", nil)).To(gomega.BeEmpty())
}

func TestForProfileReportsLengthAndBannedWords(t *testing.T) {
	g := gomega.NewWithT(t)
	kit := &socialv1alpha1.BrandKit{ObjectMeta: metav1.ObjectMeta{Name: "acme"}, Spec: socialv1alpha1.BrandKitSpec{BannedWords: []string{"cheap"}}}
	x := &socialv1alpha1.SocialProfile{Spec: socialv1alpha1.SocialProfileSpec{Platform: socialv1alpha1.Platform("x")}}
	long := &socialv1alpha1.ScheduledPostSpec{Text: "cheap " + string(repeat('a', 290))}
	r := Render(long, x, kit, info(x))
	g.Expect(r.Limit).To(gomega.Equal(280))
	g.Expect(r.Length).To(gomega.Equal(296))
	g.Expect(r.Problems).To(gomega.HaveLen(2))
	g.Expect(r.Message()).To(gomega.And(gomega.ContainSubstring("16"), gomega.ContainSubstring("cheap")))
	g.Expect(Render(&socialv1alpha1.ScheduledPostSpec{Text: "fine"}, x, nil, info(x)).Problems).To(gomega.BeEmpty())
}

func repeat(b byte, n int) []byte {
	out := make([]byte, n)
	for i := range out {
		out[i] = b
	}
	return out
}
