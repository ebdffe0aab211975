// Package feed reads RSS 2.0, RSS 1.0 (RDF) and Atom feeds into the items a
// feed-triggered workflow turns into runs.
package feed

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	neturl "net/url"
	"sort"
	"strings"
	"time"

	"golang.org/x/net/html"
	"golang.org/x/net/html/charset"
)

// MaxSize is the largest feed document read; a feed is a few hundred
// kilobytes at most, and a larger answer is not one.
const MaxSize = 5 << 20

// Item is one entry of a feed.
type Item struct {
	// ID is the entry's guid or id, else its link, else a digest of its
	// title and summary: what tells a new entry from one seen before.
	ID        string
	Title     string
	Link      string
	Summary   string    // plain text: markup removed, entities decoded
	Published time.Time // zero when the feed gives no date
}

// Fetch reads url and parses it; the error says what to fix (the address,
// the server's answer or the document).
func Fetch(ctx context.Context, c *http.Client, url string) ([]Item, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		// The URL may carry a token: say what is wrong without quoting it.
		return nil, fmt.Errorf("feed.url is not a URL Herald can read; write it as https://host/path")
	}
	req.Header.Set("Accept", "application/rss+xml, application/atom+xml, application/xml;q=0.9, text/xml;q=0.9, */*;q=0.1")
	req.Header.Set("User-Agent", "Herald feed trigger")
	resp, err := c.Do(req)
	if err != nil {
		// The URL is the workflow's own (and may carry a token): keep the cause.
		var ue *neturl.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, fmt.Errorf("reading the feed failed: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("the feed server answered %s; check feed.url", resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxSize+1))
	if err != nil {
		return nil, fmt.Errorf("reading the feed failed: %w", err)
	}
	if len(body) > MaxSize {
		return nil, fmt.Errorf("the feed is larger than %d MiB", MaxSize>>20)
	}
	return Parse(body)
}

// document holds the parts of RSS 2.0 (rss>channel>item), RSS 1.0
// (RDF>item) and Atom (feed>entry) Herald reads; encoding/xml matches
// these names in any namespace.
type document struct {
	XMLName xml.Name
	Channel struct {
		Items []rssItem `xml:"item"`
	} `xml:"channel"`
	Items   []rssItem   `xml:"item"`
	Entries []atomEntry `xml:"entry"`
}

type rssItem struct {
	GUID        string `xml:"guid"`
	About       string `xml:"about,attr"`
	Title       string `xml:"title"`
	Link        string `xml:"link"`
	Description string `xml:"description"`
	PubDate     string `xml:"pubDate"`
	Date        string `xml:"date"` // Dublin Core, in RSS 1.0
}

type atomEntry struct {
	ID    string `xml:"id"`
	Title string `xml:"title"`
	Links []struct {
		Href string `xml:"href,attr"`
		Rel  string `xml:"rel,attr"`
	} `xml:"link"`
	Summary   string `xml:"summary"`
	Content   string `xml:"content"`
	Published string `xml:"published"`
	Updated   string `xml:"updated"`
}

// Parse reads a feed document. Items come newest first: by date when every
// item has one, else in the document's order, which feeds keep newest first.
func Parse(data []byte) ([]Item, error) {
	dec := xml.NewDecoder(bytes.NewReader(data))
	dec.CharsetReader = charset.NewReaderLabel
	dec.Strict = false // real feeds carry HTML entities such as &nbsp;
	dec.Entity = xml.HTMLEntity
	var doc document
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("the feed is not an RSS or Atom document: %w", err)
	}
	var items []Item
	switch strings.ToLower(doc.XMLName.Local) {
	case "rss", "rdf":
		for _, it := range append(doc.Channel.Items, doc.Items...) {
			items = append(items, Item{
				ID: firstOf(it.GUID, it.About, it.Link), Title: text(it.Title), Link: strings.TrimSpace(it.Link),
				Summary: text(it.Description), Published: parseDate(firstOf(it.PubDate, it.Date)),
			})
		}
	case "feed":
		for _, e := range doc.Entries {
			items = append(items, Item{
				ID: strings.TrimSpace(e.ID), Title: text(e.Title), Link: atomLink(e),
				Summary: text(firstOf(e.Summary, e.Content)), Published: parseDate(firstOf(e.Published, e.Updated)),
			})
		}
	default:
		return nil, errors.New("the feed is not an RSS or Atom document: its root element is <" + doc.XMLName.Local + ">")
	}
	for i := range items {
		if items[i].ID == "" {
			items[i].ID = firstOf(items[i].Link, digest(items[i].Title+"\n"+items[i].Summary))
		}
	}
	dated := true
	for _, it := range items {
		dated = dated && !it.Published.IsZero()
	}
	if dated {
		sort.SliceStable(items, func(i, j int) bool { return items[i].Published.After(items[j].Published) })
	}
	return items, nil
}

func atomLink(e atomEntry) string {
	for _, l := range e.Links {
		if l.Rel == "" || l.Rel == "alternate" {
			return strings.TrimSpace(l.Href)
		}
	}
	if len(e.Links) > 0 {
		return strings.TrimSpace(e.Links[0].Href)
	}
	return ""
}

func firstOf(vs ...string) string {
	for _, v := range vs {
		if v = strings.TrimSpace(v); v != "" {
			return v
		}
	}
	return ""
}

func digest(s string) string {
	sum := sha256.Sum256([]byte(s))
	return "sha256:" + hex.EncodeToString(sum[:])
}

// text turns a title or summary, often HTML, into plain text: tags
// dropped, entities decoded, runs of white space made one space.
func text(s string) string {
	var b strings.Builder
	z := html.NewTokenizer(strings.NewReader(s))
	for {
		switch z.Next() {
		case html.ErrorToken:
			return strings.Join(strings.Fields(b.String()), " ")
		case html.TextToken:
			b.Write(z.Text())
		case html.StartTagToken, html.EndTagToken, html.SelfClosingTagToken:
			b.WriteByte(' ')
		}
	}
}

var dateLayouts = []string{time.RFC1123Z, time.RFC1123, time.RFC3339, "Mon, 2 Jan 2006 15:04:05 -0700", "Mon, 2 Jan 2006 15:04:05 MST", "2 Jan 2006 15:04:05 -0700", "2006-01-02T15:04:05Z07:00", "2006-01-02"}

func parseDate(s string) time.Time {
	s = strings.TrimSpace(s)
	for _, layout := range dateLayouts {
		if t, err := time.Parse(layout, s); err == nil {
			return t
		}
	}
	return time.Time{}
}
