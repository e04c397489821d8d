package twilio_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"reflect"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/keyway-sms/keyway/config"
	"github.com/keyway-sms/keyway/providers"
	"github.com/keyway-sms/keyway/providers/twilio"
	"github.com/keyway-sms/keyway/test/fakes"
)

const (
	contact = "+14155552671"
	ourSMS  = "+15005550006"
	ourWA   = "+14155238886"
)

// newFake returns a fake Twilio that accepts the test account.
func newFake(t *testing.T) *fakes.Twilio {
	t.Helper()
	f := fakes.NewTwilio(t)
	f.AccountSID, f.AuthToken = testSID, testToken
	return f
}

// rawServer answers every request with status, contentType and body, and
// counts the requests.
func rawServer(t *testing.T, status int, contentType, body string) (string, *atomic.Int32) {
	t.Helper()
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		if contentType != "" {
			w.Header().Set("Content-Type", contentType)
		}
		if status >= 300 && status < 400 {
			w.Header().Set("Location", "https://elsewhere.example/")
		}
		w.WriteHeader(status)
		_, _ = w.Write([]byte(body))
	}))
	t.Cleanup(srv.Close)
	return srv.URL, &n
}

func TestSend(t *testing.T) {
	tests := []struct {
		name string
		m    providers.Outbound
		want fakes.Message
	}{
		{
			name: "sms",
			m:    providers.Outbound{ID: "m1", Channel: config.ChannelSMS, From: ourSMS, To: contact, Body: "Welcome!"},
			want: fakes.Message{From: ourSMS, To: contact, Body: "Welcome!"},
		},
		{
			name: "channel unset is sms",
			m:    providers.Outbound{ID: "m1", From: ourSMS, To: contact, Body: "Hi"},
			want: fakes.Message{From: ourSMS, To: contact, Body: "Hi"},
		},
		{
			name: "whatsapp with media and status callback",
			m: providers.Outbound{
				ID: "m2", Channel: config.ChannelWhatsApp, From: ourWA, To: contact, Body: "Here you go",
				Media:          []string{"https://cdn.example.com/a.jpg", "https://cdn.example.com/b.png"},
				StatusCallback: "https://sms.example.com/webhooks/twilio/status?id=m2",
			},
			want: fakes.Message{
				From: "whatsapp:" + ourWA, To: "whatsapp:" + contact, Body: "Here you go",
				Media:          []string{"https://cdn.example.com/a.jpg", "https://cdn.example.com/b.png"},
				StatusCallback: "https://sms.example.com/webhooks/twilio/status?id=m2",
			},
		},
		{
			name: "media only",
			m:    providers.Outbound{ID: "m3", Channel: config.ChannelSMS, From: ourSMS, To: contact, Media: []string{"https://cdn.example.com/a.jpg"}},
			want: fakes.Message{From: ourSMS, To: contact, Media: []string{"https://cdn.example.com/a.jpg"}},
		},
		{
			name: "whatsapp template",
			m: providers.Outbound{
				ID: "m4", Channel: config.ChannelWhatsApp, From: ourWA, To: contact,
				ContentSID: "HX0123456789abcdef0123456789abcdef", ContentVariables: map[string]string{"1": "Ann", "2": `say "hi"`},
			},
			want: fakes.Message{
				From: "whatsapp:" + ourWA, To: "whatsapp:" + contact,
				ContentSID: "HX0123456789abcdef0123456789abcdef", ContentVariables: `{"1":"Ann","2":"say \"hi\""}`,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake := newFake(t)
			p := newProvider(t, false, fake.URL())
			id, err := p.Send(context.Background(), tt.m)
			if err != nil {
				t.Fatalf("Send: %v", err)
			}
			sent := fake.Sent()
			if len(sent) != 1 {
				t.Fatalf("fake got %d messages, want 1", len(sent))
			}
			got := sent[0]
			if id != got.SID || !regexp.MustCompile(`^SM[0-9a-f]{32}$`).MatchString(id) {
				t.Errorf("Send id = %q, fake recorded %q", id, got.SID)
			}
			if got.At.IsZero() {
				t.Error("fake recorded no time")
			}
			got.SID, got.At = "", time.Time{}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("fake got %+v, want %+v", got, tt.want)
			}
		})
	}
}

