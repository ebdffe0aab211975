package bluesky

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"

	"github.com/rivo/uniseg"

	"github.com/herald-dev/herald/internal/publish"
	"github.com/herald-dev/herald/internal/publish/rules"
)

// Facets annotate byte ranges of the text (UTF-8 offsets, end exclusive),
// as app.bsky.richtext.facet defines them.
type facet struct {
	Index    facetIndex       `json:"index"`
	Features []map[string]any `json:"features"`
}

type facetIndex struct {
	ByteStart int `json:"byteStart"`
	ByteEnd   int `json:"byteEnd"`
}

var (
	// mentionRE and tagRE follow the atproto rich-text guide: a mention is
	// @ and a domain-like handle after a start, space or '('; a hashtag is
	// '#' after a start or space, not only digits.
	mentionRE = regexp.MustCompile(`(?:^|[\s(])(@([a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)+))`)
	tagRE     = regexp.MustCompile(`(?:^|\s)([#＃]([^\s\x{00AD}\x{2060}\x{200A}\x{200B}\x{200C}\x{200D}\x{20E2}]+))`)
	trailingP = regexp.MustCompile(`\p{P}+$`)
)

const maxTagGraphemes = 64

func feature(kind string, kv ...string) map[string]any {
	f := map[string]any{"$type": "app.bsky.richtext.facet#" + kind}
	for i := 0; i+1 < len(kv); i += 2 {
		f[kv[i]] = kv[i+1]
	}
	return f
}

// facets finds links, mentions (resolved to DIDs; unknown handles stay
// plain text) and hashtags in text.
func (p *Publisher) facets(ctx context.Context, c *conn, text string) ([]facet, error) {
	var out []facet
	for _, s := range rules.Links(text) {
		out = append(out, facet{facetIndex{s.Start, s.End}, []map[string]any{feature("link", "uri", text[s.Start:s.End])}})
	}
	for _, m := range mentionRE.FindAllStringSubmatchIndex(text, -1) {
		did, err := p.resolve(ctx, c, text[m[4]:m[5]])
		if err != nil {
			return nil, err
		}
		if did != "" && !inside(out, m[2]) {
			out = append(out, facet{facetIndex{m[2], m[3]}, []map[string]any{feature("mention", "did", did)}})
		}
	}
	for _, m := range tagRE.FindAllStringSubmatchIndex(text, -1) {
		tag := trailingP.ReplaceAllString(text[m[4]:m[5]], "")
		if tag == "" || strings.Trim(tag, "0123456789") == "" || uniseg.GraphemeClusterCount(tag) > maxTagGraphemes || inside(out, m[2]) {
			continue
		}
		end := m[4] + len(tag)
		out = append(out, facet{facetIndex{m[2], end}, []map[string]any{feature("tag", "tag", tag)}})
	}
	slices.SortFunc(out, func(a, b facet) int { return a.Index.ByteStart - b.Index.ByteStart })
	return out, nil
}

func inside(fs []facet, at int) bool {
	for _, f := range fs {
		if f.Index.ByteStart <= at && at < f.Index.ByteEnd {
			return true
		}
	}
	return false
}

// resolve returns the DID of handle, or "" when the PDS cannot resolve it.
func (p *Publisher) resolve(ctx context.Context, c *conn, handle string) (string, error) {
	var out struct {
		DID string `json:"did"`
	}
	_, err := c.api.Do(ctx, publish.Request{Op: "com.atproto.identity.resolveHandle", Method: http.MethodGet,
		URL: c.base + "com.atproto.identity.resolveHandle?" + url.Values{"handle": {handle}}.Encode(), Out: &out})
	if publish.KindOf(err) == publish.Permanent {
		return "", nil
	}
	return out.DID, err
}
