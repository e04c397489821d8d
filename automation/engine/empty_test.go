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
