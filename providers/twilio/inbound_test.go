package twilio_test

import (
	"errors"
	"io"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"

	"github.com/rs/zerolog"
	"github.com/twilio/twilio-go/client"

	"github.com/keyway-sms/keyway/config"
	"github.com/keyway-sms/keyway/providers"
	"github.com/keyway-sms/keyway/providers/twilio"
)

const (
	testSID   = "AC0123456789abcdef0123456789abcdef"
	testToken = "authtoken0123456789"
	hookURL   = "https://sms.example.com/webhooks/twilio"
)

// newProvider returns a provider with credentials, or in dev mode.
func newProvider(t *testing.T, dev bool, apiBase string) *twilio.Twilio {
	t.Helper()
	c := config.Twilio{AccountSID: testSID, AuthToken: testToken, APIBaseURL: apiBase}
	if dev {
		c.AuthToken = ""
	}
	p, err := twilio.New(c, "US", zerolog.New(io.Discard))
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if p.DevMode() != dev {
		t.Fatalf("DevMode() = %v, want %v", p.DevMode(), dev)
	}
	return p
}

// inboundForm is a Twilio SMS webhook as Twilio posts it.
func inboundForm() url.Values {
	return url.Values{
		"ToCountry":     {"US"},
		"SmsMessageSid": {"SM11111111111111111111111111111111"},
		"NumMedia":      {"0"},
		"SmsSid":        {"SM11111111111111111111111111111111"},
		"SmsStatus":     {"received"},
		"Body":          {"Join now"},
		"To":            {"+15005550006"},
		"NumSegments":   {"1"},
		"MessageSid":    {"SM11111111111111111111111111111111"},
		"AccountSid":    {testSID},
		"From":          {"+14155552671"},
		"ApiVersion":    {"2010-04-01"},
	}
}

// with returns a copy of form with the given fields set; an empty value
// deletes the field.
func with(form url.Values, kv ...string) url.Values {
	out := url.Values{}
	for k, v := range form {
		out[k] = append([]string(nil), v...)
	}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == "" {
			out.Del(kv[i])
		} else {
			out.Set(kv[i], kv[i+1])
		}
	}
	return out
}

// firsts returns the first value of every field, as Inbound.Fields holds them.
func firsts(form url.Values) map[string]string {
	out := map[string]string{}
	for k, v := range form {
		out[k] = v[0]
	}
	return out
}

// webhook is one webhook request of a table test.
type webhook struct {
	url      string     // the URL the request reaches; hookURL when empty
	signURL  string     // the URL to sign; url when empty
	form     url.Values // the body
	rawBody  string     // replaces form when set
	sig      string     // "valid" (default), "none", "wrong" or "token:<other token>"
	tamperKV []string   // fields changed after signing
}

func (w webhook) request() *providers.Request {
	u := w.url
	if u == "" {
		u = hookURL
	}
	signURL := w.signURL
	if signURL == "" {
		signURL = u
	}
	body := w.form.Encode()
	if w.rawBody != "" {
		body = w.rawBody
	}
	h := http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}
	switch {
	case w.sig == "" || w.sig == "valid":
		h.Set("X-Twilio-Signature", twilio.Sign(testToken, signURL, w.form))
	case w.sig == "wrong":
		h.Set("X-Twilio-Signature", "bm90IGEgc2lnbmF0dXJlIGF0IGFsbA==")
	case strings.HasPrefix(w.sig, "token:"):
		h.Set("X-Twilio-Signature", twilio.Sign(strings.TrimPrefix(w.sig, "token:"), signURL, w.form))
	}
	if len(w.tamperKV) > 0 {
		body = with(w.form, w.tamperKV...).Encode()
	}
	return &providers.Request{URL: u, Header: h, Body: []byte(body)}
}