// apiRecorder is a Messages API that takes every send and keeps the last
// request's path and basic auth.
type apiRecorder struct{ path, user, pass atomic.Value }

func newAPIRecorder(t *testing.T) (*apiRecorder, string) {
	a := &apiRecorder{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a.path.Store(r.URL.Path)
		u, p, _ := r.BasicAuth()
		a.user.Store(u)
		a.pass.Store(p)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		_, _ = w.Write([]byte(`{"sid":"SM0123456789abcdef0123456789abcdef","status":"queued"}`))
	}))
	t.Cleanup(srv.Close)
	return a, srv.URL
}

func TestSendAPIBasePath(t *testing.T) {
	a, base := newAPIRecorder(t)
	path, user, pass := &a.path, &a.user, &a.pass

	p := newProvider(t, false, base+"/proxy/twilio/")
	id, err := p.Send(context.Background(), providers.Outbound{Channel: config.ChannelSMS, From: ourSMS, To: contact, Body: "x"})
	if err != nil {
		t.Fatalf("Send: %v", err)
	}
	if id != "SM0123456789abcdef0123456789abcdef" {
		t.Errorf("Send id = %q", id)
	}
	if want := "/proxy/twilio/2010-04-01/Accounts/" + testSID + "/Messages.json"; path.Load() != want {
		t.Errorf("request path = %v, want %s", path.Load(), want)
	}
	if user.Load() != testSID || pass.Load() != testToken {
		t.Errorf("basic auth = %v:%v, want the account's sid and token", user.Load(), pass.Load())
	}
}

func TestSendIgnoresTwilioEnvironment(t *testing.T) {
	t.Setenv("TWILIO_EDGE", "sydney")
	t.Setenv("TWILIO_REGION", "au1")
	t.Setenv("TWILIO_ACCOUNT_SID", "ACffffffffffffffffffffffffffffffff")
	t.Setenv("TWILIO_AUTH_TOKEN", "envtoken")
	fake := newFake(t)
	p := newProvider(t, false, fake.URL())
	if _, err := p.Send(context.Background(), providers.Outbound{From: ourSMS, To: contact, Body: "x"}); err != nil {
		t.Fatalf("Send with TWILIO_EDGE and TWILIO_REGION set: %v", err)
	}
	if n := len(fake.Sent()); n != 1 {
		t.Errorf("fake got %d messages, want 1", n)
	}
}

