package test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// keyway simulate shows a handoff opening, the contact's message relayed to
// staff, a staff answer (written with /from as the staff member) and the
// handoff closing.
func TestSimulateShowsHandoffAndStaffRelays(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "handoff.yaml")
	const cfg = `providers: { twilio: { numbers: [ { number: "+15005550006" } ] } }
automations:
  - id: agent
    keywords: [AGENT]
    steps:
      - { type: handoff, to: ["+15550100100"], timeout: 2h }
      - { type: reply, text: "Thanks for talking to us!" }
`
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	script := strings.Join([]string{"AGENT", "my order is late", "/from +15550100100", "On its way", "#done"}, "\n") + "\n"
	code, out := Keyway(t, script, "simulate", "--config", path)
	if code != 0 {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	inOrder(t, out, []string{
		`forward → +15550100100 (from +15005550006): #2W33 From +15550001111: "AGENT"`,
		"[agent step #1] handoff #2W33 opened to +15550100100",
		"handoff #2W33 open with +15550100100 until Mon 2026-01-05 11:00 UTC",
		`forward → +15550100100 (from +15005550006): #2W33 From +15550001111: "my order is late"`,
		"[staff] staff +15550100100 answers #2W33",
		"staff answer → +15550001111 (sms from +15005550006): On its way",
		"[staff] staff +15550100100 closed handoff #2W33",
		"[agent step #1] handoff #2W33 closed by staff",
		"reply → +15550001111 (sms from +15005550006): Thanks for talking to us!",
		"forward → +15550100100 (from +15005550006): #2W33: handoff closed.",
	})
}

// keyway simulate applies the staff answer rule as serve does: with two
// handoffs open with one staff member (the simulator hands each forward to
// the provider at once), plain text is sent to nobody and the staff member
// is asked which conversation; #REF text goes through.
func TestSimulateAsksStaffWhichConversation(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "handoff.yaml")
	const cfg = `providers: { twilio: { numbers: [ { number: "+15005550006" } ] } }
automations:
  - id: agent
    keywords: [AGENT]
    steps:
      - { type: handoff, to: ["+15550100100"], timeout: 2h }
`
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	script := strings.Join([]string{"AGENT", "/from +15550002222", "AGENT please", "/from +15550100100", "On its way", "#2W33 yours"}, "\n") + "\n"
	code, out := Keyway(t, script, "simulate", "--config", path)
	if code != 0 {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	inOrder(t, out, []string{
		"handoff #2W33 opened to +15550100100",
		"handoff #HBSQ opened to +15550100100",
		"[staff] staff +15550100100: not sent, 2 conversations could be meant",
		"forward → +15550100100 (from +15005550006): Not sent: more than one conversation could be meant. Which conversation? Start your answer with #HBSQ (+15550002222) or #2W33 (+15550001111).",
		"staff answer → +15550001111 (sms from +15005550006): yours",
	})
	if strings.Contains(out, "staff answer → +15550002222") || strings.Contains(out, "On its way\n  staff answer") {
		t.Errorf("the ambiguous answer reached a contact:\n%s", out)
	}
}
