package twilio_test

import (
	"io"
	"net/http"
	"net/url"
	"slices"
	"testing"

	"github.com/rs/zerolog"

	"github.com/keyway-sms/keyway/config"
	"github.com/keyway-sms/keyway/providers"
	"github.com/keyway-sms/keyway/providers/twilio"
	_ "github.com/keyway-sms/keyway/providers/vonage" // a provider beside Twilio
)

// The status callback carries the opt-out as a typed flag, so that the
// engine never needs to know Twilio's 21610.
func TestParseStatusOptedOut(t *testing.T) {
	form := url.Values{
		"AccountSid": {testSID}, "MessageSid": {"SM33333333333333333333333333333333"},
		"MessageStatus": {"failed"}, "To": {"+14155552671"}, "From": {"+15005550006"},
	}
	tests := []struct {
		name string
		code string
		want bool
	}{
		{"21610 unsubscribed recipient", "21610", true},
		{"30003 unreachable handset", "30003", false},
		{"no error code", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := with(form, "ErrorCode", tt.code)
			got, err := newProvider(t, false, "").ParseStatus(webhook{form: f}.request())
			if err != nil {
				t.Fatal(err)
			}
			if got.OptedOut != tt.want {
				t.Errorf("OptedOut = %v, want %v (status %+v)", got.OptedOut, tt.want, got)
			}
		})
	}
}

func TestRegistered(t *testing.T) {
	if !slices.Contains(providers.Registered(), twilio.Name) {
		t.Fatalf("twilio is not registered: %v", providers.Registered())
	}
	tests := []struct {
		name   string
		src    string
		notice bool
	}{
		{"credentials", "providers:\n  twilio: { account_sid: AC1, auth_token: tok }\n", false},
		{"no providers section: dev mode", "automations: []\n", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, ps := config.Parse("k.yaml", []byte(tt.src), nil)
			if err := ps.Err(); err != nil {
				t.Fatal(err)
			}
			built, err := providers.Build(cfg, zerolog.New(io.Discard))
			if err != nil {
				t.Fatal(err)
			}
			if len(built) != 1 || built[0].Name() != twilio.Name {
				t.Fatalf("Build = %v, want twilio alone", built)
			}
			p := built[0]
			if got := p.DevNotice() != ""; got != tt.notice {
				t.Errorf("DevNotice() = %q", p.DevNotice())
			}
			want := []providers.Route{
				{Method: http.MethodPost, Path: "/webhooks/twilio", Kind: providers.RouteInbound},
				{Method: http.MethodPost, Path: "/webhooks/twilio/status", Kind: providers.RouteStatus},
			}
			routes := p.Routes()
			if len(routes) != len(want) {
				t.Fatalf("Routes() = %+v", routes)
			}
			for i, r := range routes {
				if r.Method != want[i].Method || r.Path != want[i].Path || r.Kind != want[i].Kind {
					t.Errorf("route %d = %+v, want %+v", i, r, want[i])
				}
				if r.ContentType != "text/xml" || r.Answer != `<Response/>` {
					t.Errorf("route %d answers %s %q, want an empty TwiML document", i, r.ContentType, r.Answer)
				}
			}
		})
	}
}

// Twilio is left out of a config that sets up another provider and gives
// Twilio neither credentials nor numbers: it is not mounted, and says
// nothing of dev mode.
func TestLeftOutBesideAnotherProvider(t *testing.T) {
	tests := []struct {
		name, src string
		want      []string
	}{
		{"vonage alone", "providers:\n  vonage:\n    numbers: [{ number: \"+447700900123\" }]\n", []string{"vonage"}},
		{"vonage and twilio numbers", "providers:\n  twilio:\n    numbers: [{ number: \"+15005550006\", channel: sms }]\n  vonage:\n    numbers: [{ number: \"+447700900123\" }]\n", []string{"twilio", "vonage"}},
		{"vonage and twilio credentials", "providers:\n  twilio: { account_sid: AC1, auth_token: tok }\n  vonage:\n    numbers: [{ number: \"+447700900123\" }]\n", []string{"twilio", "vonage"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, ps := config.Parse("k.yaml", []byte(tt.src), nil)
			if err := ps.Err(); err != nil {
				t.Fatal(err)
			}
			built, err := providers.Build(cfg, zerolog.New(io.Discard))
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, p := range built {
				names = append(names, p.Name())
			}
			if !slices.Equal(names, tt.want) {
				t.Errorf("Build = %v, want %v", names, tt.want)
			}
		})
	}
}
