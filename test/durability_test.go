package test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/keyway-sms/keyway/providers/twilio"
)

const hoursConfig = `
automations:
  - id: hours
    keywords: [HOURS]
    steps:
      - { type: reply, text: "Open 7-6" }
`

// A message answered 200 is never lost: killed before its reply could be
// sent, the gateway sends it after restart, exactly once.
func TestSIGKILLAfterAcceptLosesNothing(t *testing.T) {
	t.Parallel()
	g := StartGateway(t, hoursConfig)
	const from = "+15551110001"
	g.Twilio.FailNext(1000, 503, 0) // Twilio is down: the reply stays queued
	g.Text(Inbound{From: from, Body: "hours"})
	// Killed once a failed attempt is on disk (not merely once Twilio saw
	// it): the restart must carry on from the stored attempt count.
	Eventually(t, patience, "a failed send attempt recorded", func() bool {
		ms := g.Messages(from)
		return len(ms) == 2 && ms[0].Direction == "out" && ms[0].Status == "queued" && ms[0].Attempts >= 1
	})
	g.Kill()
	if len(g.Twilio.Sent()) != 0 {
		t.Fatal("a reply went out while Twilio was failing")
	}
	g.Twilio.FailNext(0, 0, 0)
	g.Start()
	sent := g.Twilio.WaitSent(t, 1, patience)
	if sent[0].Body != "Open 7-6" || sent[0].To != from {
		t.Fatalf("after restart sent %+v", sent[0])
	}
	msgs := g.Settled(t, from)
	if len(msgs) != 2 || msgs[0].Status != "sent" || msgs[0].Attempts < 2 {
		t.Fatalf("stored messages %+v", msgs)
	}
	// A later message to the same number is sent only once nothing before
	// it is queued or under way: after its reply, a second send of the
	// first would have shown.
	g.Text(Inbound{From: from, Body: "hours"})
	g.Settled(t, from)
	if got := repliesToNow(g, from); len(got) != 2 {
		t.Fatalf("sent %q after restart, want the reply once and the later reply", got)
	}
}

// The webhook commits before it answers: SIGKILL right after a burst of 200s
// loses none of the messages.
func TestSIGKILLRightAfterBurstKeepsEveryMessage(t *testing.T) {
	t.Parallel()
	g := StartGateway(t, hoursConfig)
	const n = 20
	for i := range n {
		g.Text(Inbound{From: phone(i), Body: "hours"})
	}
	g.Kill()
	g.Start()
	Eventually(t, patience, "a reply for every accepted message", func() bool {
		seen := map[string]bool{}
		for _, m := range g.Twilio.Sent() {
			seen[m.To] = true
		}
		return len(seen) == n
	})
	for i := range n {
		if ms := g.Messages(phone(i)); len(ms) == 0 || ms[len(ms)-1].Direction != "in" {
			t.Fatalf("inbound message of %s lost: %+v", phone(i), ms)
		}
	}
}

func phone(i int) string { return "+1555222" + strings.Repeat("0", 4-len(itoa(i))) + itoa(i) }

func itoa(i int) string {
	const digits = "0123456789"
	if i < 10 {
		return digits[i : i+1]
	}
	return itoa(i/10) + digits[i%10:i%10+1]
}

// A provider outage is retried with backoff and ends in exactly one send.
func TestRetryableErrorsEndInOneSend(t *testing.T) {
	t.Parallel()
	g := StartGateway(t, hoursConfig)
	const from = "+15551110002"
	g.Twilio.FailNext(2, 503, 0)
	g.Text(Inbound{From: from, Body: "HOURS"})
	sent := g.Twilio.WaitSent(t, 1, patience)
	if sent[0].Body != "Open 7-6" {
		t.Fatalf("sent %q", sent[0].Body)
	}
	if ms := g.Settled(t, from); len(ms) != 2 || ms[0].Status != "sent" || ms[0].Attempts != 3 {
		t.Fatalf("stored messages %+v, want the reply sent at the third attempt", ms)
	}
	// A later reply to the same number goes out only once the first is
	// neither queued nor under way.
	g.Text(Inbound{From: from, Body: "HOURS"})
	g.Settled(t, from)
	if len(g.Twilio.Sent()) != 2 || g.Twilio.Requests() != 4 {
		t.Fatalf("sent %d after %d requests; want the reply once after 3 and the later reply", len(g.Twilio.Sent()), g.Twilio.Requests())
	}
}

// A permanent error is recorded on the message and not retried; Twilio's
// 21610 marks the contact opted out.
func TestPermanentErrorsAreRecorded(t *testing.T) {
	t.Parallel()
	g := StartGateway(t, hoursConfig)
	const from = "+15551110003"
	g.Twilio.FailNext(1, 400, 21610)
	g.Text(Inbound{From: from, Body: "hours"})
	var failed Message
	Eventually(t, patience, "the failure recorded", func() bool {
		ms := g.Messages(from)
		if len(ms) != 2 || ms[0].Status != "failed" {
			return false
		}
		failed = ms[0]
		return true
	})
	if !strings.Contains(failed.Error, "21610") {
		t.Errorf("error not recorded: %q", failed.Error)
	}
	// The opt-out follows the recorded failure, in a commit of its own.
	Eventually(t, patience, "21610 marks the contact opted out", func() bool {
		return g.Contact(from).Contact.OptedOut
	})
	// START's reply to the same number goes out only once the failed
	// message is neither queued nor under way: a retry would have shown.
	g.Text(Inbound{From: from, Body: "START"})
	g.Settled(t, from)
	if got := repliesToNow(g, from); g.Twilio.Requests() != 2 || len(got) != 1 || got[0] != "You are resubscribed." {
		t.Fatalf("a permanent error was retried: %d requests, sent %q; want the failed one and START's reply", g.Twilio.Requests(), got)
	}
}

// SIGTERM stops taking requests and lets those under way finish: every
// webhook answered 200 is stored and replied to.
func TestSIGTERMDrainsWebhooksUnderWay(t *testing.T) {
	t.Parallel()
	g := StartGateway(t, hoursConfig)
	const n = 40
	codes := make(chan string, n)
	for i := range n {
		go func() {
			from := phone(1000 + i)
			form := g.Form(Inbound{From: from, Body: "hours"})
			req, _ := http.NewRequest(http.MethodPost, g.URL+"/webhooks/twilio", strings.NewReader(form.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.Header.Set("X-Twilio-Signature", twilio.Sign(g.Twilio.AuthToken, PublicURL+"/webhooks/twilio", form))
			res, err := http.DefaultClient.Do(req)
			if err != nil || res.StatusCode != http.StatusOK {
				codes <- ""
				return
			}
			res.Body.Close()
			codes <- from
		}()
	}
	// SIGTERM once the first webhook is answered, with the rest under way.
	var accepted []string
	got := 0
	for got < n {
		from := <-codes
		got++
		if from != "" {
			accepted = append(accepted, from)
			break
		}
	}
	if len(accepted) == 0 {
		t.Fatal("no webhook was accepted before the stop")
	}
	g.Stop() // SIGTERM, and it must exit cleanly
	for ; got < n; got++ {
		if from := <-codes; from != "" {
			accepted = append(accepted, from)
		}
	}
	g.Start()
	for _, from := range accepted {
		Eventually(t, patience, "the reply to "+from, func() bool { return len(repliesToNow(g, from)) == 1 })
	}
	t.Logf("%d of %d webhooks were accepted before the stop", len(accepted), n)
}
