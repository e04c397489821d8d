package test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The same keyword starts a different automation on each channel.
func TestKeywordPerChannel(t *testing.T) {
	t.Parallel()
	g := StartGateway(t, `
automations:
  - id: deal-sms
    channel: sms
    keywords: [DEAL]
    steps:
      - { type: reply, text: "SMS deal" }
  - id: deal-whatsapp
    channel: whatsapp
    keywords: [deal]
    steps:
      - { type: reply, text: "WhatsApp deal" }
  - id: wa-only
    channel: whatsapp
    keywords: [MENU]
    steps:
      - { type: reply, text: "WhatsApp menu" }
`)
	g.Text(Inbound{From: customerA, Body: "deal"})
	g.Text(Inbound{From: customerB, Channel: "whatsapp", Body: "DEAL please"})
	if got := waitSentTo(t, g, customerA, 1)[0]; got.Body != "SMS deal" || got.From != OurSMS {
		t.Errorf("SMS DEAL got from %s %q", got.From, got.Body)
	}
	if got := waitSentTo(t, g, "whatsapp:"+customerB, 1)[0]; got.Body != "WhatsApp deal" || got.From != "whatsapp:"+OurWhatsApp {
		t.Errorf("WhatsApp DEAL got from %s %q", got.From, got.Body)
	}
	if ens := g.Enrollments("deal-whatsapp", customerA); len(ens) != 0 {
		t.Errorf("the SMS contact started the WhatsApp automation: %+v", ens)
	}

	// A WhatsApp-only keyword does not match on SMS: the message is stored
	// and nothing else happens.
	g.Text(Inbound{From: customerA, Body: "MENU"})
	Eventually(t, patience, "MENU by SMS stored", func() bool {
		for _, m := range g.Messages(customerA) {
			if m.Direction == "in" && m.Body == "MENU" {
				return true
			}
		}
		return false
	})
	g.Settled(t, customerA)
	if got := Bodies(sentTo(g, customerA)); len(got) != 1 {
		t.Errorf("SMS contact got %q; MENU is a WhatsApp keyword", got)
	}
	if ens := g.Enrollments("wa-only", customerA); len(ens) != 0 {
		t.Errorf("MENU by SMS started wa-only: %+v", ens)
	}
}

// A keyword of an automation without a channel conflicts with the same
// keyword on either channel; validate names both automations and both
// lines. Two channel-specific automations on different channels do not
// conflict.
func TestValidateKeywordConflictPerChannel(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "channels.yaml")
	const cfg = `automations:
  - id: deal-sms
    channel: sms
    keywords: [DEAL]
    steps:
      - { type: reply, text: "a" }
  - id: deal-whatsapp
    channel: whatsapp
    keywords: [DEAL]
    steps:
      - { type: reply, text: "b" }
  - id: deal-any
    keywords: [Deal]
    steps:
      - { type: reply, text: "c" }
  - id: bad
    channel: fax
    steps:
      - { type: reply, text: "d" }
`
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out := Keyway(t, "", "validate", "--config", path)
	if code != 1 {
		t.Fatalf("exit %d, want 1:\n%s", code, out)
	}
	want := []string{
		path + `:13:16: automation "deal-any": keyword "Deal" conflicts with keyword "DEAL" of automation "deal-sms" at ` + path + `:4:16 (both normalise to "deal", both on sms)`,
		path + `:13:16: automation "deal-any": keyword "Deal" conflicts with keyword "DEAL" of automation "deal-whatsapp" at ` + path + `:9:16 (both normalise to "deal", both on whatsapp)`,
		path + `:17:14: automation "bad": channel must be sms or whatsapp, not "fax"`,
	}
	for _, w := range want {
		if !strings.Contains(out, w) {
			t.Errorf("output lacks %q:\n%s", w, out)
		}
	}
	if strings.Count(out, "conflicts with") != 2 {
		t.Errorf("want exactly the two conflicts of deal-any:\n%s", out)
	}
}
