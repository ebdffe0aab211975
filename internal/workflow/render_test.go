package workflow

import (
	"strings"
	"testing"
	"time"

	socialv1alpha1 "github.com/herald-dev/herald/api/v1alpha1"
)

func TestRenderPostWithFeedItem(t *testing.T) {
	tmpl := socialv1alpha1.PostTemplate{Text: "{{ .Item.Title }}: {{ .Item.Link }}", Profiles: []string{"sandbox"}}
	start := time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)
	post, err := RenderPost(tmpl, Data{Item: &FeedItem{Title: "Launch", Link: "https://blog.example/launch"}}, start)
	if err != nil {
		t.Fatal(err)
	}
	if post.Spec.Text != "Launch: https://blog.example/launch" || post.Spec.ScheduledAt != "2026-11-27T09:00:00Z" {
		t.Errorf("rendered %+v", post.Spec)
	}

	_, err = RenderPost(tmpl, Data{Inputs: map[string]string{}}, start)
	if err == nil || !strings.Contains(err.Error(), "only runs queued by the workflow's feed trigger have") {
		t.Errorf("a run without an item gave %v, want an error saying .Item comes from the feed trigger", err)
	}
}
