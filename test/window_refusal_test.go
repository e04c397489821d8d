package test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/keyway-sms/keyway/test/fakes"
)

// windowRefusalAutomations are steps whose free-form message the provider
// may refuse as outside the WhatsApp window although keyway saw it open.
const windowRefusalAutomations = `automations:
  - id: ask
    keywords: [ASK]
    steps:
      - { type: reply, text: "What is your order number?", on_error: tell }
      - { type: wait_for_reply, save_as: order }
      - { type: end }
      - { id: tell, type: forward_to_mobile, to: ["+15550100998"], text: "Could not reach {{ contact.phone }} on WhatsApp" }
  - id: update
    keywords: [UPDATE]
    steps:
      - type: reply
        text: "Your order ships today"
        template: { name: order_update, language: en_US, variables: ["{{ contact.phone }}", "{{ message.body }}"] }
`

// enrollmentOf returns the contact's enrollment in automation, or nil.
func enrollmentOf(g *Gateway, automation, contact string) *Enrollment {
	ens := g.Enrollments(automation, contact)
	if len(ens) == 0 {
		return nil
	}
	return &ens[0]
}

// The Graph API refuses a reply with 131047 although the contact wrote a
// moment ago (keyway saw the window open): the reply step takes its
// on_error, which forwards to staff, and the enrollment leaves its wait
// for a reply.
func TestMetaOutsideWindowRefusalTakesOnError(t *testing.T) {
	t.Parallel()
	graph := fakes.NewGraph(t, metaToken)
	g := StartGateway(t, metaSection(graph)+windowRefusalAutomations)
	const contact = "+15551239101"
	graph.FailNext(1, 131047)
	if code := postMeta(t, g, metaSecret, metaHook([]string{metaText("wamid.WR1", contact[1:], "ASK")}, nil)); code != http.StatusOK {
		t.Fatalf("webhook answered %d", code)
	}
	sent := g.Twilio.WaitSent(t, 1, patience)
	if sent[0].To != "+15550100998" || !strings.HasPrefix(sent[0].Body, "Could not reach "+contact+" on WhatsApp") {
		t.Fatalf("sent %s %q, want the on_error forward to staff", sent[0].To, sent[0].Body)
	}
	Eventually(t, patience, "the refused reply failed and the enrollment completed after on_error", func() bool {
		en := enrollmentOf(g, "ask", contact)
		for _, m := range storedMessages(t, g, contact) {
			if m.Body == "What is your order number?" {
				return m.Status == "failed" && en != nil && en.Status == "ended" && en.Step == "tell" && en.EndReason == "completed"
			}
		}
		return false
	})
	if s := graph.Sent(); len(s) != 0 {
		t.Errorf("the Graph API took %+v, want nothing", s)
	}
}

// The Graph API refuses a reply with 131047: the step's template goes to
// the contact in its place, rendered as the step renders it.
func TestMetaOutsideWindowRefusalSendsTheTemplate(t *testing.T) {
	t.Parallel()
	graph := fakes.NewGraph(t, metaToken)
	g := StartGateway(t, metaSection(graph)+windowRefusalAutomations)
	const contact = "+15551239102"
	graph.FailNext(1, 131047)
	if code := postMeta(t, g, metaSecret, metaHook([]string{metaText("wamid.WR2", contact[1:], "UPDATE")}, nil)); code != http.StatusOK {
		t.Fatalf("webhook answered %d", code)
	}
	Eventually(t, patience, "the template sent in place of the refused text", func() bool { return len(graph.Sent()) == 1 })
	s := graph.Sent()[0]
	tmpl, _ := s.Body["template"].(map[string]any)
	if s.Type != "template" || s.To != contact[1:] || tmpl["name"] != "order_update" {
		t.Fatalf("sent %+v, want the template order_update to the contact", s)
	}
	if body := templateParams(tmpl); body != contact+"|UPDATE" {
		t.Errorf("template parameters %q, want %q", body, contact+"|UPDATE")
	}
	Eventually(t, patience, "the text failed and the template sent", func() bool {
		var text, template string
		for _, m := range storedMessages(t, g, contact) {
			switch {
			case m.Direction != "out":
			case m.Body == "Your order ships today":
				text = m.Status
			case m.Body == "":
				template = m.Status
			}
		}
		return text == "failed" && template == "sent"
	})
}

// templateParams joins the body parameters of a Graph API template send.
func templateParams(tmpl map[string]any) string {
	var out []string
	comps, _ := tmpl["components"].([]any)
	for _, c := range comps {
		params, _ := c.(map[string]any)["parameters"].([]any)
		for _, p := range params {
			s, _ := p.(map[string]any)["text"].(string)
			out = append(out, s)
		}
	}
	return strings.Join(out, "|")
}

