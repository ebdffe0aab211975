package post

import (
	"context"
	"fmt"
	"net/http"
	"slices"
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

// Render renders spec for profile with kit (which may be nil) and checks it
// against the platform's rules (info, the profile's platform declaration)
// and the kit's banned words: what the preview tool shows is what the
// reconciler sends, and a post it refuses the tools refuse too.
func Render(spec *socialv1alpha1.ScheduledPostSpec, profile *socialv1alpha1.SocialProfile, kit *socialv1alpha1.BrandKit, info publish.Info) Rendered {
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
	r := info.Rules.WithLimit(CharacterLimit(profile, info))
	out.Length, out.Limit, out.Unit = r.Count(out.Text), r.LimitFor(len(out.Media)), r.UnitName()
	out.Problems = r.Check(out.Text, publish.Attachments(out.Media))
	if w := BannedWordIn(out.Text, kit); w != "" {
		out.Problems = append(out.Problems, rules.Problem{
			Code:    ProblemBannedWord,
			Message: fmt.Sprintf("The text contains %q, which brand kit %s bans.", w, kit.Name),
		})
	}
	return out
}

// InspectMedia reads the rendering's media files where the platform's
// rules need them (publish.Inspect, with client) and puts what the files
// show (a format, size or aspect ratio the platform does not take) in
// place of what their URLs alone suggested: the look publishing takes too
// before it calls a platform that fetches media itself.
func (r *Rendered) InspectMedia(ctx context.Context, client *http.Client, info publish.Info) {
	read := publish.Inspect(ctx, client, info.Rules.Media, r.Media)
	r.Problems = append(slices.DeleteFunc(r.Problems, rules.Problem.AboutFile), info.Rules.CheckFiles(read)...)
}

// ProblemBannedWord is the code of the problem a banned word makes.
const ProblemBannedWord = "BannedWord"

// CharacterLimit is the longest text profile accepts, in its platform's
// counting: spec.characterLimit when set, else what the platform reported
// when the credentials were verified (status.characterLimit), else the
// platform's documented limit; 0 means none.
func CharacterLimit(profile *socialv1alpha1.SocialProfile, info publish.Info) int {
	switch {
	case profile.Spec.CharacterLimit != nil:
		return int(*profile.Spec.CharacterLimit)
	case profile.Status.CharacterLimit > 0:
		return int(profile.Status.CharacterLimit)
	}
	return info.Rules.Limit
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
