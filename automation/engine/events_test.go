package engine_test

import (
	"encoding/json"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/keyway-sms/keyway/automation/engine"
	"github.com/keyway-sms/keyway/automation/sim"
	"github.com/keyway-sms/keyway/automation/store/mem"
	"github.com/keyway-sms/keyway/config"
	"github.com/keyway-sms/keyway/providers"
)

const eventsConfig = `
events:
  - url: "https://crm.example.com/all"
    secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
  - url: "https://crm.example.com/optouts"
    secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    types: [contact.opted_out, contact.opted_in]
automations:
  - id: join
    keywords: [JOIN]
    steps:
      - { type: reply, text: "Welcome" }
  - id: agent
    keywords: [AGENT]
    steps:
      - { type: handoff, to: ["+15550100100"], timeout: 1h }
      - { type: reply, text: "Thanks for talking to us" }
`

// takeEvents delivers every pending event of the store, as the worker
// would, one claim after another, and returns the bodies posted, by
// endpoint and contact (space between), in the order they went.
func takeEvents(t *testing.T, store engine.Store, now time.Time) map[string][]map[string]any {
	t.Helper()
	got := map[string][]map[string]any{}
	for {
		var ds []*engine.EventDelivery
		err := store.Update(t.Context(), func(tx engine.Tx) error {
			var err error
			ds, err = tx.ClaimEvents(now, time.Minute, "test", 100)
			for _, d := range ds {
				c := *d
				c.Status, c.SettledAt = engine.EventDelivered, now
				if err := tx.SettleEvent(&c, "test"); err != nil {
					return err
				}
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(ds) == 0 {
			return got
		}
		slices.SortFunc(ds, func(a, b *engine.EventDelivery) int { return strings.Compare(a.ID, b.ID) })
		for _, d := range ds {
			var body map[string]any
			if err := json.Unmarshal(d.Body, &body); err != nil {
				t.Fatalf("event %s: body %s: %v", d.ID, d.Body, err)
			}
			if body["type"] != string(d.Type) {
				t.Fatalf("event %s: body type %v, stored type %s", d.ID, body["type"], d.Type)
			}
			got[d.Endpoint+" "+d.Contact] = append(got[d.Endpoint+" "+d.Contact], body)
		}
	}
}

func types(bodies []map[string]any) []string {
	var out []string
	for _, b := range bodies {
		out = append(out, b["type"].(string))
	}
	return out
}

// What a contact does is stored as events in the transaction that did it,
// one per endpoint that takes its type: a message received, an
// enrollment completed, a handoff opened and closed by staff, an opt-out
// and an opt-in; an endpoint limited to opt-outs gets those alone.
func TestEventsAreStoredWithTheirCause(t *testing.T) {
	e, clock, store := refEngine(t, eventsConfig, "AAAA", "BBBB")
	const contact, staff = "+15551230001", "+15550100100"
	sayFrom(t, e, store, 1, contact, "sms", "JOIN")
	sayFrom(t, e, store, 2, contact, "sms", "AGENT")
	sayFrom(t, e, store, 3, staff, "sms", "#AAAA done")
	sayFrom(t, e, store, 4, contact, "sms", "STOP")
	sayFrom(t, e, store, 5, contact, "sms", "STOP") // already opted out: no second event
	sayFrom(t, e, store, 6, contact, "sms", "START")
	got := takeEvents(t, store, clock.Now())

	all := got["https://crm.example.com/all "+contact]
	want := []string{
		"message.received", "enrollment.completed", // JOIN
		"message.received", "handoff.opened", // AGENT
		"handoff.closed", "enrollment.completed", // staff's done
		"message.received", "contact.opted_out", // STOP
		"message.received",                     // STOP again
		"message.received", "contact.opted_in", // START
	}
	if !slices.Equal(types(all), want) {
		t.Fatalf("events to the endpoint taking all: %q\nwant %q", types(all), want)
	}
	if o := types(got["https://crm.example.com/optouts "+contact]); !slices.Equal(o, []string{"contact.opted_out", "contact.opted_in"}) {
		t.Fatalf("events to the opt-out endpoint: %q", o)
	}
	first := all[0]
	data := first["data"].(map[string]any)
	if data["phone"] != contact || data["body"] != "JOIN" || data["message_id"] == "" || data["channel"] != "sms" {
		t.Errorf("message.received data %v, want the phone, body, message id and channel", data)
	}
	if ts, err := time.Parse(time.RFC3339Nano, first["timestamp"].(string)); err != nil || !ts.Equal(clock.Now()) {
		t.Errorf("timestamp %v (%v), want the time of the turn %s", first["timestamp"], err, clock.Now())
	}
	if staffs := types(got["https://crm.example.com/all "+staff]); !slices.Equal(staffs, []string{"message.received"}) {
		t.Errorf("events about staff: %q, want their message received", staffs)
	}
	opened := all[3]["data"].(map[string]any)
	if opened["ref"] != "AAAA" || opened["automation"] != "agent" || opened["enrollment_id"] == "" {
		t.Errorf("handoff.opened data %v", opened)
	}
	if closed := all[4]["data"].(map[string]any); closed["closed_by"] != "staff" || closed["enrollment_id"] != opened["enrollment_id"] {
		t.Errorf("handoff.closed data %v, want closed by staff, same enrollment", closed)
	}
	if out := all[7]["data"].(map[string]any); out["phone"] != contact || out["reason"] != "opted out" {
		t.Errorf("contact.opted_out data %v", out)
	}
}

// An opt-out or an opt-in names what caused it beside the phone: the STOP
// or START message, or the enrollment whose unsubscribe step opted the
// contact out; one through the admin API names nothing more.
func TestOptOutEventsNameTheirCause(t *testing.T) {
	e, clock, store := refEngine(t, eventsConfig+`
  - id: bye
    keywords: [BYE]
    steps:
      - { type: unsubscribe, scope: all }
`, "AAAA")
	const a, b = "+15551230011", "+15551230012"
	sayFrom(t, e, store, 1, a, "sms", "STOP")
	sayFrom(t, e, store, 2, a, "sms", "START")
	sayFrom(t, e, store, 3, b, "sms", "BYE")
	got := takeEvents(t, store, clock.Now())

	evs := got["https://crm.example.com/all "+a]
	if !slices.Equal(types(evs), []string{"message.received", "contact.opted_out", "message.received", "contact.opted_in"}) {
		t.Fatalf("events about %s: %q", a, types(evs))
	}
	data := func(i int) map[string]any { return evs[i]["data"].(map[string]any) }
	if data(0)["provider_message_id"] != "SM1" || data(1)["provider_message_id"] != "SM1" {
		t.Errorf("message.received %v and contact.opted_out %v, want the STOP's provider id SM1", data(0), data(1))
	}
	if stop := data(0)["message_id"]; stop == "" || data(1)["message_id"] != stop || data(1)["reason"] != "opted out" {
		t.Errorf("contact.opted_out data %v, want the STOP's message_id %v", data(1), stop)
	}
	if start := data(2)["message_id"]; start == "" || data(3)["message_id"] != start {
		t.Errorf("contact.opted_in data %v, want the START's message_id %v", data(3), start)
	}
	evs = got["https://crm.example.com/all "+b]
	if len(evs) < 2 || evs[1]["type"] != "contact.opted_out" {
		t.Fatalf("events about %s: %q", b, types(evs))
	}
	if out := evs[1]["data"].(map[string]any); out["automation"] != "bye" || out["enrollment_id"] == "" || out["enrollment_id"] == nil {
		t.Errorf("contact.opted_out data %v, want the enrollment and automation that unsubscribed the contact", out)
	}
}

// A delivery status that says an outbound message failed stores
// message.failed, once, with the message's ids and the provider's error,
// which is its reason too: a report gives it in the provider's words.
func TestMessageFailedOnAFailedStatus(t *testing.T) {
	e, clock, store := refEngine(t, eventsConfig, "AAAA")
	const contact = "+15551230002"
	sayFrom(t, e, store, 1, contact, "sms", "JOIN")
	takeEvents(t, store, clock.Now())
	id := welcomeID(t, store, contact)
	for range 2 {
		if _, err := e.HandleBatch(t.Context(), "test", providers.Batch{Statuses: []providers.Status{{MessageID: id, ProviderID: "SM" + id, Status: "undelivered", ErrorCode: 30003, ErrorMessage: "Unreachable destination handset"}}}); err != nil {
			t.Fatal(err)
		}
	}
	got := takeEvents(t, store, clock.Now())["https://crm.example.com/all "+contact]
	if !slices.Equal(types(got), []string{"message.failed"}) {
		t.Fatalf("events %q, want one message.failed", types(got))
	}
	data := got[0]["data"].(map[string]any)
	if data["phone"] != contact || data["automation"] != "join" || data["error"] != "Unreachable destination handset" || data["reason"] != "Unreachable destination handset" || data["error_code"] != float64(30003) ||
		data["message_id"] != id || data["provider_message_id"] == nil || data["provider_message_id"] == "" {
		t.Errorf("message.failed data %v", data)
	}
}

// A failure reported with no error code (a carrier that says only
// "undelivered") is stored with an error that says so, the same as its
// message.failed event carries.
func TestFailedStatusWithoutACodeSaysSo(t *testing.T) {
	e, clock, store := refEngine(t, eventsConfig, "AAAA")
	const contact = "+15551230003"
	sayFrom(t, e, store, 1, contact, "sms", "JOIN")
	takeEvents(t, store, clock.Now())
	id := welcomeID(t, store, contact)
	if _, err := e.HandleBatch(t.Context(), "test", providers.Batch{Statuses: []providers.Status{{MessageID: id, ProviderID: "SM" + id, Status: "undelivered"}}}); err != nil {
		t.Fatal(err)
	}
	const want = "the provider reported it undelivered"
	var m *engine.Message
	if err := store.View(t.Context(), func(tx engine.Tx) (err error) {
		m, err = tx.Message(id)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if m.Status != "undelivered" || m.Error != want {
		t.Errorf("stored message: status %s, error %q; want undelivered, %q", m.Status, m.Error, want)
	}
	got := takeEvents(t, store, clock.Now())["https://crm.example.com/all "+contact]
	if len(got) != 1 || got[0]["data"].(map[string]any)["error"] != want {
		t.Errorf("events %v, want one message.failed with error %q", got, want)
	}
}

func welcomeID(t *testing.T, store engine.Store, contact string) string {
	t.Helper()
	var sid string
	err := store.View(t.Context(), func(tx engine.Tx) error {
		ms, err := tx.Messages(contact, 10)
		for _, m := range ms {
			if m.Direction == engine.Outbound {
				sid = m.ID
			}
		}
		return err
	})
	if err != nil || sid == "" {
		t.Fatalf("the welcome's id: %q, %v", sid, err)
	}
	return sid
}

// The engine's event types are the config's, which validate checks.
func TestEventTypesMatchTheConfig(t *testing.T) {
	ours := []engine.EventType{engine.EventContactOptedOut, engine.EventContactOptedIn, engine.EventMessageReceived, engine.EventMessageFailed,
		engine.EventEnrollmentCompleted, engine.EventHandoffOpened, engine.EventHandoffClosed, engine.EventBroadcastDone}
	var names []string
	for _, typ := range ours {
		names = append(names, string(typ))
	}
	if !slices.Equal(names, config.EventTypes) {
		t.Fatalf("engine types %q, config.EventTypes %q", names, config.EventTypes)
	}
}

// The events worker is woken after a commit that stored an event for an
// endpoint, and not after one whose events no endpoint takes: a wake
// costs the worker a claim transaction.
func TestEventsWakeOnlyWhenStored(t *testing.T) {
	const src = `
events:
  - url: "https://crm.example.com/optouts"
    secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    types: [contact.opted_out]
automations:
  - id: join
    keywords: [JOIN]
    steps:
      - { type: reply, text: "Welcome" }
`
	wakes := 0
	store := mem.NewMemStore()
	e := engine.New(store, compileSet(t, src), engine.Options{Clock: engine.NewFakeClock(sim.SimStart), OnEvents: func() { wakes++ }})
	const contact = "+15551230003"
	sayFrom(t, e, store, 1, contact, "sms", "JOIN")
	if wakes != 0 {
		t.Fatalf("%d wakes after a message no endpoint takes an event of, want none", wakes)
	}
	sayFrom(t, e, store, 2, contact, "sms", "STOP")
	if wakes != 1 {
		t.Fatalf("%d wakes after an opt-out the endpoint takes, want one", wakes)
	}
}

// An event's body is the JSON encoding/json writes of {"type",
// "timestamp", "data"}: map keys sorted, HTML escaped, a NUL kept as
// \u0000, numbers and lists as they are.
func TestEventBodyIsStandardJSON(t *testing.T) {
	cfg := &config.Config{Events: []config.EventEndpoint{{URL: "https://crm.example.com/hook", Secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}}}
	now := time.Date(2030, 1, 2, 3, 4, 5, 600, time.FixedZone("x", 3600))
	data := map[string]any{"body": "<b>Tom & Jerry</b> \x00 é 😀 \u2028", "message_id": "SM1", "media": []string{"https://m.example/1?a=1&b=2"},
		"error_code": 30007, "ratio": 0.25, "nested": map[string]any{"z": true, "a": nil}}
	ds, err := engine.NewEventDeliveries(cfg, now, func() string { return "1" }, engine.EventMessageReceived, "+15550001", data)
	if err != nil || len(ds) != 1 {
		t.Fatalf("%d deliveries (%v)", len(ds), err)
	}
	withPhone := maps.Clone(data)
	withPhone["phone"] = "+15550001"
	want, err := json.Marshal(struct {
		Type      engine.EventType `json:"type"`
		Timestamp string           `json:"timestamp"`
		Data      map[string]any   `json:"data"`
	}{engine.EventMessageReceived, now.UTC().Format(time.RFC3339Nano), withPhone})
	if err != nil {
		t.Fatal(err)
	}
	if string(ds[0].Body) != string(want) {
		t.Fatalf("body\n%s\nwant\n%s", ds[0].Body, want)
	}
}
