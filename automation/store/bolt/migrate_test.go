package bolt_test

import (
	"encoding/json"
	"path/filepath"
	"slices"
	"testing"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/keyway-sms/keyway/automation/engine"
	"github.com/keyway-sms/keyway/automation/store/bolt"
)

// An outbox written by an earlier keyway (message ids with empty values)
// is turned into queues at Open: every message stays queued, one head per
// recipient is claimable, and an id whose message is gone does not hold up
// anyone.
func TestOpenMigratesAnOldOutbox(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keyway.db")
	db, err := bbolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	text := func(id, to string) *engine.Message {
		return &engine.Message{ID: id, Direction: engine.Outbound, Kind: engine.KindText, To: []string{to}, Status: engine.StatusQueued}
	}
	err = db.Update(func(tx *bbolt.Tx) error {
		msgs, err := tx.CreateBucket([]byte("messages"))
		if err != nil {
			return err
		}
		outbox, err := tx.CreateBucket([]byte("outbox"))
		if err != nil {
			return err
		}
		for _, m := range []*engine.Message{text("m1", "+15550001"), text("m2", "+15550001"), text("m3", "+15550002")} {
			raw, err := json.Marshal(m)
			if err != nil {
				return err
			}
			if err := msgs.Put([]byte(m.ID), raw); err != nil {
				return err
			}
		}
		for _, id := range []string{"m0", "m1", "m2", "m3"} { // m0 has no message
			if err := outbox.Put([]byte(id), []byte{}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	for range 2 { // and opening it again changes nothing
		s, err := bolt.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		var queued, claimed []string
		err = s.Update(t.Context(), func(tx engine.Tx) error {
			if queued, err = tx.Outbox("", 10); err != nil {
				return err
			}
			claimed, err = tx.ClaimSends(time.Now(), time.Minute, "test", 10)
			if err != nil {
				return err
			}
			_, err = tx.RecoverSends("test")
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		if want := []string{"m0", "m1", "m2", "m3"}; !slices.Equal(queued, want) {
			t.Errorf("Outbox = %v, want %v", queued, want)
		}
		if want := []string{"m0", "m1", "m3"}; !slices.Equal(claimed, want) {
			t.Errorf("ClaimSends = %v, want the heads %v", claimed, want)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

// Open gives back the leases a stopped process left, whatever its name: only
// one process at a time opens the file.
func TestOpenReleasesLeftLeases(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keyway.db")
	now := time.Now()
	claim := func(s *bolt.Bolt, owner string) []string {
		t.Helper()
		var ids []string
		err := s.Update(t.Context(), func(tx engine.Tx) error {
			var err error
			ids, err = tx.ClaimSends(now, time.Hour, owner, 10)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		return ids
	}
	s, err := bolt.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	err = s.Update(t.Context(), func(tx engine.Tx) error {
		for _, to := range []string{"+15550001", "+15550002"} {
			m := &engine.Message{ID: "m" + to, Kind: engine.KindText, To: []string{to}, NextAttempt: now.Add(-time.Minute)}
			if err := tx.Enqueue(m); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := claim(s, "old-host"); len(got) != 2 {
		t.Fatalf("claimed %v, want both sends", got)
	}
	s.Close()

	s, err = bolt.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if got := claim(s, "new-host"); len(got) != 2 {
		t.Fatalf("after reopening, claimed %v, want both sends back", got)
	}
	err = s.View(t.Context(), func(tx engine.Tx) error {
		q, err := tx.QueuedSend("m+15550001")
		if err == nil && !q.Due.Equal(now.Add(-time.Minute)) {
			t.Errorf("released send due %v, want its own due %v", q.Due, now.Add(-time.Minute))
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

// Open gives back the leases on events a stopped process left, whatever
// its name (a container's host name changes when it is made anew), also
// in a file written before leases were indexed by owner.
func TestOpenReleasesLeftEventLeases(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keyway.db")
	now := time.Now()
	open := func() *bolt.Bolt {
		t.Helper()
		s, err := bolt.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	claim := func(s *bolt.Bolt, owner string) int {
		t.Helper()
		var n int
		err := s.Update(t.Context(), func(tx engine.Tx) error {
			ds, err := tx.ClaimEvents(now, time.Hour, owner, 10)
			n = len(ds)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	s := open()
	err := s.Update(t.Context(), func(tx engine.Tx) error {
		for _, c := range []string{"+15550001", "+15550002"} {
			d := &engine.EventDelivery{ID: "evt_" + c, Endpoint: "https://crm.example.com/hook", Contact: c, Type: engine.EventContactOptedOut,
				Body: []byte(`{}`), CreatedAt: now, Status: engine.EventPending, Due: now.Add(-time.Minute)}
			if err := tx.AddEvent(d); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n := claim(s, "old-host"); n != 2 {
		t.Fatalf("claimed %d events, want both", n)
	}
	s.Close()

	s = open()
	if n := claim(s, "new-host"); n != 2 {
		t.Fatalf("after reopening, claimed %d events, want both back", n)
	}
	s.Close()

	// A file from before the lease index: the events are found leased in
	// the due index.
	db, err := bbolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Update(func(tx *bbolt.Tx) error { return tx.DeleteBucket([]byte("event_leases")) }); err != nil {
		t.Fatal(err)
	}
	db.Close()
	s = open()
	defer s.Close()
	if n := claim(s, "newer-host"); n != 2 {
		t.Fatalf("reopening a file without the lease index, claimed %d events, want both back", n)
	}
	err = s.View(t.Context(), func(tx engine.Tx) error {
		d, err := tx.EventDelivery("evt_+15550001")
		if err == nil && (d.Owner != "newer-host" || string(d.Body) != `{}`) {
			t.Errorf("event %+v, want it leased to newer-host with its body", d)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}
