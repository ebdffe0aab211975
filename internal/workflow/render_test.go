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

func TestRenderPostWithTimeAndBrandKit(t *testing.T) {
	berlin, _ := time.LoadLocation("Europe/Berlin")
	start := time.Date(2026, 7, 7, 7, 0, 0, 0, time.UTC) // 09:00 in Berlin
	kit := BrandKitFor(&socialv1alpha1.BrandKit{Spec: socialv1alpha1.BrandKitSpec{DisplayName: "Acme Coffee",
		Signature: "— Acme", Hashtags: []string{"#Coffee", "#Berlin"}}})
	tmpl := socialv1alpha1.PostTemplate{
		Text:     `{{ .Now.Weekday }} {{ .Now.Date }} {{ .Now.Time }}, {{ .Now.Format "2 January" }}: tips from {{ .BrandKit.DisplayName }} {{ .BrandKit.Hashtags }} {{ .BrandKit.Signature }}`,
		Profiles: []string{"masto"},
	}
	post, err := RenderPost(tmpl, Data{Now: NewMoment(start, berlin), BrandKit: kit}, start)
	if err != nil {
		t.Fatal(err)
	}
	want := "Tuesday 2026-07-07 09:00, 7 July: tips from Acme Coffee #Coffee #Berlin — Acme"
	if post.Spec.Text != want {
		t.Errorf("rendered %q, want %q", post.Spec.Text, want)
	}

	// Without a brand kit, the error says what to set.
	_, err = RenderPost(socialv1alpha1.PostTemplate{Text: "{{ .BrandKit.Signature }}", Profiles: []string{"masto"}}, Data{Now: NewMoment(start, berlin)}, start)
	if err == nil || !strings.Contains(err.Error(), "needs the post template's brandKit") {
		t.Errorf("RenderPost without a brand kit: %v, want the brandKit named", err)
	}
	// A layout past 64 characters is refused, naming the bound.
	_, err = RenderPost(socialv1alpha1.PostTemplate{Text: `{{ .Now.Format "` + strings.Repeat("2006", 20) + `" }}`, Profiles: []string{"masto"}}, Data{Now: NewMoment(start, berlin)}, start)
	if err == nil || !strings.Contains(err.Error(), "at most 64 characters") {
		t.Errorf("RenderPost with a long layout: %v, want the bound named", err)
	}
}
