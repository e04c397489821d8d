// Package steps holds keyway's step types, one file each: reply,
// forward_to_mobile, forward_to_email, add_to_group and remove_from_group,
// set_field, tag, unsubscribe, wait, wait_for_reply, condition,
// start_automation and end. Each file registers its type with
// engine.Register from init and has a fixture in testdata/<type>.yaml. The
// http step, with its address guard, is in the httpstep sub-package; this
// package imports it, so that importing steps registers every step type.
package steps

import (
	// The http step registers itself beside the others.
	_ "github.com/keyway-sms/keyway/automation/steps/httpstep"
)