func TestSendErrors(t *testing.T) {
	tests := []struct {
		name string
		// fail scripts the fake Twilio; when zero, base is used instead.
		failStatus, failCode int
		base                 func(t *testing.T) string
		want                 providers.SendError // Err ignored
		wantMsg              string
	}{
		{name: "503 is retryable", failStatus: 503, want: providers.SendError{Status: 503, Retryable: true}},
		{name: "429 is retryable", failStatus: 429, failCode: 20429, want: providers.SendError{Status: 429, Code: 20429, Retryable: true}},
		{name: "400 invalid number is permanent", failStatus: 400, failCode: 21211, want: providers.SendError{Status: 400, Code: 21211}},
		{name: "400 opted out", failStatus: 400, failCode: 21610, want: providers.SendError{Status: 400, Code: 21610, OptedOut: true}},
		{name: "401 is permanent", failStatus: 401, failCode: 20003, want: providers.SendError{Status: 401, Code: 20003}},
		{
			name: "wrong credentials",
			base: func(t *testing.T) string {
				f := fakes.NewTwilio(t)
				f.AccountSID, f.AuthToken = testSID, "anothertoken"
				return f.URL()
			},
			want: providers.SendError{Status: 401, Code: 20003},
		},
		{
			name: "non-JSON 502",
			base: func(t *testing.T) string {
				u, _ := rawServer(t, 502, "text/html", "<html><body><h1>502 Bad Gateway</h1></body></html>")
				return u
			},
			want:    providers.SendError{Status: 502, Retryable: true},
			wantMsg: "502 Bad Gateway",
		},
		{
			name: "empty 504",
			base: func(t *testing.T) string {
				u, _ := rawServer(t, 504, "", "")
				return u
			},
			want: providers.SendError{Status: 504, Retryable: true},
		},
		{
			name: "JSON 503 without status",
			base: func(t *testing.T) string {
				u, _ := rawServer(t, 503, "application/json", `{"message":"down for maintenance"}`)
				return u
			},
			want:    providers.SendError{Status: 503, Retryable: true},
			wantMsg: "down for maintenance",
		},
		{
			name: "JSON 400 that is not an object",
			base: func(t *testing.T) string {
				u, _ := rawServer(t, 400, "application/json", `["bad"]`)
				return u
			},
			want: providers.SendError{Status: 400},
		},
		{
			name: "JSON 400 with a code of the wrong type",
			base: func(t *testing.T) string {
				u, _ := rawServer(t, 400, "application/json", `{"code":"21211","status":400}`)
				return u
			},
			want: providers.SendError{Status: 400},
		},
		{
			name: "connection refused",
			base: func(t *testing.T) string {
				l, err := net.Listen("tcp", "127.0.0.1:0")
				if err != nil {
					t.Fatal(err)
				}
				addr := l.Addr().String()
				l.Close()
				return "http://" + addr
			},
			want: providers.SendError{Status: 0, Retryable: true, Unreached: true},
		},
		{
			name: "redirect",
			base: func(t *testing.T) string {
				u, _ := rawServer(t, 302, "", "")
				return u
			},
			want:    providers.SendError{Status: 0, Retryable: true},
			wantMsg: "302",
		},
		{
			name: "unreadable success is not retried",
			base: func(t *testing.T) string {
				u, _ := rawServer(t, 201, "text/html", "<html>ok</html>")
				return u
			},
			want:    providers.SendError{Status: 0},
			wantMsg: "unreadable",
		},
		{
			name: "success without sid",
			base: func(t *testing.T) string {
				u, _ := rawServer(t, 201, "application/json", `{"status":"queued"}`)
				return u
			},
			want:    providers.SendError{Status: 201},
			wantMsg: "no message sid",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var base string
			var fake *fakes.Twilio
			if tt.base != nil {
				base = tt.base(t)
			} else {
				fake = newFake(t)
				fake.FailNext(1, tt.failStatus, tt.failCode)
				base = fake.URL()
			}
			p := newProvider(t, false, base)
			_, err := p.Send(context.Background(), providers.Outbound{Channel: config.ChannelSMS, From: ourSMS, To: contact, Body: "hi"})
			var se *providers.SendError
			if !errors.As(err, &se) {
				t.Fatalf("Send error = %v (%T), want a *providers.SendError", err, err)
			}
			got := *se
			got.Err, got.Reason = nil, ""
			if got != tt.want {
				t.Errorf("Send error = %+v, want %+v", got, tt.want)
			}
			if providers.IsRetryable(err) != tt.want.Retryable {
				t.Errorf("IsRetryable = %v, want %v", providers.IsRetryable(err), tt.want.Retryable)
			}
			msg := err.Error()
			if !strings.Contains(msg, "twilio: send to +14*******71") {
				t.Errorf("error %q does not say where it failed", msg)
			}
			if !strings.Contains(msg, tt.wantMsg) {
				t.Errorf("error %q does not mention %q", msg, tt.wantMsg)
			}
			if strings.Contains(msg, contact) || strings.Contains(msg, testToken) {
				t.Errorf("error %q holds the contact's number or the auth token", msg)
			}
			if fake != nil {
				if n := fake.Requests(); n != 1 {
					t.Errorf("fake got %d requests, want 1 (no retry inside Send)", n)
				}
				if n := len(fake.Sent()); n != 0 {
					t.Errorf("fake recorded %d messages after a failure", n)
				}
			}
		})
	}
}

