package feed

import (
	"strings"
	"testing"
)

// FuzzParse reads any bytes as a feed: no panic, and every item it
// returns has an id, which is what tells new items from seen ones.
func FuzzParse(f *testing.F) {
	for _, seed := range []string{
		`<?xml version="1.0"?><rss version="2.0"><channel><item><guid>1</guid><title>A &amp; B</title><link>https://b.example/1</link><description>&lt;p&gt;x&lt;/p&gt;</description><pubDate>Mon, 02 Jan 2006 15:04:05 GMT</pubDate></item></channel></rss>`,
		`<feed xmlns="http://www.w3.org/2005/Atom"><entry><id>urn:1</id><title>T</title><link href="https://b.example/1"/><updated>2026-01-01T00:00:00Z</updated></entry></feed>`,
		`<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><item rdf:about="x"><title>t</title></item></rdf:RDF>`,
		`<?xml version="1.0" encoding="ISO-8859-1"?><rss><channel><item><title>caf\xe9</title></item></channel></rss>`,
		`<html><body>not a feed</body></html>`, `<rss><channel><item></item></channel>`, ``,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		items, err := Parse(data)
		if err != nil {
			if !strings.Contains(err.Error(), "RSS or Atom") {
				t.Fatalf("Parse error %q does not say what the feed should be", err)
			}
			return
		}
		for i, it := range items {
			if it.ID == "" {
				t.Fatalf("item %d of %q has no id", i, data)
			}
		}
	})
}
