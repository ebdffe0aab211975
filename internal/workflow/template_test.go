package workflow

import (
	"strings"
	"testing"
	"time"

	socialv1alpha1 "github.com/herald-dev/herald/api/v1alpha1"
)

func TestTemplateBounds(t *testing.T) {
	data := Data{Inputs: map[string]string{"product": "Roast", "a": "1", "b": "2"}, Workspace: "acme"}
	refused := map[string]string{
		// The doubling that renders gigabytes from a kilobyte.
		`{{define "a"}}xx{{end}}{{define "b"}}{{template "a"}}{{template "a"}}{{end}}{{template "b"}}`: "cannot define templates",
		`{{block "x" .}}x{{end}}`:                                      "cannot define templates",
		`{{range 1000000000}}{{end}}`:                                  "range may only go over the run's data",
		`{{range $i := len .Inputs.product}}{{end}}`:                   "range may only go over the run's data",
		`{{range .Inputs}}{{range .}}{{range .}}{{end}}{{end}}{{end}}`: "range nests more than 2 deep",
		`{{printf "%0999999999d" 0}}`:                                  "asks for a width of 0999999999",
		`{{printf "%.*d" 100000 1}}`:                                   "takes its width from an argument",
		`{{printf .Inputs.product 1}}`:                                 "printf's format must be written in the template",
		`{{call .Inputs.product}}`:                                     "cannot call call",
		`{{template "x"}}`:                                             "cannot include templates",
		strings.Repeat("{{.Workspace}}", 600):                          "more than the 500 a post template may have",
	}
	for text, want := range refused {
		if _, err := render(text, data); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("render(%.60q) = %v, want an error saying %q", text, err, want)
		}
	}

	// Output past what a post holds stops the rendering, whatever made it.
	long := strings.Repeat("x", 30000)
	start := time.Now()
	_, err := render(`{{range .Inputs}}{{range $.Inputs}}`+long+`{{end}}{{end}}`, data)
	if err == nil || !strings.Contains(err.Error(), "renders more than 40000 characters, the most a post holds") {
		t.Errorf("a rendering of 9 × 30,000 characters gave %v", err)
	}
	if elapsed := time.Since(start); elapsed > RenderTimeout {
		t.Logf("the refused rendering took %s", elapsed) // informative only: never a timed assertion
	}

	allowed := map[string]string{
		`New: {{.Inputs.product}} in {{.Workspace}}`:                         "New: Roast in acme",
		`{{range $k, $v := .Inputs}}{{$k}}={{$v}} {{end}}`:                   "a=1 b=2 product=Roast ",
		`{{printf "%.3s!" .Inputs.product}}`:                                 "Roa!",
		`{{if eq .Inputs.a "1"}}one{{else}}other{{end}} {{len .Inputs}}`:     "one 3",
		`{{with .Inputs.b}}b is {{.}}{{end}} {{.Inputs.product | urlquery}}`: "b is 2 Roast",
	}
	for text, want := range allowed {
		if got, err := render(text, data); err != nil || got != want {
			t.Errorf("render(%q) = %q, %v; want %q", text, got, err, want)
		}
	}
}

func TestRenderPostBoundsTheWholePost(t *testing.T) {
	// Small templates, each rendering within its own bound, that render
	// more than a post holds together.
	tmpl := socialv1alpha1.PostTemplate{Text: "{{.Inputs.long}}", Profiles: []string{"a"},
		Variants: []socialv1alpha1.PostVariant{{Platform: "x", Text: "{{.Inputs.long}}"}, {Platform: "mastodon", Text: "{{.Inputs.long}}"}}}
	_, err := RenderPost(tmpl, Data{Inputs: map[string]string{"long": strings.Repeat("y", 35000)}}, time.Now())
	if err == nil || err.Error() != "as rendered, the text and variants hold 105000 characters together, more than the 100000 a post holds; shorten them" {
		t.Errorf("RenderPost of 3 × 35,000 characters gave %v", err)
	}
}

func FuzzRender(f *testing.F) {
	for _, seed := range []string{
		`{{.Inputs.product}}`, `{{range .Inputs}}{{.}}{{end}}`, `{{printf "%5.2f" 3.14159}}`,
		`{{define "a"}}{{end}}`, `{{range 10}}{{end}}`, `{{if .Item}}{{.Item.Title}}{{end}}`,
	} {
		f.Add(seed)
	}
	data := Data{Inputs: map[string]string{"product": "Roast", "a": "1"}, Item: &FeedItem{Title: "T", Link: "https://blog.example/t"}, Workspace: "acme"}
	f.Fuzz(func(t *testing.T, text string) {
		start := time.Now()
		out, err := render(text, data)
		if err == nil && len([]rune(out)) > MaxRenderedCharacters {
			t.Fatalf("render(%q) gave %d characters", text, len([]rune(out)))
		}
		if elapsed := time.Since(start); elapsed > 10*RenderTimeout {
			t.Fatalf("render(%q) ran %s", text, elapsed)
		}
	})
}

// TestTemplateErrorsNameTheLine: whether the parser or Herald's own bounds
// refuse a template, the error says which line to look at, in the same
// words, and Validate passes it on.
func TestTemplateErrorsNameTheLine(t *testing.T) {
	cases := []struct{ text, want string }{
		{"Hello\n{{ .Inputs.product }}\n{{ if .Inputs.a }}never closed\n", "line 4: unexpected EOF"},
		{"Hello\n\n{{ .Inputs.product }\n", "line 3: unexpected \"}\" in operand"},
		{"One\nTwo\n{{range .Inputs}}{{range .}}\n{{range .}}{{end}}{{end}}{{end}}", "line 4: range nests more than 2 deep"},
		{"One\n{{ call .Inputs.product }}", "line 2: a post template cannot call call"},
		{"One\nTwo\nThree {{printf \"%0999999999d\" 0}}", "line 3: printf's format \"%0999999999d\" asks for a width"},
		{"One\n{{template \"x\"}}", "line 2: a post template cannot include templates"},
		{"One\n{{define \"b\"}}\nb{{end}}{{define \"a\"}}a{{end}}", "line 2: a post template cannot define templates"},
	}
	for _, c := range cases {
		_, err := parseTemplate("text", c.text)
		if err == nil || !strings.HasPrefix(err.Error(), c.want) {
			t.Errorf("parseTemplate(%q) = %v, want an error beginning %q", c.text, err, c.want)
		}
	}
	spec := &socialv1alpha1.WorkflowSpec{Posts: []socialv1alpha1.PostTemplate{{Text: cases[2].text}}}
	if errs := Validate(spec, nil); len(errs) != 1 || !strings.Contains(errs[0], "posts[0].text is not a valid post template: line 4: range nests") {
		t.Errorf("Validate = %q, want the line in posts[0].text's error", errs)
	}
}
