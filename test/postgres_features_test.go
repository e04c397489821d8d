package test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keyway-sms/keyway/providers/vonage"
	"github.com/keyway-sms/keyway/test/fakes"
)

// grownConfig has a broadcast's automation, a wait for a date from vars
// and a catch-all answer, with message.received events to url.
func grownConfig(url string) string {
	return fmt.Sprintf(`
http:
  allow_private: true   # the receiver is on loopback
events:
  - url: %q
    secret: %q
    types: [message.received]
automations:
  - id: promo
    steps:
      - { type: reply, text: "Deal {{ vars.code }}" }
  - id: visit
    steps:
      - { type: wait, at: "{{ vars.visit_at }}" }
      - { type: reply, text: "see you soon" }
  - id: echo
    catch_all: true
    steps:
      - { type: reply, text: "got {{ message.body }}" }
`, url, eventsSecret)
}

// Three processes on one database: a broadcast scheduled a few seconds
// ahead and a wait for a date are both made on one process, SIGKILLed
// before either is due and not started again; the others run the
// broadcast and fire the wait, once each.
func TestPostgresScheduledBroadcastAndDatedWaitOutliveTheirProcess(t *testing.T) {
	t.Parallel()
	crm := newEventReceiver(t)
	gs := startShared(t, 3, grownConfig(crm.URL))
	a := gs[0]
	contacts := crashContacts(60)
	at := time.Now().Add(3 * time.Second).Truncate(time.Second)
	b := a.startBroadcast(t, map[string]any{"automation": "promo", "contacts": contacts, "at": at.Format(time.RFC3339), "vars": map[string]any{"code": "X"}})
	if b.Status != "scheduled" {
		t.Fatalf("broadcast %+v, want scheduled", b)
	}
	const visitor = "+15552239001"
	body := map[string]any{"contacts": []string{visitor}, "vars": map[string]any{"visit_at": at.UTC().Format(time.RFC3339)}}
	if code := a.Admin(http.MethodPost, "/api/v1/automations/visit/enrollments", body, nil); code != http.StatusAccepted {
		t.Fatalf("manual start: %d", code)
	}
	a.Kill()
	other := gs[1]
	Eventually(t, 2*patience, "the broadcast done on the others", func() bool { return other.broadcast(t, b.ID).Status == "done" })
	Eventually(t, 2*patience, "every deal and the reminder sent", func() bool {
		n := 0
		for _, m := range a.Twilio.Sent() {
			if m.Body == "Deal X" || m.Body == "see you soon" {
				n++
			}
		}
		return n >= len(contacts)+1
	})
	for _, g := range gs[1:] {
		for _, c := range contacts {
			g.Settled(t, c)
		}
		g.Settled(t, visitor)
	}
	sent := map[string]int{}
	for _, m := range a.Twilio.Sent() {
		if m.At.Before(at) {
			t.Errorf("%s got %q at %s, before %s", m.To, m.Body, m.At, at)
		}
		sent[m.To+" "+m.Body]++
	}
	for _, c := range contacts {
		if sent[c+" Deal X"] != 1 {
			t.Errorf("%s: the deal sent %d times, want once", c, sent[c+" Deal X"])
		}
	}
	if sent[visitor+" see you soon"] != 1 {
		t.Errorf("the reminder sent %d times, want once", sent[visitor+" see you soon"])
	}
	if v := other.broadcast(t, b.ID); v.Enrolled != len(contacts) {
		t.Errorf("broadcast %+v, want %d enrolled", v, len(contacts))
	}
}

