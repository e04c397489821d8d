package engine_test

import (
	"github.com/keyway-sms/keyway/automation/sim/simtest"

	// The configs these tests compile use every step type.
	_ "github.com/keyway-sms/keyway/automation/steps"
)

// Shared with the other automation packages' tests (automation/sim/simtest).
var (
	problemLines = simtest.ProblemLines
)
