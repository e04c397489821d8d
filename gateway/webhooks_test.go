package gateway

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/keyway-sms/keyway/automation/engine"
	"github.com/keyway-sms/keyway/automation/store/mem"
	"github.com/keyway-sms/keyway/config"
	"github.com/keyway-sms/keyway/providers"
	"github.com/keyway-sms/keyway/providers/twilio"
)

// The gateway's HTTP layer, in courier's style: raw webhook bodies as
// Twilio posts them, signed by a helper, posted to the gateway's Fiber app
// in-process over the in-memory store, with Twilio's parsing and signature
// checks and a provider whose sends are recorded instead of made.

const (
	testSID    = "AC6e5d4c3b2a1908f7e6d5c4b3a2918070"
	testToken  = "2b1f0e9d8c7b6a5f4e3d2c1b0a9f8e7d"
	publicURL  = "https://sms.example.com"
	adminToken = "admin-token-for-tests"
	ourSMS     = "+15005550006"
	customer   = "+14155552671"
	inboundURL = "/webhooks/twilio"
	statusURL  = "/webhooks/twilio/status"
)

const testConfig = `server:
  public_url: "https://sms.example.com"
  max_body_bytes: 2048
admin:
  token: "admin-token-for-tests"
providers:
  twilio:
    account_sid: "AC6e5d4c3b2a1908f7e6d5c4b3a2918070"
    auth_token: "2b1f0e9d8c7b6a5f4e3d2c1b0a9f8e7d"
    numbers:
      - { number: "+15005550006", channel: sms }
compliance:
  help: { reply: "Acme alerts: reply STOP to opt out." }
automations:
  - id: join
    keywords: [JOIN]
    steps:
      - { type: reply, text: "Welcome to Acme!" }
`

// Webhook bodies as Twilio posts them.
const (
	// receiveJoin is an SMS "Join now" from the customer to our number.
	receiveJoin = "ToCountry=US&ToState=CA&SmsMessageSid=SM0a1b2c3d4e5f60718293a4b5c6d7e8f9&NumMedia=0&ToCity=&FromZip=94105" +
		"&SmsSid=SM0a1b2c3d4e5f60718293a4b5c6d7e8f9&FromState=CA&SmsStatus=received&FromCity=SAN+FRANCISCO&Body=Join+now" +
		"&FromCountry=US&To=%2B15005550006&ToZip=&NumSegments=1&MessageSid=SM0a1b2c3d4e5f60718293a4b5c6d7e8f9" +
		"&AccountSid=AC6e5d4c3b2a1908f7e6d5c4b3a2918070&From=%2B14155552671&ApiVersion=2010-04-01"
	// receiveNoSid is receiveJoin without any message id.
	receiveNoSid = "ToCountry=US&ToState=CA&NumMedia=0&ToCity=&FromZip=94105&FromState=CA&SmsStatus=received" +
		"&FromCity=SAN+FRANCISCO&Body=Join+now&FromCountry=US&To=%2B15005550006&ToZip=&NumSegments=1" +
		"&AccountSid=AC6e5d4c3b2a1908f7e6d5c4b3a2918070&From=%2B14155552671&ApiVersion=2010-04-01"
	// receiveMalformed is not a form: "%zz" is no escape.
	receiveMalformed = "ToCountry=US&Body=50%zz+off&To=%2B15005550006&MessageSid=SM0a1b2c3d4e5f60718293a4b5c6d7e8f9" +
		"&AccountSid=AC6e5d4c3b2a1908f7e6d5c4b3a2918070&From=%2B14155552671"
	// statusDelivered reports the first reply (see recorder.Send) delivered.
	statusDelivered = "SmsSid=SMreply0001&SmsStatus=delivered&MessageStatus=delivered&To=%2B14155552671" +
		"&MessageSid=SMreply0001&AccountSid=AC6e5d4c3b2a1908f7e6d5c4b3a2918070&From=%2B15005550006&ApiVersion=2010-04-01"
	// statusOptedOut reports the first reply refused: the customer texted
	// STOP to Twilio itself.
	statusOptedOut = "SmsSid=SMreply0001&SmsStatus=failed&MessageStatus=failed&ErrorCode=21610" +
		"&ErrorMessage=Attempt+to+send+to+unsubscribed+recipient&To=%2B14155552671" +
		"&MessageSid=SMreply0001&AccountSid=AC6e5d4c3b2a1908f7e6d5c4b3a2918070&From=%2B15005550006&ApiVersion=2010-04-01"
)

