package post

import (
	"strings"
	"testing"

	. "github.com/onsi/gomega"

	socialv1alpha1 "github.com/herald-dev/herald/api/v1alpha1"
)

func TestContentProblems(t *testing.T) {
	type variants = []socialv1alpha1.PostVariant
	long := strings.Repeat("é", 40000) // two bytes each: the bound counts characters, not bytes
	for _, c := range []struct {
		name     string
		text     string
		variants variants
		want     []string
	}{
		{name: "one variant per profile and per platform", text: "hi",
			variants: variants{{Profile: "a", Text: "for a"}, {Platform: "x", Text: "for x"}, {Profile: "b", Text: "for b"}, {Platform: "mastodon", Text: "m"}}},
		{name: "a second variant for a profile", text: "hi",
			variants: variants{{Profile: "a", Text: "1"}, {Platform: "x", Text: "2"}, {Profile: "a", Text: "3"}},
			want:     []string{`variants[2] is a second variant for profile "a", after variants[0]; keep one`}},
		{name: "a second and a third variant for a platform", text: "hi",
			variants: variants{{Platform: "x", Text: "1"}, {Platform: "x", Text: "2"}, {Platform: "x", Text: "3"}},
			want: []string{`variants[1] is a second variant for platform "x", after variants[0]; keep one`,
				`variants[2] is a second variant for platform "x", after variants[0]; keep one`}},
		{name: "a variant for a profile the post does not publish to", text: "hi",
			variants: variants{{Profile: "c", Text: "1"}},
			want:     []string{`variants[0] is for profile "c", which is not one of the post's profiles; add the profile or remove the variant`}},
		{name: "exactly 100,000 characters", text: long[:2*20000],
			variants: variants{{Platform: "x", Text: long}, {Platform: "mastodon", Text: long}}},
		{name: "one character more", text: long[:2*20001],
			variants: variants{{Platform: "x", Text: long}, {Platform: "mastodon", Text: long}},
			want:     []string{"the text and variants hold 100001 characters together, more than the 100000 a post holds; shorten them"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			NewWithT(t).Expect(ContentProblems(c.text, []string{"a", "b"}, c.variants)).To(Equal(c.want))
		})
	}
}
