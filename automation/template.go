package automation

import (
	"fmt"
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
	tpl, err := eng.ParseString(src)
	if err != nil {
		return nil, fmt.Errorf("template: %w", err)
	}
	// Liquid's parser does not check filter names; a trial render with
	// empty values finds an unknown filter at load time rather than at the
	// first message (filters in branches not taken are not reached).
	if _, err := tpl.RenderString(trialBindings); err != nil && strings.Contains(err.Error(), "undefined filter") {
		return nil, fmt.Errorf("template: %w", err)
	}
	return &Template{src: src, tpl: tpl}, nil
}

// trialBindings are the names templates see (Names), all empty.
var trialBindings = zeroBindings()

// render renders the template; an undefined variable renders empty.
func (t *Template) render(b map[string]any) (string, error) {
	if t == nil {
		return "", nil
	}
	if t.tpl == nil {
		return t.src, nil
	}
	out, err := t.tpl.RenderString(b)
	if err != nil {
		return "", fmt.Errorf("template: %w", err)
	}
	return out, nil
}

// renderAll renders each template.
func renderAll(r *Run, ts []*Template) ([]string, error) {
	var out []string
	for _, t := range ts {
		s, err := r.Render(t)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}
