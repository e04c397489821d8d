package twilio_test

import (
	"errors"
	"io"
	"net/http"
	"net/url"
	"testing"

	"github.com/rs/zerolog"

	"github.com/keyway-sms/keyway/config"
	"github.com/keyway-sms/keyway/providers"
	"github.com/keyway-sms/keyway/providers/twilio"
)

// fuzzProviders are a provider that checks signatures and one in dev mode.
func fuzzProviders(f *testing.F) (signed, dev *twilio.Twilio) {
	var err error
	if signed, err = twilio.New(config.Twilio{AccountSID: testSID, AuthToken: testToken}, "US", zerolog.New(io.Discard)); err != nil {
		f.Fatal(err)
	}
	if dev, err = twilio.New(config.Twilio{AccountSID: testSID}, "US", zerolog.New(io.Discard)); err != nil {
		f.Fatal(err)
	}
	return signed, dev
}

// FuzzParseInbound feeds arbitrary bodies, signatures and URLs to the
// inbound and status parsers: they never panic, every error says whether
// the signature or the form was at fault, an accepted message has an id and
// both addresses, and a form signed by Sign for the URL always passes the
// signature check.
func FuzzParseInbound(f *testing.F) {
	signed, dev := fuzzProviders(f)
	form := inboundForm()
	f.Add(form.Encode(), twilio.Sign(testToken, hookURL, form), hookURL)
	f.Add("MessageSid=SM1&From=whatsapp%3AUS.13491208655302741918&To=whatsapp%3A%2B14155238886&ExternalUserId=US.13491208655302741918", "", hookURL+"?a=1")
	f.Add("MessageSid=SM1&From=%2B%2B%2B&To=55123&NumMedia=2&MediaUrl0=https%3A%2F%2Fx&MediaUrl1=", "sig", "https://sms.example.com:443/webhooks/twilio")
	f.Add("MessageSid=SM1&MessageStatus=undelivered&ErrorCode=21610", "x", "http://[::1]:80/webhooks/twilio/status")
	f.Add("%zz&;=", "", "")
	f.Fuzz(func(t *testing.T, body, sig, rawURL string) {
		req := &providers.Request{URL: rawURL, Header: http.Header{twilio.SignatureHeader: {sig}}, Body: []byte(body)}
		for _, p := range []*twilio.Twilio{signed, dev} {
			in, err := p.ParseInbound(req)
			if err != nil && !errors.Is(err, providers.ErrSignature) && !errors.Is(err, providers.ErrMalformed) {
				t.Fatalf("ParseInbound: an error that is neither a signature nor a malformed form: %v", err)
			}
			if err == nil && (in.ID == "" || in.From == "" || in.To == "") {
				t.Fatalf("ParseInbound accepted %q with an empty id or address: %+v", body, in)
			}
			if _, err := p.ParseStatus(req); err != nil && !errors.Is(err, providers.ErrSignature) && !errors.Is(err, providers.ErrMalformed) {
				t.Fatalf("ParseStatus: an error that is neither a signature nor a malformed form: %v", err)
			}
		}
		form, err := url.ParseQuery(body)
		if err != nil {
			return
		}
		good := &providers.Request{URL: rawURL, Header: http.Header{twilio.SignatureHeader: {twilio.Sign(testToken, rawURL, form)}}, Body: []byte(body)}
		if _, err := signed.ParseInbound(good); errors.Is(err, providers.ErrSignature) {
			t.Fatalf("a body signed by Sign for %q was refused: %v", rawURL, err)
		}
		if _, err := signed.ParseStatus(good); errors.Is(err, providers.ErrSignature) {
			t.Fatalf("a status body signed by Sign for %q was refused: %v", rawURL, err)
		}
	})
}
