package rules

import (
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"
)

// RenderInput is what a post's final text is made of.
type RenderInput struct {
	// Text is the post's text; VariantText, when not blank, replaces it (a
	// per-platform or per-profile variant).
	Text, VariantText string
	// Signature is the brand kit's signature, put in its own paragraph.
	Signature string
	// Hashtags are appended as a last paragraph; with or without '#'.
	Hashtags []string
}

// Render builds the text that is published and previewed: the variant (or
// the text), then the signature as its own paragraph, then the hashtags on
// one line. Hashtags get a single leading '#', lose inner spaces, and are
// left out when empty, repeated (ignoring case) or already in the text or
// signature. Leading and trailing blank space of each part is dropped, so
// the result depends only on the input.
func Render(in RenderInput) string {
	body := strings.TrimSpace(in.VariantText)
	if body == "" {
		body = strings.TrimSpace(in.Text)
	}
	var parts []string
	for _, p := range []string{body, strings.TrimSpace(in.Signature)} {
		if p != "" {
			parts = append(parts, p)
		}
	}
	present := existingHashtags(strings.Join(parts, "\n"))
	var tags []string
	for _, h := range in.Hashtags {
		tag := normaliseHashtag(h)
		if tag == "" || present[strings.ToLower(tag)] {
			continue
		}
		present[strings.ToLower(tag)] = true
		tags = append(tags, "#"+tag)
	}
	if len(tags) > 0 {
		parts = append(parts, strings.Join(tags, " "))
	}
	return strings.Join(parts, "\n\n")
}

// normaliseHashtag strips leading '#' (and the full-width '＃') and all
// white space.
func normaliseHashtag(h string) string {
	h = strings.TrimLeft(strings.TrimSpace(h), "#＃")
	return strings.Map(func(r rune) rune {
		if unicode.IsSpace(r) {
			return -1
		}
		return r
	}, h)
}

// Hashtags counts the different hashtags in text, as existingHashtags
// finds them.
func Hashtags(text string) int { return len(existingHashtags(text)) }

// existingHashtags returns the lower-cased hashtags already in text: a '#'
// at the start or after a non-word character, up to the next character
// that cannot be part of a tag.
func existingHashtags(text string) map[string]bool {
	found := map[string]bool{}
	for i := 0; i < len(text); i++ {
		if text[i] != '#' {
			continue
		}
		if i > 0 {
			prev, _ := utf8.DecodeLastRuneInString(text[:i])
			if tagRune(prev) {
				continue
			}
		}
		j := i + 1
		for j < len(text) {
			r, size := utf8.DecodeRuneInString(text[j:])
			if !tagRune(r) {
				break
			}
			j += size
		}
		if j > i+1 {
			found[strings.ToLower(text[i+1:j])] = true
		}
	}
	return found
}

func tagRune(r rune) bool {
	return r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.Is(unicode.Mn, r)
}

// Headline is a title made from text, for platforms whose posts have one
// (a Pin, a video): its first line, cut at a word, with an ellipsis, to fit
// limit characters.
func Headline(text string, limit int) string {
	line, _, _ := strings.Cut(strings.TrimSpace(text), "\n")
	line = strings.TrimSpace(line)
	if utf8.RuneCountInString(line) <= limit {
		return line
	}
	cut := string([]rune(line)[:limit-1])
	if i := strings.LastIndexByte(cut, ' '); i > limit/2 {
		cut = cut[:i]
	}
	return strings.TrimSpace(cut) + "…"
}

// link is a web address in a text.
var link = regexp.MustCompile(`https?://[^\s<>"]+`)

// FirstLink is the first web address in text, "" when there is none: the
// link a platform previews or a Pin points to.
func FirstLink(text string) string { return link.FindString(text) }
