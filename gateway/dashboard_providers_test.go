package gateway

import (
	"testing"

	"github.com/keyway-sms/keyway/automation/engine"
)

// A message's provider id links to Twilio's console, and to nothing for a
// provider without console pages, a message without an id, or an unknown
// provider.
func TestConsoleURL(t *testing.T) {
	tg := newTestGateway(t)
	sid := "SM0123456789abcdef0123456789abcdef"
	cases := []struct {
		label string
		m     *engine.Message
		want  string
	}{
		{"twilio", &engine.Message{Provider: "twilio", ProviderID: sid}, "https://www.twilio.com/console/sms/logs/"},
		{"no id", &engine.Message{Provider: "twilio"}, ""},
		{"not a message sid", &engine.Message{Provider: "twilio", ProviderID: "DEV0123"}, ""},
		{"another provider", &engine.Message{Provider: "vonage", ProviderID: "aaaaaaaa-bbbb-4ccc-8ddd-0123456789ab"}, ""},
		{"no message", nil, ""},
	}
	for _, c := range cases {
		got := tg.g.consoleURL(c.m)
		if c.want == "" && got != "" || c.want != "" && (len(got) < len(c.want) || got[:len(c.want)] != c.want || got[len(got)-len(sid):] != sid) {
			t.Errorf("%s: consoleURL = %q, want %q…", c.label, got, c.want)
		}
	}
}
