package test

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const buttonsConfig = `
automations:
  - id: menu
    keywords: [MENU]
    steps:
      - { type: reply, text: "How can we help?", buttons: [ { id: ORDER, title: "My order" }, { id: HOURS, title: "Opening hours" }, { id: AGENT, title: "A person" } ] }
  - id: hours
    keywords: [HOURS]
    steps: [ { type: reply, text: "Open 9-5 ({{ message.button }})" } ]
  - id: agent
    keywords: [AGENT]
    steps: [ { type: reply, text: "A person will call you ({{ message.body }})" } ]
  - id: other
    catch_all: true
    steps: [ { type: reply, text: "Sorry?" } ]
`

const menuNumbered = "How can we help?\n1 My order\n2 Opening hours\n3 A person"

// On SMS the buttons go to Twilio as numbered lines after the text, and
// the contact's "2" starts the automation of the second button's id; the
// choices are remembered in storage, so a restart between the two changes
// nothing.
func TestNumberedChoicesOnSMSRouteByTheChosenID(t *testing.T) {
	t.Parallel()
	g := StartGateway(t, buttonsConfig)
	const from = "+15554440001"
	g.Text(Inbound{From: from, Body: "MENU"})
	if got := repliesTo(t, g, from, 1); got[0] != menuNumbered {
		t.Fatalf("menu sent as %q, want %q", got[0], menuNumbered)
	}
	g.Settled(t, from)
	g.Restart()
	g.Text(Inbound{From: from, Body: "2"})
	if got := repliesTo(t, g, from, 2); got[1] != "Open 9-5 (HOURS)" {
		t.Fatalf("replies %q", got)
	}
	in := g.Messages(from)
	var answer *Message
	for i := range in {
		if in[i].Direction == "in" && in[i].Typed == "2" {
			answer = &in[i]
		}
	}
	if answer == nil || answer.Button != "HOURS" || answer.Body != "Opening hours" {
		t.Fatalf("stored answer %+v, want button HOURS, body \"Opening hours\", typed \"2\"", answer)
	}
	// The offer was answered: a second "2" is plain text.
	g.Text(Inbound{From: from, Body: "2"})
	if got := repliesTo(t, g, from, 3); got[2] != "Sorry?" {
		t.Fatalf("replies %q", got)
	}
}

// HELP between the numbered choices and the answer is answered and picks
// nothing; the "2" after it still picks the second choice.
func TestHelpBetweenChoicesAndTheAnswerLeavesThem(t *testing.T) {
	t.Parallel()
	g := StartGateway(t, buttonsConfig)
	const from = "+15554440005"
	g.Text(Inbound{From: from, Body: "MENU"})
	repliesTo(t, g, from, 1)
	g.Text(Inbound{From: from, Body: "HELP"})
	if got := repliesTo(t, g, from, 2); !strings.Contains(got[1], "STOP") {
		t.Fatalf("HELP was answered %q, want the help reply", got[1])
	}
	g.Text(Inbound{From: from, Body: "2"})
	if got := repliesTo(t, g, from, 3); got[2] != "Open 9-5 (HOURS)" {
		t.Fatalf("the 2 after HELP was answered %q, want the second choice's", got[2])
	}
}

// Numbered choices that never reached the contact, the send refused as
// an invalid number or reported undelivered later, are forgotten: a "2"
// typed after them is plain text.
func TestUndeliveredChoicesAreForgotten(t *testing.T) {
	t.Parallel()
	g := StartGateway(t, buttonsConfig)
	const sendFails, statusFails = "+15554440006", "+15554440007"
	g.Twilio.FailNext(1, 400, 21211)
	g.Text(Inbound{From: sendFails, Body: "MENU"})
	Eventually(t, patience, "the menu's send recorded failed", func() bool {
		ms := g.Messages(sendFails)
		return len(ms) == 2 && ms[0].Status == "failed"
	})

	g.Text(Inbound{From: statusFails, Body: "MENU"})
	sent := g.Twilio.WaitSent(t, 1, patience)
	Eventually(t, patience, "the menu's send recorded", func() bool {
		ms := g.Messages(statusFails)
		return len(ms) == 2 && ms[0].Status == "sent"
	})
	form := map[string][]string{"MessageSid": {sent[0].SID}, "MessageStatus": {"undelivered"}, "ErrorCode": {"30003"}, "AccountSid": {g.Twilio.AccountSID}}
	if code, body := g.PostSigned("/webhooks/twilio/status", form); code != http.StatusOK {
		t.Fatalf("status callback: %d %s", code, body)
	}

	for _, from := range []string{sendFails, statusFails} {
		before := len(repliesToNow(g, from))
		g.Text(Inbound{From: from, Body: "2"})
		got := repliesTo(t, g, from, before+1)
		if last := got[len(got)-1]; last != "Sorry?" {
			t.Errorf("%s: the 2 after the undelivered menu was answered %q, want the catch-all's", from, last)
		}
	}
}

