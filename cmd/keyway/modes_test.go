package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// validate says which provider runs in dev mode and why, and a short admin
// token is refused as soon as one provider runs live, whichever it is.
func TestValidateSaysWhichProviderRunsInDevMode(t *testing.T) {
	const (
		twilioLive = "  twilio:\n    account_sid: \"AC00000000000000000000000000000000\"\n    auth_token: \"tok\"\n    numbers: [{ number: \"+15005550006\", channel: sms }]\n"
		twilioDev  = "  twilio:\n    numbers: [{ number: \"+15005550006\", channel: sms }]\n"
		vonageLive = "  vonage:\n    api_key: k\n    api_secret: s\n    signature_secret: sig\n    numbers: [{ number: \"+447700900123\" }]\n"
		vonageDev  = "  vonage:\n    numbers: [{ number: \"+447700900123\" }]\n"
		metaDev    = "  meta:\n    numbers: [{ number: \"+15550001234\", phone_number_id: \"106540352242922\" }]\n"
		metaLive   = "  meta:\n    app_secret: a\n    access_token: t\n    numbers: [{ number: \"+15550001234\", phone_number_id: \"106540352242922\" }]\n"
	)
	cases := []struct {
		label, token, providers, want string
	}{
		{"nothing configured", "a-long-enough-admin-token", "", "; dev mode (no Twilio credentials)\n"},
		{"twilio live", "a-long-enough-admin-token", twilioLive, "; live\n"},
		{"vonage alone, dev", "short", vonageDev, "; dev mode (no Vonage credentials)\n"},
		{"vonage alone, live", "a-long-enough-admin-token", vonageLive, "; live\n"},
		{"meta alone, dev", "short", metaDev, "; dev mode (no Meta app secret or access token)\n"},
		{"twilio live, vonage dev", "a-long-enough-admin-token", twilioLive + vonageDev, "; twilio live, vonage in dev mode (no Vonage credentials)\n"},
		{"twilio dev, meta live", "a-long-enough-admin-token", twilioDev + metaLive, "; twilio in dev mode (no Twilio credentials), meta live\n"},
		{"all dev take a short token", "short", twilioDev + vonageDev + metaDev,
			"; twilio in dev mode (no Twilio credentials), vonage in dev mode (no Vonage credentials), meta in dev mode (no Meta app secret or access token)\n"},
		{"a live vonage refuses a short token", "short", vonageLive + metaDev, "admin.token: too short to resist guessing (length 5)"},
		{"a live meta refuses a short token", "short", vonageDev + metaLive, "admin.token: too short to resist guessing (length 5)"},
	}
	for _, c := range cases {
		t.Run(c.label, func(t *testing.T) {
			src := "server:\n  public_url: \"https://sms.example.com\"\nadmin:\n  token: \"" + c.token + "\"\n" +
				"compliance:\n  help: { reply: \"Acme: reply STOP to opt out.\" }\n"
			if c.providers != "" {
				src += "providers:\n" + c.providers
			}
			src += "automations:\n  - id: x\n    keywords: [X]\n    steps:\n      - { type: reply, text: hi }\n"
			path := filepath.Join(t.TempDir(), "keyway.yaml")
			if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
				t.Fatal(err)
			}
			code, out, errOut := runCLI("validate", path)
			if !strings.Contains(out+errOut, c.want) {
				t.Fatalf("exit %d, want %q in:\n%s%s", code, c.want, out, errOut)
			}
			if strings.HasPrefix(c.want, "admin.token") != (code == 1) {
				t.Errorf("exit %d", code)
			}
		})
	}
}
