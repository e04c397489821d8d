package test

import (
	"testing"
)

// A reply whose template renders empty is not handed to the provider,
// which would refuse it ("Message body is required"): the message log
// shows it suppressed with the reason, and the next step still sends.
func TestEmptyReplyIsNotSent(t *testing.T) {
	t.Parallel()
	g := StartGateway(t, `
automations:
  - id: e
    keywords: [EMPTY]
    steps:
      - { type: reply, text: "{{ vars.missing | default: '' }}" }
      - { type: reply, text: "after" }
`)
	const from = "+15554440091"
	g.Text(Inbound{From: from, Body: "EMPTY"})
	if got := repliesTo(t, g, from, 1); got[0] != "after" {
		t.Errorf("replies %q, want only \"after\"", got)
	}
	var empty *Message
	for _, m := range g.Messages(from) {
		if m.Direction == "out" && m.Body == "" {
			empty = &m
		}
	}
	if empty == nil || empty.Status != "suppressed" || empty.Error != "nothing to send: the text rendered empty" {
		t.Errorf("the empty reply is stored as %+v, want suppressed, nothing to send", empty)
	}
	if got := repliesToNow(g, from); len(got) != 1 {
		t.Errorf("sent %q, want only \"after\"", got)
	}
}

// A forward or handoff whose custom text renders empty still reaches
// staff with what the contact wrote: the default text, quoting it, and not
// a bare reference that tells them nothing.
func TestEmptyForwardTextSendsTheDefault(t *testing.T) {
	t.Parallel()
	g := StartGateway(t, `
automations:
  - id: fwd
    keywords: [FWD]
    steps:
      - { type: forward_to_mobile, to: ["+12025550110"], text: "{{ vars.missing }}" }
  - id: agent
    keywords: [AGENT]
    steps:
      - { type: handoff, to: ["+12025550111"], text: "{{ vars.missing | default: '' }}" }
`)
	const ann, bob = "+15554440092", "+15554440093"
	g.Text(Inbound{From: ann, Body: "FWD my parcel is late"})
	g.Text(Inbound{From: bob, Body: "AGENT I need a person"})
	for _, c := range []struct{ staff, want string }{
		{"+12025550110", `From ` + ann + `: "FWD my parcel is late"`},
		{"+12025550111", `From ` + bob + `: "AGENT I need a person"` + "\nYou have this conversation: answer here, #done when finished."},
	} {
		got := repliesTo(t, g, c.staff, 1)
		if len(got) != 1 || refOf(t, got[0]) == "" || withoutRef(got[0]) != c.want {
			t.Errorf("staff %s got %q, want \"#REF %s\"", c.staff, got, c.want)
		}
	}
}