// Twilio WhatsApp without a template gets the numbered text too, and a
// tapped quick-reply button (ButtonPayload) routes by its id, whatever its
// title.
func TestTwilioWhatsAppButtonPayloadRoutesByID(t *testing.T) {
	t.Parallel()
	g := StartGateway(t, buttonsConfig)
	const from = "+15554440002"
	g.Text(Inbound{From: from, Channel: "whatsapp", Body: "menu"})
	got := repliesTo(t, g, "whatsapp:"+from, 1)
	if got[0] != menuNumbered {
		t.Fatalf("menu on WhatsApp sent as %q", got[0])
	}
	// A template's quick-reply button, whose title is none of the menu's.
	g.Text(Inbound{From: from, Channel: "whatsapp", Body: "Talk to someone", Extra: map[string]string{"ButtonPayload": "AGENT", "ButtonText": "Talk to someone"}})
	got = repliesTo(t, g, "whatsapp:"+from, 2)
	if got[1] != "A person will call you (Talk to someone)" {
		t.Fatalf("replies %q", got)
	}
	ens := g.Enrollments("agent", from)
	if len(ens) != 1 {
		t.Fatalf("agent enrollments %+v", ens)
	}
}

// keyway simulate shows the choices numbered and takes a number, a title
// or /button ID.
func TestSimulateShowsChoicesAndTakesANumberATitleOrAButton(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "keyway.yaml")
	if err := os.WriteFile(path, []byte(buttonsConfig), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out := Keyway(t, "MENU\n2\nMENU\nopening hours\nMENU\n/button AGENT\n", "simulate", "--config", path)
	if code != 0 {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	inOrder(t, out, []string{
		"reply → +15550001111 (sms from +15005550006): How can we help?\n    1 My order\n    2 Opening hours\n    3 A person\n",
		`(choice HOURS: "Opening hours")`, "Open 9-5 (HOURS)",
		`(choice HOURS: "Opening hours")`, "Open 9-5 (HOURS)",
		`(choice AGENT: "A person")`, "A person will call you (A person)",
	})
	if strings.Contains(out, "Sorry?") {
		t.Fatalf("a choice fell through to the catch-all:\n%s", out)
	}
}

// On Twilio WhatsApp buttons show only in a content template: a reply with
// buttons and a content_sid sends the template inside the window too, not
// the numbered text, and a tap on its quick-reply button routes by id.
func TestTwilioWhatsAppChoicesGoAsTheirContentTemplate(t *testing.T) {
	t.Parallel()
	g := StartGateway(t, `
automations:
  - id: menu
    keywords: [MENU]
    steps:
      - type: reply
        text: "How can we help?"
        buttons: [ { id: ORDER, title: "My order" }, { id: HOURS, title: "Opening hours" } ]
        template: { content_sid: "HX0123456789abcdef0123456789abcdef", variables: { "1": "{{ contact.phone }}" } }
  - id: hours
    keywords: [HOURS]
    steps: [ { type: reply, text: "Open 9-5 ({{ message.button }})" } ]
`)
	const from = "+15554440003"
	g.Text(Inbound{From: from, Channel: "whatsapp", Body: "MENU"})
	sent := g.Twilio.WaitSent(t, 1, patience)
	if m := sent[0]; m.ContentSID != "HX0123456789abcdef0123456789abcdef" || m.Body != "" || m.To != "whatsapp:"+from ||
		!strings.Contains(m.ContentVariables, from) {
		t.Fatalf("menu on Twilio WhatsApp sent as %+v, want its content template and no text", m)
	}
	g.Text(Inbound{From: from, Channel: "whatsapp", Body: "Opening hours", Extra: map[string]string{"ButtonPayload": "HOURS", "ButtonText": "Opening hours"}})
	if got := repliesTo(t, g, "whatsapp:"+from, 2); got[1] != "Open 9-5 (HOURS)" {
		t.Fatalf("replies %q", got)
	}
	// On SMS the same step has no template to send: the numbered text.
	g.Text(Inbound{From: from, Body: "MENU"})
	if got := repliesTo(t, g, from, 1); got[0] != "How can we help?\n1 My order\n2 Opening hours" {
		t.Fatalf("menu on SMS sent as %q", got[0])
	}
}
