package test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// eventsSecret is a Standard Webhooks secret: whsec_ and 24 bytes in base64.
const eventsSecret = "whsec_a2V5d2F5LWUyZS1ldmVudHMtc2VjcmV0"

// eventReceiver is a CRM's endpoint on loopback: it answers each POST
// with the next status of its script (200 once it is used up) and keeps
// every request.
type eventReceiver struct {
	*httptest.Server
	mu     sync.Mutex
	script []int
	got    []receivedEvent
}

type receivedEvent struct {
	header http.Header
	body   []byte
}

func newEventReceiver(t *testing.T, script ...int) *eventReceiver {
	t.Helper()
	r := &eventReceiver{script: script}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.got = append(r.got, receivedEvent{req.Header.Clone(), body})
		status := http.StatusOK
		if len(r.script) > 0 {
			status, r.script = r.script[0], r.script[1:]
		}
		r.mu.Unlock()
		w.WriteHeader(status)
	}))
	t.Cleanup(r.Close)
	return r
}

func (r *eventReceiver) received() []receivedEvent {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.got)
}

// verifyEvent checks a request's signature as a receiver would, written
// here from the Standard Webhooks convention alone, apart from the
// library keyway signs with: HMAC-SHA256, keyed with the secret after
// whsec_ decoded from base64, of "webhook-id.webhook-timestamp.body", in
// base64 after "v1,"; and a timestamp within five minutes.
func verifyEvent(secret string, ev receivedEvent) error {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil {
		return err
	}
	id, ts := ev.header.Get("webhook-id"), ev.header.Get("webhook-timestamp")
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return fmt.Errorf("webhook-timestamp %q: %w", ts, err)
	}
	if d := time.Since(time.Unix(sec, 0)); d > 5*time.Minute || d < -5*time.Minute {
		return fmt.Errorf("webhook-timestamp %s is %s away", ts, d)
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(id + "." + ts + "."))
	mac.Write(ev.body)
	want := "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil))
	for _, sig := range strings.Fields(ev.header.Get("webhook-signature")) {
		if hmac.Equal([]byte(sig), []byte(want)) {
			return nil
		}
	}
	return fmt.Errorf("webhook-signature %q matches no signature of the body (want %q)", ev.header.Get("webhook-signature"), want)
}

func eventsConfig(url, types string) string {
	return fmt.Sprintf(`
http:
  allow_private: true   # the receiver is on loopback
events:
  - url: %q
    secret: %q
    types: %s
automations:
  - id: join
    keywords: [JOIN]
    steps:
      - { type: reply, text: "Welcome" }
`, url, eventsSecret, types)
}

// A STOP reaches the CRM as a contact.opted_out event, signed as the
// Standard Webhooks convention says (checked here by an implementation of
// our own), with the contact's phone and the STOP's message id; an
// endpoint that takes only opt-outs gets nothing for the JOIN before it.
func TestStopSendsASignedOptedOutEvent(t *testing.T) {
	t.Parallel()
	crm := newEventReceiver(t)
	g := StartGateway(t, eventsConfig(crm.URL+"/hooks/keyway?token=x", "[contact.opted_out]"))
	const from = "+15553340001"
	g.Text(Inbound{From: from, Body: "JOIN"})
	g.Text(Inbound{From: from, Body: "STOP"})
	Eventually(t, patience, "the opt-out event at the CRM", func() bool { return len(crm.received()) >= 1 })
	ev := crm.received()[0]
	if err := verifyEvent(eventsSecret, ev); err != nil {
		t.Fatalf("signature: %v", err)
	}
	var body struct {
		Type      string         `json:"type"`
		Timestamp time.Time      `json:"timestamp"`
		Data      map[string]any `json:"data"`
	}
	if err := json.Unmarshal(ev.body, &body); err != nil {
		t.Fatalf("body %s: %v", ev.body, err)
	}
	if body.Type != "contact.opted_out" || body.Data["phone"] != from || body.Timestamp.IsZero() || ev.header.Get("Content-Type") != "application/json" {
		t.Fatalf("event %s (%s), want contact.opted_out for %s with its time", ev.body, ev.header.Get("Content-Type"), from)
	}
	if !strings.HasPrefix(ev.header.Get("webhook-id"), "evt_") {
		t.Errorf("webhook-id %q", ev.header.Get("webhook-id"))
	}
	stop, sid := "", ""
	for _, m := range g.Messages(from) {
		if m.Direction == "in" && m.Body == "STOP" {
			stop, sid = m.ID, m.ProviderID
		}
	}
	if stop == "" || body.Data["message_id"] != stop {
		t.Errorf("event data %v, want the STOP's message_id %q", body.Data, stop)
	}
	// And Twilio's own id of it, as the CRM sees it in Twilio's logs.
	if sid == "" || body.Data["provider_message_id"] != sid {
		t.Errorf("event data %v, want the STOP's provider_message_id %q", body.Data, sid)
	}
	tampered := ev
	tampered.body = []byte(strings.Replace(string(ev.body), from, "+15553340002", 1))
	if verifyEvent(eventsSecret, tampered) == nil {
		t.Fatal("the verifier accepts a changed body: it proves nothing")
	}
	Eventually(t, patience, "the delivery counted on /metrics", func() bool {
		return strings.Contains(scrape(t, g), fmt.Sprintf(`keyway_event_deliveries_total{endpoint="%s/hooks/keyway",result="delivered"} 1`, crm.URL))
	})
	if n := len(crm.received()); n != 1 {
		t.Fatalf("the CRM got %d events, want the opt-out alone", n)
	}
}

