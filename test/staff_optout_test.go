package test

import (
	"slices"
	"testing"
)

// A staff member who texts STOP is opted out like anyone: the forwards
// the automations make to them are stored as suppressed and not sent,
// until they text START.
func TestStaffWhoOptedOutGetsNoForwards(t *testing.T) {
	t.Parallel()
	g := StartGateway(t, staffConfig)

	g.Text(Inbound{From: staffAnn, Body: "STOP"})
	if got := waitSentTo(t, g, staffAnn, 1)[0]; got.Body != optOutReply {
		t.Fatalf("STOP from staff answered %q", got.Body)
	}
	g.Text(Inbound{From: customerA, Body: "Anyone there?"})
	forward := func(body string) Message {
		t.Helper()
		for _, m := range g.Settled(t, customerA) {
			if m.Direction == "out" && slices.Contains(m.To, staffAnn) && m.Purpose == "forward" && withoutRef(m.Body) == `From +15551230001: "`+body+`"` {
				return m
			}
		}
		t.Fatalf("no forward of %q stored", body)
		return Message{}
	}
	if m := forward("Anyone there?"); m.Status != "suppressed" || m.Error == "" {
		t.Errorf("forward to the opted-out staff member: status %s (%q), want suppressed with the reason", m.Status, m.Error)
	}

	g.Text(Inbound{From: staffAnn, Body: "START"})
	waitSentTo(t, g, staffAnn, 2)
	g.Text(Inbound{From: customerA, Body: "Hello again"})
	if got := waitSentTo(t, g, staffAnn, 3)[2]; withoutRef(got.Body) != `From +15551230001: "Hello again"` {
		t.Errorf("after START staff got %q, want the forward", got.Body)
	}
	if got := Bodies(sentTo(g, staffAnn)); len(got) != 3 {
		t.Errorf("staff got %q, want the two compliance replies and one forward", got)
	}
}

// A handoff that ends because the contact texted STOP tells its staff
// once, from the number the handoff's forwards came from (not the one the
// STOP came to), so that they stop answering; an answer after it is told
// it cannot go.
func TestHandoffEndedByOptOutTellsStaff(t *testing.T) {
	t.Parallel()
	g := startWithPacedNumber(t, queuedForwardConfig)
	g.Text(Inbound{From: customerA, Body: "AGENT"})
	fwd := waitSentTo(t, g, staffAnn, 1)[0]
	ref := refOf(t, fwd.Body)
	if fwd.From != OurSMS {
		t.Fatalf("the handoff's forward came from %s, want %s", fwd.From, OurSMS)
	}

	g.Text(Inbound{From: customerA, To: pacedSMS, Body: "STOP"})
	note := waitSentTo(t, g, staffAnn, 2)[1]
	if want := "#" + ref + ": handoff closed: the contact opted out."; note.Body != want || note.From != OurSMS {
		t.Errorf("note to Ann = from %s %q, want from %s %q", note.From, note.Body, OurSMS, want)
	}
	if open := handoffs(t, g); len(open) != 0 {
		t.Errorf("after STOP, open handoffs = %+v", open)
	}
	if got := waitSentTo(t, g, customerA, 1)[0]; got.Body != optOutReply || got.From != pacedSMS {
		t.Errorf("the contact got from %s %q, want the opt-out reply from %s", got.From, got.Body, pacedSMS)
	}

	g.Text(Inbound{From: customerA, To: pacedSMS, Body: "STOP"}) // again: nothing more for anyone
	g.Text(Inbound{From: staffAnn, Body: "#" + ref + " Are you still there?"})
	if got := waitSentTo(t, g, staffAnn, 3)[2]; got.Body != "#"+ref+" not delivered: the contact opted out." {
		t.Errorf("Ann's answer after the opt-out was answered %q", got.Body)
	}
	g.Settled(t, customerA)
	g.Settled(t, staffAnn)
	if got := Bodies(sentTo(g, staffAnn)); len(got) != 3 {
		t.Errorf("Ann got %q, want the forward, one note of the close, and the answer's note", got)
	}
	if got := Bodies(sentTo(g, customerA)); len(got) != 1 {
		t.Errorf("the contact got %q, want only the opt-out reply", got)
	}
}