func TestSendErrorMasksNumbers(t *testing.T) {
	base, _ := rawServer(t, 400, "application/json",
		`{"code":21211,"message":"The 'To' number +14155552671 is not valid (from 15005550006).","status":400}`)
	p := newProvider(t, false, base)
	_, err := p.Send(context.Background(), providers.Outbound{From: ourSMS, To: contact, Body: "hi"})
	if err == nil {
		t.Fatal("Send succeeded")
	}
	msg := err.Error()
	if strings.Contains(msg, "4155552671") || strings.Contains(msg, "5005550006") {
		t.Errorf("error shows a whole number: %s", msg)
	}
	if !strings.Contains(msg, "+14*******71") || !strings.Contains(msg, "15*******06") {
		t.Errorf("error lost the masked numbers: %s", msg)
	}
	var se *providers.SendError
	if !errors.As(err, &se) || se.Code != 21211 {
		t.Errorf("error = %v, want a SendError with code 21211", err)
	}
}

func TestSendCanceledContext(t *testing.T) {
	fake := newFake(t)
	p := newProvider(t, false, fake.URL())
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := p.Send(ctx, providers.Outbound{From: ourSMS, To: contact, Body: "hi"})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Send error = %v, want context.Canceled", err)
	}
	if n := fake.Requests(); n != 0 {
		t.Errorf("fake got %d requests after cancel", n)
	}
}

func TestSendUnknownChannel(t *testing.T) {
	fake := newFake(t)
	p := newProvider(t, false, fake.URL())
	_, err := p.Send(context.Background(), providers.Outbound{Channel: "telegram", From: ourSMS, To: contact, Body: "hi"})
	var se *providers.SendError
	if !errors.As(err, &se) || se.Retryable {
		t.Errorf("Send error = %v, want a permanent SendError", err)
	}
	if n := fake.Requests(); n != 0 {
		t.Errorf("fake got %d requests", n)
	}
}

func TestSendDevMode(t *testing.T) {
	fake := newFake(t)
	var logs bytes.Buffer
	c := config.Twilio{AccountSID: testSID, APIBaseURL: fake.URL()}
	p, err := twilio.New(c, "US", zerolog.New(&logs).Level(zerolog.InfoLevel))
	if err != nil {
		t.Fatal(err)
	}
	if !p.DevMode() {
		t.Fatal("DevMode() = false without an auth token")
	}
	id, err := p.Send(context.Background(), providers.Outbound{ID: "m9", Channel: config.ChannelWhatsApp, From: ourWA, To: contact, Body: "secret body"})
	if err != nil {
		t.Fatalf("Send: %v", err)
	}
	if !regexp.MustCompile(`^DEV[0-9a-f]{32}$`).MatchString(id) {
		t.Errorf("dev id = %q, want DEV and 32 hex digits", id)
	}
	if n := fake.Requests(); n != 0 {
		t.Errorf("dev mode made %d requests", n)
	}
	out := logs.String()
	if strings.Count(out, "\n") != 1 {
		t.Errorf("want one info line, got %q", out)
	}
	if !strings.Contains(out, "+14*******71") || !strings.Contains(out, id) {
		t.Errorf("log %q misses the masked number or the id", out)
	}
	if strings.Contains(out, contact) || strings.Contains(out, "secret body") {
		t.Errorf("info log %q holds the number or the body", out)
	}

	// The outbox logs each sent body once at debug level; the provider
	// logging it too showed every body twice in dev mode.
	logs.Reset()
	p, _ = twilio.New(c, "US", zerolog.New(&logs).Level(zerolog.DebugLevel))
	if _, err := p.Send(context.Background(), providers.Outbound{From: ourSMS, To: contact, Body: "secret body"}); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(logs.String(), "secret body") {
		t.Errorf("debug log %q holds the body, which the outbox logs already", logs.String())
	}
}

