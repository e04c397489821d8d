package test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keyway-sms/keyway/test/fakeprovider"
)

// These tests drive keywords through test/fakeprovider, a provider that
// reaches keyway through the providers registry alone (the harness builds
// the binary with -tags keywaytest): its own config section, routes, JSON
// wire format, signature and opt-out mapping, beside Twilio's.

const (
	fakeSecret = "fake-secret"
	fakeNumber = "+15005550077"
)

// fakeSends is the fake provider's send_url: it records what keyway sends
// through the fake provider and can refuse sends as opted out.
type fakeSends struct {
	t   *testing.T
	srv *httptest.Server

	mu         sync.Mutex
	got        []fakeprovider.SentMessage
	optOutLeft int
	hangUps    int
	lookups    int
}

func newFakeSends(t *testing.T) *fakeSends {
	f := &fakeSends{t: t}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeSends) URL() string { return f.srv.URL + "/send" }

func (f *fakeSends) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	w.Header().Set("Content-Type", "application/json")
	if r.Method == http.MethodGet {
		f.lookUp(w, r)
		return
	}
	if r.Header.Get(fakeprovider.SignatureHeader) != fakeprovider.Sign(fakeSecret, f.URL(), body) {
		w.WriteHeader(http.StatusUnauthorized)
		fmt.Fprint(w, `{"reason":"bad signature"}`)
		return
	}
	var m fakeprovider.SentMessage
	if err := json.Unmarshal(body, &m); err != nil {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.optOutLeft > 0 {
		f.optOutLeft--
		w.WriteHeader(http.StatusForbidden)
		fmt.Fprintf(w, `{"reason":%q}`, fakeprovider.ReasonOptedOut)
		return
	}
	f.got = append(f.got, m)
	if f.hangUps > 0 {
		f.hangUps--
		if conn, _, err := http.NewResponseController(w).Hijack(); err == nil {
			conn.Close()
		}
		return
	}
	fmt.Fprintf(w, `{"id":"FKOUT%d"}`, len(f.got))
}

