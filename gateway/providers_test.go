package gateway

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/rs/zerolog"

	"github.com/keyway-sms/keyway/automation/engine"
	"github.com/keyway-sms/keyway/automation/store/mem"
	"github.com/keyway-sms/keyway/config"
	"github.com/keyway-sms/keyway/providers"
)

// "acme" is a provider the gateway has never heard of: it reaches the
// gateway through the providers.Provider interface alone.
func init() { config.RegisterProvider("acme", nil) }

const acmeNumber = "+15005550077"

// acme takes a plain form (id, from, to, text) with a shared key in a
// header, answers webhooks with JSON and records its sends.
type acme struct {
	mu   sync.Mutex
	sent []providers.Outbound
}

func (a *acme) Name() string { return "acme" }

func (a *acme) Routes() []providers.Route {
	return []providers.Route{
		{Method: http.MethodPost, Path: "/hooks/acme/in", Kind: providers.RouteInbound, ContentType: "application/json", Answer: `{"ok":true}`},
		{Method: http.MethodPost, Path: "/hooks/acme/dlr", Kind: providers.RouteStatus, ContentType: "application/json", Answer: `{"ok":true}`},
	}
}

func (a *acme) Parse(r providers.Route, req *providers.Request) (providers.Batch, error) {
	if r.Kind == providers.RouteStatus {
		s, err := a.ParseStatus(req)
		return providers.Batch{Statuses: []providers.Status{s}}, err
	}
	in, err := a.ParseInbound(req)
	return providers.Batch{Messages: []providers.Inbound{in}}, err
}

func (a *acme) ParseInbound(r *providers.Request) (providers.Inbound, error) {
	if r.Header.Get("X-Acme-Key") != "k" {
		return providers.Inbound{}, providers.ErrSignature
	}
	f, err := url.ParseQuery(string(r.Body))
	if err != nil || f.Get("id") == "" {
		return providers.Inbound{}, providers.ErrMalformed
	}
	return providers.Inbound{Provider: "acme", ID: f.Get("id"), Channel: config.ChannelSMS, From: f.Get("from"), To: f.Get("to"), Body: f.Get("text")}, nil
}

func (a *acme) ParseStatus(r *providers.Request) (providers.Status, error) {
	if r.Header.Get("X-Acme-Key") != "k" {
		return providers.Status{}, providers.ErrSignature
	}
	f, err := url.ParseQuery(string(r.Body))
	if err != nil {
		return providers.Status{}, providers.ErrMalformed
	}
	return providers.Status{ProviderID: f.Get("id"), Status: f.Get("state"), OptedOut: f.Get("reason") == "stop"}, nil
}

func (a *acme) Send(_ context.Context, m providers.Outbound) (string, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.sent = append(a.sent, m)
	return "acme-1", nil
}

func (a *acme) DevNotice() string { return "" }

func (a *acme) sends() []providers.Outbound {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Clone(a.sent)
}

// acmeConfig is testConfig with acme's own number.
var acmeConfig = strings.Replace(testConfig, "compliance:", `  acme:
    numbers:
      - { number: "+15005550077" }
compliance:`, 1)

// postAcme posts an acme webhook.
func (tg *testGateway) postAcme(path string, form url.Values) *http.Response {
	tg.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, path, strings.NewReader(form.Encode()))
	req.Header.Set("X-Acme-Key", "k")
	res, err := tg.g.app.Test(req, -1)
	if err != nil {
		tg.t.Fatal(err)
	}
	return res
}

