package workflow

import (
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	socialv1alpha1 "github.com/herald-dev/herald/api/v1alpha1"
)

// Data is what a post template sees.
type Data struct {
	// Inputs are the run's inputs with defaults filled in.
	Inputs map[string]string
	// Item is the feed item that triggered the run, if any.
	Item *FeedItem
	// Workspace is the workspace's id.
	Workspace string
}

// FeedItem is one entry of an RSS or Atom feed.
type FeedItem struct {
	ID, Title, Link, Summary string
}

// RenderPost turns a post template into a ScheduledPost spec: text and
// variants rendered, scheduled at start plus the template's delay.
func RenderPost(t socialv1alpha1.PostTemplate, data Data, start time.Time) (*socialv1alpha1.ScheduledPost, error) {
	text, err := render(t.Text, data)
	if err != nil {
		return nil, fmt.Errorf("text: %w", err)
	}
	post := &socialv1alpha1.ScheduledPost{Spec: socialv1alpha1.ScheduledPostSpec{
		Text: text, Profiles: t.Profiles, Media: t.Media, BrandKit: t.BrandKit, Draft: t.Draft,
	}}
	for i, v := range t.Variants {
		if v.Text, err = render(v.Text, data); err != nil {
			return nil, fmt.Errorf("variants[%d]: %w", i, err)
		}
		post.Spec.Variants = append(post.Spec.Variants, v)
	}
	total := utf8.RuneCountInString(post.Spec.Text)
	for _, v := range post.Spec.Variants {
		total += utf8.RuneCountInString(v.Text)
	}
	if total > MaxPostCharacters {
		return nil, fmt.Errorf("the text and variants render %d characters together, more than the %d a post holds; shorten them", total, MaxPostCharacters)
	}
	at := start
	if t.After != nil {
		at = at.Add(t.After.Duration)
	}
	post.Spec.ScheduledAt = at.UTC().Format(time.RFC3339)
	return post, nil
}

// MaxPostCharacters is the most a post's text and variants hold together.
const MaxPostCharacters = 100000

func render(text string, data Data) (string, error) {
	t, err := parseTemplate("post", text)
	if err != nil {
		return "", err
	}
	out := &boundedText{deadline: time.Now().Add(RenderTimeout)}
	if err := t.Execute(out, data); err != nil {
		if errors.Is(err, errTooLong) || errors.Is(err, errTooSlow) {
			return "", err
		}
		if data.Item == nil && strings.Contains(err.Error(), ".Item") {
			return "", fmt.Errorf("the template uses .Item, the feed item, which only runs queued by the workflow's feed trigger have: %w", err)
		}
		return "", err
	}
	if out.b.Len() == 0 {
		return "", fmt.Errorf("the template rendered no text")
	}
	return out.b.String(), nil
}
