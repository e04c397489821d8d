package steps

import (
	"regexp"
	"sort"

	"gopkg.in/yaml.v3"

	"github.com/keyway-sms/keyway/automation/engine"
	"github.com/keyway-sms/keyway/config"
	"github.com/keyway-sms/keyway/providers"
)

// Content is a step's `template`: a message template approved at the
// provider, sent where a free-form message may not go, outside the
// WhatsApp 24-hour window. It takes one of two forms: Twilio's Content API
// (a content sid, variables by key) or the WhatsApp Cloud API's (a
// template name and language code, variables filling the body parameters
// in order).
//
//	template: { content_sid: "HX0123456789abcdef0123456789abcdef", variables: { "1": "{{ contact.name }}" } }
//	template: { name: order_update, language: en_US, variables: ["{{ contact.name }}"] }
type Content struct {
	SID string
	// Variables are rendered when the step runs, each by its key (the
	// content sid form).
	Variables map[string]*engine.Template
	// Name and Language name a WhatsApp Cloud API template; Params are
	// rendered when the step runs, in order.
	Name, Language string
	Params         []*engine.Template
}

type contentFields struct {
	ContentSID string    `yaml:"content_sid"`
	Name       string    `yaml:"name"`
	Language   string    `yaml:"language"`
	Variables  yaml.Node `yaml:"variables"`
}

// contentSID is what a Twilio content sid looks like.
var contentSID = regexp.MustCompile(`^HX[0-9a-fA-F]{32}$`)

// Provider keys whose template form is known.
const (
	providerTwilio = "twilio"
	providerMeta   = "meta"
)

// compileContent compiles the `template` of step s, sent from number from
// ("" when the step does not name one); nil when it has none.
func compileContent(c *engine.Compiler, s *config.Step, f *contentFields, from string) *Content {
	if f == nil {
		return nil
	}
	ct := &Content{SID: f.ContentSID, Name: f.Name, Language: f.Language, Variables: map[string]*engine.Template{}}
	switch {
	case f.ContentSID != "" && (f.Name != "" || f.Language != ""):
		c.Problemf(s, "template", "a template has either content_sid (Twilio) or name and language (WhatsApp Cloud API), not both")
		return ct
	case f.ContentSID != "":
		if !contentSID.MatchString(f.ContentSID) {
			c.Warnf(s, "template.content_sid", "content_sid %q does not look like a Twilio content sid (HX and 32 hex digits)", f.ContentSID)
		}
		compileKeyed(c, s, ct, &f.Variables)
	case f.Name != "" || f.Language != "":
		if f.Name == "" {
			c.Problemf(s, "template", "a template with a language needs name, the approved template's name")
		}
		if f.Language == "" {
			c.Problemf(s, "template", "a template with a name needs language, its language code (e.g. en_US)")
		}
		compileOrdered(c, s, ct, &f.Variables)
	default:
		c.Problemf(s, "template", "a template needs content_sid (Twilio, HX...) or name and language (WhatsApp Cloud API)")
		compileKeyed(c, s, ct, &f.Variables)
		return ct
	}
	for _, n := range c.Config.Numbers() {
		if from == "" || n.Number != from {
			continue
		}
		switch {
		case ct.SID != "" && n.Provider == providerMeta:
			c.Problemf(s, "template", "from %s is a number of providers.meta, which sends templates by name and language, not content_sid", from)
		case ct.Name != "" && n.Provider == providerTwilio:
			c.Problemf(s, "template", "from %s is a Twilio number, which sends templates by content_sid, not name and language", from)
		}
	}
	return ct
}

// compileKeyed compiles variables given as a mapping by key.
func compileKeyed(c *engine.Compiler, s *config.Step, ct *Content, n *yaml.Node) {
	if n.Kind == 0 || n.Tag == "!!null" {
		return
	}
	vars := map[string]string{}
	if n.Kind != yaml.MappingNode || n.Decode(&vars) != nil {
		c.Problemf(s, "template.variables", "a content_sid template's variables are a mapping of text by key, e.g. { \"1\": \"{{ contact.name }}\" }")
		return
	}
	for _, k := range sortedKeys(vars) {
		ct.Variables[k] = c.Template(s, "template.variables."+k, vars[k])
	}
}

// compileOrdered compiles variables given as a list, in order.
func compileOrdered(c *engine.Compiler, s *config.Step, ct *Content, n *yaml.Node) {
	if n.Kind == 0 || n.Tag == "!!null" {
		return
	}
	var vars []string
	if n.Kind != yaml.SequenceNode || n.Decode(&vars) != nil {
		c.Problemf(s, "template.variables", "a named template's variables are a list of text filling its body parameters in order, e.g. [\"{{ contact.name }}\"]")
		return
	}
	for i, v := range vars {
		ct.Params = append(ct.Params, c.Template(s, engine.FieldIndex("template.variables", i), v))
	}
}

// render renders the variables of ct against r: by key for a content sid,
// or the named template to send.
func (ct *Content) render(r *engine.Run) (map[string]string, *providers.Template, error) {
	if ct.Name != "" {
		t := &providers.Template{Name: ct.Name, Language: ct.Language}
		for _, p := range ct.Params {
			v, err := r.Render(p)
			if err != nil {
				return nil, nil, err
			}
			t.Variables = append(t.Variables, v)
		}
		return nil, t, nil
	}
	out := make(map[string]string, len(ct.Variables))
	for _, k := range sortedKeys(ct.Variables) {
		v, err := r.Render(ct.Variables[k])
		if err != nil {
			return nil, nil, err
		}
		out[k] = v
	}
	return out, nil, nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// templated reports whether m is a template message rather than
// free-form text.
func templated(m *engine.Message) bool { return m.ContentSID != "" || m.Template != nil }
