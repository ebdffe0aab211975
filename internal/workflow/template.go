package workflow

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"text/template"
	"text/template/parse"
	"time"
	"unicode/utf8"
)

// The bounds of a post template. A workflow's author is an editor of one
// workspace, and the templates run inside Herald: each bound keeps one
// template from using more than its share of Herald's memory and CPU.
const (
	// MaxTemplateNodes bounds a template's size as parsed.
	MaxTemplateNodes = 500
	// MaxRangeDepth bounds how deeply range may nest.
	MaxRangeDepth = 2
	// MaxFormatWidth bounds a printf width or precision.
	MaxFormatWidth = 999
	// MaxRenderedCharacters is the most a template may render: a post's
	// text holds no more.
	MaxRenderedCharacters = 40000
	// RenderTimeout bounds one rendering.
	RenderTimeout = time.Second
)

// allowedFuncs are the template builtins a post template may call. call
// (which would run any function value) is not among them.
var allowedFuncs = map[string]bool{
	"and": true, "or": true, "not": true, "eq": true, "ne": true, "lt": true, "le": true, "gt": true, "ge": true,
	"len": true, "index": true, "slice": true, "html": true, "js": true, "urlquery": true,
	"print": true, "printf": true, "println": true,
}

// parseTemplate parses a post template and checks it against the bounds;
// the error names the line of the template at fault (where one part is),
// the bound passed and what to write instead.
func parseTemplate(name, text string) (*template.Template, error) {
	t, err := template.New(name).Option("missingkey=error").Parse(text)
	if err != nil {
		return nil, atLine(err)
	}
	c := &templateCheck{text: text}
	if len(t.Templates()) > 1 {
		c.fail(firstDefinition(t), "a post template cannot define templates ({{define}} or {{block}}); write the text where it is used")
		return nil, c.err
	}
	c.walk(t.Tree.Root, 0)
	if c.err != nil {
		return nil, c.err
	}
	if c.nodes > MaxTemplateNodes {
		return nil, fmt.Errorf("the template has %d parts, more than the %d a post template may have; make it simpler", c.nodes, MaxTemplateNodes)
	}
	return t, nil
}

// parserLine matches where text/template's parser says an error is:
// "template: text:3: …".
var parserLine = regexp.MustCompile(`^template: [^:]*:(\d+): `)

// atLine words the parser's error as Herald words its own, "line 3: …":
// the template's name is Herald's, not the author's.
func atLine(err error) error {
	if m := parserLine.FindStringSubmatchIndex(err.Error()); m != nil {
		msg := err.Error()
		return fmt.Errorf("line %s: %s", msg[m[2]:m[3]], msg[m[1]:])
	}
	return err
}

type templateCheck struct {
	text  string
	nodes int
	err   error
}

// fail keeps the first problem found, at the line of the template where n
// begins (nil: no one place), so the author of a long template finds it.
func (c *templateCheck) fail(n parse.Node, format string, args ...any) {
	if c.err != nil {
		return
	}
	msg := fmt.Sprintf(format, args...)
	if n == nil {
		c.err = errors.New(msg)
		return
	}
	line := 1 + strings.Count(c.text[:min(int(n.Position()), len(c.text))], "\n")
	c.err = fmt.Errorf("line %d: %s", line, msg)
}

// firstDefinition is the body of the template t defines earliest in its
// text, or nil.
func firstDefinition(t *template.Template) parse.Node {
	var first parse.Node
	for _, d := range t.Templates() {
		if d == t || d.Tree == nil || d.Tree.Root == nil {
			continue
		}
		if first == nil || d.Tree.Root.Position() < first.Position() {
			first = d.Tree.Root
		}
	}
	return first
}

