package storetest

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/keyway-sms/keyway/automation/engine"
)

// eventCases check the event deliveries as claimable queues, one per
// endpoint and contact: heads only, in order, retries that keep the head,
// leases that expire, settled deliveries pruned.
var eventCases = []testCase{
	{"events/claim-heads-in-order", testEventHeadsInOrder},
	{"events/retry-keeps-head", testEventRetryKeepsHead},
	{"events/lease-expires", testEventLeaseExpires},
	{"events/recover-own-leases", testEventRecoverOwnLeases},
	{"events/prune-settled", testEventPruneSettled},
	{"events/rollback", testEventRollback},
	{"events/add-twice", testEventAddTwice},
	{"events/failed-counted", testEventFailedCounted},
}

const (
	hookX = "https://crm.example.com/hooks/keyway"
	hookY = "https://crm.example.com/hooks/keyway2"
)

func delivery(id, endpoint, contact string) *engine.EventDelivery {
	return &engine.EventDelivery{
		ID: id, Endpoint: endpoint, Contact: contact, Type: engine.EventMessageReceived,
		Body: []byte(`{"type":"message.received","data":{"id":"` + id + `"}}`), CreatedAt: t0, Status: engine.EventPending, Due: t0,
	}
}

func addEvents(t *testing.T, s engine.Store, ds ...*engine.EventDelivery) {
	t.Helper()
	update(t, s, func(tx engine.Tx) error {
		for _, d := range ds {
			if err := tx.AddEvent(d); err != nil {
				return err
			}
		}
		return nil
	})
}

func claimEvents(t *testing.T, s engine.Store, now time.Time, owner string) []*engine.EventDelivery {
	t.Helper()
	var got []*engine.EventDelivery
	update(t, s, func(tx engine.Tx) error {
		var err error
		got, err = tx.ClaimEvents(now, lease, owner, 10)
		return err
	})
	return got
}

func eventIDs(ds []*engine.EventDelivery) []string {
	var ids []string
	for _, d := range ds {
		ids = append(ids, d.ID)
	}
	slices.Sort(ids)
	return ids
}

func settleEvent(t *testing.T, s engine.Store, d *engine.EventDelivery, owner string) error {
	return s.Update(t.Context(), func(tx engine.Tx) error { return tx.SettleEvent(d, owner) })
}

func testEventHeadsInOrder(t *testing.T, s engine.Store) {
	// phoneA and phoneB share a prefix: their queues must stay apart.
	addEvents(t, s, delivery("evt_01", hookX, phoneA), delivery("evt_02", hookX, phoneA), delivery("evt_03", hookX, phoneB),
		delivery("evt_04", hookY, phoneA), delivery("evt_05", hookX, ""))
	got := claimEvents(t, s, t0, "p1")
	if ids := eventIDs(got); !slices.Equal(ids, []string{"evt_01", "evt_03", "evt_04", "evt_05"}) {
		t.Fatalf("claimed %v, want the head of each queue (evt_02 waits behind evt_01)", ids)
	}
	for _, d := range got {
		if d.ID == "evt_01" && (d.Owner != "p1" || !d.LeaseUntil.Equal(t0.Add(lease)) || string(d.Body) != string(delivery("evt_01", hookX, phoneA).Body)) {
			t.Fatalf("claimed %+v, want it leased to p1 until %s with its body", d, t0.Add(lease))
		}
	}
	if again := claimEvents(t, s, t0, "p2"); len(again) != 0 {
		t.Fatalf("claimed %v again while leased", eventIDs(again))
	}
	d := got[slices.IndexFunc(got, func(d *engine.EventDelivery) bool { return d.ID == "evt_01" })]
	d.Status, d.Attempts, d.SettledAt = engine.EventDelivered, 1, t0
	if err := settleEvent(t, s, d, "p1"); err != nil {
		t.Fatal(err)
	}
	if next := claimEvents(t, s, t0, "p1"); !slices.Equal(eventIDs(next), []string{"evt_02"}) {
		t.Fatalf("after evt_01 was delivered claimed %v, want evt_02", eventIDs(next))
	}
	stored := read(t, s, func(tx engine.Tx) (*engine.EventDelivery, error) { return tx.EventDelivery("evt_01") })
	if stored.Status != engine.EventDelivered || stored.Owner != "" || stored.Attempts != 1 {
		t.Fatalf("stored %+v, want it delivered after one attempt, with no lease", stored)
	}
	if err := settleEvent(t, s, stored, "p1"); !errors.Is(err, engine.ErrNotFound) {
		t.Fatalf("settling a delivered event again: %v, want ErrNotFound", err)
	}
}

