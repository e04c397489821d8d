package automation

import (
	"context"

	"github.com/keyway-sms/keyway/config"
)

func init() { Register("end", compileEnd) }

// EndStep finishes the enrollment.
//
//   - type: end
type EndStep struct{}

func compileEnd(c *Compiler, s *config.Step) (Step, config.Problems) {
	var f struct{}
	c.Decode(s, &f)
	return EndStep{}, nil
}

// Execute ends the enrollment.
func (EndStep) Execute(context.Context, *Run) (Outcome, error) {
	return Outcome{Next: config.End}, nil
}

var _ Step = EndStep{}