func (c *templateCheck) walk(n parse.Node, ranges int) {
	if n == nil || c.err != nil {
		return
	}
	c.nodes++
	switch n := n.(type) {
	case *parse.ListNode:
		if n == nil {
			return
		}
		for _, m := range n.Nodes {
			c.walk(m, ranges)
		}
	case *parse.ActionNode:
		c.pipe(n.Pipe)
	case *parse.IfNode:
		c.branch(&n.BranchNode, ranges)
	case *parse.WithNode:
		c.branch(&n.BranchNode, ranges)
	case *parse.RangeNode:
		if ranges+1 > MaxRangeDepth {
			c.fail(n, "range nests more than %d deep; a post template may nest range at most %d deep", MaxRangeDepth, MaxRangeDepth)
			return
		}
		// Range only over what the run brings (the inputs), never over a
		// number or a function's result, which could be any size.
		if len(n.Pipe.Cmds) != 1 || len(n.Pipe.Cmds[0].Args) != 1 || !isData(n.Pipe.Cmds[0].Args[0]) {
			c.fail(n, "range may only go over the run's data, such as {{range $name, $value := .Inputs}}, not over %s", n.Pipe)
			return
		}
		c.branch(&n.BranchNode, ranges+1)
	case *parse.TemplateNode:
		c.fail(n, "a post template cannot include templates ({{template %q}}); write the text where it is used", n.Name)
	}
}

func (c *templateCheck) branch(b *parse.BranchNode, ranges int) {
	c.pipe(b.Pipe)
	c.walk(b.List, ranges)
	if b.ElseList != nil {
		c.walk(b.ElseList, ranges)
	}
}

func (c *templateCheck) pipe(p *parse.PipeNode) {
	if p == nil {
		return
	}
	for _, cmd := range p.Cmds {
		c.nodes++
		for i, arg := range cmd.Args {
			switch a := arg.(type) {
			case *parse.IdentifierNode:
				if !allowedFuncs[a.Ident] {
					c.fail(a, "a post template cannot call %s; it may use %s", a.Ident, funcList())
					return
				}
				if i == 0 && a.Ident == "printf" && len(cmd.Args) > 1 {
					c.format(cmd.Args[1])
				}
			case *parse.PipeNode:
				c.pipe(a)
			}
		}
	}
}

// format checks a printf format: a literal, with widths a post can hold.
func (c *templateCheck) format(arg parse.Node) {
	s, ok := arg.(*parse.StringNode)
	if !ok {
		c.fail(arg, "printf's format must be written in the template, such as {{printf \"%%.80s\" .Item.Summary}}")
		return
	}
	f := s.Text
	for i := 0; i < len(f); i++ {
		if f[i] != '%' {
			continue
		}
		j := i + 1
		for j < len(f) && strings.IndexByte("+-# 0123456789.*[]", f[j]) >= 0 {
			j++
		}
		spec := f[i+1 : j]
		if strings.ContainsAny(spec, "*[") {
			c.fail(s, "printf's format %q takes its width from an argument; write the width in the format", f)
			return
		}
		for _, num := range strings.FieldsFunc(spec, func(r rune) bool { return r < '0' || r > '9' }) {
			if n, err := strconv.Atoi(num); err != nil || n > MaxFormatWidth {
				c.fail(s, "printf's format %q asks for a width of %s; a post template may ask for at most %d", f, num, MaxFormatWidth)
				return
			}
		}
		i = j
	}
}

// isData reports whether n names the run's data: a field chain from the
// dot or from a variable.
func isData(n parse.Node) bool {
	switch n := n.(type) {
	case *parse.FieldNode, *parse.VariableNode, *parse.DotNode:
		return true
	case *parse.ChainNode:
		return isData(n.Node)
	}
	return false
}

func funcList() string {
	return "and, or, not, eq, ne, lt, le, gt, ge, len, index, slice, html, js, urlquery, print, printf and println"
}

// boundedText collects a rendering, failing once it passes
// MaxRenderedCharacters or RenderTimeout: the template stops at the
// first write that fails.
type boundedText struct {
	b        strings.Builder
	chars    int
	deadline time.Time
}

var (
	errTooLong = fmt.Errorf("the template renders more than %d characters, the most a post holds; shorten it", MaxRenderedCharacters)
	errTooSlow = fmt.Errorf("the template took longer than %s to render; make it simpler", RenderTimeout)
)

func (w *boundedText) Write(p []byte) (int, error) {
	if time.Now().After(w.deadline) {
		return 0, errTooSlow
	}
	w.chars += utf8.RuneCount(p)
	if w.chars > MaxRenderedCharacters {
		return 0, errTooLong
	}
	return w.b.Write(p)
}