func testEventRetryKeepsHead(t *testing.T, s engine.Store) {
	addEvents(t, s, delivery("evt_01", hookX, phoneA), delivery("evt_02", hookX, phoneA))
	got := claimEvents(t, s, t0, "p1")
	if len(got) != 1 {
		t.Fatalf("claimed %v, want evt_01 alone", eventIDs(got))
	}
	retry := t0.Add(time.Hour)
	got[0].Attempts, got[0].Due, got[0].LastError = 1, retry, "status 500"
	if err := settleEvent(t, s, got[0], "p1"); err != nil {
		t.Fatal(err)
	}
	if next := read(t, s, func(tx engine.Tx) (time.Time, error) { return tx.NextEventDue() }); !next.Equal(retry) {
		t.Fatalf("next event due %s, want the retry at %s", next, retry)
	}
	if early := claimEvents(t, s, retry.Add(-time.Second), "p1"); len(early) != 0 {
		t.Fatalf("claimed %v before the retry was due (evt_02 waits behind evt_01)", eventIDs(early))
	}
	again := claimEvents(t, s, retry, "p1")
	if len(again) != 1 || again[0].ID != "evt_01" || again[0].Attempts != 1 || again[0].LastError != "status 500" {
		t.Fatalf("claimed %+v at the retry, want evt_01 after one attempt", again)
	}
	again[0].Status, again[0].Attempts, again[0].SettledAt = engine.EventFailed, 2, retry
	if err := settleEvent(t, s, again[0], "p1"); err != nil {
		t.Fatal(err)
	}
	if next := claimEvents(t, s, retry, "p1"); !slices.Equal(eventIDs(next), []string{"evt_02"}) {
		t.Fatalf("after evt_01 failed claimed %v, want evt_02", eventIDs(next))
	}
}

func testEventLeaseExpires(t *testing.T, s engine.Store) {
	addEvents(t, s, delivery("evt_01", hookX, phoneA))
	first := claimEvents(t, s, t0, "p1")
	if len(first) != 1 {
		t.Fatalf("claimed %v", eventIDs(first))
	}
	if next := read(t, s, func(tx engine.Tx) (time.Time, error) { return tx.NextEventDue() }); !next.Equal(t0.Add(lease)) {
		t.Fatalf("next event due %s, want the end of the lease %s", next, t0.Add(lease))
	}
	second := claimEvents(t, s, t0.Add(lease), "p2")
	if len(second) != 1 || second[0].Owner != "p2" {
		t.Fatalf("claimed %+v once the lease ended, want evt_01 for p2", second)
	}
	first[0].Status, first[0].SettledAt = engine.EventDelivered, t0
	if err := settleEvent(t, s, first[0], "p1"); !errors.Is(err, engine.ErrLeaseLost) {
		t.Fatalf("settling under a lost lease: %v, want ErrLeaseLost", err)
	}
	if d := read(t, s, func(tx engine.Tx) (*engine.EventDelivery, error) { return tx.EventDelivery("evt_01") }); d.Status != engine.EventPending || d.Owner != "p2" {
		t.Fatalf("stored %+v, want it pending and leased to p2", d)
	}
}

