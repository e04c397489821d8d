package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// whatsappFromConfig answers DEAL differently on each channel, so that the
// channel a contact writes on shows in the reply.
const whatsappFromConfig = `
providers:
  twilio:
    numbers:
      - { number: "+15005550006", channel: sms }
      - { number: "+14155238886", channel: whatsapp }
automations:
  - id: sms_deal
    channel: sms
    keywords: [DEAL]
    steps:
      - { type: reply, text: "sms deal" }
  - id: wa_deal
    channel: whatsapp
    keywords: [DEAL]
    steps:
      - { type: reply, text: "wa deal" }
`

// writeWhatsAppFromConfig writes whatsappFromConfig into a temp dir and
// returns its path.
func writeWhatsAppFromConfig(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "keyway.yaml")
	if err := os.WriteFile(path, []byte(whatsappFromConfig), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// A contact written as Twilio writes a WhatsApp address, "whatsapp:+1…",
// is that contact on WhatsApp: the prefix is not dropped for an SMS
// contact. With the other channel named as well, it is a mistake to say.
func TestSimulateFromWhatsAppAddress(t *testing.T) {
	cfg := writeWhatsAppFromConfig(t)
	tests := []struct {
		label string
		args  []string
		code  int
		want  string
	}{
		{"prefix", []string{"--from", "whatsapp:+15551234567"}, 0, "wa deal"},
		{"prefix and the same channel", []string{"--from", "whatsapp:+15551234567", "--channel", "whatsapp"}, 0, "wa deal"},
		{"no prefix", []string{"--from", "+15551234567"}, 0, "sms deal"},
		{"prefix and sms", []string{"--from", "whatsapp:+15551234567", "--channel", "sms"}, 2, "--from whatsapp:+15551234567 is a WhatsApp address, but --channel is sms"},
	}
	for _, tc := range tests {
		t.Run(tc.label, func(t *testing.T) {
			var out, errOut bytes.Buffer
			code := run(append([]string{"simulate", cfg}, tc.args...), strings.NewReader("deal\n"), &out, &errOut)
			if code != tc.code || !strings.Contains(out.String()+errOut.String(), tc.want) {
				t.Errorf("exit %d, want %d with %q:\n%s%s", code, tc.code, tc.want, out.String(), errOut.String())
			}
		})
	}

	// /from takes the prefix too, and a plain number keeps the channel.
	var out, errOut bytes.Buffer
	in := "/from whatsapp:+15551234568\ndeal\n/from +15551234569\ndeal\n"
	if code := run([]string{"simulate", cfg}, strings.NewReader(in), &out, &errOut); code != 0 {
		t.Fatalf("exit %d:\n%s%s", code, out.String(), errOut.String())
	}
	if got := strings.Count(out.String(), "wa deal"); got != 2 {
		t.Errorf("%d WhatsApp replies after /from whatsapp:+…, want 2:\n%s", got, out.String())
	}
}

// A test's from may be written as a WhatsApp address: the test then runs
// on WhatsApp, and naming channel sms beside it is a problem of the file.
func TestKeywayTestFromWhatsAppAddress(t *testing.T) {
	cfg := writeWhatsAppFromConfig(t)
	path := filepath.Join(filepath.Dir(cfg), "keyway_test.yaml")
	write := func(tests string) {
		t.Helper()
		if err := os.WriteFile(path, []byte("config: keyway.yaml\n"+tests), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(`tests:
  - name: on whatsapp
    from: "whatsapp:+15551234567"
    turns:
      - send: deal
        expect: { replies: ["wa deal"] }
  - name: on whatsapp, said twice
    from: "whatsapp:+15551234567"
    channel: whatsapp
    turns:
      - send: deal
        expect: { replies: ["wa deal"] }
`)
	var out, errOut bytes.Buffer
	if code := run([]string{"test", path}, strings.NewReader(""), &out, &errOut); code != 0 {
		t.Errorf("exit %d, want 0:\n%s%s", code, out.String(), errOut.String())
	}

	write(`tests:
  - name: both
    from: "whatsapp:+15551234567"
    channel: sms
    turns:
      - send: deal
`)
	out.Reset()
	errOut.Reset()
	code := run([]string{"test", path}, strings.NewReader(""), &out, &errOut)
	want := `keyway_test.yaml:3:5: test "both": from "whatsapp:+15551234567" is a WhatsApp address, but channel is sms`
	if code != 2 || !strings.Contains(out.String()+errOut.String(), want) {
		t.Errorf("exit %d, want 2 with %q:\n%s%s", code, want, out.String(), errOut.String())
	}
}
