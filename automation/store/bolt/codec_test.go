package bolt_test

import (
	"context"
	"encoding/json"
	"path/filepath"
	"testing"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/keyway-sms/keyway/automation/engine"
	"github.com/keyway-sms/keyway/automation/store/bolt"
)

// Records an earlier keyway stored as plain JSON still read, through every
// way in (by key, pages, due timers); records written now are stored
// compressed, smaller than their JSON, and read back the same; rewriting
// an old record stores it compressed.
func TestOldJSONRecordsReadAndNewOnesAreCompressed(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keyway.db")
	s, err := bolt.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	at := time.Date(2030, 1, 2, 3, 4, 5, 6, time.UTC)
	contact := &engine.Contact{Phone: "+15550001111", Name: "Ann", CreatedAt: at, UpdatedAt: at}
	msg := &engine.Message{ID: "m1", Direction: engine.Inbound, Kind: engine.KindText, Contact: contact.Phone, From: contact.Phone,
		To: []string{"+15005550006"}, Body: "JOIN", Fields: map[string]string{"Body": "JOIN"}, Status: engine.StatusReceived, CreatedAt: at}
	due := at.Add(time.Hour)
	en := &engine.Enrollment{ID: "e1", Automation: "join", Contact: contact.Phone, Status: engine.EnrollmentWaiting, Step: "#1", WaitUntil: &due, StartedAt: at}
	timer := engine.Timer{Due: due, Enrollment: "e1", Automation: "join", Epoch: 1, Kind: engine.TimerWait}

	// As an earlier keyway wrote them: JSON values.
	db, err := bbolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	put := func(tx *bbolt.Tx, bucket string, k []byte, v any) error {
		raw, err := json.Marshal(v)
		if err != nil {
			return err
		}
		return tx.Bucket([]byte(bucket)).Put(k, raw)
	}
	timerKey := make([]byte, 8, 10)
	for i := range 8 {
		timerKey[i] = byte(uint64(due.UnixNano()) >> (56 - 8*i))
	}
	timerKey = append(timerKey, "e1"...)
	err = db.Update(func(tx *bbolt.Tx) error {
		for _, p := range []struct {
			bucket string
			k      []byte
			v      any
		}{{"contacts", []byte(contact.Phone), contact}, {"messages", []byte("m1"), msg}, {"enrollments", []byte("e1"), en}, {"timers", timerKey, timer}} {
			if err := put(tx, p.bucket, p.k, p.v); err != nil {
				return err
			}
		}
		return nil
	})
	if err == nil {
		err = db.Close()
	}
	if err != nil {
		t.Fatal(err)
	}

	s, err = bolt.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	check := func(when string) {
		t.Helper()
		err := s.View(ctx, func(tx engine.Tx) error {
			c, err := tx.Contact(contact.Phone)
			if err != nil || c.Name != "Ann" || !c.CreatedAt.Equal(at) {
				t.Errorf("%s: contact %+v, %v", when, c, err)
			}
			cs, err := tx.ContactsPage("", 0)
			if err != nil || len(cs) != 1 || cs[0].Name != "Ann" {
				t.Errorf("%s: contacts page %+v, %v", when, cs, err)
			}
			ms, err := tx.MessagesPage("", 0)
			if err != nil || len(ms) != 1 || ms[0].Body != "JOIN" || ms[0].Fields["Body"] != "JOIN" {
				t.Errorf("%s: messages page %+v, %v", when, ms, err)
			}
			e, err := tx.Enrollment("e1")
			if err != nil || e.Status != engine.EnrollmentWaiting || e.WaitUntil == nil || !e.WaitUntil.Equal(due) {
				t.Errorf("%s: enrollment %+v, %v", when, e, err)
			}
			ts, err := tx.DueTimers(due, 10)
			if err != nil || len(ts) != 1 || ts[0] != timer {
				t.Errorf("%s: due timers %+v, %v", when, ts, err)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	check("old JSON")
	// Rewritten now: stored compressed, read back the same.
	err = s.Update(ctx, func(tx engine.Tx) error {
		if err := tx.PutContact(contact); err != nil {
			return err
		}
		if err := tx.PutMessage(msg); err != nil {
			return err
		}
		if err := tx.PutEnrollment(en); err != nil {
			return err
		}
		return tx.PutTimer(timer)
	})
	if err != nil {
		t.Fatal(err)
	}
	check("rewritten")
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	db, err = bbolt.Open(path, 0o600, &bbolt.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	err = db.View(func(tx *bbolt.Tx) error {
		for _, p := range []struct {
			bucket string
			k      []byte
			v      any
		}{{"contacts", []byte(contact.Phone), contact}, {"messages", []byte("m1"), msg}, {"enrollments", []byte("e1"), en}, {"timers", timerKey, timer}} {
			stored := tx.Bucket([]byte(p.bucket)).Get(p.k)
			plain, _ := json.Marshal(p.v)
			if len(stored) == 0 || stored[0] == '{' || len(stored) >= len(plain) {
				t.Errorf("%s: stored %d bytes starting %q; its JSON is %d bytes", p.bucket, len(stored), stored[:min(1, len(stored))], len(plain))
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
