package mcpserver

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
)

// Markdown documents the catalogue for docs/tools.md: each tool with its
// scope, annotations and arguments, generated so the page cannot drift.
func Markdown(prefix string) string {
	var b strings.Builder
	b.WriteString("# Herald's MCP tools\n\n")
	b.WriteString("<!-- Generated from the tool catalogue in mcpserver/ by `go test ./mcpserver -run TestDocs -update`; do not edit. -->\n\n")
	b.WriteString("Every tool returns `structuredContent` matching its output schema, plus a text rendering. ")
	b.WriteString("A tool whose scope the connection was not granted is not listed, and calling it anyway answers HTTP 403 `insufficient_scope`.\n\n")
	b.WriteString("| tool | scope | what it does |\n|---|---|---|\n")
	tools := Catalogue(prefix)
	for _, t := range tools {
		fmt.Fprintf(&b, "| [`%s`](#%s) | %s | %s |\n", t.Name, t.Name, scopeText(string(t.Scope)), t.Title)
	}
	for _, t := range tools {
		fmt.Fprintf(&b, "\n## %s\n\n%s\n\n", t.Name, t.Description)
		fmt.Fprintf(&b, "- scope: %s\n- annotations: %s\n", scopeText(string(t.Scope)), annotations(t))
		args := arguments(t.InputSchema)
		if len(args) == 0 {
			b.WriteString("- arguments: none\n")
			continue
		}
		b.WriteString("\n| argument | type | required | description |\n|---|---|---|---|\n")
		for _, a := range args {
			fmt.Fprintf(&b, "| `%s` | %s | %s | %s |\n", a.name, a.typ, yesNo(a.required), strings.ReplaceAll(a.description, "|", "\\|"))
		}
	}
	return b.String()
}

func scopeText(s string) string {
	if s == "" {
		return "any valid token"
	}
	return "`" + s + "`"
}

func annotations(t Tool) string {
	var a []string
	if t.ReadOnly {
		a = append(a, "read-only")
	}
	if t.Destructive {
		a = append(a, "destructive")
	}
	if t.Idempotent {
		a = append(a, "idempotent")
	}
	if len(a) == 0 {
		return "writes"
	}
	return strings.Join(a, ", ")
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

type argument struct {
	name, typ, description string
	required               bool
}

func arguments(schema json.RawMessage) []argument {
	var s struct {
		Properties map[string]struct {
			Type        any    `json:"type"`
			Description string `json:"description"`
			Enum        []any  `json:"enum"`
			Items       *struct {
				Type any   `json:"type"`
				Enum []any `json:"enum"`
			} `json:"items"`
		} `json:"properties"`
		Required []string `json:"required"`
	}
	_ = json.Unmarshal(schema, &s)
	var out []argument
	for name, p := range s.Properties {
		typ := fmt.Sprint(p.Type)
		if p.Items != nil {
			typ = fmt.Sprintf("%v of %v", p.Type, p.Items.Type)
		}
		if len(p.Enum) > 0 {
			typ = fmt.Sprintf("%s (%v)", typ, strings.Trim(fmt.Sprint(p.Enum), "[]"))
		}
		out = append(out, argument{name: name, typ: typ, description: p.Description, required: contains(s.Required, name)})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].required != out[j].required {
			return out[i].required
		}
		return out[i].name < out[j].name
	})
	return out
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