// recorder is the Twilio provider with its sends recorded instead of made.
type recorder struct {
	*twilio.Twilio
	mu   sync.Mutex
	sent []providers.Outbound
}

// Send records m and answers with the id "SMreply" and its number, from 1.
func (r *recorder) Send(_ context.Context, m providers.Outbound) (string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.sent = append(r.sent, m)
	return fmt.Sprintf("SMreply%04d", len(r.sent)), nil
}

func (r *recorder) sends() []providers.Outbound {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.sent)
}

// testGateway is a gateway over an in-memory store, its outbox running.
type testGateway struct {
	t     *testing.T
	g     *Gateway
	store *mem.MemStore
	twil  *recorder
}

func newTestGateway(t *testing.T) *testGateway {
	t.Helper()
	return newGatewayWith(t, testConfig)
}

// newGatewayWith builds a gateway on the config src: the Twilio provider
// it sets up, its sends recorded, and the other providers given.
func newGatewayWith(t *testing.T, src string, others ...providers.Provider) *testGateway {
	t.Helper()
	cfg, set := compiled(t, src)
	log := zerolog.New(io.Discard)
	tw, err := twilio.New(cfg.Providers.Twilio, cfg.Defaults.Region, log)
	if err != nil {
		t.Fatal(err)
	}
	tg := &testGateway{t: t, store: mem.NewMemStore(), twil: &recorder{Twilio: tw}}
	ps := append([]providers.Provider{tg.twil}, others...)
	tg.g, err = New(Options{Config: cfg, Set: set, Store: tg.store, Providers: ps, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { tg.g.outbox.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return tg
}

// compiled parses src as the config file keyway.yaml and compiles its
// automations, failing t on any problem.
func compiled(t *testing.T, src string) (*config.Config, *engine.Set) {
	t.Helper()
	cfg, problems := config.Parse("keyway.yaml", []byte(src), nil)
	if err := problems.Err(); err != nil {
		t.Fatal(err)
	}
	set, problems := engine.Compile(cfg)
	if err := problems.Err(); err != nil {
		t.Fatal(err)
	}
	return cfg, set
}

// signature says how a test request is signed.
type signature int

const (
	signed      signature = iota // as Twilio signs it
	unsigned                     // no X-Twilio-Signature
	wronglySent                  // signed with another account's token
)

// post posts body to path as Twilio would, and returns the answer.
func (tg *testGateway) post(path, body string, sig signature) *http.Response {
	tg.t.Helper()
	req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if sig != unsigned {
		token := testToken
		if sig == wronglySent {
			token = "0000000000000000000000000000000f"
		}
		form, _ := url.ParseQuery(body) // a malformed body is signed on what reads
		req.Header.Set(twilio.SignatureHeader, twilio.Sign(token, publicURL+path, form))
	}
	res, err := tg.g.app.Test(req, -1)
	if err != nil {
		tg.t.Fatalf("POST %s: %v", path, err)
	}
	return res
}

// settled waits until no message of the customer is queued any more: the
// outbox has made every attempt the webhooks asked for.
func (tg *testGateway) settled() []*engine.Message {
	tg.t.Helper()
	deadline := time.After(20 * time.Second)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		msgs := tg.messages()
		if !slices.ContainsFunc(msgs, func(m *engine.Message) bool { return m.Status == engine.StatusQueued }) {
			return msgs
		}
		select {
		case <-deadline:
			tg.t.Fatalf("messages still queued after 20s: %v", describe(msgs))
		case <-tick.C:
		}
	}
}

// messages returns the customer's stored messages, oldest first.
func (tg *testGateway) messages() []*engine.Message {
	tg.t.Helper()
	var msgs []*engine.Message
	err := tg.store.View(context.Background(), func(tx engine.Tx) error {
		var err error
		msgs, err = tx.Messages(customer, 100)
		return err
	})
	if err != nil {
		tg.t.Fatal(err)
	}
	slices.Reverse(msgs)
	return msgs
}

// describe renders messages as "direction status body" lines.
func describe(msgs []*engine.Message) []string {
	out := make([]string, len(msgs))
	for i, m := range msgs {
		out[i] = fmt.Sprintf("%s %s %q", m.Direction, m.Status, m.Body)
	}
	return out
}

func readBody(t *testing.T, res *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(res.Body)
	res.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestInboundWebhook(t *testing.T) {
	const twiml = `<Response/>`
	received := fmt.Sprintf("%s %s %q", engine.Inbound, engine.StatusReceived, "Join now")
	replied := fmt.Sprintf("%s %s %q", engine.Outbound, engine.StatusSent, "Welcome to Acme!")
	tests := []struct {
		label      string
		before     []string // bodies posted and answered 200 first
		body       string
		sig        signature
		wantStatus int
		wantType   string // Content-Type, when it matters
		wantBody   string // a part of the answer
		wantStored []string
		wantSent   []string // bodies sent to the customer
	}{
		{
			label: "keyword", body: receiveJoin,
			wantStatus: 200, wantType: "text/xml", wantBody: twiml,
			wantStored: []string{received, replied}, wantSent: []string{"Welcome to Acme!"},
		},
		{
			label: "duplicate MessageSid", before: []string{receiveJoin}, body: receiveJoin,
			wantStatus: 200, wantType: "text/xml", wantBody: twiml,
			wantStored: []string{received, replied}, wantSent: []string{"Welcome to Acme!"},
		},
		{label: "bad signature", body: receiveJoin, sig: wronglySent, wantStatus: 403, wantBody: "signature"},
		{label: "missing signature", body: receiveJoin, sig: unsigned, wantStatus: 403, wantBody: "signature"},
		{label: "malformed form", body: receiveMalformed, wantStatus: 400, wantBody: "malformed"},
		{label: "no MessageSid", body: receiveNoSid, wantStatus: 400, wantBody: "malformed"},
		{label: "oversized body", body: receiveJoin + "&Padding=" + strings.Repeat("x", 2048), wantStatus: 413, wantBody: "too large"},
	}
	for _, tt := range tests {
		t.Run(tt.label, func(t *testing.T) {
			tg := newTestGateway(t)
			for _, b := range tt.before {
				if res := tg.post(inboundURL, b, signed); res.StatusCode != 200 {
					t.Fatalf("first post answered %d: %s", res.StatusCode, readBody(t, res))
				}
			}
			res := tg.post(inboundURL, tt.body, tt.sig)
			body := readBody(t, res)
			if res.StatusCode != tt.wantStatus || !strings.Contains(body, tt.wantBody) {
				t.Errorf("answer %d %q, want %d containing %q", res.StatusCode, body, tt.wantStatus, tt.wantBody)
			}
			if got := res.Header.Get("Content-Type"); tt.wantType != "" && got != tt.wantType {
				t.Errorf("Content-Type %q, want %q", got, tt.wantType)
			}
			if got := describe(tg.settled()); !slices.Equal(got, tt.wantStored) {
				t.Errorf("stored\n  %q\nwant\n  %q", got, tt.wantStored)
			}
			var sent []string
			for _, m := range tg.twil.sends() {
				if m.To != customer || m.From != ourSMS {
					t.Errorf("sent from %s to %s, want from %s to %s", m.From, m.To, ourSMS, customer)
				}
				sent = append(sent, m.Body)
			}
			if !slices.Equal(sent, tt.wantSent) {
				t.Errorf("sent %q, want %q", sent, tt.wantSent)
			}
		})
	}
}

// A reply asks Twilio for delivery reports on the status route, with
// keyway's id; the report updates the stored message, and a report that
// the customer opted out at Twilio opts the contact out.
func TestStatusWebhook(t *testing.T) {
	tests := []struct {
		label       string
		body        string
		wantStatus  string
		wantCode    int
		wantOptOut  bool
		keywayIDURL bool // post to the callback URL the send asked for
	}{
		{label: "delivered, on the callback URL", body: statusDelivered, wantStatus: "delivered", keywayIDURL: true},
		{label: "delivered, found by MessageSid", body: statusDelivered, wantStatus: "delivered"},
		{label: "refused: opted out at Twilio", body: statusOptedOut, wantStatus: "failed", wantCode: 21610, wantOptOut: true, keywayIDURL: true},
	}
	for _, tt := range tests {
		t.Run(tt.label, func(t *testing.T) {
			tg := newTestGateway(t)
			if res := tg.post(inboundURL, receiveJoin, signed); res.StatusCode != 200 {
				t.Fatalf("inbound answered %d", res.StatusCode)
			}
			msgs := tg.settled()
			reply := msgs[len(msgs)-1]
			sends := tg.twil.sends()
			if len(sends) != 1 {
				t.Fatalf("sends: %+v", sends)
			}
			wantCallback := publicURL + statusURL + "?msg=" + reply.ID
			if sends[0].StatusCallback != wantCallback {
				t.Fatalf("status callback %q, want %q", sends[0].StatusCallback, wantCallback)
			}
			path := statusURL
			if tt.keywayIDURL {
				path = strings.TrimPrefix(sends[0].StatusCallback, publicURL)
			}
			res := tg.post(path, tt.body, signed)
			if body := readBody(t, res); res.StatusCode != 200 || res.Header.Get("Content-Type") != "text/xml" || !strings.Contains(body, "<Response/>") {
				t.Fatalf("status answered %d %s %q", res.StatusCode, res.Header.Get("Content-Type"), body)
			}
			err := tg.store.View(context.Background(), func(tx engine.Tx) error {
				m, err := tx.Message(reply.ID)
				if err != nil {
					return err
				}
				if string(m.Status) != tt.wantStatus || m.ErrorCode != tt.wantCode || m.Provider != "twilio" || m.ProviderID != "SMreply0001" {
					t.Errorf("reply stored as %s (code %d) through %s %s, want %s (code %d) through twilio SMreply0001",
						m.Status, m.ErrorCode, m.Provider, m.ProviderID, tt.wantStatus, tt.wantCode)
				}
				c, err := tx.Contact(customer)
				if err != nil {
					return err
				}
				if c.OptedOut != tt.wantOptOut {
					t.Errorf("opted out = %v, want %v", c.OptedOut, tt.wantOptOut)
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
		})
	}
}

// A status for a message keyway never sent is answered 200, so that Twilio
// stops retrying it, and a bad signature is refused as on inbound.
func TestStatusWebhookRefusalsAndStrangers(t *testing.T) {
	tg := newTestGateway(t)
	if res := tg.post(statusURL, statusDelivered, signed); res.StatusCode != 200 {
		t.Errorf("status for an unknown message answered %d", res.StatusCode)
	}
	if res := tg.post(statusURL, statusDelivered, wronglySent); res.StatusCode != 403 {
		t.Errorf("badly signed status answered %d", res.StatusCode)
	}
	if res := tg.post(statusURL, "MessageStatus=delivered", signed); res.StatusCode != 400 {
		t.Errorf("status without MessageSid answered %d", res.StatusCode)
	}
}

func TestAdminAPINeedsTheToken(t *testing.T) {
	tg := newTestGateway(t)
	tests := []struct {
		label  string
		header string
		want   int
	}{
		{"no token", "", 401},
		{"wrong token", "Bearer nope", 401},
		{"not a bearer", "Basic " + adminToken, 401},
		{"token", "Bearer " + adminToken, 200},
	}
	for _, tt := range tests {
		t.Run(tt.label, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodGet, "/api/v1/automations", nil)
			if tt.header != "" {
				req.Header.Set("Authorization", tt.header)
			}
			res, err := tg.g.app.Test(req, -1)
			if err != nil {
				t.Fatal(err)
			}
			body := readBody(t, res)
			if res.StatusCode != tt.want {
				t.Errorf("answered %d %s, want %d", res.StatusCode, body, tt.want)
			}
			if tt.want == 200 && !strings.Contains(body, `"id":"join"`) {
				t.Errorf("automations: %s", body)
			}
		})
	}
}
