package fakeprovider_test

import (
	"io"
	"net/http"
	"testing"

	"github.com/rs/zerolog"

	"github.com/keyway-sms/keyway/config"
	"github.com/keyway-sms/keyway/providers"
	"github.com/keyway-sms/keyway/providers/providertest"
	"github.com/keyway-sms/keyway/test/fakeprovider"
)

const secret = "s3cret"

// The fake test provider through the provider test harness: its wire
// format is its own (fakeprovider's doc comment), unlike Twilio's.
func TestHarness(t *testing.T) {
	build := func(t *testing.T, apiBase string, _ bool) providers.Provider {
		t.Helper()
		src := "providers:\n  fake:\n    secret: " + secret + "\n    send_url: " + apiBase + "/send\n    numbers:\n      - { number: \"+15005550077\", channel: sms }\n"
		cfg, ps := config.Parse("k.yaml", []byte(src), nil)
		if err := ps.Err(); err != nil {
			t.Fatal(err)
		}
		built, err := providers.Build(cfg, zerolog.New(io.Discard))
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range built {
			if p.Name() == fakeprovider.Name {
				return p
			}
		}
		t.Fatal("providers.fake was not built")
		return nil
	}
	in := providers.Inbound{ID: "f1", Channel: config.ChannelSMS, From: "+14155552671", To: "+15005550077", Body: "JOIN",
		Fields: map[string]string{"id": "f1", "from": "+14155552671", "to": "+15005550077", "text": "JOIN"}}
	const body = `{"id":"f1","from":"+14155552671","to":"+15005550077","text":"JOIN"}`
	webhooks := []providertest.WebhookCase{
		{Label: "sms", Path: fakeprovider.InboundPath, Body: body, Messages: []providers.Inbound{in}, Answer: `{"ok":true}`},
		{Label: "duplicate parses to the same id", Path: fakeprovider.InboundPath, Body: body, Repeat: true, Messages: []providers.Inbound{in}},
		{Label: "whatsapp", Path: fakeprovider.InboundPath, Body: `{"id":"f2","from":"+14155552671","to":"+15005550077","text":"hi","channel":"whatsapp"}`,
			Messages: []providers.Inbound{{ID: "f2", Channel: config.ChannelWhatsApp, From: "+14155552671", To: "+15005550077", Body: "hi"}}},
		{Label: "missing signature", Path: fakeprovider.InboundPath, Body: body, Signature: providertest.NoSignature, Status: http.StatusForbidden, ErrContains: fakeprovider.SignatureHeader},
		{Label: "bad signature", Path: fakeprovider.InboundPath, Body: body, Signature: providertest.BadSignature, Status: http.StatusForbidden},
		{Label: "body changed after signing", Path: fakeprovider.InboundPath, Body: body, Tamper: func(string) string { return `{"id":"f1","from":"+14155552671","to":"+15005550077","text":"STOP"}` }, Status: http.StatusForbidden},
		{Label: "not JSON", Path: fakeprovider.InboundPath, Body: `{`, Status: http.StatusBadRequest, ErrContains: "not JSON"},
		{Label: "no id", Path: fakeprovider.InboundPath, Body: `{"from":"+14155552671","to":"+15005550077"}`, Status: http.StatusBadRequest},
		{Label: "unknown channel", Path: fakeprovider.InboundPath, Body: `{"id":"f3","from":"+14155552671","to":"+15005550077","channel":"fax"}`, Status: http.StatusBadRequest, ErrContains: "fax"},
		{Label: "status delivered with keyway's id", Path: fakeprovider.StatusPath + "?msg=01K", Body: `{"id":"p1","state":"delivered"}`,
			Statuses: []providers.Status{{ProviderID: "p1", Status: "delivered", MessageID: "01K"}}},
		{Label: "status opted out", Path: fakeprovider.StatusPath, Body: `{"id":"p1","state":"failed","reason":"recipient_opted_out"}`,
			Statuses: []providers.Status{{ProviderID: "p1", Status: "failed", ErrorMessage: fakeprovider.ReasonOptedOut, OptedOut: true}}},
		{Label: "status bad signature", Path: fakeprovider.StatusPath, Body: `{"id":"p1","state":"delivered"}`, Signature: providertest.BadSignature, Status: http.StatusForbidden},
	}
	m := providers.Outbound{ID: "m1", Channel: config.ChannelSMS, From: "+15005550077", To: "+14155552671", Body: "Welcome", StatusCallback: "https://k.example/webhooks/fake/status?msg=m1"}
	sent := `{"id":"m1","channel":"sms","from":"+15005550077","to":"+14155552671","text":"Welcome","callback":"https://k.example/webhooks/fake/status?msg=m1"}`
	req := []providertest.APIRequest{{Method: http.MethodPost, Path: "/send", Header: map[string]string{"Content-Type": "application/json"}, Body: sent}}
	sends := []providertest.SendCase{
		{Label: "sms", Message: m, Answers: []providertest.Answer{{Body: `{"id":"p1"}`}}, Requests: req, ProviderID: "p1"},
		{Label: "opted out", Message: m, Answers: []providertest.Answer{{Status: 400, Body: `{"reason":"recipient_opted_out"}`}}, Requests: req, Outcome: providertest.OptedOut},
		{Label: "429 retries later", Message: m, Answers: []providertest.Answer{{Status: 429, Body: `{"reason":"slow down"}`}}, Requests: req, Outcome: providertest.RetryLater, CheckCode: true, Status: 429},
		{Label: "500 retries later", Message: m, Answers: []providertest.Answer{{Status: 500, Body: `{}`}}, Requests: req, Outcome: providertest.RetryLater},
		{Label: "other refusal fails", Message: m, Answers: []providertest.Answer{{Status: 400, Body: `{"reason":"bad number"}`}}, Requests: req, Outcome: providertest.Failed, ErrContains: "bad number"},
		{Label: "answer without an id fails", Message: m, Answers: []providertest.Answer{{Body: `{}`}}, Requests: req, Outcome: providertest.Failed, ErrContains: "without an id"},
		{Label: "unreachable retries later", Message: m, Unreachable: true, Outcome: providertest.RetryLater},
	}
	providertest.Run(t, providertest.Suite{
		New: build,
		Sign: func(r *providers.Request) {
			r.Header.Set(fakeprovider.SignatureHeader, fakeprovider.Sign(secret, r.URL, r.Body))
		},
		SignatureHeader: fakeprovider.SignatureHeader,
		Webhooks:        webhooks,
		Sends:           sends,
		Lacks: map[providertest.Kind]string{
			providertest.KindMedia:                              "the fake provider's messages carry no media",
			providertest.KindSendMedia:                          "the fake provider's sends carry no media",
			providertest.KindDevWebhook:                         "the fake provider has no dev mode: it needs its secret and send_url",
			providertest.KindDevSend:                            "the fake provider has no dev mode",
			providertest.SendKind(providertest.MarketingOptOut): "the fake provider has no opt-out of marketing messages only",
			providertest.SendKind(providertest.OutsideWindow):   "the fake provider has no WhatsApp window",
			providertest.SendKind(providertest.Throttled):       "the fake provider's 429 is retried later, not marked throttled",
		},
	})
}
