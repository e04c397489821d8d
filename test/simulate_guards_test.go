package test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// keyway simulate shows template sends with their content sid and
// variables, sends the loop guard suppressed with the reason, and sends
// held for quiet hours with the time they are held until.
func TestSimulateShowsTemplatesSuppressedAndHeld(t *testing.T) {
	t.Parallel()
	cfg := filepath.Join(t.TempDir(), "keyway.yaml")
	err := os.WriteFile(cfg, []byte(`
compliance:
  help: { reply: "Acme: reply STOP to opt out." }
  loop_guard: { max: 2, per: 1h }
  quiet_hours: { start: "21:00", end: "08:00", timezone: UTC }
providers:
  twilio:
    numbers:
      - { number: "+15005550006" }
      - { number: "+14155238886", channel: whatsapp }
automations:
  - id: remind
    keywords: [REMIND]
    steps:
      - { type: wait, duration: 2d }
      - { type: reply, text: "Your reminder", template: { content_sid: "HX0123456789abcdef0123456789abcdef", variables: { "1": "{{ contact.phone }}" } } }
      - { type: wait, duration: 12h }
      - { type: reply, text: "Good morning", template: { content_sid: "HX0123456789abcdef0123456789abcdef" } }
  - id: echo
    catch_all: true
    steps:
      - { type: reply, text: "echo {{ message.body }}" }
`), 0o600)
	if err != nil {
		t.Fatal(err)
	}
	script := "REMIND\n/wait 49h\n/wait 13h\none\ntwo\nthree\n/wait 10h\n"
	code, out := Keyway(t, script, "simulate", "--config", cfg, "--channel", "whatsapp")
	if code != 0 {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	for _, want := range []string{
		// Monday 09:00 + 2d: outside the window, the template goes.
		`reply → +15550001111 (whatsapp from +14155238886): template HX0123456789abcdef0123456789abcdef {"1":"+15550001111"}`,
		// Wednesday 21:00: quiet, held until Thursday 08:00, then sent.
		"held for quiet hours until Thu 2026-01-08 08:00 UTC",
		// Answers are not held; two go out, the third is suppressed.
		"echo two\n",
		`reply → +15550001111 (whatsapp from +14155238886): echo three [NOT SENT: loop guard: the contact already got 2 automated messages within 1h0m0s]`,
		// At 08:00 the held reply runs: the contact wrote at 23:00, so
		// the window is open and the text goes.
		"reply → +15550001111 (whatsapp from +14155238886): Good morning\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("simulate output lacks %q:\n%s", want, out)
		}
	}
}