func testEventPruneSettled(t *testing.T, s engine.Store) {
	addEvents(t, s, delivery("evt_01", hookX, phoneA), delivery("evt_02", hookX, phoneB), delivery("evt_03", hookX, phoneC))
	got := claimEvents(t, s, t0, "p1")
	for _, d := range got {
		switch d.ID {
		case "evt_01":
			d.Status, d.SettledAt = engine.EventDelivered, t0
		case "evt_02":
			d.Status, d.SettledAt = engine.EventFailed, t0.Add(time.Hour)
		default:
			d.Due = t0.Add(time.Minute)
		}
		if err := settleEvent(t, s, d, "p1"); err != nil {
			t.Fatal(err)
		}
	}
	var n int
	update(t, s, func(tx engine.Tx) error {
		var err error
		n, err = tx.PruneEvents(t0.Add(2*time.Hour), 1)
		return err
	})
	if n != 1 {
		t.Fatalf("pruned %d with a limit of 1", n)
	}
	if _, err := tryRead(t, s, func(tx engine.Tx) (*engine.EventDelivery, error) { return tx.EventDelivery("evt_01") }); !errors.Is(err, engine.ErrNotFound) {
		t.Fatalf("the oldest settled event after pruning: %v, want ErrNotFound", err)
	}
	update(t, s, func(tx engine.Tx) error {
		var err error
		n, err = tx.PruneEvents(t0.Add(2*time.Hour), 10)
		return err
	})
	if n != 1 {
		t.Fatalf("pruned %d, want the failed one alone (the pending one stays)", n)
	}
	if d := read(t, s, func(tx engine.Tx) (*engine.EventDelivery, error) { return tx.EventDelivery("evt_03") }); d.Status != engine.EventPending {
		t.Fatalf("the pending event: %+v", d)
	}
}

