package steps

import (
	"regexp"
	"sort"

	"github.com/keyway-sms/keyway/automation/engine"
	"github.com/keyway-sms/keyway/config"
)

// Content is a step's `template`: a message template approved at the
// provider (Twilio's Content API), sent where a free-form message may not
// go, outside the WhatsApp 24-hour window.
//
//	template: { content_sid: "HX0123456789abcdef0123456789abcdef", variables: { "1": "{{ contact.name }}" } }
type Content struct {
	SID string
	// Variables are rendered when the step runs, each by its key.
	Variables map[string]*engine.Template
}

type contentFields struct {
	ContentSID string            `yaml:"content_sid"`
	Variables  map[string]string `yaml:"variables"`
}

// contentSID is what a Twilio content sid looks like.
var contentSID = regexp.MustCompile(`^HX[0-9a-fA-F]{32}$`)

// compileContent compiles the `template` of step s; nil when it has none.
func compileContent(c *engine.Compiler, s *config.Step, f *contentFields) *Content {
	if f == nil {
		return nil
	}
	ct := &Content{SID: f.ContentSID, Variables: map[string]*engine.Template{}}
	switch {
	case f.ContentSID == "":
		c.Problemf(s, "template", "a template needs content_sid, the id of the approved template (HX...)")
	case !contentSID.MatchString(f.ContentSID):
		c.Warnf(s, "template.content_sid", "content_sid %q does not look like a Twilio content sid (HX and 32 hex digits)", f.ContentSID)
	}
	for _, k := range sortedKeys(f.Variables) {
		ct.Variables[k] = c.Template(s, "template.variables."+k, f.Variables[k])
	}
	return ct
}

// render renders the variables of ct against r.
func (ct *Content) render(r *engine.Run) (map[string]string, error) {
	out := make(map[string]string, len(ct.Variables))
	for _, k := range sortedKeys(ct.Variables) {
		v, err := r.Render(ct.Variables[k])
		if err != nil {
			return nil, err
		}
		out[k] = v
	}
	return out, nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