func TestParseInbound(t *testing.T) {
	base := inboundForm()
	whatsapp := with(base, "From", "whatsapp:+14155552671", "To", "whatsapp:+14155238886", "ProfileName", "Ana María", "WaId", "14155552671")
	media := with(base, "NumMedia", "2",
		"MediaUrl0", "https://api.twilio.com/2010-04-01/Accounts/AC/Messages/MM/Media/ME1",
		"MediaContentType0", "image/jpeg",
		"MediaUrl1", "https://api.twilio.com/2010-04-01/Accounts/AC/Messages/MM/Media/ME2",
		"MediaContentType1", "image/png")
	smsSidOnly := with(base, "MessageSid", "")
	national := with(base, "From", "4155552671")
	// A tapped quick-reply button on WhatsApp, shaped as Twilio documents
	// its WhatsApp webhook fields (ButtonText, ButtonPayload; Body carries
	// the text too).
	button := with(whatsapp, "Body", "A person", "ButtonText", "A person", "ButtonPayload", "AGENT", "MessageType", "button")
	buttonNoBody := with(button, "Body", "")

	tests := []struct {
		name    string
		dev     bool
		hook    webhook
		want    providers.Inbound
		wantErr error
		wantMsg string // a part of the error text
	}{
		{
			name: "sms",
			hook: webhook{form: base},
			want: providers.Inbound{
				Provider: "twilio", ID: "SM11111111111111111111111111111111", Channel: config.ChannelSMS,
				From: "+14155552671", To: "+15005550006", Body: "Join now", Fields: firsts(base),
			},
		},
		{
			name: "whatsapp with profile name",
			hook: webhook{form: whatsapp},
			want: providers.Inbound{
				Provider: "twilio", ID: "SM11111111111111111111111111111111", Channel: config.ChannelWhatsApp,
				From: "+14155552671", To: "+14155238886", Body: "Join now", ProfileName: "Ana María",
				Fields: firsts(whatsapp),
			},
		},
		{
			name: "a quick-reply button keeps its id as Button and its title as Body",
			hook: webhook{form: button},
			want: providers.Inbound{
				Provider: "twilio", ID: "SM11111111111111111111111111111111", Channel: config.ChannelWhatsApp,
				From: "+14155552671", To: "+14155238886", Body: "A person", Button: "AGENT", ProfileName: "Ana María",
				Fields: firsts(button),
			},
		},
		{
			name: "a quick-reply button without Body takes ButtonText",
			hook: webhook{form: buttonNoBody},
			want: providers.Inbound{
				Provider: "twilio", ID: "SM11111111111111111111111111111111", Channel: config.ChannelWhatsApp,
				From: "+14155552671", To: "+14155238886", Body: "A person", Button: "AGENT", ProfileName: "Ana María",
				Fields: firsts(buttonNoBody),
			},
		},
		{
			name: "media in order",
			hook: webhook{form: media},
			want: providers.Inbound{
				Provider: "twilio", ID: "SM11111111111111111111111111111111", Channel: config.ChannelSMS,
				From: "+14155552671", To: "+15005550006", Body: "Join now", Fields: firsts(media),
				Media: []string{
					"https://api.twilio.com/2010-04-01/Accounts/AC/Messages/MM/Media/ME1",
					"https://api.twilio.com/2010-04-01/Accounts/AC/Messages/MM/Media/ME2",
				},
			},
		},
		{
			name: "SmsSid when MessageSid is missing",
			hook: webhook{form: smsSidOnly},
			want: providers.Inbound{
				Provider: "twilio", ID: "SM11111111111111111111111111111111", Channel: config.ChannelSMS,
				From: "+14155552671", To: "+15005550006", Body: "Join now", Fields: firsts(smsSidOnly),
			},
		},
		{
			name: "national number read in the default region",
			hook: webhook{form: national},
			want: providers.Inbound{
				Provider: "twilio", ID: "SM11111111111111111111111111111111", Channel: config.ChannelSMS,
				From: "+14155552671", To: "+15005550006", Body: "Join now", Fields: firsts(national),
			},
		},
		{
			name: "url with a query string",
			hook: webhook{url: hookURL + "?tenant=acme&v=2", form: base},
			want: providers.Inbound{
				Provider: "twilio", ID: "SM11111111111111111111111111111111", Channel: config.ChannelSMS,
				From: "+14155552671", To: "+15005550006", Body: "Join now", Fields: firsts(base),
			},
		},
		{
			name: "dev mode skips the signature",
			dev:  true,
			hook: webhook{form: base, sig: "none"},
			want: providers.Inbound{
				Provider: "twilio", ID: "SM11111111111111111111111111111111", Channel: config.ChannelSMS,
				From: "+14155552671", To: "+15005550006", Body: "Join now", Fields: firsts(base),
			},
		},
		{name: "missing signature", hook: webhook{form: base, sig: "none"}, wantErr: providers.ErrSignature, wantMsg: "X-Twilio-Signature"},
		{name: "wrong signature", hook: webhook{form: base, sig: "wrong"}, wantErr: providers.ErrSignature},
		{name: "signed with another token", hook: webhook{form: base, sig: "token:othertoken"}, wantErr: providers.ErrSignature},
		{name: "body changed after signing", hook: webhook{form: base, tamperKV: []string{"Body", "STOP"}}, wantErr: providers.ErrSignature},
		{name: "field added after signing", hook: webhook{form: base, tamperKV: []string{"Extra", "1"}}, wantErr: providers.ErrSignature},
		{name: "signed without the query string", hook: webhook{url: hookURL + "?tenant=acme", signURL: hookURL, form: base}, wantErr: providers.ErrSignature},
		{name: "signed for another host", hook: webhook{signURL: "https://evil.example.com/webhooks/twilio", form: base}, wantErr: providers.ErrSignature},
		{name: "broken body with signature is malformed, not a signature error", hook: webhook{form: base, rawBody: "Body=%zz&From=%2B1"}, wantErr: providers.ErrMalformed, wantMsg: "not a form"},
		{name: "broken body in dev mode", dev: true, hook: webhook{form: base, rawBody: "Body=%zz&From=%2B1", sig: "none"}, wantErr: providers.ErrMalformed, wantMsg: "not a form"},
		{name: "no MessageSid nor SmsSid", hook: webhook{form: with(base, "MessageSid", "", "SmsSid", "")}, wantErr: providers.ErrMalformed, wantMsg: "MessageSid"},
		{name: "no From", hook: webhook{form: with(base, "From", "")}, wantErr: providers.ErrMalformed, wantMsg: "From"},
		{name: "no To", hook: webhook{form: with(base, "To", "")}, wantErr: providers.ErrMalformed, wantMsg: "To"},
		{name: "From not a number", hook: webhook{form: with(base, "From", "+++")}, wantErr: providers.ErrMalformed, wantMsg: "From"},
		{name: "To not a number", hook: webhook{form: with(base, "To", "whatsapp:x")}, wantErr: providers.ErrMalformed, wantMsg: "To"},
		{name: "NumMedia not a count", hook: webhook{form: with(base, "NumMedia", "two")}, wantErr: providers.ErrMalformed, wantMsg: "NumMedia"},
		{name: "NumMedia larger than the media", hook: webhook{form: with(media, "NumMedia", "3")}, wantErr: providers.ErrMalformed, wantMsg: "MediaUrl2"},
		{name: "NumMedia huge", hook: webhook{form: with(base, "NumMedia", "1000000000")}, wantErr: providers.ErrMalformed, wantMsg: "NumMedia"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newProvider(t, tt.dev, "")
			got, err := p.ParseInbound(tt.hook.request())
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("ParseInbound error = %v, want %v", err, tt.wantErr)
				}
				for _, other := range []error{providers.ErrSignature, providers.ErrMalformed} {
					if other != tt.wantErr && errors.Is(err, other) {
						t.Errorf("ParseInbound error %v also wraps %v", err, other)
					}
				}
				if !strings.Contains(err.Error(), tt.wantMsg) || !strings.HasPrefix(err.Error(), "twilio: ") {
					t.Errorf("ParseInbound error %q does not start with \"twilio: \" or does not mention %q", err, tt.wantMsg)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseInbound: %v", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("ParseInbound =\n%#v\nwant\n%#v", got, tt.want)
			}
		})
	}
}

