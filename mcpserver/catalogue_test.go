package mcpserver

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"

	socialv1alpha1 "github.com/herald-dev/herald/api/v1alpha1"
)

var update = flag.Bool("update", false, "rewrite the golden schema snapshots and docs/tools.md")

// TestToolSchemaSnapshots keeps every tool's contract in a golden file, so a
// change to a name, description, schema, annotation or scope is a reviewed diff.
func TestToolSchemaSnapshots(t *testing.T) {
	for _, tool := range Catalogue("ocoya") {
		snapshot := map[string]any{
			"name": tool.Name, "title": tool.Title, "description": tool.Description, "scope": tool.Scope,
			"annotations":  map[string]bool{"readOnly": tool.ReadOnly, "destructive": tool.Destructive, "idempotent": tool.Idempotent},
			"inputSchema":  tool.InputSchema,
			"outputSchema": tool.OutputSchema,
		}
		got, err := json.MarshalIndent(snapshot, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, '\n')
		golden(t, filepath.Join("testdata", "tools", tool.Name+".json"), got)
	}
	files, _ := filepath.Glob(filepath.Join("testdata", "tools", "*.json"))
	if len(files) != len(Catalogue("ocoya")) {
		t.Errorf("testdata/tools holds %d snapshots for %d tools: remove the stale ones", len(files), len(Catalogue("ocoya")))
	}
}

// TestDocs keeps docs/tools.md generated from the catalogue.
func TestDocs(t *testing.T) {
	golden(t, filepath.Join("..", "docs", "tools.md"), []byte(Markdown("ocoya")))
}

// TestCatalogueIsComplete checks every tool declares what the catalogue promises.
func TestCatalogueIsComplete(t *testing.T) {
	scopes := map[socialv1alpha1.Scope]int{}
	for _, tool := range Catalogue("ocoya") {
		if tool.Description == "" || tool.Title == "" || len(tool.InputSchema) == 0 || len(tool.OutputSchema) == 0 || tool.handle == nil {
			t.Errorf("%s is missing a description, title, schema or handler", tool.Name)
		}
		if tool.ReadOnly && tool.Destructive {
			t.Errorf("%s cannot be read-only and destructive", tool.Name)
		}
		scopes[tool.Scope]++
	}
	if len(Catalogue("ocoya")) != 29 {
		t.Errorf("the catalogue has %d tools, want 29: a tool added or removed changes docs/tools.md, README and the clients' tests too", len(Catalogue("ocoya")))
	}
	if got := Catalogue("acme")[0].Name; got != "acme_get_me" {
		t.Errorf("--tool-prefix acme names get_me %q", got)
	}
	for _, s := range []socialv1alpha1.Scope{"", "workspace:read", "brand_kits:write", "social_profiles:read", "posts:read", "posts:write", "posts:publish", "posts:approve", "workflows:read", "workflows:run"} {
		if scopes[s] == 0 {
			t.Errorf("no tool needs scope %q", s)
		}
	}
}

func golden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%s: %v (run go test ./mcpserver -run 'TestToolSchemaSnapshots|TestDocs' -update)", path, err)
	}
	if !bytes.Equal(want, got) {
		t.Errorf("%s is stale: review the change, then run go test ./mcpserver -run 'TestToolSchemaSnapshots|TestDocs' -update", path)
	}
}
