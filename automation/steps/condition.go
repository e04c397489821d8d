package steps

import (
	"context"
	"fmt"

	"github.com/keyway-sms/keyway/automation/engine"
	"github.com/keyway-sms/keyway/config"
)

func init() { engine.Register("condition", compileCondition) }

// Condition branches on an expression over the names templates see. A
// missing then or else goes on to the next step. An expression that fails
// while running (comparing a string with a number) takes else, and the
// trace says why.
//
//   - type: condition
//     if: 'vars.answer matches "(?i)^y(es)?$" && "newsletter" in contact.groups'
//     then: confirm
//     else: ask_again
type Condition struct {
	If   *engine.Expr
	Then string
	Else string
}

type conditionFields struct {
	If   string `yaml:"if"`
	Then string `yaml:"then"`
	Else string `yaml:"else"`
}

func compileCondition(c *engine.Compiler, s *config.Step) (engine.Step, config.Problems) {
	var f conditionFields
	c.Decode(s, &f)
	st := &Condition{Then: f.Then, Else: f.Else}
	if f.If == "" {
		c.Problemf(s, "if", "a condition needs an if expression")
	} else {
		st.If = c.Expr(s, "if", f.If)
	}
	c.Target(s, "then", f.Then)
	c.Target(s, "else", f.Else)
	return st, nil
}

// Execute evaluates the expression and goes to then or else.
func (st *Condition) Execute(_ context.Context, r *engine.Run) (engine.Outcome, error) {
	ok, err := st.If.Eval(r)
	if err != nil {
		r.Trace(fmt.Sprintf("condition failed, taking else: %v", err))
		return engine.Next(st.Else), nil
	}
	if ok {
		r.Trace(fmt.Sprintf("condition %s: true", st.If))
		return engine.Next(st.Then), nil
	}
	r.Trace(fmt.Sprintf("condition %s: false", st.If))
	return engine.Next(st.Else), nil
}

var _ engine.Step = (*Condition)(nil)