func testEventRollback(t *testing.T, s engine.Store) {
	boom := errors.New("boom")
	err := s.Update(t.Context(), func(tx engine.Tx) error {
		if err := tx.AddEvent(delivery("evt_01", hookX, phoneA)); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Update: %v", err)
	}
	if _, err := tryRead(t, s, func(tx engine.Tx) (*engine.EventDelivery, error) { return tx.EventDelivery("evt_01") }); !errors.Is(err, engine.ErrNotFound) {
		t.Fatalf("an event added in a rolled-back Update: %v, want ErrNotFound", err)
	}
	if got := claimEvents(t, s, t0, "p1"); len(got) != 0 {
		t.Fatalf("claimed %v after a rollback", eventIDs(got))
	}
}

// An event added again (a retried transaction) is stored once: it is not
// queued behind itself.
func testEventAddTwice(t *testing.T, s engine.Store) {
	addEvents(t, s, delivery("evt_01", hookX, phoneA))
	addEvents(t, s, delivery("evt_01", hookX, phoneA), delivery("evt_02", hookX, phoneA))
	got := claimEvents(t, s, t0, "p1")
	if !slices.Equal(eventIDs(got), []string{"evt_01"}) {
		t.Fatalf("claimed %v, want evt_01", eventIDs(got))
	}
	got[0].Status, got[0].SettledAt = engine.EventDelivered, t0
	if err := settleEvent(t, s, got[0], "p1"); err != nil {
		t.Fatal(err)
	}
	if next := claimEvents(t, s, t0, "p1"); !slices.Equal(eventIDs(next), []string{"evt_02"}) {
		t.Fatalf("after evt_01 was delivered claimed %v, want evt_02 (not evt_01 again)", eventIDs(next))
	}
}

func recoverEvents(t *testing.T, s engine.Store, owner string) int {
	t.Helper()
	var n int
	update(t, s, func(tx engine.Tx) error {
		var err error
		n, err = tx.RecoverEvents(owner)
		return err
	})
	return n
}

// A process started again takes back the deliveries it had leased, at
// once, and none of another's, nor one it settled.
func testEventRecoverOwnLeases(t *testing.T, s engine.Store) {
	addEvents(t, s, delivery("evt_01", hookX, phoneA), delivery("evt_02", hookX, phoneB), delivery("evt_04", hookX, phoneC))
	mine := claimEvents(t, s, t0, "p1")
	if len(mine) != 3 {
		t.Fatalf("p1 claimed %v, want three", eventIDs(mine))
	}
	for _, d := range mine {
		if d.ID == "evt_04" {
			d.Status, d.Attempts, d.SettledAt = engine.EventDelivered, 1, t0
			if err := settleEvent(t, s, d, "p1"); err != nil {
				t.Fatal(err)
			}
		}
	}
	addEvents(t, s, delivery("evt_03", hookY, phoneA))
	if theirs := claimEvents(t, s, t0, "p2"); !slices.Equal(eventIDs(theirs), []string{"evt_03"}) {
		t.Fatalf("p2 claimed %v, want evt_03", eventIDs(theirs))
	}
	if n := recoverEvents(t, s, "p1"); n != 2 {
		t.Fatalf("RecoverEvents(p1) = %d, want 2: evt_01 and evt_02 (evt_04 was settled, evt_03 is p2's)", n)
	}
	if next := read(t, s, func(tx engine.Tx) (time.Time, error) { return tx.NextEventDue() }); !next.Equal(t0) {
		t.Fatalf("next event due %s after the recovery, want their due %s, not the end of the lease", next, t0)
	}
	d := read(t, s, func(tx engine.Tx) (*engine.EventDelivery, error) { return tx.EventDelivery("evt_01") })
	if d.Status != engine.EventPending || d.Owner != "" || !d.LeaseUntil.IsZero() || string(d.Body) != string(delivery("evt_01", hookX, phoneA).Body) {
		t.Fatalf("recovered %+v, want it pending with no lease and its body", d)
	}
	again := claimEvents(t, s, t0, "p3")
	if !slices.Equal(eventIDs(again), []string{"evt_01", "evt_02"}) {
		t.Fatalf("claimed %v after the recovery, want evt_01 and evt_02 (evt_03 is p2's)", eventIDs(again))
	}
	if n := recoverEvents(t, s, "p1"); n != 0 {
		t.Fatalf("RecoverEvents(p1) again = %d, want 0", n)
	}
	stale := mine[slices.IndexFunc(mine, func(d *engine.EventDelivery) bool { return d.ID == "evt_01" })]
	stale.Status, stale.SettledAt = engine.EventDelivered, t0
	if err := settleEvent(t, s, stale, "p1"); !errors.Is(err, engine.ErrLeaseLost) {
		t.Fatalf("p1 settling after it recovered: %v, want ErrLeaseLost", err)
	}
	if n := recoverEvents(t, s, "p2"); n != 1 {
		t.Fatalf("RecoverEvents(p2) = %d, want 1", n)
	}
}

// An event marked failed counts events_failed once, at the hour it was
// settled; a retry and a delivery count nothing.
func testEventFailedCounted(t *testing.T, s engine.Store) {
	addEvents(t, s, delivery("evt_01", hookX, phoneA), delivery("evt_02", hookX, phoneA), delivery("evt_03", hookY, phoneA))
	settle := func(now time.Time, status engine.EventStatus) {
		t.Helper()
		for _, d := range claimEvents(t, s, now, "p1") {
			d.Attempts++
			if d.ID == "evt_01" && d.Attempts == 1 {
				d.Due, d.LastError = now.Add(time.Hour), "status 500" // a retry
			} else {
				d.Status, d.SettledAt = status, now
			}
			if err := settleEvent(t, s, d, "p1"); err != nil {
				t.Fatal(err)
			}
		}
	}
	settle(t0, engine.EventDelivered)                           // evt_01 retried, evt_03 delivered
	settle(t0.Add(2*time.Hour), engine.EventFailed)             // evt_01 failed
	settle(t0.Add(2*time.Hour+time.Minute), engine.EventFailed) // evt_02 failed
	got := activity(t, s, t0.Add(-time.Hour), t0.Add(4*time.Hour))
	if want := "+2h events_failed =2\n"; got != want {
		t.Fatalf("activity:\n%swant:\n%s", got, want)
	}
}
