package test

import (
	"strings"
	"testing"
)

// A process on a shared database started again under its name
// (KEYWAY_INSTANCE, node0 here) takes back at once the send its killed run
// had under way, instead of leaving it leased for a minute: it says so at
// start, finds the text in Twilio's log and records it as sent, and the
// contact gets one text.
func TestPostgresRestartUnderItsNameTakesBackItsSend(t *testing.T) {
	g := startShared(t, 1, hoursConfig)[0]
	const from = "+15551130001"
	g.Twilio.HoldNext(true)
	g.Text(Inbound{From: from, Body: "hours"})
	Eventually(t, patience, "Twilio holding the send it took", func() bool { return g.Twilio.Held() == 1 })
	g.Kill()
	g.Twilio.Release()
	g.Start()
	Eventually(t, patience, "the process started again taking back its send", func() bool {
		return strings.Contains(g.Logs(), "sends under way at the last stop were not recorded")
	})
	sentOnceAndRecorded(t, g, from)
}
