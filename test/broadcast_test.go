package test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/keyway-sms/keyway/test/fakes"
)

const broadcastsConfig = `
groups: [ { id: news }, { id: empty } ]
automations:
  - id: promo
    steps:
      - { type: reply, text: "Deal {{ vars.code }}" }
  - id: drip
    steps:
      - { type: reply, text: "Day one" }
      - { type: wait, duration: 24h }
      - { type: reply, text: "Day two" }
  - id: paused
    enabled: false
    steps:
      - { type: reply, text: "never" }
`

// broadcastView is a broadcast as the admin API shows it.
type broadcastView struct {
	ID         string         `json:"id"`
	Automation string         `json:"automation"`
	Group      string         `json:"group"`
	Tag        string         `json:"tag"`
	Source     string         `json:"source"`
	By         string         `json:"by"`
	Status     string         `json:"status"`
	Listed     int            `json:"listed"`
	Total      int            `json:"total"`
	Enrolled   int            `json:"enrolled"`
	Skipped    map[string]int `json:"skipped"`
	Sent       int            `json:"sent"`
	Delivered  int            `json:"delivered"`
	Failed     int            `json:"failed"`
	Replied    int            `json:"replied"`
	EndStarted bool           `json:"end_started"`
	Ending     bool           `json:"ending"`
	Ended      int            `json:"ended"`
	Owner      string         `json:"owner"`
	CanceledBy string         `json:"canceled_by"`
}

func (g *Gateway) broadcast(t *testing.T, id string) broadcastView {
	t.Helper()
	var b broadcastView
	if code := g.Admin(http.MethodGet, "/api/v1/broadcasts/"+id, nil, &b); code != http.StatusOK {
		t.Fatalf("GET broadcast %s: %d", id, code)
	}
	return b
}

func (g *Gateway) startBroadcast(t *testing.T, body map[string]any) broadcastView {
	t.Helper()
	var b broadcastView
	if code := g.Admin(http.MethodPost, "/api/v1/broadcasts", body, &b); code != http.StatusCreated {
		t.Fatalf("POST broadcast %v: %d", body, code)
	}
	return b
}

// importContacts stores contacts through the admin API, each with the
// fields given.
func (g *Gateway) importContacts(t *testing.T, body map[string]any, phones ...string) {
	t.Helper()
	for _, p := range phones {
		if code := g.Admin(http.MethodPut, "/api/v1/contacts/"+url.PathEscape(p), body, nil); code != http.StatusCreated && code != http.StatusOK {
			t.Fatalf("PUT contact %s: %d", p, code)
		}
	}
}

