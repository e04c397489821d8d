package twilio

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

// roundTripFunc records what apiTransport hands to the network.
type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestAPITransportRoutes(t *testing.T) {
	const path = "/2010-04-01/Accounts/AC1/Messages.json"
	tests := []struct {
		name    string
		base    string
		reqURL  string
		wantURL string // "" when the request must be refused
	}{
		{"twilio itself", "", "https://api.twilio.com" + path, "https://api.twilio.com" + path},
		{"twilio itself, spelled out", "https://API.twilio.com/", "https://api.twilio.com" + path, "https://api.twilio.com" + path},
		{"fake on loopback", "http://127.0.0.1:8099", "https://api.twilio.com" + path, "http://127.0.0.1:8099" + path},
		{"proxy with a base path", "https://proxy.example/twilio/", "https://api.twilio.com" + path, "https://proxy.example/twilio" + path},
		{"edge host refused", "http://127.0.0.1:8099", "https://api.sydney.us1.twilio.com" + path, ""},
		{"other host refused", "", "https://evil.example" + path, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			base, err := parseBase(tt.base)
			if err != nil {
				t.Fatal(err)
			}
			var seen *http.Request
			tr := &apiTransport{base: base, next: roundTripFunc(func(r *http.Request) (*http.Response, error) {
				seen = r
				return &http.Response{StatusCode: 201, Body: io.NopCloser(strings.NewReader("{}")), Header: http.Header{}}, nil
			})}
			req, _ := http.NewRequest(http.MethodPost, tt.reqURL, strings.NewReader("To=%2B1"))
			res, err := tr.RoundTrip(req)
			if tt.wantURL == "" {
				if err == nil || seen != nil {
					t.Fatalf("request for %s was let through (err %v)", tt.reqURL, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("RoundTrip: %v", err)
			}
			res.Body.Close()
			if seen.URL.String() != tt.wantURL {
				t.Errorf("sent to %s, want %s", seen.URL, tt.wantURL)
			}
			if seen.Host != "" && seen.Host != seen.URL.Host {
				t.Errorf("Host header %q does not follow the URL %s", seen.Host, seen.URL)
			}
			if req.URL.String() != tt.reqURL {
				t.Errorf("the caller's request was modified: %s", req.URL)
			}
		})
	}
}

func TestClassifiable(t *testing.T) {
	tests := []struct {
		name   string
		status int
		body   string
		want   string
	}{
		{"twilio error kept", 400, `{"code":21211,"message":"bad To","more_info":"x","status":400}`, `{"code":21211,"details":null,"message":"bad To","more_info":"x","status":400}`},
		{"html replaced", 502, "  <html>bad gateway</html>\n", `{"code":0,"details":null,"message":"\u003chtml\u003ebad gateway\u003c/html\u003e","more_info":"","status":502}`},
		{"long body cut at 200 bytes", 500, strings.Repeat("x", 300), `{"code":0,"details":null,"message":"` + strings.Repeat("x", 200) + `","more_info":"","status":500}`},
		{"empty body", 503, "", `{"code":0,"details":null,"message":"Service Unavailable","more_info":"","status":503}`},
		{"missing status filled in", 429, `{"code":20429,"message":"slow down"}`, `{"code":20429,"details":null,"message":"slow down","more_info":"","status":429}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := classifiable(&http.Response{StatusCode: tt.status, Header: http.Header{"Content-Type": {"text/html"}}, Body: io.NopCloser(strings.NewReader(tt.body))})
			if err != nil {
				t.Fatal(err)
			}
			got, _ := io.ReadAll(res.Body)
			if string(got) != tt.want {
				t.Errorf("body = %s\nwant   %s", got, tt.want)
			}
			if res.Header.Get("Content-Type") != "application/json" || res.ContentLength != int64(len(got)) {
				t.Errorf("headers %v, length %d", res.Header, res.ContentLength)
			}
		})
	}
}