// Each contact writes several times, its webhooks posted in turn to each
// of two processes: the CRM gets every message's event once, in the order
// of each contact's messages.
func TestPostgresEventsInOrderAcrossProcesses(t *testing.T) {
	t.Parallel()
	crm := newEventReceiver(t)
	gs := startShared(t, 2, grownConfig(crm.URL))
	const contacts, each = 8, 10
	phone := func(c int) string { return fmt.Sprintf("+1555338%04d", c) }
	var wg sync.WaitGroup
	for c := range contacts {
		wg.Go(func() {
			for i := range each {
				if err := postText(gs[(c+i)%2], Inbound{From: phone(c), Body: fmt.Sprintf("n=%02d", i)}); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	first := func() map[string][]string { return firstEventBodies(t, crm) }
	Eventually(t, patience, "every message's event at the CRM", func() bool {
		n := 0
		for _, bodies := range first() {
			n += len(bodies)
		}
		return n >= contacts*each
	})
	for c := range contacts {
		var want []string
		for i := range each {
			want = append(want, fmt.Sprintf("n=%02d", i))
		}
		if got := first()[phone(c)]; !slices.Equal(got, want) {
			t.Errorf("%s: events arrived as %q, want each once, in order", phone(c), got)
		}
	}
}

// metaStaffConfig has the Meta and Vonage numbers, Meta's buttons, a
// keyword on Vonage and a forward to staff.
func metaStaffConfig(graph *fakes.Graph, api *fakes.Vonage) string {
	return metaSection(graph) + vonageSection(api) + `
staff:
  - { number: "+15550100100", name: "Ann" }
automations:
  - id: help
    keywords: [MENU]
    steps:
      - type: reply
        text: "How can we help?"
        buttons: [ { id: ORDER, title: "My order" }, { id: AGENT, title: "A person" } ]
  - id: order
    keywords: [ORDER]
    steps:
      - { type: reply, text: "Your order is on its way" }
  - id: join
    keywords: [JOIN]
    steps:
      - { type: reply, text: "Welcome, through Vonage" }
  - id: support
    catch_all: true
    steps:
      - { type: forward_to_mobile, to: ["+15550100100"] }
`
}

// Two processes behind one load balancer, each webhook to either: Meta's
// message handled once whichever process it reaches, a button sent by one
// answered through the other, statuses of one's sends taken by the other
// (Meta and Vonage), and staff answering through one a forward made by
// the other.
func TestPostgresProvidersAndStaffAcrossProcesses(t *testing.T) {
	t.Parallel()
	graph := fakes.NewGraph(t, metaToken)
	api := fakes.NewVonage(t, vonageKey, vonageSecret)
	gs := startShared(t, 2, metaStaffConfig(graph, api))
	a, b := gs[0], gs[1]

	hook := metaHook([]string{metaText("wamid.M1", "15551238801", "MENU")}, nil)
	for _, g := range gs {
		if code := postMeta(t, g, metaSecret, hook); code != 200 {
			t.Fatalf("webhook answered %d", code)
		}
	}
	Eventually(t, patience, "the menu sent", func() bool { return len(graph.Sent()) >= 1 })
	tap := `{"from":"15551238801","id":"wamid.M2","timestamp":"1","type":"interactive","interactive":{"type":"button_reply","button_reply":{"id":"ORDER","title":"My order"}}}`
	if code := postMeta(t, b, metaSecret, metaHook([]string{tap}, nil)); code != 200 {
		t.Fatalf("button webhook answered %d", code)
	}
	Eventually(t, patience, "the order answer sent", func() bool { return len(graph.Sent()) >= 2 })
	a.Settled(t, "+15551238801")
	b.Settled(t, "+15551238801")
	if got := graph.Sent(); len(got) != 2 || got[1].Text() != "Your order is on its way" {
		t.Fatalf("Graph API got %d sends, the last %q: want the menu once, then the order answer", len(got), got[len(got)-1].Text())
	}
	for i, g := range gs {
		wamid := graph.Sent()[i].ID
		st := fmt.Sprintf(`{"id":%q,"status":"read","timestamp":"1","recipient_id":"15551238801"}`, wamid)
		if code := postMeta(t, g, metaSecret, metaHook(nil, []string{st})); code != 200 {
			t.Fatalf("status answered %d", code)
		}
	}
	Eventually(t, patience, "both sends marked read", func() bool {
		n := 0
		for _, m := range storedMessages(t, a, "+15551238801") {
			if m.Direction == "out" && m.Status == "read" {
				n++
			}
		}
		return n == 2
	})

	// Vonage: JOIN to a, the same webhook again to b, the status to b.
	const vann = "+447700900501"
	in := vonageInbound("11111111-0000-4000-8000-000000000777", vann, "join")
	for _, g := range gs {
		if code := postVonage(t, g, vonage.InboundPath, signedVonage(in), in); code != http.StatusOK {
			t.Fatalf("inbound answered %d", code)
		}
	}
	Eventually(t, patience, "the answer sent through Vonage", func() bool { return len(api.Sent()) >= 1 })
	a.Settled(t, vann)
	b.Settled(t, vann)
	if n := len(api.Sent()); n != 1 {
		t.Fatalf("Vonage got %d sends, want 1", n)
	}
	for i, st := range []string{"submitted", "delivered"} {
		body := vonageStatus(api.Sent()[0], st)
		if code := postVonage(t, gs[1-i], vonage.StatusPath, signedVonage(body), body); code != http.StatusOK {
			t.Fatalf("status %s answered %d", st, code)
		}
	}
	Eventually(t, patience, "the Vonage answer marked delivered", func() bool {
		for _, m := range storedMessages(t, b, vann) {
			if m.Direction == "out" {
				return m.Status == "delivered"
			}
		}
		return false
	})

	// Staff: a forward made by a, answered through b; then another by b,
	// answered through a, plain text going to the more recent.
	a.Text(Inbound{From: customerA, Body: "Open on Sunday?"})
	waitSentTo(t, a, staffAnn, 1)
	b.Text(Inbound{From: staffAnn, Body: "Yes, 10 to 4."})
	if got := waitSentTo(t, a, customerA, 1)[0]; got.Body != "Yes, 10 to 4." {
		t.Errorf("answer to A: %q", got.Body)
	}
	b.Text(Inbound{From: customerB, Body: "hola"})
	refB := refOf(t, waitSentTo(t, a, staffAnn, 2)[1].Body)
	a.Text(Inbound{From: staffAnn, Body: "Hola!"})
	if got := waitSentTo(t, a, customerB, 1)[0]; got.Body != "Hola!" {
		t.Errorf("answer to B: %q", got.Body)
	}
	b.Text(Inbound{From: staffAnn, Body: "#" + refB + " adios"})
	if got := waitSentTo(t, a, customerB, 2)[1]; got.Body != "adios" {
		t.Errorf("#REF answer to B: %q", got.Body)
	}
	a.Settled(t, customerA)
	b.Settled(t, customerB)
	if got := Bodies(sentTo(a, staffAnn)); len(got) != 2 {
		t.Errorf("staff got %q, want the 2 forwards", got)
	}
}

// Three processes; the one enrolling a broadcast whose automation sends
// and ends at once is SIGKILLed mid-way, with sends and events under way,
// and never started again: the others finish the broadcast, each contact
// gets its text once, and the CRM every enrollment's end and the
// broadcast's end.
func TestPostgresBroadcastWithSendsAndEventsOutlivesItsProcess(t *testing.T) {
	t.Parallel()
	crm := newEventReceiver(t)
	gs := startShared(t, 3, fmt.Sprintf(`
http:
  allow_private: true
events:
  - url: %q
    secret: %q
    types: [enrollment.completed, broadcast.done]
automations:
  - id: promo
    steps:
      - { type: reply, text: "Deal {{ contact.phone }}" }
`, crm.URL, eventsSecret))
	contacts := crashContacts(1500)
	b := gs[0].startBroadcast(t, map[string]any{"automation": "promo", "contacts": contacts})
	owner := enrollingProcess(t, gs, b.ID)
	Eventually(t, patience, "some sent", func() bool { return len(gs[0].Twilio.Sent()) > 0 })
	owner.Kill()
	var other *Gateway
	for _, g := range gs {
		if g != owner {
			other = g
		}
	}
	if v := other.broadcast(t, b.ID); v.Status == "done" {
		t.Fatal("the broadcast was done at the kill: make it bigger")
	}
	Eventually(t, 4*patience, "the broadcast done", func() bool { return other.broadcast(t, b.ID).Status == "done" })
	type ev struct{ Type string }
	events := func() (completed map[string]int, done int) {
		completed, seen := map[string]int{}, map[string]bool{}
		for _, r := range crm.received() {
			id := r.header.Get("webhook-id")
			if seen[id] {
				continue
			}
			seen[id] = true
			var e struct {
				Type string
				Data struct{ Phone string }
			}
			if err := json.Unmarshal(r.body, &e); err != nil {
				t.Fatalf("event %s: %v", r.body, err)
			}
			switch e.Type {
			case "enrollment.completed":
				completed[e.Data.Phone]++
			case "broadcast.done":
				done++
			}
		}
		return completed, done
	}
	Eventually(t, 4*patience, "every text sent and every event posted", func() bool {
		c, d := events()
		return len(other.Twilio.Sent()) >= len(contacts) && len(c) >= len(contacts) && d >= 1
	})
	sent := map[string]int{}
	for _, m := range other.Twilio.Sent() {
		sent[m.To]++
	}
	for _, c := range contacts {
		if sent[c] != 1 {
			t.Errorf("%s: %d texts, want 1", c, sent[c])
		}
	}
	c, d := events()
	for _, p := range contacts {
		if c[p] != 1 {
			t.Errorf("%s: %d enrollment.completed events, want 1", p, c[p])
		}
	}
	if d != 1 {
		t.Errorf("%d broadcast.done events, want 1", d)
	}
	if v := other.broadcast(t, b.ID); v.Enrolled != len(contacts) {
		t.Errorf("broadcast %+v, want %d enrolled", v, len(contacts))
	}
}

// Two processes: a handoff and a forward taken by one are in the other's
// inbox, answered there, shown answered on the first; the handoff closed
// on the first goes on; a one-off sent from the second's contact page.
func TestPostgresDashboardInboxAcrossProcesses(t *testing.T) {
	t.Parallel()
	gs := startShared(t, 2, inboxConfig)
	a, b := gs[0], gs[1]
	a.Text(Inbound{From: customerA, Body: "AGENT please"})
	waitSentTo(t, a, staffAnn, 1)
	a.Text(Inbound{From: customerB, Body: "Is the shop open?"})
	waitSentTo(t, a, staffAnn, 2)

	cb, csrfB := dashLogin(t, b)
	_, page := dashDo(t, cb, http.MethodGet, b.URL+"/admin/inbox", nil)
	if strings.Count(page, `class="conv unanswered"`) != 2 || !strings.Contains(page, "handoff open") {
		t.Fatalf("the other process's inbox:\n%s", page)
	}
	for _, p := range []string{customerA, customerB} {
		res, _ := dashDo(t, cb, http.MethodPost, b.URL+"/admin/inbox/"+url.PathEscape(p)+"/answer", url.Values{"text": {"hi " + p}, "csrf": {csrfB}})
		if res.StatusCode != http.StatusSeeOther {
			t.Fatalf("answer %s on b: %d", p, res.StatusCode)
		}
		if got := waitSentTo(t, a, p, 1)[0]; got.Body != "hi "+p {
			t.Errorf("answer to %s: %q", p, got.Body)
		}
	}
	ca, csrfA := dashLogin(t, a)
	_, page = dashDo(t, ca, http.MethodGet, a.URL+"/admin/inbox?part=list", nil)
	if strings.Count(page, `class="conv unanswered"`) != 0 {
		t.Errorf("the first process's inbox after the answers on the other:\n%s", page)
	}
	res, _ := dashDo(t, ca, http.MethodPost, a.URL+"/admin/inbox/"+url.PathEscape(customerA)+"/close", url.Values{"csrf": {csrfA}})
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("close on a: %d", res.StatusCode)
	}
	if got := waitSentTo(t, a, customerA, 2)[1]; got.Body != "Thanks for talking to us!" {
		t.Errorf("after the close A got %q", got.Body)
	}
	res, _ = dashDo(t, cb, http.MethodPost, b.URL+"/admin/contacts/"+url.PathEscape(customerB)+"/send", url.Values{"text": {"ready"}, "csrf": {csrfB}})
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("send on b: %d", res.StatusCode)
	}
	if got := waitSentTo(t, a, customerB, 2)[1]; got.Body != "ready" {
		t.Errorf("one-off to B: %q", got.Body)
	}
	a.Settled(t, customerA)
	b.Settled(t, customerB)
	if n := len(sentTo(a, customerA)); n != 2 {
		t.Errorf("A got %d texts, want 2", n)
	}
	if n := len(sentTo(a, customerB)); n != 2 {
		t.Errorf("B got %d texts, want 2", n)
	}
}
