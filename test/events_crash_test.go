package test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/keyway-sms/keyway/providers/twilio"
)

// hangingReceiver is a CRM endpoint whose first POST never gets an
// answer (it is held until the caller goes away): keyway is killed with
// that post under way. Every later POST is answered 200. It keeps the
// webhook-id of each.
type hangingReceiver struct {
	*httptest.Server
	mu  sync.Mutex
	ids []string
}

func newHangingReceiver(t *testing.T) *hangingReceiver {
	t.Helper()
	r := &hangingReceiver{}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		_, _ = io.ReadAll(req.Body)
		r.mu.Lock()
		r.ids = append(r.ids, req.Header.Get("webhook-id"))
		first := len(r.ids) == 1
		r.mu.Unlock()
		if first {
			<-req.Context().Done() // the poster died
			return
		}
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(r.Server.Close)
	return r
}

func (r *hangingReceiver) received() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.ids...)
}

// keyway is SIGKILLed while it posts an event: started again, it posts
// the event again at once, with the same webhook-id, instead of waiting
// for the lease on it (most of a minute) to run out.
func TestEventUnderWayAtACrashIsRetriedAtRestart(t *testing.T) {
	t.Parallel()
	crm := newHangingReceiver(t)
	g := StartGateway(t, eventsConfig(crm.URL, "[message.received]"))
	g.Text(Inbound{From: "+15553340101", Body: "hello"})
	Eventually(t, patience, "the event's first post under way", func() bool { return len(crm.received()) >= 1 })
	g.Kill()
	g.Start()
	restarted := time.Now()
	// The lease is the post's timeout twice plus 30 s (50 s): well before
	// it runs out, the event must have come again.
	Eventually(t, 20*time.Second, "the event posted again soon after the restart", func() bool { return len(crm.received()) >= 2 })
	got := crm.received()
	if got[1] != got[0] || got[0] == "" {
		t.Fatalf("webhook-ids %q: want the same event again", got)
	}
	t.Logf("posted again %v after the restart", time.Since(restarted).Round(10*time.Millisecond))
	g.Settled(t, "+15553340101")
	if n := len(crm.received()); n != 2 {
		t.Errorf("the CRM got %d posts, want 2: the one cut off and the one after the restart", n)
	}
}

// On PostgreSQL, a process killed while it posts an event leaves the
// event to its lease: another process, under another name, does not post
// it meanwhile, and the process started again under the killed one's
// KEYWAY_INSTANCE posts it at once.
func TestPostgresEventUnderWayRetriedByItsInstanceAtRestart(t *testing.T) {
	t.Parallel()
	crm := newHangingReceiver(t)
	gs := startShared(t, 2, eventsConfig(crm.URL, "[message.received]"))
	poster, other := gs[0], gs[1]
	other.Kill() // so that the event is poster's to post
	poster.Text(Inbound{From: "+15553340102", Body: "hello"})
	Eventually(t, patience, "the event's first post under way", func() bool { return len(crm.received()) >= 1 })
	poster.Kill()

	other.Start() // node1: not the name that holds the lease
	// Each process looks for due events every second: node1, up again,
	// has looked a few times by the time a webhook it handles is settled.
	other.Text(Inbound{From: "+15553340103", Body: "meanwhile"})
	Eventually(t, patience, "node1's own event", func() bool { return len(crm.received()) >= 2 })
	other.Settled(t, "+15553340103")
	for _, id := range crm.received()[1:] {
		if id == crm.received()[0] {
			t.Fatalf("node1 posted the event node0 holds under its lease: %q", crm.received())
		}
	}

	poster.Start() // node0 again
	Eventually(t, 20*time.Second, "node0 posting its event again soon after its restart", func() bool {
		n := 0
		for _, id := range crm.received() {
			if id == crm.received()[0] {
				n++
			}
		}
		return n >= 2
	})
}

// A burst of webhooks, 32 contacts at once, keeps most of its events
// back (keyway posts them when the burst is over); keyway is SIGKILLed as
// soon as the last webhook is answered. Started again, it posts every
// message's event, and each contact's in the order of its messages.
func TestEventsHeldBackInABurstSurviveAKill(t *testing.T) {
	t.Parallel()
	crm := newEventReceiver(t)
	g := StartGateway(t, eventsConfig(crm.URL, "[message.received]"))
	const contacts, each = 32, 12
	phone := func(c int) string { return fmt.Sprintf("+1555336%04d", c) }
	var wg sync.WaitGroup
	for c := range contacts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				form := g.Form(Inbound{From: phone(c), Body: fmt.Sprintf("n=%02d", i)})
				code, _, err := g.TryPostRaw("/webhooks/twilio", form.Encode(),
					map[string]string{"X-Twilio-Signature": twilio.Sign(g.Twilio.AuthToken, PublicURL+"/webhooks/twilio", form)})
				if err != nil || code != http.StatusOK {
					t.Errorf("webhook %s n=%d: %d %v", phone(c), i, code, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	g.Kill()
	posted := map[string]bool{}
	for _, ev := range crm.received() {
		posted[ev.header.Get("webhook-id")] = true
	}
	// 32 senders, each waiting for its answer, keep 16 or more webhooks
	// handled at once, so the gateway is busy and posts little.
	if len(posted) >= contacts*each {
		t.Fatalf("all %d events were posted during the burst: none was held back, and the kill tests nothing", len(posted))
	}
	t.Logf("%d of %d events posted before the kill", len(posted), contacts*each)
	g.Start()
	first := func() map[string][]string { return firstEventBodies(t, crm) }
	Eventually(t, patience, "every message's event at the CRM", func() bool {
		n := 0
		for _, bodies := range first() {
			n += len(bodies)
		}
		return n >= contacts*each
	})
	for c := range contacts {
		got := first()[phone(c)]
		var want []string
		for i := range each {
			want = append(want, fmt.Sprintf("n=%02d", i))
		}
		if !slices.Equal(got, want) {
			t.Errorf("%s: events arrived as %q, want each message once, in order", phone(c), got)
		}
	}
}

// firstEventBodies returns, per contact, the bodies of the messages whose
// events crm received, in the order each event first arrived: a post cut
// off by a kill may come twice, under the same webhook-id.
func firstEventBodies(t *testing.T, crm *eventReceiver) map[string][]string {
	t.Helper()
	seen, out := map[string]bool{}, map[string][]string{}
	for _, ev := range crm.received() {
		id := ev.header.Get("webhook-id")
		if seen[id] {
			continue
		}
		seen[id] = true
		var b struct {
			Data struct{ Phone, Body string } `json:"data"`
		}
		if err := json.Unmarshal(ev.body, &b); err != nil {
			t.Fatalf("event body %s: %v", ev.body, err)
		}
		out[b.Data.Phone] = append(out[b.Data.Phone], b.Data.Body)
	}
	return out
}
