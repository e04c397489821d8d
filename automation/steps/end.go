package steps

import (
	"context"

	"github.com/keyway-sms/keyway/automation/engine"
	"github.com/keyway-sms/keyway/config"
)

func init() { engine.Register("end", compileEnd) }

// EndStep finishes the enrollment.
//
//   - type: end
type EndStep struct{}

func compileEnd(c *engine.Compiler, s *config.Step) (engine.Step, config.Problems) {
	var f struct{}
	c.Decode(s, &f)
	return EndStep{}, nil
}

// Execute ends the enrollment.
func (EndStep) Execute(context.Context, *engine.Run) (engine.Outcome, error) {
	return engine.End(engine.ReasonCompleted), nil
}

var _ engine.Step = EndStep{}
