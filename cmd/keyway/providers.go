package main

// The messaging providers compiled into keyway: each registers itself with
// the providers registry from its init, and the gateway mounts those the
// config sets up.
import (
	_ "github.com/keyway-sms/keyway/providers/meta"
	_ "github.com/keyway-sms/keyway/providers/twilio"
	_ "github.com/keyway-sms/keyway/providers/vonage"
)
