package steps_test

import (
	"github.com/keyway-sms/keyway/automation/sim/simtest"
)

// Shared with the other automation packages' tests (automation/sim/simtest).
var (
	simulate = simtest.Simulate
)