// A send that fails on the way names the host it went to (api_base_url),
// not api.twilio.com.
func TestSendErrorNamesTheRealHost(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now: the connection is refused
	p := newProvider(t, false, "http://"+addr+"/proxy")
	_, err = p.Send(context.Background(), providers.Outbound{From: ourSMS, To: contact, Body: "hi"})
	if err == nil {
		t.Fatal("Send succeeded")
	}
	msg := err.Error()
	if !strings.Contains(msg, "http://"+addr+"/proxy/2010-04-01/") || strings.Contains(msg, "api.twilio.com") {
		t.Errorf("error %q should name %s, and not api.twilio.com", msg, addr)
	}
	if !providers.IsRetryable(err) {
		t.Errorf("a refused connection should be retryable: %v", err)
	}
}

func TestSendLogsNoSecrets(t *testing.T) {
	fake := newFake(t)
	var logs bytes.Buffer
	c := config.Twilio{AccountSID: testSID, AuthToken: testToken, APIBaseURL: fake.URL()}
	p, err := twilio.New(c, "US", zerolog.New(&logs).Level(zerolog.TraceLevel))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Send(context.Background(), providers.Outbound{From: ourSMS, To: contact, Body: "hi"}); err != nil {
		t.Fatal(err)
	}
	if logs.Len() == 0 {
		t.Fatal("no debug log of the send")
	}
	if strings.Contains(logs.String(), testToken) || strings.Contains(logs.String(), contact) {
		t.Errorf("log holds the token or the number: %s", logs.String())
	}
}

func TestNewRefusesBadAPIBase(t *testing.T) {
	for _, base := range []string{"ftp://api.example.com", "http://", "api.example.com", "https://u:p@api.example.com", "https://api.example.com/?x=1", "http://[::1"} {
		t.Run(base, func(t *testing.T) {
			_, err := twilio.New(config.Twilio{AccountSID: testSID, AuthToken: testToken, APIBaseURL: base}, "US", zerolog.Nop())
			if err == nil || !strings.Contains(err.Error(), "api_base_url") {
				t.Errorf("New(api_base_url %q) error = %v, want one naming api_base_url", base, err)
			}
		})
	}
}

func TestSendConcurrently(t *testing.T) {
	fake := newFake(t)
	p := newProvider(t, false, fake.URL())
	const n = 20
	errs := make(chan error, n)
	for i := range n {
		go func() {
			_, err := p.Send(context.Background(), providers.Outbound{From: ourSMS, To: contact, Body: strings.Repeat("x", i+1)})
			errs <- err
		}()
	}
	for range n {
		if err := <-errs; err != nil {
			t.Errorf("Send: %v", err)
		}
	}
	if got := fake.WaitSent(t, n, 5*time.Second); len(got) != n {
		t.Errorf("fake got %d messages, want %d", len(got), n)
	}
}

// Credentials with other characters than letters and digits (a proxy's, a
// test double's) are sent as they are: twilio-go itself would refuse them
// before any request.
func TestSendWithCredentialsTwilioGoWouldRefuse(t *testing.T) {
	a, base := newAPIRecorder(t)
	user, pass := &a.user, &a.pass
	const sid, token = "AC-test_account", "test-auth-token!"
	p, err := twilio.New(config.Twilio{AccountSID: sid, AuthToken: token, APIBaseURL: base}, "US", zerolog.New(io.Discard))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Send(context.Background(), providers.Outbound{Channel: config.ChannelSMS, From: ourSMS, To: contact, Body: "x"}); err != nil {
		t.Fatalf("Send: %v", err)
	}
	if user.Load() != sid || pass.Load() != token {
		t.Errorf("basic auth = %v:%v, want %s:%s", user.Load(), pass.Load(), sid, token)
	}
}
