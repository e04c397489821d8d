package test

import (
	"strings"
	"testing"

	"github.com/keyway-sms/keyway/test/fakeprovider"
)

// A send whose answer is lost on the wire (Twilio took the message, then
// the connection broke) is looked up in Twilio's message log before it is
// tried again, and recorded as sent with Twilio's sid: the contact gets one
// text, not two.
func TestSendWithLostAnswerIsNotSentTwice(t *testing.T) {
	t.Parallel()
	g := StartGateway(t, hoursConfig)
	const from = "+15551120001"
	g.Twilio.HangUpNext(1)
	g.Text(Inbound{From: from, Body: "hours"})
	msgs := g.Settled(t, from)
	sent := g.Twilio.Sent()
	if len(sent) != 1 {
		t.Fatalf("Twilio got %d messages, want 1: %+v", len(sent), sent)
	}
	if msgs[0].Direction != "out" || msgs[0].Status != "sent" || msgs[0].ProviderID != sent[0].SID {
		t.Fatalf("stored reply %+v, want sent with Twilio's sid %s", msgs[0], sent[0].SID)
	}
	if g.Twilio.Lookups() == 0 {
		t.Fatal("the message log was never read")
	}
	// The line is logged just after the commit the test saw.
	Eventually(t, patience, "a log line saying the send was found", func() bool {
		return strings.Contains(g.Logs(), "recorded as sent, not sent again")
	})
}

// Killed while Twilio holds a send it has taken, keyway finds the message
// in Twilio's log after the restart and records it as sent: the contact
// gets one text.
func TestSIGKILLDuringAcceptedSendIsNotSentTwice(t *testing.T) {
	t.Parallel()
	g := StartGateway(t, hoursConfig)
	const from = "+15551120002"
	g.Twilio.HoldNext(true)
	g.Text(Inbound{From: from, Body: "hours"})
	Eventually(t, patience, "Twilio holding the send it took", func() bool { return g.Twilio.Held() == 1 })
	g.Kill()
	g.Twilio.Release()
	g.Start()
	sentOnceAndRecorded(t, g, from)
	// A later reply to the same number goes out normally.
	g.Text(Inbound{From: from, Body: "hours"})
	g.Settled(t, from)
	if got := repliesToNow(g, from); len(got) != 2 {
		t.Fatalf("sent %q, want the first reply once and the later one", got)
	}
}

// Killed while a send is on its way but before Twilio took it, keyway finds
// nothing in Twilio's log after the restart and sends it: exactly once.
func TestSIGKILLBeforeTwilioTookSendSendsOnce(t *testing.T) {
	t.Parallel()
	g := StartGateway(t, hoursConfig)
	const from = "+15551120003"
	g.Twilio.HoldNext(false)
	g.Text(Inbound{From: from, Body: "hours"})
	Eventually(t, patience, "a send on its way to Twilio", func() bool { return g.Twilio.Held() == 1 })
	g.Kill()
	g.Twilio.Release()
	g.Start()
	sent := g.Twilio.WaitSent(t, 1, patience)
	msgs := g.Settled(t, from)
	if msgs[0].Status != "sent" || msgs[0].ProviderID != sent[0].SID {
		t.Fatalf("stored reply %+v, want sent with sid %s", msgs[0], sent[0].SID)
	}
	if g.Twilio.Lookups() == 0 {
		t.Fatal("the message log was never read before sending again")
	}
	g.Text(Inbound{From: from, Body: "hours"})
	g.Settled(t, from)
	if got := repliesToNow(g, from); len(got) != 2 {
		t.Fatalf("sent %q, want the reply once and the later one", got)
	}
}

// The same holds for a provider that plugs in through the registry: a send
// whose answer was lost is looked up in its log, and not sent again.
func TestLostAnswerThroughARegisteredProvider(t *testing.T) {
	t.Parallel()
	sends := newFakeSends(t)
	g := StartGateway(t, fakeSection(sends.URL())+fakeJoin)
	const who = "+15551237711"
	sends.hangUpNext(1)
	if code, _, body := postFake(t, g, fakeprovider.InboundPath, fakeSecret,
		fakeprovider.InboundMessage{ID: "FKIN11", From: who, To: fakeNumber, Text: "join"}); code != 200 {
		t.Fatalf("inbound answered %d %s", code, body)
	}
	Eventually(t, patience, "the reply recorded as sent", func() bool {
		ms := storedMessages(t, g, who)
		return len(ms) == 2 && ms[0].Status == "sent"
	})
	reply := storedMessages(t, g, who)[0]
	sends.mu.Lock()
	lookups := sends.lookups
	sends.mu.Unlock()
	if got := sends.to(who); len(got) != 1 || reply.ProviderID != "FKOUT1" || lookups != 1 {
		t.Fatalf("sent %d times, stored as %q, %d lookups; want once, FKOUT1, 1", len(got), reply.ProviderID, lookups)
	}
}

// sentOnceAndRecorded checks, after a restart, that Twilio took the one
// message it held before it, that the reply to from comes to be recorded
// as sent with Twilio's sid, and that no second copy went out meanwhile.
func sentOnceAndRecorded(t *testing.T, g *Gateway, from string) {
	t.Helper()
	sent := g.Twilio.Sent()
	if len(sent) != 1 {
		t.Fatalf("Twilio got %d messages before the restart, want 1: %+v", len(sent), sent)
	}
	Eventually(t, patience, "the reply recorded as sent with Twilio's sid", func() bool {
		ms := g.Messages(from)
		return len(ms) == 2 && ms[0].Status == "sent" && ms[0].ProviderID == sent[0].SID
	})
	if got := g.Twilio.Sent(); len(got) != 1 {
		t.Fatalf("Twilio got %d messages, want 1: %+v", len(got), got)
	}
}
