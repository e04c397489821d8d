package bolt

import (
	"context"
	"encoding/json"
	"path/filepath"
	"testing"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/keyway-sms/keyway/automation/engine"
)

// Contacts, messages and enrollments written by an earlier keyway hold
// their phone or id in the value too. A file holding them (compressed or
// plain JSON) opens and reads them by key and page by page; written again,
// the value leaves out what the key says, and reads the same.
func TestOldRecordsWithTheirKeyStillRead(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keyway.db")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	contact := &engine.Contact{Phone: "+12025550123", Name: "Ann", CreatedAt: at, UpdatedAt: at}
	plainContact := &engine.Contact{Phone: "+12025550124", Name: "Bob", CreatedAt: at, UpdatedAt: at}
	msg := &engine.Message{ID: "0000018c1a2b3c4d5e6f70", Direction: engine.Inbound, Kind: engine.KindText, Contact: contact.Phone, From: contact.Phone, Body: "JOIN", Status: engine.StatusReceived, CreatedAt: at, UpdatedAt: at}
	plainMsg := &engine.Message{ID: "0000018c1a2b3c4d5e6f71", Direction: engine.Inbound, Kind: engine.KindText, Contact: plainContact.Phone, From: plainContact.Phone, Body: "STOP", Status: engine.StatusReceived, CreatedAt: at, UpdatedAt: at}
	enr := &engine.Enrollment{ID: "0000018c1a2b3c4d5e6f72", Automation: "survey", Contact: contact.Phone, Status: engine.EnrollmentWaitingReply, StartedAt: at, UpdatedAt: at}
	err = s.db.Update(func(tx *bbolt.Tx) error {
		put := func(bucket []byte, k string, v any, compressed bool) error {
			raw, err := json.Marshal(v) // as keyway before compressed records wrote it
			if compressed {
				raw, err = encodeValue(v) // as the keyway before this one wrote it
			}
			if err != nil {
				return err
			}
			return tx.Bucket(bucket).Put([]byte(k), raw)
		}
		for _, p := range []struct {
			bucket     []byte
			k          string
			v          any
			compressed bool
		}{
			{bContacts, contact.Phone, contact, true},
			{bContacts, plainContact.Phone, plainContact, false},
			{bMessages, msg.ID, msg, true},
			{bMessages, plainMsg.ID, plainMsg, false},
			{bEnrollments, enr.ID, enr, true},
		} {
			if err := put(p.bucket, p.k, p.v, p.compressed); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()

	check := func(when string) {
		t.Helper()
		err := s.View(ctx, func(tx engine.Tx) error {
			for _, want := range []*engine.Contact{contact, plainContact} {
				c, err := tx.Contact(want.Phone)
				if err != nil {
					return err
				}
				if c.Phone != want.Phone || c.Name != want.Name {
					t.Errorf("%s: Contact(%s) = %+v", when, want.Phone, c)
				}
			}
			page, err := tx.ContactsPage("", 10)
			if err != nil {
				return err
			}
			if len(page) != 2 || page[0].Phone != contact.Phone || page[1].Phone != plainContact.Phone {
				t.Errorf("%s: ContactsPage = %+v", when, page)
			}
			for _, want := range []*engine.Message{msg, plainMsg} {
				m, err := tx.Message(want.ID)
				if err != nil {
					return err
				}
				if m.ID != want.ID || m.Body != want.Body {
					t.Errorf("%s: Message(%s) = %+v", when, want.ID, m)
				}
			}
			msgs, err := tx.MessagesPage("", 10)
			if err != nil {
				return err
			}
			if len(msgs) != 2 || msgs[0].ID != plainMsg.ID || msgs[1].ID != msg.ID {
				t.Errorf("%s: MessagesPage = %+v", when, msgs)
			}
			e, err := tx.Enrollment(enr.ID)
			if err != nil {
				return err
			}
			if e.ID != enr.ID || e.Automation != enr.Automation || e.Contact != enr.Contact {
				t.Errorf("%s: Enrollment = %+v", when, e)
			}
			return nil
		})
		if err != nil {
			t.Fatalf("%s: %v", when, err)
		}
	}
	check("as an earlier keyway stored them")

	err = s.Update(ctx, func(tx engine.Tx) error {
		for _, c := range []*engine.Contact{contact, plainContact} {
			if err := tx.PutContact(c); err != nil {
				return err
			}
		}
		for _, m := range []*engine.Message{msg, plainMsg} {
			if err := tx.PutMessage(m); err != nil {
				return err
			}
		}
		return tx.PutEnrollment(enr)
	})
	if err != nil {
		t.Fatal(err)
	}
	if contact.Phone == "" || msg.ID == "" || enr.ID == "" {
		t.Fatal("a Put cleared the caller's record")
	}
	err = s.View(ctx, func(tx engine.Tx) error {
		bt := tx.(*boltTx)
		for _, p := range []struct {
			bucket []byte
			k      string
			field  string
		}{{bContacts, contact.Phone, "phone"}, {bMessages, msg.ID, "id"}, {bEnrollments, enr.ID, "id"}} {
			raw, err := plainValue(bt.tx.Bucket(p.bucket).Get([]byte(p.k)))
			if err != nil {
				return err
			}
			var fields map[string]any
			if err := json.Unmarshal(raw, &fields); err != nil {
				return err
			}
			if fields[p.field] != "" {
				t.Errorf("%s %s written again holds %s %v, want it left to the key", p.bucket, p.k, p.field, fields[p.field])
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	check("written again")
}
