package test

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

const optOutReply = "You are unsubscribed. Reply START to resubscribe."

const complianceConfig = `
automations:
  - id: opt
    keywords: [OPT]
    steps:
      - { type: reply, text: "opt keyword" }
  - id: ping
    keywords: [PING]
    steps:
      - { type: reply, text: "pong" }
`

// A second opt-out word is stored and answered with nothing: the contact
// gets one confirmation. The absence is proven by a HELP sent after it
// whose reply arrives, with only one opt-out reply before it.
func TestRepeatedOptOutIsConfirmedOnce(t *testing.T) {
	t.Parallel()
	g := StartGateway(t, complianceConfig)
	const from = "+15551240001"
	g.Text(Inbound{From: from, Body: "STOP"})
	g.Twilio.WaitSent(t, 1, 10*time.Second)
	g.Text(Inbound{From: from, Body: "STOP"})
	g.Text(Inbound{From: from, Body: "stop all"})
	g.Text(Inbound{From: from, Body: "HELP"})
	sent := g.Twilio.WaitSent(t, 2, 10*time.Second)
	want := []string{optOutReply, "Reply STOP to opt out. Msg&data rates may apply."}
	if got := repliesToNow(g, from); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("sent to the contact %q, want %q (all sent: %q)", got, want, Bodies(sent))
	}

	// The store agrees: every inbound is recorded, one opt-out reply exists.
	var in []string
	optOuts := 0
	for _, m := range g.Messages(from) {
		switch {
		case m.Direction == "in":
			in = append(in, m.Body)
		case m.Body == optOutReply:
			optOuts++
		}
	}
	if len(in) != 4 || optOuts != 1 {
		t.Errorf("stored inbound %q and %d opt-out replies; want 4 inbound and 1 reply", in, optOuts)
	}
	if !g.Contact(from).Contact.OptedOut {
		t.Error("contact is not opted out")
	}
}

// The multi-word defaults of TCPA's list opt out, whatever their case and
// spacing, and win over a first_word keyword that is their first word.
func TestMultiWordOptOutWords(t *testing.T) {
	t.Parallel()
	g := StartGateway(t, complianceConfig)
	for i, body := range []string{"STOP ALL", "stop all", "OPT OUT", "opt out", "Opt  out!"} {
		from := "+1555124010" + string(rune('0'+i))
		g.Text(Inbound{From: from, Body: body})
		got := repliesTo(t, g, from, 1)
		if got[0] != optOutReply {
			t.Errorf("%q: replied %q, want the opt-out reply", body, got[0])
		}
		if !g.Contact(from).Contact.OptedOut {
			t.Errorf("%q: contact not opted out", body)
		}
	}
	// "opt in" is no compliance word: the OPT keyword takes it.
	g.Text(Inbound{From: "+15551240199", Body: "opt in"})
	if got := repliesTo(t, g, "+15551240199", 1); got[0] != "opt keyword" {
		t.Errorf(`"opt in": replied %q, want the OPT keyword's reply`, got[0])
	}
}

// An automation keyword equal to a multi-word compliance word is refused,
// by validate and by the API reload, however it is spelt.
func TestMultiWordComplianceKeywordConflicts(t *testing.T) {
	t.Parallel()
	g := StartGateway(t, complianceConfig)
	g.WriteConfig(complianceConfig + `  - id: leave
    keywords: ["Opt  Out", "stop all!"]
    steps:
      - { type: reply, text: "bye" }
`)
	code, out := Keyway(t, "", "validate", "--config", g.Config)
	if code != 1 {
		t.Fatalf("validate exit %d, want 1:\n%s", code, out)
	}
	for _, w := range []string{
		`automation "leave": keyword "Opt  Out" is a compliance keyword (opt_out)`,
		`automation "leave": keyword "stop all!" is a compliance keyword (opt_out)`,
	} {
		if !strings.Contains(out, w) {
			t.Errorf("validate output lacks %q:\n%s", w, out)
		}
	}
	if code := g.Admin(http.MethodPost, "/api/v1/reload", nil, nil); code != http.StatusUnprocessableEntity {
		t.Errorf("reload: %d, want 422", code)
	}
}
