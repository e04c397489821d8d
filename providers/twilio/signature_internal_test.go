package twilio

import (
	"errors"
	"io"
	"net/http"
	"net/url"
	"testing"

	"github.com/rs/zerolog"

	"github.com/keyway-sms/keyway/config"
	"github.com/keyway-sms/keyway/providers"
)

// Twilio's published request validation example (twilio-python's and
// twilio-node's test suites): auth token 12345 and this URL.
const (
	vectorToken = "12345"
	vectorURL   = "https://mycompany.com/myapp.php?foo=1&bar=2"
)

// vectorParams are the example's parameters; vectorSignature signs them for
// vectorURL.
var vectorParams = url.Values{
	"CallSid": {"CA1234567890ABCDE"},
	"Caller":  {"+14158675309"},
	"Digits":  {"1234"},
	"From":    {"+14158675309"},
	"To":      {"+18005551212"},
}

const vectorSignature = "RSOYDt4T1cUTdK1PDd93/VVr8B8="

// repeatedBody is the example with a repeated parameter, as Twilio posts
// it; repeatedSignature signs it for vectorURL.
const (
	repeatedBody      = "Sid=CA123&SidAccount=AC123&Digits=5678&Digits=1234"
	repeatedSignature = "IK+Dwps556ElfBT0I3Rgjkr1wJU="
)

func TestSignPublishedVectors(t *testing.T) {
	repeated, err := url.ParseQuery(repeatedBody)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, url string
		form      url.Values
		want      string
	}{
		{"example", vectorURL, vectorParams, vectorSignature},
		{"repeated parameter, values sorted", vectorURL, repeated, repeatedSignature},
		{"repeated parameter given in order", vectorURL, url.Values{"Sid": {"CA123"}, "SidAccount": {"AC123"}, "Digits": {"1234", "5678"}}, repeatedSignature},
		{"https with its default port", "https://mycompany.com:443/myapp.php?foo=1&bar=2", vectorParams, "kvajT1Ptam85bY51eRf/AJRuM3w="},
		{"http with its default port", "http://mycompany.com:80/myapp.php?foo=1&bar=2", vectorParams, "0ZXoZLH/DfblKGATFgpif+LLRf4="},
		{"http with another port", "http://mycompany.com:1234/myapp.php?foo=1&bar=2", vectorParams, "Zmvh+3yNM1Phv2jhDCwEM3q5ebU="},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Sign(vectorToken, tt.url, tt.form); got != tt.want {
				t.Errorf("Sign = %q, want %q", got, tt.want)
			}
		})
	}
}

