package bolt

import (
	"errors"
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

// testEvent is a pending message.received delivery about contact, due at.
func testEvent(id, contact string, at time.Time) *engine.EventDelivery {
	return &engine.EventDelivery{ID: id, Endpoint: "https://crm.example.com/hook", Contact: contact,
		Type: engine.EventMessageReceived, Body: []byte(`{"type":"message.received","data":{"n":"` + id + `"}}`),
		CreatedAt: at, Status: engine.EventPending, Due: at}
}

// claimEvents claims up to 10 events due at now for the owner "me".
func claimEvents(t *testing.T, s *Bolt, now time.Time) []*engine.EventDelivery {
	t.Helper()
	var claimed []*engine.EventDelivery
	err := s.Update(t.Context(), func(tx engine.Tx) error {
		var err error
		claimed, err = tx.ClaimEvents(now, time.Minute, "me", 10)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return claimed
}

// inboxValues counts the values of the event inbox.
func inboxValues(tx engine.Tx) int { return tx.(*boltTx).tx.Bucket(bEventInbox).Stats().KeyN }

// A new event waits in the inbox, with the others of its commit, and is
// read back from there; its body is stored once, apart from its record,
// which each claim and outcome rewrites without it; a record that an
// earlier keyway stored with its body inside is still claimed and posted
// with it, and has it moved apart at its first rewrite; pruning removes
// both.
func TestEventBodyKeptApartFromTheRecord(t *testing.T) {
	s, err := Open(filepath.Join(t.TempDir(), "keyway.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	now := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	fresh, old := testEvent("evt_1", "+15550001", now), testEvent("evt_2", "+15550002", now)
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
	err = s.View(t.Context(), func(tx engine.Tx) error {
		bt := tx.(*boltTx)
		if n := inboxValues(tx); n != 1 {
			t.Errorf("the inbox holds %d values, want the commit's one", n)
		}
		if bt.tx.Bucket(bEvents).Get([]byte(fresh.ID)) != nil || bt.tx.Bucket(bEventQueues).Stats().KeyN != 1 {
			t.Errorf("a new event was put in its queue by the commit that stored it")
		}
		d, err := tx.EventDelivery(fresh.ID)
		if err == nil && (d.Status != engine.EventPending || string(d.Body) != string(fresh.Body)) {
			t.Errorf("read back from the inbox: %+v", d)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	claimed := claimEvents(t, s, now)
	if len(claimed) != 2 {
		t.Fatalf("claimed %d, want both", len(claimed))
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

// The deliveries of a group's updates go into the inbox at its commit:
// those of an update that failed are not stored, though the update that
// joined the group after it added its own; the others' are, in one value,
// and are claimed from there.
func TestEventsOfAFailedUpdateInAGroupAreNotStored(t *testing.T) {
	s := openInternal(t)
	now := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	errFailed := errors.New("this update fails")
	started, first := holdUntilQueued(t, s, 2, "first")
	<-started
	second := runUpdate(s, func(tx engine.Tx) error {
		if err := tx.AddEvent(testEvent("evt_2", "+15550002", now)); err != nil {
			return err
		}
		return errFailed
	})
	waitQueued(t, s, 1)
	third := runUpdate(s, func(tx engine.Tx) error {
		if err := tx.AddEvent(testEvent("evt_3", "+15550003", now)); err != nil {
			return err
		}
		return tx.AddEvent(testEvent("evt_4", "+15550003", now))
	})
	a, b, c := <-first, <-second, <-third
	if a.err != nil || c.err != nil || !errors.Is(b.err, errFailed) {
		t.Fatalf("results %v, %v, %v; want nil, %v, nil", a.err, b.err, c.err, errFailed)
	}
	if a.tx != c.tx {
		t.Fatal("the third update committed on its own, not in the first's group: the test proves nothing")
	}
	err := s.View(t.Context(), func(tx engine.Tx) error {
		if _, err := tx.EventDelivery("evt_4"); err != nil {
			t.Errorf("the third update's second event: %v, want it stored", err)
		}
		if n := inboxValues(tx); n != 1 {
			t.Errorf("the inbox holds %d values, want the one of the group's commit", n)
		}
		if _, err := tx.EventDelivery("evt_2"); !errors.Is(err, engine.ErrNotFound) {
			t.Errorf("the failed update's event: %v, want ErrNotFound", err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if claimed := claimEvents(t, s, now); len(claimed) != 1 || claimed[0].ID != "evt_3" {
		t.Fatalf("claimed %v, want evt_3 alone (evt_4 waits behind it)", claimed)
	}
}