// Twilio reports 63016 (outside the window) in a failed status: the reply
// step takes its on_error all the same, once however often the report
// comes.
func TestTwilioOutsideWindowStatusTakesOnError(t *testing.T) {
	t.Parallel()
	g := StartGateway(t, windowRefusalAutomations)
	const contact = "+15551239103"
	g.Text(Inbound{From: contact, Channel: "whatsapp", Body: "ASK"})
	sent := g.Twilio.WaitSent(t, 1, patience)
	if sent[0].Body != "What is your order number?" {
		t.Fatalf("sent %q, want the question", sent[0].Body)
	}
	Eventually(t, patience, "the question recorded as sent", func() bool {
		for _, m := range storedMessages(t, g, contact) {
			if m.Body == "What is your order number?" {
				return m.ProviderID == sent[0].SID
			}
		}
		return false
	})
	form := map[string][]string{"MessageSid": {sent[0].SID}, "MessageStatus": {"undelivered"}, "ErrorCode": {"63016"}, "AccountSid": {g.Twilio.AccountSID}}
	for range 2 {
		if code, body := g.PostSigned("/webhooks/twilio/status", form); code != http.StatusOK {
			t.Fatalf("status callback: %d %s", code, body)
		}
	}
	Eventually(t, patience, "the on_error forward to staff", func() bool {
		return len(sentTo(g, "+15550100998")) == 1
	})
	if en := enrollmentOf(g, "ask", contact); en == nil || en.Status != "ended" || en.Step != "tell" {
		t.Fatalf("enrollment %+v, want ended after the on_error step", en)
	}
	if got := sentTo(g, "+15550100998"); len(got) != 1 || !strings.HasPrefix(got[0].Body, "Could not reach "+contact) {
		t.Errorf("sent to staff %+v, want the one on_error forward", got)
	}
}

// A reply with buttons and a template, refused by the Graph API as outside
// the window (131047): the template goes instead, and the contact, who
// never saw the buttons numbered, typing "1" answers with "1", not the
// first button; a tap on the template's own quick-reply button still
// routes by its id.
func TestMetaRefusedChoicesAreForgotten(t *testing.T) {
	t.Parallel()
	graph := fakes.NewGraph(t, metaToken)
	g := StartGateway(t, metaSection(graph)+`automations:
  - id: menu
    keywords: [MENU]
    steps:
      - type: reply
        text: "How can we help?"
        buttons: [ { id: ORDER, title: "My order" }, { id: AGENT, title: "A person" } ]
        template: { name: menu_again, language: en_US }
      - { type: wait_for_reply, save_as: choice, timeout: 1h }
      - { type: reply, text: "You said {{ vars.choice }}" }
  - id: agent
    keywords: [AGENT]
    steps:
      - { type: reply, text: "A person will answer" }
`)
	const contact = "+15551239103"
	graph.FailNext(1, 131047)
	if code := postMeta(t, g, metaSecret, metaHook([]string{metaText("wamid.WR3", contact[1:], "MENU")}, nil)); code != http.StatusOK {
		t.Fatalf("webhook answered %d", code)
	}
	Eventually(t, patience, "the template sent in place of the refused buttons", func() bool { return len(graph.Sent()) == 1 })
	if s := graph.Sent()[0]; s.Type != "template" {
		t.Fatalf("sent %+v, want the template", s)
	}
	if code := postMeta(t, g, metaSecret, metaHook([]string{metaText("wamid.WR4", contact[1:], "1")}, nil)); code != http.StatusOK {
		t.Fatalf("webhook answered %d", code)
	}
	Eventually(t, patience, "the answer to the typed 1", func() bool { return len(graph.Sent()) == 2 })
	if got := graph.Sent()[1].Text(); got != "You said 1" {
		t.Fatalf("answered %q, want %q: the refused buttons must not count", got, "You said 1")
	}
	tap := `{"from":"` + contact[1:] + `","id":"wamid.WR5","timestamp":"1","type":"button","button":{"payload":"AGENT","text":"Talk to us"}}`
	if code := postMeta(t, g, metaSecret, metaHook([]string{tap}, nil)); code != http.StatusOK {
		t.Fatalf("webhook answered %d", code)
	}
	Eventually(t, patience, "the answer to the template's button", func() bool { return len(graph.Sent()) == 3 })
	if got := graph.Sent()[2].Text(); got != "A person will answer" {
		t.Fatalf("answered %q to the template's button AGENT, want %q", got, "A person will answer")
	}
}
