// Package compose turns a ScheduledPost into what one profile receives: the
// variant or text, the brand kit's signature and hashtags, and every problem
// that would stop it being published. The publishing reconciler and the MCP
// preview tool both call it, so a preview shows exactly what would be sent.
package compose

import (
	"fmt"
	"strings"
	"unicode"

	socialv1alpha1 "github.com/herald-dev/herald/api/v1alpha1"
	"github.com/herald-dev/herald/internal/publish"
	"github.com/herald-dev/herald/internal/publish/rules"
)

// Rendered is a post as one profile would receive it.
type Rendered struct {
	// Text is the final text: variant or post text, signature, hashtags.
	Text string
	// Media are the attachments.
	Media []publish.Media
	// Length is the text's length in the platform's own counting.
	Length int
	// Limit is the platform's limit for this post; 0 means none.
	Limit int
	// Unit names what Length counts ("characters", "graphemes", …).
	Unit string
	// Problems stop the post from being published; empty means it fits.
	Problems []rules.Problem
}

// Message joins the problems into one sentence for a status or a tool
// result, or returns "" when there are none.
func (r Rendered) Message() string {
	parts := make([]string, 0, len(r.Problems))
	for _, p := range r.Problems {
		parts = append(parts, p.Message)
	}
	return strings.Join(parts, " ")
}

// ForProfile renders spec for profile with kit (which may be nil) and checks
// it against the platform's rules and the kit's banned words.
func ForProfile(spec *socialv1alpha1.ScheduledPostSpec, profile *socialv1alpha1.SocialProfile, kit *socialv1alpha1.BrandKit) Rendered {
	in := rules.RenderInput{Text: spec.Text, VariantText: variantFor(spec, profile)}
	if kit != nil {
		in.Signature, in.Hashtags = kit.Spec.Signature, kit.Spec.Hashtags
		for _, o := range kit.Spec.PlatformOverrides {
			if o.Platform != profile.Spec.Platform {
				continue
			}
			if o.Signature != nil {
				in.Signature = *o.Signature
			}
			if o.Hashtags != nil {
				in.Hashtags = o.Hashtags
			}
		}
	}
	out := Rendered{Text: rules.Render(in), Media: make([]publish.Media, 0, len(spec.Media))}
	for _, m := range spec.Media {
		out.Media = append(out.Media, publish.Media{URL: m.URL, AltText: m.AltText, Type: m.Type})
	}
	r := rules.For(publish.Platform(profile.Spec.Platform), LimitOverride(profile))
	out.Length, out.Limit, out.Unit = r.Count(out.Text), r.LimitFor(len(out.Media)), r.Unit
	out.Problems = r.Check(out.Text, out.Media)
	if w := BannedWordIn(out.Text, kit); w != "" {
		out.Problems = append(out.Problems, rules.Problem{
			Code:    "BannedWord",
			Message: fmt.Sprintf("The text contains %q, which brand kit %s bans.", w, kit.Name),
		})
	}
	return out
}

// LimitOverride is the profile's own length limit: its spec override, or what
// the platform reported when its credentials were verified; 0 means the
// platform's documented default.
func LimitOverride(profile *socialv1alpha1.SocialProfile) int {
	if profile.Spec.CharacterLimit != nil {
		return int(*profile.Spec.CharacterLimit)
	}
	return int(profile.Status.CharacterLimit)
}

// variantFor picks a profile variant before a platform variant.
func variantFor(spec *socialv1alpha1.ScheduledPostSpec, profile *socialv1alpha1.SocialProfile) string {
	platform := ""
	for _, v := range spec.Variants {
		switch {
		case v.Profile != "" && v.Profile == profile.Name:
			return v.Text
		case v.Platform == profile.Spec.Platform && platform == "":
			platform = v.Text
		}
	}
	return platform
}

// BannedWordIn returns the first of the kit's banned words that text contains
// as a whole word (ignoring case), or "".
func BannedWordIn(text string, kit *socialv1alpha1.BrandKit) string {
	if kit == nil {
		return ""
	}
	lower := strings.ToLower(text)
	for _, w := range kit.Spec.BannedWords {
		w = strings.ToLower(strings.TrimSpace(w))
		if w == "" {
			continue
		}
		for i := 0; ; {
			j := strings.Index(lower[i:], w)
			if j < 0 {
				break
			}
			start, end := i+j, i+j+len(w)
			if boundary(lower, start-1) && boundary(lower, end) {
				return w
			}
			i = start + 1
		}
	}
	return ""
}

// boundary reports whether byte i of s is outside s or not part of a word.
func boundary(s string, i int) bool {
	if i < 0 || i >= len(s) {
		return true
	}
	r := rune(s[i])
	return r < 0x80 && !unicode.IsLetter(r) && !unicode.IsDigit(r) && r != '_'
}
