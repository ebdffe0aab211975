package workflow

import (
	"bytes"
	"fmt"
	"strings"
	"text/template"
	"time"

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
	at := start
	if t.After != nil {
		at = at.Add(t.After.Duration)
	}
	post.Spec.ScheduledAt = at.UTC().Format(time.RFC3339)
	return post, nil
}

func render(text string, data Data) (string, error) {
	t, err := template.New("post").Option("missingkey=error").Parse(text)
	if err != nil {
		return "", err
	}
	var b bytes.Buffer
	if err := t.Execute(&b, data); err != nil {
		if data.Item == nil && strings.Contains(err.Error(), ".Item") {
			return "", fmt.Errorf("the template uses .Item, the feed item, which only runs queued by the workflow's feed trigger have: %w", err)
		}
		return "", err
	}
	if b.Len() == 0 {
		return "", fmt.Errorf("the template rendered no text")
	}
	return b.String(), nil
}
