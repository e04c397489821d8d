package test

import (
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
)

// pacedSMS is a second SMS number of ours, at mps 0.05: after one send,
// the next from it waits 20 seconds in the outbox.
const pacedSMS = "+15005550010"

const queuedForwardConfig = `
automations:
  - id: agent
    keywords: [AGENT]
    steps:
      - { type: handoff, to: ["+15550100100"], timeout: 2h }
  - id: hello
    keywords: [HELLO]
    steps:
      - { type: reply, text: "Hi there" }
`

// startWithPacedNumber starts keyway on body with pacedSMS among our
// numbers, at mps 0.05.
func startWithPacedNumber(t *testing.T, body string) *Gateway {
	t.Helper()
	g := newGateway(t, body)
	raw, err := os.ReadFile(g.Config)
	if err != nil {
		t.Fatal(err)
	}
	ours := `      - { number: "` + OurSMS + `", channel: sms }`
	if !strings.Contains(string(raw), ours) {
		t.Fatalf("the harness config has no line %q", ours)
	}
	raw = []byte(strings.Replace(string(raw), ours, ours+"\n"+`      - { number: "`+pacedSMS+`", channel: sms, mps: 0.05 }`, 1))
	if err := os.WriteFile(g.Config, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	g.startUntilEnd()
	return g
}

// Two handoffs are open with one staff member; the second one's forward
// waits behind its number's mps, so the staff member has not seen it. A
// plain answer goes to the first customer, the only conversation the staff
// member has been handed. Once the second forward reaches them, plain text
// could mean either: no customer gets it, and the staff member is asked
// which, with references and names; #REF text still goes through.
func TestStaffPlainAnswerSkipsQueuedForward(t *testing.T) {
	t.Parallel()
	g := startWithPacedNumber(t, queuedForwardConfig)
	if code := g.Admin(http.MethodPut, "/api/v1/contacts/"+url.PathEscape(customerA), map[string]any{"name": "Alice"}, nil); code/100 != 2 {
		t.Fatalf("name customer A: status %d", code)
	}

	g.Text(Inbound{From: customerA, Body: "AGENT"})
	refA := refOf(t, waitSentTo(t, g, staffAnn, 1)[0].Body)
	// C's reply takes the paced number's send for the next 20 seconds.
	g.Text(Inbound{From: customerC, To: pacedSMS, Body: "HELLO"})
	if got := waitSentTo(t, g, customerC, 1)[0]; got.From != pacedSMS {
		t.Fatalf("C's reply came from %s, want %s", got.From, pacedSMS)
	}
	// B's handoff forward goes from the number B wrote to: it waits, untried,
	// once the outbox has released it until its number's rate allows it.
	g.Text(Inbound{From: customerB, To: pacedSMS, Body: "AGENT"})
	Eventually(t, patience, "B's forward released to wait for its number's rate", func() bool {
		return strings.Contains(g.Logs(), "outbox: send released until its sender's rate allows it")
	})

	g.Text(Inbound{From: staffAnn, Body: "On it"})
	answer := waitSentTo(t, g, customerA, 1)[0]
	if answer.Body != "On it" || answer.From != OurSMS {
		t.Fatalf("the plain answer reached A as from %s %q, want from %s %q", answer.From, answer.Body, OurSMS, "On it")
	}

	fwdB := waitSentTo(t, g, staffAnn, 2)[1]
	refB := refOf(t, fwdB.Body)
	if fwdB.From != pacedSMS || !strings.Contains(fwdB.Body, `From +15551230002: "AGENT"`) {
		t.Fatalf("B's forward = from %s %q", fwdB.From, fwdB.Body)
	}
	if !fwdB.At.After(answer.At) {
		t.Fatalf("B's forward went at %v, before the answer to A at %v: the test could not hold it queued", fwdB.At, answer.At)
	}
	if got := sentTo(g, customerB); len(got) != 0 {
		t.Fatalf("B got %q while its forward was queued; want nothing", Bodies(got))
	}

	g.Text(Inbound{From: staffAnn, Body: "Which one of you?"})
	note := waitSentTo(t, g, staffAnn, 3)[2]
	for _, want := range []string{"Which conversation?", "#" + refB + " (" + customerB + ")", "#" + refA + " (Alice)"} {
		if !strings.Contains(note.Body, want) {
			t.Errorf("the note to staff = %q; want it to hold %q", note.Body, want)
		}
	}
	if note.From != OurSMS {
		t.Errorf("the note to staff came from %s, want %s (the number staff wrote to)", note.From, OurSMS)
	}

	g.Text(Inbound{From: staffAnn, Body: "#" + refA + " Your order ships today."})
	if got := waitSentTo(t, g, customerA, 2)[1]; got.Body != "Your order ships today." {
		t.Errorf("#REF answer to A = %q", got.Body)
	}
	g.Settled(t, customerA)
	g.Settled(t, customerB)
	if got := Bodies(sentTo(g, customerA)); len(got) != 2 {
		t.Errorf("A got %q, want the two answers meant for A", got)
	}
	if got := Bodies(sentTo(g, customerB)); len(got) != 0 {
		t.Errorf("B got %q, want nothing", got)
	}
}
