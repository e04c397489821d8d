package steps

import (
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/keyway-sms/keyway/automation/engine"
	"github.com/keyway-sms/keyway/config"
	"github.com/keyway-sms/keyway/providers"
)

// Content is a step's `template`: a message template approved at the
// provider, sent where a free-form message may not go, outside the
// WhatsApp 24-hour window. It takes Twilio's Content API form (a content
// sid, variables by key), the WhatsApp Cloud API's (a template name and
// language code, variables filling the body parameters in order), or both
// at once, for a step that may go out through either provider's numbers:
// then the variables are a list (keyed 1, 2, 3... for Twilio) or a mapping
// keyed by whole numbers (in their order for the Cloud API).
//
//	template: { content_sid: "HX0123456789abcdef0123456789abcdef", variables: { "1": "{{ contact.name }}" } }
//	template: { name: order_update, language: en_US, variables: ["{{ contact.name }}"] }
//	template: { content_sid: "HX0123456789abcdef0123456789abcdef", name: order_update, language: en_US, variables: ["{{ contact.name }}"] }
type Content struct {
	SID string
	// Variables are rendered when the step runs, each by its key (the
	// content sid form).
	Variables map[string]*engine.Template
	// Name and Language name a WhatsApp Cloud API template; Params are
	// rendered when the step runs, in order.
	Name, Language string
	Params         []*engine.Template
	// order, with both forms, lists the keys of Variables in the order of
	// the Cloud API's body parameters.
	order []string
}

type contentFields struct {
	ContentSID string    `yaml:"content_sid"`
	Name       string    `yaml:"name"`
	Language   string    `yaml:"language"`
	Variables  yaml.Node `yaml:"variables"`
}

// contentSID is what a Twilio content sid looks like.
var contentSID = regexp.MustCompile(`^HX[0-9a-fA-F]{32}$`)

// compileContent compiles the `template` of step s, sent from number from
// ("" when the step does not name one); nil when it has none.
func compileContent(c *engine.Compiler, s *config.Step, f *contentFields, from string) *Content {
	if f == nil {
		return nil
	}
	ct := &Content{SID: f.ContentSID, Name: f.Name, Language: f.Language, Variables: map[string]*engine.Template{}}
	if f.ContentSID != "" && !contentSID.MatchString(f.ContentSID) {
		c.Warnf(s, "template.content_sid", "content_sid %q does not look like a Twilio content sid (HX and 32 hex digits)", f.ContentSID)
	}
	incomplete := (f.Name == "") != (f.Language == "")
	if incomplete {
		if f.Name == "" {
			c.Problemf(s, "template", "a template with a language needs name, the approved template's name")
		}
		if f.Language == "" {
			c.Problemf(s, "template", "a template with a name needs language, its language code (e.g. en_US)")
		}
	}
	switch {
	case f.ContentSID != "" && (f.Name != "" || f.Language != ""):
		compileBoth(c, s, ct, &f.Variables)
	case f.ContentSID != "":
		compileKeyed(c, s, ct, &f.Variables)
	case f.Name != "" || f.Language != "":
		compileOrdered(c, s, ct, &f.Variables)
	default:
		c.Problemf(s, "template", "a template needs content_sid (Twilio, HX...) or name and language (WhatsApp Cloud API), or both")
		compileKeyed(c, s, ct, &f.Variables)
		return ct
	}
	if incomplete {
		return ct
	}
	// The numbers this template may go out from (from, else any WhatsApp
	// number a contact may have written to) whose provider takes the other
	// form.
	var cannot []string
	for _, n := range c.Config.Numbers() {
		if n.Channel != config.ChannelWhatsApp || (from != "" && n.Number != from) {
			continue
		}
		if form := config.TemplateFormOf(n.Provider); (ct.Name == "" && form == config.TemplatesByName) || (ct.SID == "" && form == config.TemplatesByContentSID) {
			cannot = append(cannot, fmt.Sprintf("%s (providers.%s)", n.Number, n.Provider))
		}
	}
	have, want := "name and language", "content_sid"
	if ct.Name == "" {
		have, want = want, have
	}
	switch {
	case len(cannot) > 0 && from != "":
		c.Problemf(s, "template", "from %s is a number of %s, which sends templates by %s, not %s",
			from, strings.TrimSuffix(strings.TrimPrefix(cannot[0], from+" ("), ")"), want, have)
	case len(cannot) > 0:
		c.Warnf(s, "template", "a template by %s cannot go out from %s, which sends templates by %s: "+
			"outside the WhatsApp window, a send from there fails; add %s (both forms may be given together)",
			have, strings.Join(cannot, ", "), want, want)
	}
	return ct
}

// compileBoth compiles the variables of a template given in both forms: a
// list, keyed 1, 2, 3... for the content sid; or a mapping keyed by whole
// numbers, filling the named template's parameters in their order.
func compileBoth(c *engine.Compiler, s *config.Step, ct *Content, n *yaml.Node) {
	if n.Kind == yaml.SequenceNode {
		compileOrdered(c, s, ct, n)
		for i, p := range ct.Params {
			k := strconv.Itoa(i + 1)
			ct.Variables[k] = p
			ct.order = append(ct.order, k)
		}
		return
	}
	compileKeyed(c, s, ct, n)
	nums := map[string]int{}
	for k := range ct.Variables {
		v, err := strconv.Atoi(k)
		if err != nil || v < 1 {
			c.Problemf(s, "template.variables", "a template with both content_sid and name takes its variables as a list, or a mapping keyed 1, 2, 3...; key %q is not a whole number", k)
			return
		}
		nums[k] = v
	}
	for k := range ct.Variables {
		ct.order = append(ct.order, k)
	}
	sort.Slice(ct.order, func(i, j int) bool { return nums[ct.order[i]] < nums[ct.order[j]] })
}

// compileKeyed compiles variables given as a mapping by key.
func compileKeyed(c *engine.Compiler, s *config.Step, ct *Content, n *yaml.Node) {
	if n.Kind == 0 || n.Tag == "!!null" {
		return
	}
	if n.Kind != yaml.MappingNode {
		c.Problemf(s, "template.variables", "a content_sid template's variables are a mapping of text by key, e.g. { \"1\": \"{{ contact.name }}\" }")
		return
	}
	// Entry by entry, so that a value that is no text is a problem at that
	// value; a key written twice keeps its first value (Parse reports it).
	vars, seen := map[string]string{}, map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		var text string
		switch {
		case k.Kind != yaml.ScalarNode:
			c.Problemf(s, "template.variables", "a content_sid template's variables are keyed by name or number, e.g. { \"1\": \"{{ contact.name }}\" }")
		case seen[k.Value]:
		case v.Decode(&text) != nil:
			field := "template.variables." + k.Value
			c.Problemf(s, field, "%s is a %s; a content_sid template's variables are text by key, e.g. { \"1\": \"{{ contact.name }}\" }", field, nodeKind(v))
		default:
			vars[k.Value] = text
		}
		seen[k.Value] = true
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

// render renders the variables of ct against r: by key for a content
// sid, and the named template to send (with both forms, both, the named
// one's parameters being the keyed values in order).
func (ct *Content) render(r *engine.Run) (map[string]string, *providers.Template, error) {
	if ct.SID == "" {
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
	if ct.Name == "" {
		return out, nil, nil
	}
	t := &providers.Template{Name: ct.Name, Language: ct.Language}
	for _, k := range ct.order {
		t.Variables = append(t.Variables, out[k])
	}
	return out, t, nil
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
