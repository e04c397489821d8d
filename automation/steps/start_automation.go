package steps

import (
	"context"
	"fmt"

	"github.com/keyway-sms/keyway/automation/engine"
	"github.com/keyway-sms/keyway/config"
)

func init() { engine.Register("start_automation", compileStartAutomation) }

// StartAutomationStep enrolls the contact in another automation and goes
// on. The target's own rule applies: a contact already in it is left where
// it is, unless it has overwrite_if_exists, which restarts it; a paused
// target enrolls nobody. A loop of starts that can never stop is refused
// when the config is compiled (see engine's checkStartLoops); one that a
// condition may leave, but does not, is ended by the engine's step limit.
//
//   - type: start_automation
//     automation: survey
type StartAutomationStep struct {
	Automation string
}

type startAutomationFields struct {
	Automation string `yaml:"automation"`
}

func compileStartAutomation(c *engine.Compiler, s *config.Step) (engine.Step, config.Problems) {
	var f startAutomationFields
	c.Decode(s, &f)
	switch target := c.Config.Automation(f.Automation); {
	case f.Automation == "":
		c.Problemf(s, "automation", "missing automation (the id of the automation to start)")
	case target == nil:
		c.Problemf(s, "automation", "automation %q is not defined", f.Automation)
	case !target.IsEnabled():
		c.Warnf(s, "automation", "automation %q is paused (enabled: false): this step enrolls nobody until it is enabled", f.Automation)
	}
	return &StartAutomationStep{Automation: f.Automation}, nil
}

// Execute enrolls the contact in the target automation, which runs its
// first steps at once, in this turn.
func (st *StartAutomationStep) Execute(ctx context.Context, r *engine.Run) (engine.Outcome, error) {
	if r.Set.Automation(st.Automation) == nil {
		return engine.End(fmt.Sprintf("start_automation: automation %q no longer exists", st.Automation)), nil
	}
	r.Trace("starting automation " + st.Automation)
	started, err := r.StartAutomation(ctx, st.Automation)
	if err != nil {
		return engine.Outcome{}, fmt.Errorf("start automation %q: %w", st.Automation, err)
	}
	if !started {
		r.Trace(fmt.Sprintf("automation %s not started: paused, or the contact is in it already", st.Automation))
	}
	return engine.Continue(), nil
}

// Flow says start_automation goes on, once the automation it starts has
// run its first steps; the loop checks follow it into that automation.
func (st *StartAutomationStep) Flow() engine.StepFlow {
	return engine.StepFlow{Continues: true, Starts: st.Automation}
}

var (
	_ engine.Step    = (*StartAutomationStep)(nil)
	_ engine.Flowing = (*StartAutomationStep)(nil)
)
