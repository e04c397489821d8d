package engine

import (
	"fmt"
	"maps"
	"math"
	"regexp"
	"slices"
	"strings"

	"github.com/osteele/liquid"
)

// Template is a message template, parsed once at load time.
type Template struct {
	src string
	tpl *liquid.Template // nil when src has no markup
}

// String returns the template's source.
func (t *Template) String() string { return t.src }

// Static reports whether the template has no Liquid markup.
func (t *Template) Static() bool { return t.tpl == nil }

func parseTemplate(eng *liquid.Engine, src string) (*Template, error) {
	if !strings.Contains(src, "{{") && !strings.Contains(src, "{%") {
		return &Template{src: src}, nil
	}
	var tpl *liquid.Template
	if err := unpanic(func() (err error) { tpl, err = eng.ParseString(src); return err }); err != nil {
		return nil, liquidError(src, err)
	}
	// The parser takes markup it cannot read as text ("Hi {{ vars.name }"),
	// which would go out as written.
	if open, offset := unclosedMarkup(tpl, src); open != "" {
		return nil, &TemplateError{Offset: offset, Err: fmt.Errorf("template: %q is not closed by %q: close it, or write {%% raw %%}%s{%% endraw %%} to send it as text",
			open, markupClose[open[:2]], open[:2])}
	}
	// Liquid's parser does not check filter names; a trial render with
	// empty values finds an unknown filter at load time rather than at the
	// first message (filters in branches not taken are not reached).
	err := unpanic(func() (err error) { _, err = tpl.RenderString(trialBindings); return err })
	if err != nil && strings.Contains(err.Error(), "undefined filter") {
		return nil, liquidError(src, err)
	}
	return &Template{src: src, tpl: tpl}, nil
}

// liquidLine is the line Liquid's errors name. It is not the markup's
// line: osteele/liquid counts it wrong in a template of several lines (a
// tag on the second said line 1).
var liquidLine = regexp.MustCompile(`^Liquid error \(line \d+\):`)

// liquidError is a TemplateError for err, Liquid's error about src, placed
// at the markup it ends by naming ("... in {% if %}"), without Liquid's
// line.
func liquidError(src string, err error) error {
	msg := err.Error()
	offset := -1
	if i := strings.LastIndex(msg, " in "); i >= 0 && len(msg) > i+len(" in ") {
		offset = strings.Index(src, msg[i+len(" in "):])
	}
	msg = liquidLine.ReplaceAllString(msg, "Liquid error:")
	return &TemplateError{Err: fmt.Errorf("template: %s", msg), Offset: offset}
}

// markupClose is the end of each kind of markup.
var markupClose = map[string]string{"{{": "}}", "{%": "%}"}

// TemplateError is a template's problem at a place in its source.
type TemplateError struct {
	Err error
	// Offset is the byte offset in the template's source of what Err is
	// about, or -1 when it is not known.
	Offset int
}

// Error returns Err's message: the place is for the caller to show.
func (e *TemplateError) Error() string { return e.Err.Error() }

// Unwrap returns Err.
func (e *TemplateError) Unwrap() error { return e.Err }

// nameOffset is where name, read in markup, stands in src: the first
// markup written so, and the name's first appearance in it; -1 when
// either cannot be found.
func nameOffset(src, markup, name string) int {
	at := strings.Index(src, markup)
	in := strings.Index(markup, name)
	if at < 0 || in < 0 || markup == "" {
		return -1
	}
	return at + in
}

// unclosedMarkup returns the markup the parser left in a text node of tpl,
// from its "{{" or "{%" to the end of the line (40 bytes at most), or "",
// and its offset in src (-1 when it cannot be found).
func unclosedMarkup(tpl *liquid.Template, src string) (string, int) {
	ln := &liquidNames{locals: map[string]bool{}}
	ln.node(tpl.GetRoot())
	text := ln.unclosed
	if text == "" {
		return "", -1
	}
	i := len(text)
	for _, open := range []string{"{{", "{%"} {
		if j := strings.Index(text, open); j >= 0 && j < i {
			i = j
		}
	}
	offset := -1
	if at := strings.Index(src, text); at >= 0 {
		offset = at + i
	}
	text = text[i:]
	if j := strings.IndexByte(text, '\n'); j >= 0 {
		text = text[:j]
	}
	if len(text) > 40 {
		text = text[:40]
	}
	return text, offset
}

// unpanic runs fn and turns a panic in it into an error. The Liquid library
// panics on some sources (an integer literal too large for int64, found by
// FuzzTemplate), and a template is read at load time and on reload, and
// rendered inside a turn: a panic there would stop the gateway.
func unpanic(fn func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%v", r)
		}
	}()
	return fn()
}

// WithSource returns a copy of t that shows src as its source: for a
// template parsed from a rewritten src (the http step's escaped URLs).
func (t *Template) WithSource(src string) *Template {
	c := *t
	c.src = src
	return &c
}

// filters are the Liquid filters that step types registered, by name.
var filters = map[string]any{}

// RegisterFilter makes a Liquid filter available to every template of a
// config; a step type's file calls it from init, as it calls Register. fn
// is what liquid.Engine.RegisterFilter takes.
func RegisterFilter(name string, fn any) {
	if _, dup := filters[name]; dup {
		panic(fmt.Sprintf("engine: template filter %q registered twice", name))
	}
	filters[name] = fn
}

// trialBindings are the names templates see (Names), all empty.
var trialBindings = zeroBindings()

// Render renders the template with the bindings b; an undefined variable
// renders empty.
func (t *Template) Render(b map[string]any) (string, error) {
	if t == nil {
		return "", nil
	}
	if t.tpl == nil {
		return t.src, nil
	}
	var out string
	err := unpanic(func() (err error) { out, err = t.tpl.RenderString(b); return err })
	if err != nil {
		return "", fmt.Errorf("template: %w", err)
	}
	return out, nil
}

// jsonValue is v, a value read from JSON (vars, an http response), with
// its whole numbers as integers (wholeNumbers): templates render 1000000 as
// written, not as Go's 1e+06, and conditions' % takes them.
func jsonValue(v map[string]any) map[string]any {
	if w, changed := wholeNumbers(v); changed {
		return w.(map[string]any)
	}
	return v
}

// wholeNumbers returns v with every float64 that holds a whole number in
// int64's range turned into an int64, copying only the maps and slices that
// hold one, and whether it changed anything. JSON decodes every number as a
// float64, which Liquid prints with fmt: an order id 1000000 would reach
// the customer as 1e+06.
func wholeNumbers(v any) (any, bool) {
	switch v := v.(type) {
	case float64:
		if v == math.Trunc(v) && v >= math.MinInt64 && v < math.MaxInt64 {
			return int64(v), true
		}
	case map[string]any:
		var out map[string]any
		for k, x := range v {
			if y, changed := wholeNumbers(x); changed {
				if out == nil {
					out = maps.Clone(v)
				}
				out[k] = y
			}
		}
		if out != nil {
			return out, true
		}
	case []any:
		var out []any
		for i, x := range v {
			if y, changed := wholeNumbers(x); changed {
				if out == nil {
					out = slices.Clone(v)
				}
				out[i] = y
			}
		}
		if out != nil {
			return out, true
		}
	}
	return v, false
}
