package twilio_test

import (
	"io"
	"testing"

	"github.com/rs/zerolog"

	"github.com/keyway-sms/keyway/config"
	"github.com/keyway-sms/keyway/providers/twilio"
)

// benchProvider returns a provider with credentials.
func benchProvider(b *testing.B) *twilio.Twilio {
	p, err := twilio.New(config.Twilio{AccountSID: testSID, AuthToken: testToken}, "US", zerolog.New(io.Discard))
	if err != nil {
		b.Fatal(err)
	}
	return p
}

// BenchmarkParseInbound verifies and parses one signed SMS webhook as
// Twilio posts it: the provider's share of a webhook's cost.
func BenchmarkParseInbound(b *testing.B) {
	p := benchProvider(b)
	req := webhook{form: inboundForm()}.request()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := p.ParseInbound(req); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkParseInboundOtherPort is BenchmarkParseInbound for a webhook
// signed with the URL's default port written out, which matches only on the
// second URL tried.
func BenchmarkParseInboundOtherPort(b *testing.B) {
	p := benchProvider(b)
	req := webhook{signURL: "https://sms.example.com:443/webhooks/twilio", form: inboundForm()}.request()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := p.ParseInbound(req); err != nil {
			b.Fatal(err)
		}
	}
}
