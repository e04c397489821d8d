package engine_test

import (
	"strings"

	"github.com/keyway-sms/keyway/config"

	// The configs these tests compile use every step type.
	_ "github.com/keyway-sms/keyway/automation/steps"
)

// problemLines lists problems one a line, for a test's failure message.
func problemLines(ps config.Problems) string {
	var b strings.Builder
	for _, p := range ps {
		b.WriteString("  " + p.String() + "\n")
	}
	return b.String()
}