// A CRM that answers 500 twice, then 200, gets the same event three
// times with the same webhook-id, each attempt signed; /metrics counts
// two retries and one delivery.
func TestEventRetriedWithTheSameWebhookID(t *testing.T) {
	t.Parallel()
	crm := newEventReceiver(t, 500, 500)
	g := StartGateway(t, eventsConfig(crm.URL, "[message.received]"))
	g.Text(Inbound{From: "+15553340003", Body: "hello"})
	Eventually(t, patience, "the third attempt", func() bool { return len(crm.received()) >= 3 })
	Eventually(t, patience, "the retries and the delivery counted", func() bool {
		m := scrape(t, g)
		return strings.Contains(m, fmt.Sprintf(`keyway_event_deliveries_total{endpoint="%s",result="retrying"} 2`, crm.URL)) &&
			strings.Contains(m, fmt.Sprintf(`keyway_event_deliveries_total{endpoint="%s",result="delivered"} 1`, crm.URL))
	})
	got := crm.received()
	if len(got) != 3 {
		t.Fatalf("the CRM got %d posts, want 3", len(got))
	}
	id := got[0].header.Get("webhook-id")
	for i, ev := range got {
		if ev.header.Get("webhook-id") != id || string(ev.body) != string(got[0].body) {
			t.Errorf("post %d: webhook-id %q, body %s; want %q and the first post's body", i, ev.header.Get("webhook-id"), ev.body, id)
		}
		if err := verifyEvent(eventsSecret, ev); err != nil {
			t.Errorf("post %d: %v", i, err)
		}
	}
}

// An event given up is marked failed, and both /metrics and the
// dashboard's overview show it: here the CRM answers 500 until its
// endpoint is taken out of the config, which fails its pending event at
// once (the retry period's end is the same path, a day later).
func TestFailedEventShownOnTheDashboardAndMetrics(t *testing.T) {
	t.Parallel()
	crm := newEventReceiver(t, slices.Repeat([]int{500}, 1000)...)
	g := StartGateway(t, eventsConfig(crm.URL, "[message.received]"))
	g.Text(Inbound{From: "+15553340005", Body: "hello"})
	Eventually(t, patience, "a first attempt refused", func() bool { return len(crm.received()) >= 1 })
	c, _ := dashLogin(t, g)
	if _, page := dashDo(t, c, http.MethodGet, g.URL+"/admin/overview", nil); !strings.Contains(page, "marked failed): 0 in 30 days") {
		t.Fatalf("the overview before any event failed:\n%s", page)
	}
	g.WriteConfig(`
automations:
  - id: join
    keywords: [JOIN]
    steps:
      - { type: reply, text: "Welcome" }
`)
	if code := g.Admin(http.MethodPost, "/api/v1/reload", nil, nil); code != http.StatusOK {
		t.Fatalf("reload without the endpoint: %d", code)
	}
	Eventually(t, patience, "the failure counted on /metrics", func() bool {
		return strings.Contains(scrape(t, g), fmt.Sprintf(`keyway_event_deliveries_total{endpoint="%s",result="failed"} 1`, crm.URL))
	})
	if _, page := dashDo(t, c, http.MethodGet, g.URL+"/admin/overview", nil); !strings.Contains(page, "marked failed): 1 in 30 days") {
		t.Fatalf("the overview does not show the failed event:\n%s", page)
	}
}
