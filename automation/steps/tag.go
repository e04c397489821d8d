package steps

import (
	"context"
	"slices"
	"strings"

	"github.com/keyway-sms/keyway/automation/engine"
	"github.com/keyway-sms/keyway/config"
)

func init() { engine.Register("tag", compileTag) }

// Tag adds free-form tags to the contact and removes others. Tags are
// trimmed and kept without repeats; conditions test them with
// `"vip" in contact.tags`.
//
//   - type: tag
//     add: [vip, "asked about pricing"]
//     remove: [trial]
type Tag struct {
	Add    []string
	Remove []string
}

type tagFields struct {
	Add    []string `yaml:"add"`
	Remove []string `yaml:"remove"`
}

func compileTag(c *engine.Compiler, s *config.Step) (engine.Step, config.Problems) {
	var f tagFields
	c.Decode(s, &f)
	if len(f.Add) == 0 && len(f.Remove) == 0 && !c.Refused(s, "add", "remove") {
		c.Problemf(s, "", "tag needs add or remove: at least one tag")
	}
	st := &Tag{}
	added := map[string]string{} // tag → where it is added
	st.Add = tags(c, s, "add", f.Add, func(tag, at string) { added[tag] = at })
	st.Remove = tags(c, s, "remove", f.Remove, func(tag, at string) {
		if first, ok := added[tag]; ok {
			c.Problemf(s, at, "tag %q is both added (%s) and removed", tag, first)
		}
	})
	return st, nil
}

// tags checks the tags found in field of s: trimmed, not empty, once. It
// calls each for every good one and returns them.
func tags(c *engine.Compiler, s *config.Step, field string, raw []string, each func(tag, at string)) []string {
	var out []string
	seen := map[string]string{}
	for i, t := range raw {
		at := engine.FieldIndex(field, i)
		tag := strings.TrimSpace(t)
		if tag == "" {
			c.Problemf(s, at, "%s is empty", at)
			continue
		}
		if first, dup := seen[tag]; dup {
			c.Problemf(s, at, "%s repeats %s (%q)", at, first, tag)
			continue
		}
		seen[tag] = at
		each(tag, at)
		out = append(out, tag)
	}
	return out
}

// Execute changes the contact's tags.
func (st *Tag) Execute(_ context.Context, r *engine.Run) (engine.Outcome, error) {
	c := r.Contact
	for _, t := range st.Add {
		if !slices.Contains(c.Tags, t) {
			c.Tags = append(c.Tags, t)
			r.Trace("tagged " + t)
		}
	}
	for _, t := range st.Remove {
		if slices.Contains(c.Tags, t) {
			c.Tags = slices.DeleteFunc(c.Tags, func(x string) bool { return x == t })
			r.Trace("untagged " + t)
		}
	}
	return engine.Continue(), nil
}

var _ engine.Step = (*Tag)(nil)