func TestBroadcastToAGroupCountsSendsDeliveriesAndReplies(t *testing.T) {
	t.Parallel()
	g := StartGateway(t, broadcastsConfig)
	members := []string{"+15554440001", "+15554440002", "+15554440003", "+15554440004"}
	const optedOut = "+15554440005"
	g.importContacts(t, map[string]any{"groups": []string{"news"}}, members...)
	g.importContacts(t, map[string]any{"groups": []string{"news"}, "opted_out": true}, optedOut)

	b := g.startBroadcast(t, map[string]any{"automation": "promo", "group": "news", "vars": map[string]any{"code": "XMAS"}})
	if b.ID == "" || b.Automation != "promo" || b.Group != "news" || b.Source != "api" || b.Status != "running" || b.Total != 5 {
		t.Fatalf("started %+v, want running (it waits for no time) for the group's 5 members", b)
	}
	Eventually(t, patience, "the broadcast done", func() bool { return g.broadcast(t, b.ID).Status == "done" })
	sent := g.Twilio.WaitSent(t, len(members), patience)
	for _, m := range sent {
		if m.Body != "Deal XMAS" || m.To == optedOut {
			t.Fatalf("sent %+v, want the deal with its code, not to the opted-out contact", m)
		}
	}
	Eventually(t, patience, "four sent", func() bool { return g.broadcast(t, b.ID).Sent == len(members) })
	got := g.broadcast(t, b.ID)
	if got.Total != 5 || got.Enrolled != 4 || got.Skipped["opted_out"] != 1 || got.Skipped["already_enrolled"] != 0 {
		t.Fatalf("counts %+v; want total 5, 4 enrolled, 1 skipped as opted out", got)
	}

	// Three delivered, one undelivered, by the provider's callbacks.
	for i, m := range sent {
		status := "delivered"
		if i == 3 {
			status = "undelivered"
		}
		form := map[string][]string{"MessageSid": {m.SID}, "MessageStatus": {status}, "AccountSid": {g.Twilio.AccountSID}}
		if code, body := g.PostSigned("/webhooks/twilio/status", form); code != http.StatusOK {
			t.Fatalf("status callback: %d %s", code, body)
		}
	}
	// One member writes back, twice: one contact replied.
	g.Text(Inbound{From: members[1], Body: "thanks!"})
	g.Text(Inbound{From: members[1], Body: "really"})
	got = g.broadcast(t, b.ID)
	if got.Sent != 4 || got.Delivered != 3 || got.Failed != 1 || got.Replied != 1 {
		t.Fatalf("counts %+v; want 4 sent, 3 delivered, 1 failed, 1 replied", got)
	}

	var list struct {
		Broadcasts []broadcastView `json:"broadcasts"`
	}
	if code := g.Admin(http.MethodGet, "/api/v1/broadcasts", nil, &list); code != http.StatusOK || len(list.Broadcasts) != 1 || list.Broadcasts[0].Replied != 1 {
		t.Fatalf("list: %d %+v", code, list)
	}

	for _, bad := range []struct {
		name string
		body string
		code int
		says string
	}{
		{"unknown automation", `{"automation": "nope", "group": "news"}`, http.StatusUnprocessableEntity, "no such automation"},
		{"unknown group", `{"automation": "promo", "group": "gold"}`, http.StatusUnprocessableEntity, "no such group"},
		{"paused automation", `{"automation": "paused", "group": "news"}`, http.StatusConflict, "paused"},
		{"no audience", `{"automation": "promo"}`, http.StatusBadRequest, "exactly one of group, tag or contacts"},
		{"two audiences", `{"automation": "promo", "group": "news", "tag": "vip"}`, http.StatusBadRequest, "exactly one"},
		{"an empty list", `{"automation": "promo", "contacts": []}`, http.StatusBadRequest, "contacts: an empty list"},
		{"bad at", `{"automation": "promo", "group": "news", "at": "tomorrow"}`, http.StatusBadRequest, "at: not an RFC 3339 time"},
	} {
		code, out := adminRaw(t, g.URL, http.MethodPost, "/api/v1/broadcasts", bad.body, bearer)
		if code != bad.code || !strings.Contains(out, bad.says) {
			t.Errorf("%s: %d %s; want %d saying %q", bad.name, code, out, bad.code, bad.says)
		}
	}
	// An unknown broadcast is named in the answer, in words that do not
	// name the store.
	for _, method := range []string{http.MethodGet, http.MethodDelete} {
		code, out := adminRaw(t, g.URL, method, "/api/v1/broadcasts/nope", "", bearer)
		wantError(t, method+" an unknown broadcast", code, out, http.StatusNotFound, `no broadcast "nope"`)
		if strings.Contains(out, "bolt") {
			t.Errorf("%s an unknown broadcast: %s names the store", method, out)
		}
	}
}

