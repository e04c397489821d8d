package test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/keyway-sms/keyway/providers/twilio"
)

const joinConfig = `
automations:
  - id: join
    keywords: [JOIN, "sign up"]
    steps:
      - { type: reply, text: "Welcome {{ contact.phone }}!" }
  - id: cafe
    keywords: ["Café"]
    steps:
      - { type: reply, text: "coffee" }
  - id: exact
    keywords: [PRICE]
    match: exact
    steps:
      - { type: reply, text: "price list" }
`

func TestKeywordRoundTrip(t *testing.T) {
	t.Parallel()
	g := StartGateway(t, joinConfig)
	g.Text(Inbound{From: "+15551230001", Body: "join"})
	sent := g.Twilio.WaitSent(t, 1, patience)
	if sent[0].Body != "Welcome +15551230001!" || sent[0].To != "+15551230001" || sent[0].From != OurSMS {
		t.Fatalf("sent %+v", sent[0])
	}
	if !strings.HasPrefix(sent[0].StatusCallback, PublicURL+"/webhooks/twilio/status?msg=") {
		t.Errorf("status callback %q", sent[0].StatusCallback)
	}
}

func TestMatching(t *testing.T) {
	t.Parallel()
	g := StartGateway(t, joinConfig)
	cases := []struct {
		label, body, want string
	}{
		{"accent folding", "CAFE!", "coffee"},
		{"first word", "Join please", "Welcome +15551230002!"},
		{"multi-word first words", "sign up now", "Welcome +15551230003!"},
		{"exact whole message", "price", "price list"},
	}
	for i, c := range cases {
		t.Run(c.label, func(t *testing.T) {
			from := "+1555123000" + string(rune('1'+i))
			g.Text(Inbound{From: from, Body: c.body})
			Eventually(t, patience, "reply to "+c.body, func() bool {
				for _, m := range g.Twilio.Sent() {
					if m.To == from && m.Body == c.want {
						return true
					}
				}
				return false
			})
		})
	}
	// exact does not match a longer message; nothing else takes it.
	g.Text(Inbound{From: "+15551239999", Body: "price please"})
	// Handled and committed before its 200: a reply would be stored.
	if ms := g.Settled(t, "+15551239999"); len(ms) != 1 {
		t.Fatalf("exact keyword matched a longer message: stored %+v", ms)
	}
	for _, m := range g.Twilio.Sent() {
		if m.To == "+15551239999" {
			t.Fatalf("exact keyword matched a longer message: %+v", m)
		}
	}
}

func TestDuplicateMessageSidRepliesOnce(t *testing.T) {
	t.Parallel()
	g := StartGateway(t, joinConfig)
	for range 3 {
		g.Text(Inbound{SID: "SMdup00000000000000000000000000001", Body: "JOIN"})
	}
	g.Twilio.WaitSent(t, 1, patience)
	// Every post was handled and committed before its 200: once what they
	// queued is done, a second reply would have shown.
	if ms := g.Settled(t, "+15551230001"); len(ms) != 2 {
		t.Fatalf("3 posts of one MessageSid stored %d messages, want the message and its reply: %+v", len(ms), ms)
	}
	if n := len(g.Twilio.Sent()); n != 1 {
		t.Fatalf("3 posts of one MessageSid sent %d replies", n)
	}
}

func TestRefusedWebhooksStoreNothing(t *testing.T) {
	t.Parallel()
	g := StartGateway(t, joinConfig)
	form := g.Form(Inbound{From: "+15551230042", Body: "JOIN"})
	if code, _ := g.PostRaw("/webhooks/twilio", form.Encode(), nil); code != http.StatusForbidden {
		t.Errorf("missing signature: %d, want 403", code)
	}
	if code, _ := g.PostRaw("/webhooks/twilio", form.Encode(), map[string]string{"X-Twilio-Signature": "bm9wZQ=="}); code != http.StatusForbidden {
		t.Errorf("bad signature: %d, want 403", code)
	}
	bad := g.Form(Inbound{From: "+15551230042", Body: "JOIN"})
	bad.Del("MessageSid")
	bad.Del("SmsSid")
	if code, _ := g.PostSigned("/webhooks/twilio", bad); code != http.StatusBadRequest {
		t.Errorf("form without MessageSid: %d, want 400", code)
	}
	// The server answers 413 and closes without reading the rest, so a
	// client still writing may see the connection reset instead of the
	// answer (as the admin API test allows); either way nothing is stored.
	big := g.Form(Inbound{From: "+15551230042", Body: string(make([]byte, 70000))})
	sig := twilio.Sign(g.Twilio.AuthToken, PublicURL+"/webhooks/twilio", big)
	code, _, err := g.TryPostRaw("/webhooks/twilio", big.Encode(), map[string]string{"X-Twilio-Signature": sig})
	switch {
	case err != nil && !strings.Contains(err.Error(), "connection reset") && !strings.Contains(err.Error(), "broken pipe"):
		t.Errorf("oversized body: %v", err)
	case err == nil && code != http.StatusRequestEntityTooLarge:
		t.Errorf("oversized body: %d, want 413", code)
	}
	// Each refusal was answered after the gateway was done with the
	// request: there is nothing to wait for.
	if code := g.Admin(http.MethodGet, "/api/v1/contacts/+15551230042", nil, nil); code != http.StatusNotFound {
		t.Errorf("a refused webhook stored a contact (status %d)", code)
	}
	if n := len(g.Twilio.Sent()); n != 0 {
		t.Errorf("refused webhooks sent %d messages", n)
	}
}

func TestComplianceKeywords(t *testing.T) {
	t.Parallel()
	g := StartGateway(t, joinConfig)
	const from = "+15551230077"
	g.Text(Inbound{From: from, Body: "STOP"})
	g.Twilio.WaitSent(t, 1, patience)
	g.Text(Inbound{From: from, Body: "JOIN"})
	g.Settled(t, from)
	if sent := g.Twilio.Sent(); len(sent) != 1 {
		t.Fatalf("opted-out contact got %v", Bodies(sent))
	}
	g.Text(Inbound{From: from, Body: "start"})
	g.Text(Inbound{From: from, Body: "JOIN"})
	g.Text(Inbound{From: from, Body: "help"})
	sent := g.Twilio.WaitSent(t, 4, patience)
	want := []string{
		"You are unsubscribed. Reply START to resubscribe.",
		"You are resubscribed.",
		"Welcome +15551230077!",
		"Reply STOP to opt out. Msg&data rates may apply.",
	}
	for i, w := range want {
		if sent[i].Body != w {
			t.Errorf("message %d = %q, want %q (all: %q)", i, sent[i].Body, w, Bodies(sent))
		}
	}
}
