package bolt

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/keyway-sms/keyway/automation/engine"
)

// storedRecord decodes the record of event id as stored, body or not.
func storedRecord(t *testing.T, s *Bolt, id string) (rec *engine.EventDelivery, body []byte) {
	t.Helper()
	err := s.View(t.Context(), func(tx engine.Tx) error {
		var err error
		rec, err = tx.(*boltTx).eventRecord(id)
		body = append([]byte(nil), tx.(*boltTx).tx.Bucket(bEventBodies).Get([]byte(id))...)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return rec, body
}

// An event's body is stored once, apart from its record, which each claim
// and outcome rewrites without it; a record that an earlier keyway stored
// with its body inside is still claimed and posted with it, and has it
// moved apart at its first rewrite; pruning removes both.
func TestEventBodyKeptApartFromTheRecord(t *testing.T) {
	s, err := Open(filepath.Join(t.TempDir(), "keyway.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	now := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	newEvent := func(id, contact string) *engine.EventDelivery {
		return &engine.EventDelivery{ID: id, Endpoint: "https://crm.example.com/hook", Contact: contact,
			Type: engine.EventMessageReceived, Body: []byte(`{"type":"message.received","data":{"n":"` + id + `"}}`),
			CreatedAt: now, Status: engine.EventPending, Due: now}
	}
	fresh, old := newEvent("evt_1", "+15550001"), newEvent("evt_2", "+15550002")
	err = s.Update(t.Context(), func(tx engine.Tx) error {
		if err := tx.AddEvent(fresh); err != nil {
			return err
		}
		// As an earlier keyway stored it: the body inside the record.
		bt := tx.(*boltTx)
		if err := bt.mark(bEventQueues, key(old.QueueKey(), old.ID)); err != nil {
			return err
		}
		if err := bt.mark(bEventDue, dueKey(old.Due, old.ID)); err != nil {
			return err
		}
		return bt.put(bEvents, []byte(old.ID), old)
	})
	if err != nil {
		t.Fatal(err)
	}
	if rec, body := storedRecord(t, s, fresh.ID); hasBody(rec) || string(body) != string(fresh.Body) {
		t.Fatalf("a new event: record body %q, apart %q; want none in the record, the body apart", rec.Body, body)
	}
	var claimed []*engine.EventDelivery
	err = s.Update(t.Context(), func(tx engine.Tx) error {
		claimed, err = tx.ClaimEvents(now, time.Minute, "me", 10)
		return err
	})
	if err != nil || len(claimed) != 2 {
		t.Fatalf("claimed %d (%v), want both", len(claimed), err)
	}
	for i, want := range []*engine.EventDelivery{fresh, old} {
		if claimed[i].ID != want.ID || string(claimed[i].Body) != string(want.Body) {
			t.Fatalf("claimed %s with body %s, want %s with %s", claimed[i].ID, claimed[i].Body, want.ID, want.Body)
		}
		if rec, body := storedRecord(t, s, want.ID); hasBody(rec) || string(body) != string(want.Body) || rec.Owner != "me" {
			t.Fatalf("%s once claimed: record body %q owner %q, apart %q", want.ID, rec.Body, rec.Owner, body)
		}
	}
	err = s.Update(t.Context(), func(tx engine.Tx) error {
		for _, d := range claimed {
			d.Status, d.Attempts, d.SettledAt = engine.EventDelivered, 1, now
			if err := tx.SettleEvent(d, "me"); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	err = s.View(t.Context(), func(tx engine.Tx) error {
		d, err := tx.EventDelivery(old.ID)
		if err == nil && (d.Status != engine.EventDelivered || string(d.Body) != string(old.Body)) {
			t.Errorf("read back %+v, want it delivered with its body", d)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	var pruned int
	err = s.Update(t.Context(), func(tx engine.Tx) error {
		pruned, err = tx.PruneEvents(now.Add(time.Second), 0)
		return err
	})
	if err != nil || pruned != 2 {
		t.Fatalf("pruned %d (%v), want 2", pruned, err)
	}
	err = s.View(t.Context(), func(tx engine.Tx) error {
		if n := tx.(*boltTx).tx.Bucket(bEventBodies).Stats().KeyN; n != 0 {
			t.Errorf("%d bodies left after pruning", n)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