// lookUp answers a signed GET ?id=ID with the ids of the sends that
// carried keyway's message id ID.
func (f *fakeSends) lookUp(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get(fakeprovider.SignatureHeader) != fakeprovider.Sign(fakeSecret, f.srv.URL+r.URL.RequestURI(), nil) {
		w.WriteHeader(http.StatusUnauthorized)
		fmt.Fprint(w, `{"reason":"bad signature"}`)
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.lookups++
	ids := []string{}
	for i, m := range f.got {
		if m.ID == r.URL.Query().Get("id") {
			ids = append(ids, fmt.Sprintf("FKOUT%d", i+1))
		}
	}
	_ = json.NewEncoder(w).Encode(fakeprovider.SentIDs{IDs: ids})
}

// hangUpNext makes the next n sends be taken, then their connections
// closed without an answer.
func (f *fakeSends) hangUpNext(n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.hangUps = n
}

// refuseNext makes the next n sends fail: the recipient opted out.
func (f *fakeSends) refuseNext(n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.optOutLeft = n
}

// to returns what was sent to a number so far.
func (f *fakeSends) to(number string) []fakeprovider.SentMessage {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []fakeprovider.SentMessage
	for _, m := range f.got {
		if m.To == number {
			out = append(out, m)
		}
	}
	return out
}

// fakeSection continues the harness's providers mapping (its head ends
// with Twilio's numbers) with the fake provider's section.
func fakeSection(sendURL string) string {
	return fmt.Sprintf(`  fake:
    secret: %q
    send_url: %q
    numbers:
      - { number: %q, channel: sms }
`, fakeSecret, sendURL, fakeNumber)
}

const fakeJoin = `automations:
  - id: join
    keywords: [JOIN]
    steps:
      - { type: reply, text: "Welcome, through the fake provider" }
`

// postFake posts v as JSON to path, signed with secret as the fake
// provider signs it, and returns the status, Content-Type and body.
func postFake(t *testing.T, g *Gateway, path, secret string, v any) (int, string, string) {
	t.Helper()
	body, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequest(http.MethodPost, g.URL+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(fakeprovider.SignatureHeader, fakeprovider.Sign(secret, PublicURL+path, body))
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", path, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, res.Header.Get("Content-Type"), string(b)
}

// storedMessage is a stored message with the provider it went through.
type storedMessage struct {
	Message
	Provider   string `json:"provider"`
	ProviderID string `json:"provider_id"`
}

// storedMessages returns a contact's stored messages, newest first.
func storedMessages(t *testing.T, g *Gateway, phone string) []storedMessage {
	t.Helper()
	var out struct{ Messages []storedMessage }
	if code := g.Admin(http.MethodGet, "/api/v1/contacts/"+url.PathEscape(phone)+"/messages", nil, &out); code != http.StatusOK && code != http.StatusNotFound {
		t.Fatalf("messages of %s: status %d", phone, code)
	}
	return out.Messages
}

func TestKeywordThroughARegisteredProvider(t *testing.T) {
	t.Parallel()
	sends := newFakeSends(t)
	g := StartGateway(t, fakeSection(sends.URL())+fakeJoin)
	const who = "+15551237701"

	code, ctype, body := postFake(t, g, fakeprovider.InboundPath, fakeSecret,
		fakeprovider.InboundMessage{ID: "FKIN1", From: who, To: fakeNumber, Text: "join"})
	if code != 200 || ctype != "application/json" || body != `{"ok":true}` {
		t.Fatalf("inbound answered %d %s %q", code, ctype, body)
	}
	var reply storedMessage
	Eventually(t, 10*time.Second, "the reply recorded as sent through the fake provider", func() bool {
		ms := storedMessages(t, g, who)
		if len(ms) != 2 || ms[0].Status != "sent" {
			return false
		}
		reply = ms[0]
		return true
	})
	if reply.Provider != fakeprovider.Name || reply.ProviderID != "FKOUT1" || reply.From != fakeNumber {
		t.Errorf("reply stored through %s %s from %s", reply.Provider, reply.ProviderID, reply.From)
	}
	sent := sends.to(who)
	wantCallback := PublicURL + fakeprovider.StatusPath + "?msg=" + reply.ID
	if len(sent) != 1 || sent[0].Text != "Welcome, through the fake provider" || sent[0].From != fakeNumber || sent[0].Callback != wantCallback {
		t.Fatalf("sent through the fake provider: %+v; want one welcome from %s with callback %s", sent, fakeNumber, wantCallback)
	}

	// The same id again is answered and does nothing; a badly signed one is
	// refused and stores nothing.
	if code, _, _ := postFake(t, g, fakeprovider.InboundPath, fakeSecret,
		fakeprovider.InboundMessage{ID: "FKIN1", From: who, To: fakeNumber, Text: "join"}); code != 200 {
		t.Errorf("duplicate answered %d", code)
	}
	if code, _, _ := postFake(t, g, fakeprovider.InboundPath, "not-the-secret",
		fakeprovider.InboundMessage{ID: "FKIN2", From: "+15551237702", To: fakeNumber, Text: "join"}); code != 403 {
		t.Errorf("bad signature answered %d", code)
	}
	if code, _, _ := postFake(t, g, fakeprovider.InboundPath, fakeSecret, map[string]string{"text": "join"}); code != 400 {
		t.Errorf("a message without id answered %d", code)
	}

	// The delivery report comes back on the callback the send asked for.
	callback := strings.TrimPrefix(sent[0].Callback, PublicURL)
	if code, _, _ := postFake(t, g, callback, fakeSecret, fakeprovider.StatusReport{ID: "FKOUT1", State: "delivered"}); code != 200 {
		t.Fatalf("status answered %d", code)
	}
	Eventually(t, 10*time.Second, "the reply marked delivered", func() bool {
		ms := storedMessages(t, g, who)
		return len(ms) > 0 && ms[0].Status == "delivered"
	})

	// Twilio's webhook is mounted beside the fake's; a marker through it
	// proves the duplicate above was handled to the end.
	g.Text(Inbound{From: "+15551237703", Body: "JOIN"})
	if got := repliesTo(t, g, "+15551237703", 1); got[0] != "Welcome, through the fake provider" {
		t.Errorf("Twilio marker got %q", got)
	}
	if n := len(sends.to(who)); n != 1 {
		t.Errorf("the duplicate got a reply: %d sends", n)
	}
	if ms := storedMessages(t, g, who); len(ms) != 2 {
		t.Errorf("stored %d messages for the contact, want 2", len(ms))
	}
	if ms := storedMessages(t, g, "+15551237702"); len(ms) != 0 {
		t.Errorf("the badly signed message was stored: %+v", ms)
	}
	for _, m := range g.Twilio.Sent() {
		if m.To == who {
			t.Errorf("Twilio sent %q to the fake provider's contact", m.Body)
		}
	}
}

// The fake provider maps its own refusals to an opt-out, in a delivery
// report and in a send's answer; the engine opts the contact out on the
// flag alone.
func TestOptOutsReportedByARegisteredProvider(t *testing.T) {
	t.Parallel()
	sends := newFakeSends(t)
	g := StartGateway(t, fakeSection(sends.URL())+fakeJoin)

	const reported = "+15551237711"
	if code, _, _ := postFake(t, g, fakeprovider.InboundPath, fakeSecret,
		fakeprovider.InboundMessage{ID: "FKIN11", From: reported, To: fakeNumber, Text: "JOIN"}); code != 200 {
		t.Fatalf("inbound answered %d", code)
	}
	Eventually(t, 10*time.Second, "the reply sent", func() bool { return len(sends.to(reported)) == 1 })
	callback := strings.TrimPrefix(sends.to(reported)[0].Callback, PublicURL)
	if code, _, _ := postFake(t, g, callback, fakeSecret,
		fakeprovider.StatusReport{ID: "FKOUT1", State: "failed", Reason: fakeprovider.ReasonOptedOut}); code != 200 {
		t.Fatalf("status answered %d", code)
	}
	if !g.Contact(reported).Contact.OptedOut {
		t.Error("an opt-out in the fake provider's report did not opt the contact out")
	}

	const refused = "+15551237712"
	sends.refuseNext(1)
	if code, _, _ := postFake(t, g, fakeprovider.InboundPath, fakeSecret,
		fakeprovider.InboundMessage{ID: "FKIN12", From: refused, To: fakeNumber, Text: "JOIN"}); code != 200 {
		t.Fatalf("inbound answered %d", code)
	}
	Eventually(t, 10*time.Second, "the refused send recorded and the contact opted out", func() bool {
		ms := storedMessages(t, g, refused)
		return len(ms) == 2 && ms[0].Status == "failed" && g.Contact(refused).Contact.OptedOut
	})
}

// validate checks the fake provider's section with the check it
// registered, and knows exactly the providers compiled in.
func TestValidateKnowsTheRegisteredProviders(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "keyway.yaml")
	const src = `providers:
  fake:
    secret: "s"
    sendurl: "http://127.0.0.1:1/send"
  bogus: {}
`
	if err := os.WriteFile(path, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out := Keyway(t, "", "validate", "--config", path)
	if code != 1 {
		t.Fatalf("exit %d, want 1:\n%s", code, out)
	}
	for _, w := range []string{
		path + `:3:5: providers.fake: send_url must be an absolute http(s) URL, got ""`,
		path + `:4:5: unknown key "sendurl" in providers.fake (did you mean "send_url"? allowed: secret, send_url)`,
		path + `:5:3: unknown key "bogus" in providers (allowed: twilio, fake, meta, vonage)`,
	} {
		if !strings.Contains(out, w) {
			t.Errorf("output lacks %q:\n%s", w, out)
		}
	}
}
