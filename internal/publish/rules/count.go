package rules

import (
	"regexp"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/rivo/uniseg"
	"golang.org/x/text/unicode/norm"
)

// Span is a run of text by UTF-8 byte offsets: text[Start:End].
type Span struct {
	// Start and End are byte offsets; End is exclusive.
	Start, End int
}

// urlLength is what X and Mastodon count for any link, however long.
const urlLength = 23

var (
	schemeURL = regexp.MustCompile(`(?i)https?://[^\s<>"'` + "`" + `]+`)
	// bareDomain finds links written without a scheme, as twitter-text does,
	// for the common generic TLDs (twitter-text knows every TLD; country
	// code domains it links only with a path, which this does not model).
	bareDomain = regexp.MustCompile(`(?i)\b(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\.)+(?:com|org|net|edu|gov|info|biz|dev|app|xyz|blog|news|social|online|site|tech|shop)\b(?:/[^\s<>"]*)?`)
)

// Links returns the http(s) links in text, with trailing punctuation that
// ends a sentence left out (a closing parenthesis stays when the link opened
// one). Publishers use it for Bluesky link facets; the counters for X and
// Mastodon count each link as 23.
func Links(text string) []Span {
	return findLinks(text, schemeURL)
}

func findLinks(text string, re *regexp.Regexp) []Span {
	var out []Span
	for _, m := range re.FindAllStringIndex(text, -1) {
		if m[0] > 0 {
			prev, _ := utf8.DecodeLastRuneInString(text[:m[0]])
			// A link glued to a word, an address or a path is not a link.
			if prev == '@' || prev == '/' || prev == '.' || prev == '_' || isWordRune(prev) {
				continue
			}
		}
		end := m[0] + len(trimLinkEnd(text[m[0]:m[1]]))
		if end > m[0] {
			out = append(out, Span{m[0], end})
		}
	}
	return out
}

func isWordRune(r rune) bool {
	return r == '_' || ('0' <= r && r <= '9') || ('a' <= r && r <= 'z') || ('A' <= r && r <= 'Z')
}

func trimLinkEnd(u string) string {
	for len(u) > 0 {
		last := u[len(u)-1]
		switch {
		case strings.IndexByte(".,:;!?'\"", last) >= 0:
			u = u[:len(u)-1]
		case last == ')' && strings.Count(u, "(") < strings.Count(u, ")"):
			u = u[:len(u)-1]
		default:
			return u
		}
	}
	return u
}

// xLinks returns X's links: with a scheme, or a bare domain.
func xLinks(text string) []Span {
	spans := Links(text)
	for _, s := range findLinks(text, bareDomain) {
		if !overlaps(spans, s) {
			spans = append(spans, s)
		}
	}
	return spans
}

func overlaps(spans []Span, s Span) bool {
	for _, o := range spans {
		if s.Start < o.End && o.Start < s.End {
			return true
		}
	}
	return false
}

// XWeightedLength counts text as twitter-text v3 does: the text is NFC
// normalised, every link counts 23, an emoji (including ZWJ sequences,
// flags, keycaps and skin tones) counts 2, a code point in the light ranges
// (U+0000–U+10FF, U+2000–U+200D, U+2010–U+201F, U+2032–U+2037) counts 1 and
// any other counts 2.
func XWeightedLength(text string) int {
	text = norm.NFC.String(text)
	n := 0
	pos := 0
	links := xLinks(text)
	slices.SortFunc(links, func(a, b Span) int { return a.Start - b.Start })
	for _, s := range links {
		n += xWeight(text[pos:s.Start]) + urlLength
		pos = s.End
	}
	return n + xWeight(text[pos:])
}

func xWeight(s string) int {
	n := 0
	g := uniseg.NewGraphemes(s)
	for g.Next() {
		cluster := g.Str()
		if isEmoji(cluster) {
			n += 2
			continue
		}
		for _, r := range cluster {
			n += xRuneWeight(r)
		}
	}
	return n
}

func xRuneWeight(r rune) int {
	switch {
	case r <= 4351, 8192 <= r && r <= 8205, 8208 <= r && r <= 8223, 8242 <= r && r <= 8247:
		return 1
	}
	return 2
}

// isEmoji reports whether a grapheme cluster is an emoji as twitter-text's
// emoji parser sees it: it holds a pictographic code point, a regional
// indicator, an emoji presentation selector or a keycap mark.
func isEmoji(cluster string) bool {
	for _, r := range cluster {
		switch {
		case r == 0xFE0F, r == 0x20E3,
			0x1F000 <= r && r <= 0x1FAFF, // symbols, pictographs, flags, emoticons
			0x2600 <= r && r <= 0x27BF,   // miscellaneous symbols, dingbats
			0x2300 <= r && r <= 0x23FF, 0x2B00 <= r && r <= 0x2BFF:
			return true
		}
	}
	return false
}

// mention matches a fediverse mention: @user or @user@domain.
var mention = regexp.MustCompile(`@([A-Za-z0-9_]+)(?:@[A-Za-z0-9_]+(?:[.-][A-Za-z0-9_]+)*)?`)

// MastodonLength counts text as Mastodon's status length validator does:
// grapheme clusters, with every http(s) link counted as 23 and a remote
// mention @user@domain counted as @user.
func MastodonLength(text string) int {
	var b strings.Builder
	pos := 0
	for _, s := range Links(text) {
		b.WriteString(text[pos:s.Start])
		b.WriteString(strings.Repeat("x", urlLength))
		pos = s.End
	}
	b.WriteString(text[pos:])
	rest := b.String()
	out := mention.ReplaceAllStringFunc(rest, func(m string) string {
		return "@" + mention.FindStringSubmatch(m)[1]
	})
	return uniseg.GraphemeClusterCount(out)
}

// ThreadsLength counts text as Threads does: one per code point, except
// that an emoji counts as many as its UTF-8 bytes.
func ThreadsLength(text string) int {
	n := 0
	g := uniseg.NewGraphemes(text)
	for g.Next() {
		if c := g.Str(); isEmoji(c) {
			n += len(c)
		} else {
			n += utf8.RuneCountInString(c)
		}
	}
	return n
}

// UTF16Length counts UTF-16 code units, as JavaScript's String.length and
// Telegram's entity offsets do: code points beyond the BMP count 2.
func UTF16Length(text string) int {
	n := 0
	for _, r := range text {
		if r >= 0x10000 {
			n += 2
		} else {
			n++
		}
	}
	return n
}