func TestParseInboundNilRequest(t *testing.T) {
	p := newProvider(t, false, "")
	if _, err := p.ParseInbound(nil); !errors.Is(err, providers.ErrMalformed) {
		t.Errorf("ParseInbound(nil) error = %v, want ErrMalformed", err)
	}
}

func TestParseInboundErrorsHideNumbers(t *testing.T) {
	p := newProvider(t, false, "")
	_, err := p.ParseInbound(webhook{form: with(inboundForm(), "To", "+1415555267199999")}.request())
	if err == nil {
		t.Fatal("ParseInbound accepted an impossible To number")
	}
	if strings.Contains(err.Error(), "1415555267199999") {
		t.Errorf("error shows the whole number: %v", err)
	}
}

func TestParseStatus(t *testing.T) {
	base := url.Values{
		"AccountSid":    {testSID},
		"MessageSid":    {"SM22222222222222222222222222222222"},
		"SmsSid":        {"SM22222222222222222222222222222222"},
		"MessageStatus": {"undelivered"},
		"SmsStatus":     {"undelivered"},
		"ErrorCode":     {"30003"},
		"ErrorMessage":  {"Unreachable destination handset"},
		"To":            {"+14155552671"},
		"From":          {"+15005550006"},
		"ApiVersion":    {"2010-04-01"},
	}
	tests := []struct {
		name    string
		dev     bool
		hook    webhook
		want    providers.Status
		wantErr error
		wantMsg string
	}{
		{
			name: "undelivered with error",
			hook: webhook{form: base},
			want: providers.Status{ProviderID: "SM22222222222222222222222222222222", Status: "undelivered", ErrorCode: 30003, ErrorMessage: "Unreachable destination handset"},
		},
		{
			name: "delivered without error code",
			hook: webhook{form: with(base, "MessageStatus", "delivered", "SmsStatus", "delivered", "ErrorCode", "", "ErrorMessage", "")},
			want: providers.Status{ProviderID: "SM22222222222222222222222222222222", Status: "delivered"},
		},
		{
			name: "old field names only",
			hook: webhook{form: with(base, "MessageSid", "", "MessageStatus", "", "SmsStatus", "sent", "ErrorCode", "", "ErrorMessage", "")},
			want: providers.Status{ProviderID: "SM22222222222222222222222222222222", Status: "sent"},
		},
		{
			name: "dev mode skips the signature",
			dev:  true,
			hook: webhook{form: base, sig: "none"},
			want: providers.Status{ProviderID: "SM22222222222222222222222222222222", Status: "undelivered", ErrorCode: 30003, ErrorMessage: "Unreachable destination handset"},
		},
		{name: "missing signature", hook: webhook{form: base, sig: "none"}, wantErr: providers.ErrSignature},
		{name: "wrong signature", hook: webhook{form: base, sig: "wrong"}, wantErr: providers.ErrSignature},
		{name: "status changed after signing", hook: webhook{form: base, tamperKV: []string{"MessageStatus", "delivered"}}, wantErr: providers.ErrSignature},
		{name: "no MessageSid", hook: webhook{form: with(base, "MessageSid", "", "SmsSid", "")}, wantErr: providers.ErrMalformed, wantMsg: "MessageSid"},
		{name: "no status", hook: webhook{form: with(base, "MessageStatus", "", "SmsStatus", "")}, wantErr: providers.ErrMalformed, wantMsg: "MessageStatus"},
		{name: "ErrorCode not a number", hook: webhook{form: with(base, "ErrorCode", "3000x")}, wantErr: providers.ErrMalformed, wantMsg: "ErrorCode"},
		{name: "broken body in dev mode", dev: true, hook: webhook{form: base, rawBody: "%", sig: "none"}, wantErr: providers.ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newProvider(t, tt.dev, "")
			got, err := p.ParseStatus(tt.hook.request())
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("ParseStatus error = %v, want %v", err, tt.wantErr)
				}
				if !strings.Contains(err.Error(), tt.wantMsg) {
					t.Errorf("ParseStatus error %q does not mention %q", err, tt.wantMsg)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseStatus: %v", err)
			}
			if got != tt.want {
				t.Errorf("ParseStatus = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestSign(t *testing.T) {
	// Twilio's published example: token 12345 and these parameters.
	known := url.Values{
		"Digits": {"1234"}, "CallSid": {"CA1234567890ABCDE"}, "To": {"+18005551212"},
		"Caller": {"+14158675309"}, "From": {"+14158675309"},
		"ReasonConferenceEnded": {"test"}, "Reason": {"Participant"},
	}
	if got, want := twilio.Sign("12345", "https://mycompany.com/myapp.php?foo=1&bar=2", known), "vOEb5UThFn24KEfnOFLQY2AE5FY="; got != want {
		t.Errorf("Sign(known example) = %q, want %q", got, want)
	}

	tests := []struct {
		name string
		url  string
		form url.Values
	}{
		{"inbound sms", hookURL, inboundForm()},
		{"query string", hookURL + "?a=1&b=two%20words", inboundForm()},
		{"no params", hookURL, url.Values{}},
		{"unicode and symbols", "http://localhost:8080/webhooks/twilio", url.Values{"Body": {"¡Hola! café & más = 100%"}, "B": {""}, "a": {"lower sorts after upper"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sig := twilio.Sign(testToken, tt.url, tt.form)
			v := client.NewRequestValidator(testToken)
			if !v.Validate(tt.url, firsts(tt.form), sig) {
				t.Errorf("twilio-go's validator refuses Sign's signature %q", sig)
			}
			other := client.NewRequestValidator("another")
			if other.Validate(tt.url, firsts(tt.form), sig) {
				t.Errorf("a validator with another token accepts %q", sig)
			}
		})
	}
}
