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
	t.Parallel()
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

// A process started under the name (KEYWAY_INSTANCE) of one still running
// does not take back the sends that one has under way: it says the name
// is taken and goes by its host/pid, and the contact gets one text.
func TestPostgresSecondProcessUnderOneNameLeavesTheFirstsSends(t *testing.T) {
	t.Parallel()
	gs := startShared(t, 2, hoursConfig)
	first, second := gs[0], gs[1]
	second.Stop()
	second.env = []string{"KEYWAY_INSTANCE=node0"}
	const from = "+15551130002"
	first.Twilio.HoldNext(true)
	first.Text(Inbound{From: from, Body: "hours"})
	Eventually(t, patience, "Twilio holding the send it took", func() bool { return first.Twilio.Held() == 1 })
	second.Start()
	const taken, tookBack = "KEYWAY_INSTANCE is held by another running process", "sends under way at the last stop"
	Eventually(t, patience, "the second process saying node0 is taken, or taking back its sends", func() bool {
		return strings.Contains(second.Logs(), taken) || strings.Contains(second.Logs(), tookBack)
	})
	if strings.Contains(second.Logs(), tookBack) {
		t.Error("the second process took back the sends of the first, which is still running")
	}
	first.Twilio.Release()
	Eventually(t, patience, "the reply recorded as sent", func() bool {
		ms := first.Messages(from)
		return len(ms) == 2 && ms[0].Status == "sent"
	})
	if !strings.Contains(second.Logs(), taken) {
		t.Error("the second process did not say node0 is taken")
	}
	if got := first.Twilio.Sent(); len(got) != 1 {
		t.Fatalf("Twilio got %d messages, want 1: %+v", len(got), got)
	}
}