func TestBroadcastAtATimeAndByTag(t *testing.T) {
	t.Parallel()
	g := StartGateway(t, broadcastsConfig)
	vips := []string{"+15554440011", "+15554440012"}
	g.importContacts(t, map[string]any{"tags": []string{"vip"}}, vips...)
	g.importContacts(t, map[string]any{"tags": []string{"other"}}, "+15554440013")

	// An hour ahead: scheduled, counted already (the 201 and the GET say
	// how many it is for), and canceled before it runs.
	later := g.startBroadcast(t, map[string]any{"automation": "promo", "tag": "vip", "at": time.Now().Add(time.Hour).Format(time.RFC3339)})
	if later.Status != "scheduled" || later.Total != 2 {
		t.Fatalf("a broadcast an hour ahead: %+v, want scheduled, total 2", later)
	}
	if got := g.broadcast(t, later.ID); got.Status != "scheduled" || got.Total != 2 {
		t.Fatalf("a broadcast an hour ahead, read back: %+v, want scheduled, total 2", got)
	}
	var canceled broadcastView
	if code := g.Admin(http.MethodDelete, "/api/v1/broadcasts/"+later.ID, nil, &canceled); code != http.StatusOK || canceled.Status != "canceled" {
		t.Fatalf("cancel: %d %+v", code, canceled)
	}

	// Two seconds ahead: scheduled, then run when its time comes, not
	// before. RFC 3339 has whole seconds, so the time is 1 to 2 s ahead; a
	// slow answer may come after it, and only an answer before it must say
	// scheduled. That no text went before the time is checked either way.
	at := time.Now().Add(2 * time.Second).Truncate(time.Second)
	soon := g.startBroadcast(t, map[string]any{"automation": "promo", "tag": "vip", "at": at.Format(time.RFC3339), "vars": map[string]any{"code": "VIP"}})
	if answered := time.Now(); answered.Before(at) && soon.Status != "scheduled" {
		t.Fatalf("a broadcast two seconds ahead: %+v, want scheduled", soon)
	}
	if soon.Total != 2 {
		t.Fatalf("a broadcast two seconds ahead: %+v, want total 2 in the answer", soon)
	}
	Eventually(t, patience, "the timed broadcast done", func() bool { return g.broadcast(t, soon.ID).Status == "done" })
	sent := g.Twilio.WaitSent(t, 2, patience)
	for _, m := range sent {
		if m.Body != "Deal VIP" || (m.To != vips[0] && m.To != vips[1]) {
			t.Fatalf("sent %+v, want the deal to the two VIPs only", m)
		}
		if m.At.Before(at) {
			t.Fatalf("the timed broadcast's text went at %s, before its time %s", m.At, at)
		}
	}
	if b := g.broadcast(t, soon.ID); b.Total != 2 || b.Enrolled != 2 {
		t.Errorf("by tag: %+v, want 2 of 2", b)
	}
	g.Settled(t, "+15554440013")
	if got := g.broadcast(t, later.ID); got.Status != "canceled" || got.Enrolled != 0 {
		t.Errorf("the canceled broadcast: %+v", got)
	}
	if n := len(g.Twilio.Sent()); n != 2 {
		t.Errorf("%d messages sent, want 2: the canceled broadcast sent nothing", n)
	}
}

func TestBroadcastCancelEndsStartedEnrollmentsOnlyWhenAsked(t *testing.T) {
	t.Parallel()
	g := StartGateway(t, broadcastsConfig)
	keep := g.startBroadcast(t, map[string]any{"automation": "drip", "contacts": []string{"+15554440021", "+15554440022", "no number!", "Nonsense"}})
	// The answer's "contacts" would be the list a request gives; the
	// answer counts the addresses listed instead.
	if code, raw := adminRaw(t, g.URL, http.MethodGet, "/api/v1/broadcasts/"+keep.ID, "", bearer); code != http.StatusOK || keep.Listed != 2 || strings.Contains(raw, `"contacts"`) {
		t.Fatalf("a listed broadcast: %d %s; want 2 listed and no number named contacts", code, raw)
	}
	end := g.startBroadcast(t, map[string]any{"automation": "drip", "contacts": []string{"+15554440023", "+15554440024"}})
	for _, id := range []string{keep.ID, end.ID} {
		Eventually(t, patience, "the broadcast done", func() bool { return g.broadcast(t, id).Status == "done" })
	}
	// "Nonsense" reads as an alphanumeric sender id: a contact may write
	// from one, but nothing can be sent to it.
	if b := g.broadcast(t, keep.ID); b.Total != 4 || b.Enrolled != 2 || b.Skipped["invalid"] != 2 {
		t.Fatalf("a list with a bad number and a sender id: %+v, want 2 enrolled and 2 invalid of 4", b)
	}
	active := func(phone string) bool {
		for _, en := range g.Enrollments("drip", phone) {
			if en.Status != "ended" {
				return true
			}
		}
		return false
	}
	if code := g.Admin(http.MethodDelete, "/api/v1/broadcasts/"+keep.ID, nil, nil); code != http.StatusOK {
		t.Fatalf("cancel: %d", code)
	}
	if !active("+15554440021") || !active("+15554440022") {
		t.Errorf("canceled without end: the started enrollments must go on")
	}
	var b broadcastView
	if code := g.Admin(http.MethodDelete, "/api/v1/broadcasts/"+end.ID+"?end=true", nil, &b); code != http.StatusOK || !b.EndStarted {
		t.Fatalf("cancel with end: %d %+v", code, b)
	}
	if active("+15554440023") || active("+15554440024") {
		t.Errorf("canceled with end: the started enrollments must end")
	}
	if !active("+15554440021") {
		t.Errorf("canceling one broadcast with end ended another's enrollment")
	}
	if code := g.Admin(http.MethodDelete, "/api/v1/broadcasts/nope", nil, nil); code != http.StatusNotFound {
		t.Errorf("cancel an unknown broadcast: %d, want 404", code)
	}
}

