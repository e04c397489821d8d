package engine_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/keyway-sms/keyway/automation/engine"
	"github.com/keyway-sms/keyway/automation/sim"
)

// A text whose template renders empty (or to spaces) is not sent, since
// every provider refuses it: it is stored as suppressed with the reason,
// and the enrollment goes on. Media alone is something to send.
func TestEmptyTextIsNotSent(t *testing.T) {
	s := sim.NewSimulator(compileSet(t, `
automations:
  - id: e
    keywords: [GO]
    steps:
      - { type: reply, text: "{{ vars.missing | default: '' }}" }
      - { type: reply, text: " {{ vars.missing }}\n" }
      - { type: reply, text: "{{ vars.missing }}", media: ["https://example.com/a.jpg"] }
      - { type: reply, text: "after" }
`), nil)
	res, err := s.Say(context.Background(), "GO")
	if err != nil {
		t.Fatal(err)
	}
	const why = "nothing to send: the text rendered empty"
	var suppressed []string
	for _, ev := range res.Events {
		if ev.Message != nil && ev.Message.Status == engine.StatusSuppressed {
			if ev.What != "not sent: "+why || ev.Message.Error != why {
				t.Errorf("suppressed %q with %q, want %q", ev.Message.Body, ev.What, why)
			}
			suppressed = append(suppressed, ev.Message.Body)
		}
	}
	if want := []string{"", " \n"}; !slices.Equal(suppressed, want) {
		t.Errorf("suppressed %q, want %q", suppressed, want)
	}
	var sent []string
	for _, m := range res.Sent {
		sent = append(sent, m.Body+" "+strings.Join(m.Media, " "))
	}
	if want := []string{" https://example.com/a.jpg", "after "}; !slices.Equal(sent, want) {
		t.Errorf("sent %q, want %q", sent, want)
	}
}

// A forward or handoff whose custom text renders empty still tells staff
// what came in: it goes with the default text, which quotes the contact's
// message, rather than as a bare reference, and the trace says why.
func TestEmptyForwardTextFallsBackToTheDefault(t *testing.T) {
	s := sim.NewSimulator(compileSet(t, `
automations:
  - id: fwd
    keywords: [FWD]
    steps:
      - { type: forward_to_mobile, to: ["+15550100100"], text: "{{ vars.missing }}" }
  - id: agent
    keywords: [AGENT]
    steps:
      - { type: handoff, to: ["+15550100101"], text: " {{ vars.missing | default: '' }}\n" }
`), nil)
	for _, c := range []struct{ say, to, want string }{
		{"FWD please", "+15550100100", ` From +15550001111: "FWD please"`},
		{"AGENT please", "+15550100101", ` From +15550001111: "AGENT please"` + "\nYou have this conversation: answer here, #done when finished."},
	} {
		res, err := s.Say(context.Background(), c.say)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, m := range res.Sent {
			if slices.Equal(m.To, []string{c.to}) {
				got = append(got, m.Body)
			}
		}
		if len(got) != 1 || !strings.HasPrefix(got[0], "#") || !strings.HasSuffix(got[0], c.want) || len(got[0]) != 1+engine.RefLength+len(c.want) {
			t.Errorf("%s: staff got %q, want \"#REF%s\"", c.say, got, c.want)
		}
		traced := false
		for _, ev := range res.Events {
			traced = traced || strings.HasPrefix(ev.What, "the forward's text rendered empty")
		}
		if !traced {
			t.Errorf("%s: no trace says the text rendered empty", c.say)
		}
	}
}
