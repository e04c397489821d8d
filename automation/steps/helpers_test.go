package steps_test

import (
	"github.com/keyway-sms/keyway/automation/sim/simtest"

	// The providers whose numbers the fixtures use register how each
	// sends templates, as they do in keyway.
	_ "github.com/keyway-sms/keyway/providers/meta"
	_ "github.com/keyway-sms/keyway/providers/twilio"
)

// Shared with the other automation packages' tests (automation/sim/simtest).
var (
	simulate = simtest.Simulate
)