// vectorProvider is a provider holding the example's auth token.
func vectorProvider(t *testing.T) *Twilio {
	t.Helper()
	p, err := New(config.Twilio{AccountSID: "AC123", AuthToken: vectorToken}, "US", zerolog.New(io.Discard))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestVerifiedFormChecksEveryValue(t *testing.T) {
	tests := []struct {
		name      string
		url       string // the URL the request reached; vectorURL when empty
		body      string
		signature string
		wantErr   error
		want      url.Values // when no error
	}{
		{
			name: "repeated parameter validates", body: repeatedBody, signature: repeatedSignature,
			want: url.Values{"Sid": {"CA123"}, "SidAccount": {"AC123"}, "Digits": {"5678", "1234"}},
		},
		{
			name: "repeated parameter in another order validates", body: "Digits=1234&Sid=CA123&Digits=5678&SidAccount=AC123", signature: repeatedSignature,
			want: url.Values{"Sid": {"CA123"}, "SidAccount": {"AC123"}, "Digits": {"1234", "5678"}},
		},
		{name: "a value appended to a signed parameter fails", body: repeatedBody + "&Digits=9999", signature: repeatedSignature, wantErr: providers.ErrSignature},
		{name: "a value appended to a single-valued parameter fails", body: vectorParams.Encode() + "&Digits=9", signature: vectorSignature, wantErr: providers.ErrSignature},
		{name: "a second From appended fails", body: vectorParams.Encode() + "&From=%2B15550000000", signature: vectorSignature, wantErr: providers.ErrSignature},
		{
			name: "a value repeated verbatim counts once, as in Twilio's SDKs", body: repeatedBody + "&Digits=1234", signature: repeatedSignature,
			want: url.Values{"Sid": {"CA123"}, "SidAccount": {"AC123"}, "Digits": {"5678", "1234", "1234"}},
		},
		{name: "a repeated value dropped after signing fails", body: "Sid=CA123&SidAccount=AC123&Digits=5678", signature: repeatedSignature, wantErr: providers.ErrSignature},
		{name: "a new parameter appended fails", body: repeatedBody + "&Extra=1", signature: repeatedSignature, wantErr: providers.ErrSignature},
		{name: "an empty parameter appended fails", body: repeatedBody + "&Extra=", signature: repeatedSignature, wantErr: providers.ErrSignature},
		{name: "example", body: vectorParams.Encode(), signature: vectorSignature, want: vectorParams},
		{name: "signed without the port, called with :443", url: "https://mycompany.com:443/myapp.php?foo=1&bar=2", body: vectorParams.Encode(), signature: vectorSignature, want: vectorParams},
		{name: "signed without the port, called with another", url: "https://mycompany.com:1234/myapp.php?foo=1&bar=2", body: vectorParams.Encode(), signature: vectorSignature, want: vectorParams},
		{name: "signed with :443, called without", body: vectorParams.Encode(), signature: "kvajT1Ptam85bY51eRf/AJRuM3w=", want: vectorParams},
		{name: "signed with :80, called over http without", url: "http://mycompany.com/myapp.php?foo=1&bar=2", body: vectorParams.Encode(), signature: "0ZXoZLH/DfblKGATFgpif+LLRf4=", want: vectorParams},
		{name: "signed with :1234, called over http with it", url: "http://mycompany.com:1234/myapp.php?foo=1&bar=2", body: vectorParams.Encode(), signature: "Zmvh+3yNM1Phv2jhDCwEM3q5ebU=", want: vectorParams},
		{name: "signed with :443, called over http", url: "http://mycompany.com/myapp.php?foo=1&bar=2", body: vectorParams.Encode(), signature: "kvajT1Ptam85bY51eRf/AJRuM3w=", wantErr: providers.ErrSignature},
		{name: "signed for another query string", url: "https://mycompany.com/myapp.php?foo=1", body: vectorParams.Encode(), signature: vectorSignature, wantErr: providers.ErrSignature},
	}
	p := vectorProvider(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u := tt.url
			if u == "" {
				u = vectorURL
			}
			r := &providers.Request{URL: u, Header: http.Header{SignatureHeader: {tt.signature}}, Body: []byte(tt.body)}
			got, err := p.verifiedForm(r, "inbound")
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("verifiedForm error = %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("verifiedForm: %v", err)
			}
			if got.Encode() != tt.want.Encode() {
				t.Errorf("verifiedForm = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestSignedURLs(t *testing.T) {
	tests := []struct{ in, other string }{
		{"https://sms.example.com/webhooks/twilio", "https://sms.example.com:443/webhooks/twilio"},
		{"https://sms.example.com:443/webhooks/twilio?a=1", "https://sms.example.com/webhooks/twilio?a=1"},
		{"http://127.0.0.1:8080/webhooks/twilio", "http://127.0.0.1/webhooks/twilio"},
		{"http://[::1]/webhooks/twilio", "http://[::1]:80/webhooks/twilio"},
		{"http://[::1]:8080/webhooks/twilio", "http://[::1]/webhooks/twilio"},
	}
	for _, tt := range tests {
		got := signedURLs(tt.in)
		if len(got) != 2 || got[0] != tt.in || got[1] != tt.other {
			t.Errorf("signedURLs(%q) = %q, want [%q %q]", tt.in, got, tt.in, tt.other)
		}
	}
	if got := signedURLs("not a url"); len(got) != 1 || got[0] != "not a url" {
		t.Errorf("signedURLs(not a url) = %q", got)
	}
}
