package test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"testing"
)

// adminMessage is a stored message as the admin API shows it, with the
// fields of template sends.
type adminMessage struct {
	Direction        string            `json:"direction"`
	Purpose          string            `json:"purpose"`
	Channel          string            `json:"channel"`
	To               []string          `json:"to"`
	Body             string            `json:"body"`
	Status           string            `json:"status"`
	Error            string            `json:"error"`
	ContentSID       string            `json:"content_sid"`
	ContentVariables map[string]string `json:"content_variables"`
}

// adminMessages returns a contact's stored messages, newest first.
func adminMessages(t *testing.T, g *Gateway, phone string) []adminMessage {
	t.Helper()
	var out struct{ Messages []adminMessage }
	if code := g.Admin(http.MethodGet, "/api/v1/contacts/"+url.PathEscape(phone)+"/messages", nil, &out); code != http.StatusOK {
		t.Fatalf("messages of %s: status %d", phone, code)
	}
	return out.Messages
}

// startBy starts automation id for contacts through the admin API.
func startBy(t *testing.T, g *Gateway, id string, contacts ...string) {
	t.Helper()
	var res struct {
		Started int `json:"started"`
	}
	body := map[string]any{"contacts": contacts}
	if code := g.Admin(http.MethodPost, "/api/v1/automations/"+id+"/enrollments", body, &res); code != http.StatusAccepted || res.Started != len(contacts) {
		t.Fatalf("manual start of %s for %v: %d %+v", id, contacts, code, res)
	}
}

const windowConfig = `
automations:
  - id: promo
    steps:
      - { type: reply, text: "Hello {{ contact.phone }}", template: { content_sid: "HX0123456789abcdef0123456789abcdef", variables: { "1": "{{ contact.phone }}", "2": "{{ automation.id }}" } } }
  - id: bare
    keywords: [BARE]
    steps:
      - { type: reply, text: "Free-form only", on_error: tell }
      - { type: end }
      - { id: tell, type: forward_to_mobile, to: ["+15550100999"], text: "Could not reach {{ contact.phone }} on WhatsApp" }
  - id: lone
    steps:
      - { type: reply, text: "Free-form, no way out" }
`

// A WhatsApp manual start to a contact that never wrote goes out as the
// template, with its variables rendered, to Twilio and in the store.
func TestWhatsAppManualStartUsesTheTemplate(t *testing.T) {
	t.Parallel()
	g := StartGateway(t, windowConfig)
	const contact = "+15551237001"
	startBy(t, g, "promo", "whatsapp:"+contact)
	sent := g.Twilio.WaitSent(t, 1, patience)
	m := sent[0]
	if m.To != "whatsapp:"+contact || m.From != "whatsapp:"+OurWhatsApp {
		t.Fatalf("sent %s → %s, want from our WhatsApp number to the contact on WhatsApp", m.From, m.To)
	}
	if m.ContentSID != "HX0123456789abcdef0123456789abcdef" || m.Body != "" {
		t.Fatalf("sent ContentSid %q body %q, want the template and no body", m.ContentSID, m.Body)
	}
	var vars map[string]string
	if err := json.Unmarshal([]byte(m.ContentVariables), &vars); err != nil {
		t.Fatalf("ContentVariables %q: %v", m.ContentVariables, err)
	}
	if vars["1"] != contact || vars["2"] != "promo" || len(vars) != 2 {
		t.Fatalf("ContentVariables = %v, want 1=%s 2=promo", vars, contact)
	}
	Eventually(t, patience, "the template send stored as sent, with its content sid", func() bool {
		ms := adminMessages(t, g, contact)
		return len(ms) == 1 && ms[0].Status == "sent" && ms[0].ContentSID == m.ContentSID && ms[0].ContentVariables["1"] == contact
	})
}

// Outside the window a reply with no template sends nothing and takes
// on_error, and the enrollment records why; with no on_error the
// enrollment ends with the reason. Inside the window the text goes out
// free-form.
func TestWhatsAppWindowWithoutTemplateTakesOnError(t *testing.T) {
	t.Parallel()
	g := StartGateway(t, windowConfig)
	const contact = "+15551237002"
	startBy(t, g, "bare", "whatsapp:"+contact)
	sent := g.Twilio.WaitSent(t, 1, patience)
	// The forward to staff carries the conversation's reference on a line
	// of its own.
	if sent[0].To != "+15550100999" || !regexp.MustCompile(`^Could not reach `+regexp.QuoteMeta(contact)+` on WhatsApp\n#[A-Z0-9]{4}$`).MatchString(sent[0].Body) {
		t.Fatalf("sent %s %q, want the on_error forward to staff", sent[0].To, sent[0].Body)
	}
	// The forward went after the reply step decided, in the same turn:
	// nothing was sent, nor stored, for the contact.
	if got := sentTo(g, "whatsapp:"+contact); len(got) != 0 {
		t.Fatalf("sent to the contact outside the window: %+v", got)
	}
	for _, m := range adminMessages(t, g, contact) {
		if m.To[0] == contact {
			t.Fatalf("stored a message to the contact outside the window: %+v", m)
		}
	}
	ens := g.Enrollments("bare", "whatsapp:"+contact)
	if len(ens) != 1 || ens[0].EndReason != "completed" || ens[0].LastError != "step #1 (reply): outside the WhatsApp 24-hour window" {
		t.Errorf("enrollments %+v, want one completed through on_error with the reason of step #1", ens)
	}
	const lone = "+15551237005"
	startBy(t, g, "lone", "whatsapp:"+lone)
	Eventually(t, patience, "lone's enrollment ended", func() bool {
		ens := g.Enrollments("lone", "whatsapp:"+lone)
		return len(ens) == 1 && ens[0].Status == "ended"
	})
	if en := g.Enrollments("lone", "whatsapp:"+lone)[0]; en.EndReason != "outside the WhatsApp 24-hour window" || en.LastError != "" {
		t.Errorf("without on_error the enrollment ended with %q (last error %q), want the reason", en.EndReason, en.LastError)
	}

	// Once the contact writes on WhatsApp, the window is open: the text goes.
	const other = "+15551237003"
	g.Text(Inbound{From: other, Channel: "whatsapp", Body: "BARE"})
	Eventually(t, patience, "the free-form reply inside the window", func() bool {
		got := sentTo(g, "whatsapp:"+other)
		return len(got) == 1 && got[0].Body == "Free-form only" && got[0].ContentSID == ""
	})
}

// Inside the window a reply with a text sends the text, not the template.
func TestWhatsAppInsideTheWindowSendsText(t *testing.T) {
	t.Parallel()
	g := StartGateway(t, windowConfig+`
  - id: hi
    keywords: [HI]
    steps:
      - { type: reply, text: "Hi there", template: { content_sid: "HX0123456789abcdef0123456789abcdef" } }
`)
	const contact = "+15551237004"
	g.Text(Inbound{From: contact, Channel: "whatsapp", Body: "HI"})
	sent := g.Twilio.WaitSent(t, 1, patience)
	if sent[0].Body != "Hi there" || sent[0].ContentSID != "" || sent[0].To != "whatsapp:"+contact {
		t.Fatalf("sent %+v, want the text on WhatsApp", sent[0])
	}
	// The manual start within the window sends promo's text too.
	startBy(t, g, "promo", "whatsapp:"+contact)
	sent = g.Twilio.WaitSent(t, 2, patience)
	if sent[1].Body != "Hello "+contact || sent[1].ContentSID != "" {
		t.Fatalf("sent %+v, want promo's text inside the window", sent[1])
	}
}
