package mcpserver

import (
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"github.com/google/jsonschema-go/jsonschema"

	"github.com/herald-dev/herald/internal/publish/registry"
)

// schemaFor derives a tool's JSON Schema from its Go input or output type, so
// the schema and the code cannot drift. Field descriptions come from the
// `jsonschema` tag; these tags add what it cannot say:
//
//	enum:"a,b,c"   minimum:"1"   maximum:"100"   minLength:"1"   maxLength:"280"   maxItems:"10"   format:"date-time"
//
// On a list, maxItems bounds the list and the other tags its items.
//
// enum:"$platforms" lists every platform the registry has an adapter for.
func schemaFor[T any]() json.RawMessage {
	t := reflect.TypeFor[T]()
	s, err := jsonschema.ForType(t, &jsonschema.ForOptions{})
	if err != nil {
		panic(fmt.Sprintf("schema of %v: %v", t, err)) // a tool type that cannot be described is a programming error
	}
	applyTags(t, s)
	data, err := json.Marshal(s)
	if err != nil {
		panic(err)
	}
	return data
}

func applyTags(t reflect.Type, s *jsonschema.Schema) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Slice, reflect.Array:
		if s.Items != nil {
			if t.Elem().Kind() == reflect.Pointer && len(s.Items.Types) == 2 && s.Items.Types[0] == "null" {
				// A list of pointers shares its elements; none is ever null.
				s.Items.Type, s.Items.Types = s.Items.Types[1], nil
			}
			applyTags(t.Elem(), s.Items)
		}
		return
	case reflect.Map:
		if s.AdditionalProperties != nil {
			applyTags(t.Elem(), s.AdditionalProperties)
		}
		return
	case reflect.Struct:
	default:
		return
	}
	if s.Type == "object" && s.AdditionalProperties == nil {
		s.AdditionalProperties = &jsonschema.Schema{Not: &jsonschema.Schema{}} // unknown arguments are refused
	}
	for i := range t.NumField() {
		f := t.Field(i)
		if f.Anonymous && f.Tag.Get("json") == "" {
			applyTags(f.Type, s) // embedded fields are flattened into s
			continue
		}
		name := strings.Split(f.Tag.Get("json"), ",")[0]
		if name == "" || name == "-" {
			continue
		}
		p := s.Properties[name]
		if p == nil {
			continue
		}
		isList := p.Type == "array" || slices.Contains(p.Types, "array") // a nil slice is ["null", "array"]
		target := p
		if isList && p.Items != nil {
			target = p.Items // an enum or length on a list constrains its items
		}
		if v := f.Tag.Get("enum"); v == "$platforms" {
			for _, p := range registry.Platforms() {
				target.Enum = append(target.Enum, string(p))
			}
		} else if v != "" {
			for _, e := range strings.Split(v, ",") {
				target.Enum = append(target.Enum, e)
			}
		}
		if v, ok := number(f.Tag.Get("minimum")); ok {
			target.Minimum = &v
		}
		if v, ok := number(f.Tag.Get("maximum")); ok {
			target.Maximum = &v
		}
		if v, ok := number(f.Tag.Get("minLength")); ok {
			n := int(v)
			target.MinLength = &n
		}
		if v, ok := number(f.Tag.Get("maxLength")); ok {
			n := int(v)
			target.MaxLength = &n
		}
		if v, ok := number(f.Tag.Get("maxItems")); ok && isList {
			n := int(v)
			p.MaxItems = &n
		}
		if v := f.Tag.Get("format"); v != "" {
			target.Format = v
		}
		applyTags(f.Type, p)
	}
}

func number(s string) (float64, bool) {
	if s == "" {
		return 0, false
	}
	v, err := strconv.ParseFloat(s, 64)
	return v, err == nil
}
