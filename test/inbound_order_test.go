package test

import (
	"fmt"
	"strings"
	"testing"
)

const helpReply = "Reply STOP to opt out. Msg&data rates may apply."

const inboundOrderConfig = `
staff:
  - { number: "+15550100100", name: "Ann" }
automations:
  - id: q1
    keywords: [Q1]
    steps:
      - { type: reply, text: "q1?" }
      - { type: wait_for_reply, timeout: 24h, save_as: a }
      - { type: reply, text: "q1 got {{ vars.a }}" }
  - id: q2
    keywords: [Q2]
    steps:
      - { type: reply, text: "q2?" }
      - { type: wait_for_reply, timeout: 24h, save_as: a }
      - { type: reply, text: "q2 got {{ vars.a }}" }
  - id: agent
    keywords: [AGENT]
    steps:
      - { type: handoff, to: ["+15550100100"], timeout: 1h }
  - id: fwd
    keywords: [FWD]
    steps:
      - { type: forward_to_mobile, to: ["(555) 010-0199"] }
  - id: support
    catch_all: true
    steps:
      - { type: reply, text: "catch-all" }
`

// Compliance words match the whole message after normalisation, whatever
// its case, accents, width and punctuation; HELP is answered also while
// opted out; an opt-in word from a contact that has not opted out goes on
// down the list; a compliance word with more after it is no compliance
// word.
func TestComplianceWordsWhateverTheSpelling(t *testing.T) {
	t.Parallel()
	g := StartGateway(t, inboundOrderConfig)
	optIns := []string{"start", "Unstop", "YES!", "Start."}
	for i, body := range []string{"Stop", "  stop. ", "ＳＴＯＰ", "Stöp", "UNSUBSCRIBE!", "Cancel", "end", "quit", "OptOut", "revoke", "STOPALL", "¡STOP!"} {
		from := fmt.Sprintf("+155512500%02d", i)
		g.Text(Inbound{From: from, Body: body})
		if got := repliesTo(t, g, from, 1); got[0] != optOutReply || !g.Contact(from).Contact.OptedOut {
			t.Errorf("%q: replied %q, opted out %v", body, got[0], g.Contact(from).Contact.OptedOut)
		}
		in := optIns[i%len(optIns)]
		g.Text(Inbound{From: from, Body: in})
		if got := repliesTo(t, g, from, 2); got[1] != "You are resubscribed." || g.Contact(from).Contact.OptedOut {
			t.Errorf("%q after %q: replied %q, opted out %v", in, body, got[1], g.Contact(from).Contact.OptedOut)
		}
	}
	for i, body := range []string{"help", "Info?", "HÉLP"} {
		from := fmt.Sprintf("+155512600%02d", i)
		g.Text(Inbound{From: from, Body: body})
		if got := repliesTo(t, g, from, 1); got[0] != helpReply {
			t.Errorf("%q: replied %q, want the help reply", body, got[0])
		}
	}

	const optedOut, fresh, wordy = "+15551269998", "+15551269997", "+15551269999"
	g.Text(Inbound{From: optedOut, Body: "STOP"})
	repliesTo(t, g, optedOut, 1)
	g.Text(Inbound{From: optedOut, Body: "HELP"})
	if got := repliesTo(t, g, optedOut, 2); got[1] != helpReply {
		t.Errorf("HELP while opted out: replied %q", got)
	}
	g.Text(Inbound{From: fresh, Body: "START"})
	g.Text(Inbound{From: wordy, Body: "stop please"})
	for _, from := range []string{fresh, wordy} {
		g.Settled(t, from)
		if got := repliesToNow(g, from); len(got) != 1 || got[0] != "catch-all" {
			t.Errorf("%s got %q, want only the catch-all's reply", from, got)
		}
	}
}

// Of two enrollments at wait_for_reply, the most recent resumes first.
// Compliance words come first whatever the contact is doing: HELP leaves
// the wait as it is, and "Yes" from a contact that has not opted out is
// an answer.
func TestMostRecentWaitForReplyResumes(t *testing.T) {
	t.Parallel()
	g := StartGateway(t, inboundOrderConfig)
	const from = "+15551310001"
	steps := []struct{ send, want string }{
		{"Q1", "q1?"}, {"Q2", "q2?"}, {"help", helpReply}, {"Yes", "q2 got Yes"}, {"later", "q1 got later"},
	}
	for i, s := range steps {
		g.Text(Inbound{From: from, Body: s.send})
		if got := repliesTo(t, g, from, i+1); got[i] != s.want {
			t.Fatalf("%q answered %q, want %q", s.send, got[i], s.want)
		}
	}
}

// A number only a forward_to_mobile step sends to is staff: its text is
// an answer, never a keyword. In an open handoff compliance words still
// come first: HELP is answered, not relayed, and STOP ends the handoff:
// staff are told it closed, and an answer after it that the contact opted
// out.
func TestForwardTargetIsStaffAndHandoffHearsComplianceFirst(t *testing.T) {
	t.Parallel()
	g := StartGateway(t, inboundOrderConfig)
	const a, b, bob = "+15551290001", "+15551290002", "+15550100199"
	g.Text(Inbound{From: a, Body: "FWD where is my order"})
	waitSentTo(t, g, bob, 1)
	g.Text(Inbound{From: bob, Body: "Q1 ships tomorrow"})
	if got := waitSentTo(t, g, a, 1)[0]; got.Body != "Q1 ships tomorrow" {
		t.Errorf("the forward target's text reached the contact as %q", got.Body)
	}
	if ens := g.Enrollments("q1", bob); len(ens) != 0 {
		t.Errorf("the forward target was enrolled by its text: %+v", ens)
	}

	g.Text(Inbound{From: b, Body: "AGENT"})
	ref := refOf(t, waitSentTo(t, g, staffAnn, 1)[0].Body)
	g.Text(Inbound{From: b, Body: "Help!"})
	if got := repliesTo(t, g, b, 1); got[0] != helpReply {
		t.Errorf("HELP in a handoff answered %q", got[0])
	}
	g.Text(Inbound{From: b, Body: "Q1"})
	if relay := waitSentTo(t, g, staffAnn, 2)[1]; relay.Body != "#"+ref+` From +15551290002: "Q1"` {
		t.Errorf("a keyword in a handoff was relayed as %q", relay.Body)
	}
	g.Text(Inbound{From: b, Body: "stop"})
	if got := repliesTo(t, g, b, 2); got[1] != optOutReply {
		t.Errorf("STOP in a handoff answered %q", got[1])
	}
	if open := handoffs(t, g); len(open) != 0 {
		t.Errorf("after STOP, open handoffs = %+v", open)
	}
	if note := waitSentTo(t, g, staffAnn, 3)[2]; note.Body != "#"+ref+": handoff closed: the contact opted out." {
		t.Errorf("staff were told of the STOP %q", note.Body)
	}
	g.Text(Inbound{From: staffAnn, Body: "hello?"})
	if note := waitSentTo(t, g, staffAnn, 4)[3]; !strings.Contains(note.Body, "opted out") {
		t.Errorf("staff answering the opted-out contact were told %q", note.Body)
	}
	g.Settled(t, b)
	if got := repliesToNow(g, b); len(got) != 2 {
		t.Errorf("the contact got %q, want the help and opt-out replies only", got)
	}
}
