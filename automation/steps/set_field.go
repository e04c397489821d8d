package steps

import (
	"context"
	"errors"
	"fmt"

	"gopkg.in/yaml.v3"

	"github.com/keyway-sms/keyway/automation/engine"
	"github.com/keyway-sms/keyway/config"
)

func init() { engine.Register("set_field", compileSetField) }

// SetField renders templates into contact fields. Each name must be
// declared under the top-level `fields`; a value that renders empty clears
// the field.
//
//   - type: set_field
//     fields: { first_name: "{{ vars.name }}", source: "sms" }
type SetField struct {
	Fields []FieldValue // in file order
}

// FieldValue is one field a SetField step sets.
type FieldValue struct {
	Name  string
	Value *engine.Template
}

type setFieldFields struct {
	Fields yaml.Node `yaml:"fields"`
}

func compileSetField(c *engine.Compiler, s *config.Step) (engine.Step, config.Problems) {
	var f setFieldFields
	c.Decode(s, &f)
	st := &SetField{}
	n := &f.Fields
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	switch {
	case n.Kind == 0 || n.ShortTag() == "!!null":
		c.Problemf(s, "fields", "set_field needs fields: a mapping of field name to template")
		return st, nil
	case n.Kind != yaml.MappingNode:
		c.Problemf(s, "fields", "fields must be a mapping of field name to template")
		return st, nil
	case len(n.Content) == 0:
		c.Problemf(s, "fields", "set_field needs fields: at least one field")
		return st, nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if v.Kind == yaml.AliasNode {
			v = v.Alias
		}
		if k.Kind != yaml.ScalarNode {
			problemAt(c, s, k, "fields: expected a field name as key")
			continue
		}
		name := k.Value
		if !c.Config.HasField(name) {
			problemAt(c, s, k, "field %q is not declared under fields", name)
			continue
		}
		src := ""
		switch {
		case v.Kind == yaml.ScalarNode && v.ShortTag() != "!!null":
			src = v.Value
		case v.Kind != yaml.ScalarNode:
			problemAt(c, s, v, "fields.%s: expected a template (a string), got a %s", name, nodeKind(v))
			continue
		}
		t, err := c.ParseTemplate(src)
		if err != nil {
			offset := -1
			if te := (*engine.TemplateError)(nil); errors.As(err, &te) {
				offset = te.Offset
			}
			c.AddProblem(c.Config.ProblemInNode(v, src, offset, "%s: fields.%s: %v", c.StepName(s), name, err))
			continue
		}
		st.Fields = append(st.Fields, FieldValue{Name: name, Value: t})
	}
	return st, nil
}

// problemAt records an error about step s placed at node n of its YAML.
func problemAt(c *engine.Compiler, s *config.Step, n *yaml.Node, format string, args ...any) {
	c.AddProblem(config.Problem{
		File:    c.Config.File,
		Pos:     config.Pos{Line: n.Line, Col: n.Column},
		Message: fmt.Sprintf("%s: %s", c.StepName(s), fmt.Sprintf(format, args...)),
	})
}

func nodeKind(n *yaml.Node) string {
	if n.Kind == yaml.SequenceNode {
		return "list"
	}
	return "mapping"
}

// Execute renders and stores the fields.
func (st *SetField) Execute(_ context.Context, r *engine.Run) (engine.Outcome, error) {
	values := make([]string, len(st.Fields))
	for i, f := range st.Fields {
		v, err := r.Render(f.Value)
		if err != nil {
			return engine.End(fmt.Sprintf("set_field %s: %v", f.Name, err)), nil
		}
		values[i] = v
	}
	c := r.Contact
	for i, f := range st.Fields {
		if values[i] == "" {
			delete(c.Fields, f.Name)
			r.Trace("cleared field " + f.Name)
			continue
		}
		if c.Fields == nil {
			c.Fields = map[string]string{}
		}
		c.Fields[f.Name] = values[i]
		r.Trace(fmt.Sprintf("set field %s to %q", f.Name, values[i]))
	}
	return engine.Continue(), nil
}

var _ engine.Step = (*SetField)(nil)
