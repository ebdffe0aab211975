package feed

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

const rss = `<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/">
<channel><title>Blog</title>
<item><title>Older post</title><link>https://blog.example/older</link><guid isPermaLink="false">post-1</guid>
  <description>&lt;p&gt;Hello &lt;b&gt;world&lt;/b&gt;&amp;nbsp;again&lt;/p&gt;</description><pubDate>Mon, 02 Nov 2026 09:00:00 +0000</pubDate></item>
<item><title><![CDATA[Newer & better]]></title><link>https://blog.example/newer</link>
  <description><![CDATA[<p>Line one</p><p>Line two</p>]]></description><pubDate>Tue, 03 Nov 2026 09:00:00 GMT</pubDate></item>
</channel></rss>`

const atom = `<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>News</title>
<entry><id>tag:news.example,2026:1</id><title type="html">First &amp;amp; foremost</title>
  <link rel="alternate" href="https://news.example/1"/><updated>2026-11-01T10:00:00Z</updated>
  <summary>Short summary</summary></entry>
<entry><id>tag:news.example,2026:2</id><title>Second</title>
  <link rel="self" href="https://news.example/2.atom"/><link href="https://news.example/2"/>
  <content type="html">&lt;div&gt;Full&lt;br/&gt;content&lt;/div&gt;</content></entry>
</feed>`

const rdf = `<?xml version="1.0"?>
<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns="http://purl.org/rss/1.0/">
<channel rdf:about="https://old.example/"><title>Old</title></channel>
<item rdf:about="https://old.example/a"><title>A</title><link>https://old.example/a</link><description>About a</description></item>
</rdf:RDF>`

func TestParseRSS(t *testing.T) {
	items, err := Parse([]byte(rss))
	if err != nil {
		t.Fatal(err)
	}
	if len(items) != 2 {
		t.Fatalf("got %d items, want 2", len(items))
	}
	// Dated items come newest first whatever the document's order.
	newer, older := items[0], items[1]
	if newer.Title != "Newer & better" || newer.ID != "https://blog.example/newer" || newer.Summary != "Line one Line two" {
		t.Errorf("newer item: %+v (no guid: the link is its id)", newer)
	}
	if older.ID != "post-1" || older.Summary != "Hello world again" || older.Link != "https://blog.example/older" {
		t.Errorf("older item: %+v", older)
	}
	if !newer.Published.Equal(time.Date(2026, 11, 3, 9, 0, 0, 0, time.UTC)) {
		t.Errorf("published %v", newer.Published)
	}
}

func TestParseAtom(t *testing.T) {
	items, err := Parse([]byte(atom))
	if err != nil {
		t.Fatal(err)
	}
	if len(items) != 2 {
		t.Fatalf("got %d items, want 2", len(items))
	}
	// One entry has no date, so the document's order stands.
	if items[0].ID != "tag:news.example,2026:1" || items[0].Title != "First & foremost" || items[0].Link != "https://news.example/1" || items[0].Summary != "Short summary" {
		t.Errorf("first entry: %+v", items[0])
	}
	if items[1].Link != "https://news.example/2" || items[1].Summary != "Full content" {
		t.Errorf("second entry: %+v (the alternate link, the content when there is no summary)", items[1])
	}
}

func TestParseRDF(t *testing.T) {
	items, err := Parse([]byte(rdf))
	if err != nil {
		t.Fatal(err)
	}
	if len(items) != 1 || items[0].ID != "https://old.example/a" || items[0].Summary != "About a" {
		t.Fatalf("items: %+v", items)
	}
}

func TestParseRefusesOtherDocuments(t *testing.T) {
	for _, doc := range []string{`<html><body>not a feed</body></html>`, `{"items": []}`, ``} {
		if _, err := Parse([]byte(doc)); err == nil || !strings.Contains(err.Error(), "not an RSS or Atom document") {
			t.Errorf("Parse(%q) = %v, want an error naming RSS and Atom", doc, err)
		}
	}
}

func TestItemsWithoutIDOrLinkGetADigest(t *testing.T) {
	items, err := Parse([]byte(`<rss><channel><item><title>T</title><description>D</description></item><item><title>U</title></item></channel></rss>`))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(items[0].ID, "sha256:") || items[0].ID == items[1].ID {
		t.Errorf("ids %q and %q: want distinct digests", items[0].ID, items[1].ID)
	}
}

func TestFetch(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/feed":
			w.Header().Set("Content-Type", "application/rss+xml")
			_, _ = w.Write([]byte(rss))
		case "/huge":
			_, _ = w.Write([]byte("<rss><channel>" + strings.Repeat(" ", MaxSize) + "</channel></rss>"))
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	items, err := Fetch(context.Background(), srv.Client(), srv.URL+"/feed")
	if err != nil || len(items) != 2 {
		t.Fatalf("Fetch = %d items, %v", len(items), err)
	}
	if _, err := Fetch(context.Background(), srv.Client(), srv.URL+"/missing"); err == nil || !strings.Contains(err.Error(), "404") {
		t.Errorf("a 404 gave %v, want an error naming the status", err)
	}
	if _, err := Fetch(context.Background(), srv.Client(), srv.URL+"/huge"); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Errorf("an oversized feed gave %v", err)
	}
}