// A manual start is a broadcast too: it answers with counts, and is listed.
func TestManualStartAnswersWithCounts(t *testing.T) {
	t.Parallel()
	g := StartGateway(t, broadcastsConfig)
	var members []string
	for i := range 7 {
		members = append(members, fmt.Sprintf("+155544401%02d", i))
	}
	g.importContacts(t, map[string]any{"groups": []string{"news"}}, members...)
	g.importContacts(t, map[string]any{"groups": []string{"news"}, "opted_out": true}, members[0])
	var res map[string]any
	if code := g.Admin(http.MethodPost, "/api/v1/automations/promo/enrollments", map[string]any{"group": "news"}, &res); code != http.StatusAccepted {
		t.Fatalf("manual start: %d", code)
	}
	skipped, _ := res["skipped"].(map[string]any)
	if res["started"] != float64(6) || res["enrolled"] != float64(6) || res["total"] != float64(7) || skipped["opted_out"] != float64(1) ||
		res["status"] != "done" || res["broadcast"] == "" {
		t.Fatalf("manual start answered %v; want 7 in all, 6 started (enrolled), 1 opted out, the broadcast done", res)
	}
	if b := g.broadcast(t, res["broadcast"].(string)); b.Source != "manual" || b.Enrolled != 6 {
		t.Errorf("the manual start's broadcast: %+v", b)
	}
}

// A broadcast that finishes tells the CRM: a signed broadcast.done event
// with its counts.
func TestBroadcastDoneEvent(t *testing.T) {
	t.Parallel()
	crm := newEventReceiver(t)
	g := StartGateway(t, eventsConfig(crm.URL+"/hooks", "[broadcast.done]"))
	b := g.startBroadcast(t, map[string]any{"automation": "join", "contacts": []string{"+15554440031", "+15554440032", "bad!"}})
	Eventually(t, patience, "the broadcast.done event at the CRM", func() bool { return len(crm.received()) >= 1 })
	ev := crm.received()[0]
	if err := verifyEvent(eventsSecret, ev); err != nil {
		t.Fatalf("signature: %v", err)
	}
	var body struct {
		Type string         `json:"type"`
		Data map[string]any `json:"data"`
	}
	if err := json.Unmarshal(ev.body, &body); err != nil {
		t.Fatalf("body %s: %v", ev.body, err)
	}
	skipped, _ := body.Data["skipped"].(map[string]any)
	if body.Type != "broadcast.done" || body.Data["broadcast_id"] != b.ID || body.Data["automation"] != "join" ||
		body.Data["total"] != float64(3) || body.Data["enrolled"] != float64(2) || skipped["invalid"] != float64(1) {
		t.Fatalf("event %s, want broadcast.done for %s with 2 of 3 enrolled, 1 invalid", ev.body, b.ID)
	}
	// Every reason is named, as the API names them: a CRM reads
	// skipped.opted_out as 0, not as a missing key.
	for _, reason := range []string{"opted_out", "left_group", "invalid", "already_enrolled"} {
		if _, ok := skipped[reason]; !ok {
			t.Errorf("event %s: skipped has no %s", ev.body, reason)
		}
	}
	if got := g.broadcast(t, b.ID); got.Status != "done" {
		t.Errorf("the broadcast is %s after its done event", got.Status)
	}
}

// A broadcast started through the admin API records who started it, as
// one from the dashboard does: the broadcast's by is admin (the token),
// and so is started_by on the enrollments it makes.
func TestBroadcastThroughTheAPIRecordsWho(t *testing.T) {
	t.Parallel()
	g := StartGateway(t, broadcastsConfig)
	const ann = "+15554440201"
	b := g.startBroadcast(t, map[string]any{"automation": "drip", "contacts": []string{ann}})
	if b.By != "admin" {
		t.Errorf("the broadcast's answer: by %q, want admin", b.By)
	}
	Eventually(t, patience, "the broadcast done", func() bool { return g.broadcast(t, b.ID).Status == "done" })
	var out struct {
		Enrollments []struct {
			StartedBy string `json:"started_by"`
		} `json:"enrollments"`
	}
	if code := g.Admin(http.MethodGet, "/api/v1/enrollments?automation=drip&contact="+url.QueryEscape(ann), nil, &out); code != http.StatusOK {
		t.Fatalf("enrollments: %d", code)
	}
	if len(out.Enrollments) != 1 || out.Enrollments[0].StartedBy != "admin" {
		t.Errorf("the broadcast's enrollment: %+v, want one started by admin", out.Enrollments)
	}
}

