package schedule_test

import (
	"github.com/keyway-sms/keyway/automation/sim/simtest"
)

// Shared with the other automation packages' tests (automation/sim/simtest).
var (
	timeSet      = simtest.Compile
	timeSim      = simtest.At
	mustZone     = simtest.MustZone
	drainOutbox  = simtest.DrainOutbox
	problemLines = simtest.ProblemLines
)

// The helpers below are those of the engine's tests (waits_test.go,
// timers_test.go) that the scheduler's tests use.