// The gateway mounts the routes of every provider it is given, answers as
// each declares, and sends each reply through the provider of the number
// the customer wrote to, asking that provider for delivery reports.
func TestEveryProviderIsMounted(t *testing.T) {
	a := &acme{}
	tg := newGatewayWith(t, acmeConfig, a)

	res := tg.postAcme("/hooks/acme/in", url.Values{"id": {"A1"}, "from": {customer}, "to": {acmeNumber}, "text": {"JOIN"}})
	if body := readBody(t, res); res.StatusCode != 200 || res.Header.Get("Content-Type") != "application/json" || body != `{"ok":true}` {
		t.Fatalf("acme inbound answered %d %s %q", res.StatusCode, res.Header.Get("Content-Type"), body)
	}
	msgs := tg.settled()
	reply := msgs[len(msgs)-1]
	if len(msgs) != 2 || reply.Provider != "acme" || reply.ProviderID != "acme-1" || reply.From != acmeNumber {
		t.Fatalf("stored %q; reply through %s %s from %s", describe(msgs), reply.Provider, reply.ProviderID, reply.From)
	}
	sent := a.sends()
	if len(sent) != 1 || sent[0].StatusCallback != publicURL+"/hooks/acme/dlr?msg="+reply.ID {
		t.Fatalf("acme sent %+v", sent)
	}
	if n := len(tg.twil.sends()); n != 0 {
		t.Errorf("twilio sent %d messages for acme's customer", n)
	}

	// acme's delivery report, with acme's own opt-out, reaches the engine.
	res = tg.postAcme("/hooks/acme/dlr?msg="+reply.ID, url.Values{"id": {"acme-1"}, "state": {"failed"}, "reason": {"stop"}})
	if res.StatusCode != 200 {
		t.Fatalf("acme status answered %d", res.StatusCode)
	}
	_ = tg.store.View(context.Background(), func(tx engine.Tx) error {
		m, _ := tx.Message(reply.ID)
		c, _ := tx.Contact(customer)
		if string(m.Status) != "failed" || !c.OptedOut {
			t.Errorf("after acme's report: message %s, contact opted out %v", m.Status, c.OptedOut)
		}
		return nil
	})

	// Twilio's routes are still there, beside acme's.
	if res := tg.post(inboundURL, receiveJoin, signed); res.StatusCode != 200 || res.Header.Get("Content-Type") != "text/xml" {
		t.Errorf("twilio inbound answered %d %s", res.StatusCode, res.Header.Get("Content-Type"))
	}
	if res := tg.postAcme("/webhooks/acme", url.Values{}); res.StatusCode != 404 {
		t.Errorf("a route acme never declared answered %d", res.StatusCode)
	}
}

func TestNewRefusesTwoProvidersOnOneRoute(t *testing.T) {
	cfg, _ := config.Parse("keyway.yaml", []byte(testConfig), nil)
	set, _ := engine.Compile(cfg)
	tests := []struct {
		label string
		ps    []providers.Provider
		want  string
	}{
		{"same route", []providers.Provider{&acme{}, &acme{}}, "both declare POST /hooks/acme/in"},
		{"no provider", nil, "no messaging provider"},
	}
	for _, tt := range tests {
		t.Run(tt.label, func(t *testing.T) {
			_, err := New(Options{Config: cfg, Set: set, Store: mem.NewMemStore(), Providers: tt.ps, Logger: zerolog.New(io.Discard)})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("New = %v, want an error with %q", err, tt.want)
			}
		})
	}
}

// Without Twilio credentials the gateway runs in dev mode as before:
// signatures are not checked, and replies are stored as dev, not sent, with
// no status callback asked for.
func TestDevMode(t *testing.T) {
	src := strings.Replace(strings.Replace(testConfig, `    account_sid: "AC6e5d4c3b2a1908f7e6d5c4b3a2918070"`+"\n", "", 1),
		`    auth_token: "2b1f0e9d8c7b6a5f4e3d2c1b0a9f8e7d"`+"\n", "", 1)
	tg := newGatewayWith(t, src)
	if tg.twil.DevNotice() == "" || !tg.g.dev {
		t.Fatalf("not in dev mode: notice %q", tg.twil.DevNotice())
	}
	if res := tg.post(inboundURL, receiveJoin, unsigned); res.StatusCode != 200 {
		t.Fatalf("unsigned webhook in dev mode answered %d", res.StatusCode)
	}
	want := []string{`in received "Join now"`, `out dev "Welcome to Acme!"`}
	if got := describe(tg.settled()); !slices.Equal(got, want) {
		t.Errorf("stored %q, want %q", got, want)
	}
	if s := tg.twil.sends(); len(s) != 1 || s[0].StatusCallback != "" {
		t.Errorf("dev sends %+v, want one without a status callback", s)
	}
}
