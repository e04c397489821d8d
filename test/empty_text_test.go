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