// The broadcasts list pages as the other lists do: `next_cursor` while
// more follow, passed back as `cursor`; none on the last page, even a
// full one.
func TestBroadcastsListPages(t *testing.T) {
	t.Parallel()
	g := StartGateway(t, broadcastsConfig)
	at := time.Now().Add(time.Hour).Format(time.RFC3339)
	var ids []string
	for i := range 3 {
		b := g.startBroadcast(t, map[string]any{"automation": "promo", "contacts": []string{fmt.Sprintf("+1555444009%d", i)}, "at": at})
		ids = append([]string{b.ID}, ids...) // newest first
	}
	type page struct {
		Broadcasts []broadcastView `json:"broadcasts"`
		NextCursor string          `json:"next_cursor"`
	}
	var got []string
	cursor := ""
	for n := 0; ; n++ {
		var p page
		if code := g.Admin(http.MethodGet, "/api/v1/broadcasts?limit=2&cursor="+url.QueryEscape(cursor), nil, &p); code != http.StatusOK {
			t.Fatalf("page %d: %d", n, code)
		}
		for _, b := range p.Broadcasts {
			got = append(got, b.ID)
		}
		if p.NextCursor == "" {
			break
		}
		if n > 3 {
			t.Fatalf("more pages than broadcasts: %q", got)
		}
		cursor = p.NextCursor
	}
	if !slices.Equal(got, ids) {
		t.Fatalf("listed %q, want %q, newest first, each once", got, ids)
	}
	var full page
	if code := g.Admin(http.MethodGet, "/api/v1/broadcasts?limit=3", nil, &full); code != http.StatusOK || len(full.Broadcasts) != 3 || full.NextCursor != "" {
		t.Fatalf("a full last page: %d, %d broadcasts, next_cursor %q; want 3 and none", code, len(full.Broadcasts), full.NextCursor)
	}
	// A cursor the API did not give is refused, not read as a place.
	for _, bad := range []string{"garbage", "zzzzzzzzzzzzzzzzzzzzzz"} {
		if code := g.Admin(http.MethodGet, "/api/v1/broadcasts?cursor="+bad, nil, nil); code != http.StatusBadRequest {
			t.Errorf("cursor=%s: %d, want 400", bad, code)
		}
	}
}

// A contact imported as "whatsapp:+1555…" is reached on WhatsApp by a
// group broadcast, as a listed "whatsapp:" contact is: outside the window,
// as the step's template; one imported as a bare number gets the text by
// SMS.
func TestBroadcastReachesAContactImportedOnWhatsApp(t *testing.T) {
	t.Parallel()
	g := StartGateway(t, `
groups: [ { id: news } ]
automations:
  - id: sale
    steps:
      - { type: reply, text: "Winter sale", template: { content_sid: "HX0123456789abcdef0123456789abcdef", variables: { "1": "{{ contact.name }}" } } }
`)
	const onWhatsApp, bySMS = "+15554440031", "+15554440032"
	g.importContacts(t, map[string]any{"groups": []string{"news"}, "name": "Wren"}, "whatsapp:"+onWhatsApp)
	g.importContacts(t, map[string]any{"groups": []string{"news"}}, bySMS)
	g.startBroadcast(t, map[string]any{"automation": "sale", "group": "news"})
	sent := g.Twilio.WaitSent(t, 2, patience)
	byTo := map[string]fakes.Message{}
	for _, m := range sent {
		byTo[m.To] = m
	}
	if m, ok := byTo["whatsapp:"+onWhatsApp]; !ok || m.ContentSID != "HX0123456789abcdef0123456789abcdef" || m.From != "whatsapp:"+OurWhatsApp {
		t.Errorf("to the contact imported on WhatsApp: %+v, want the template from our WhatsApp number (all sent: %+v)", m, sent)
	}
	if m, ok := byTo[bySMS]; !ok || m.Body != "Winter sale" || m.From != OurSMS {
		t.Errorf("to the contact imported by number: %+v, want the text by SMS (all sent: %+v)", m, sent)
	}
}
