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
