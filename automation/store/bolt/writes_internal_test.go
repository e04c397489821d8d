package bolt

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/keyway-sms/keyway/automation/engine"
)

// nodes returns how many pages bbolt read into memory to change them in
// the transaction of fn: each is written again at commit.
func nodes(t *testing.T, s *Bolt, fn func(tx *boltTx) error) int {
	t.Helper()
	before := s.db.Stats().TxStats
	if err := s.Update(context.Background(), func(tx engine.Tx) error { return fn(tx.(*boltTx)) }); err != nil {
		t.Fatal(err)
	}
	after := s.db.Stats().TxStats
	d := after.Sub(&before)
	return int(d.GetNodeCount())
}

// A message or an enrollment stored again (the outbox recording a send, a
// turn moving an enrollment) rewrites its record and nothing else: its
// index entries are there already, and putting them again would copy
// their pages into the transaction and write them at commit.
func TestStoringARecordAgainLeavesItsIndexesAlone(t *testing.T) {
	s := openInternal(t)
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	m := &engine.Message{ID: "0000000000000001aaaaaa", Provider: "twilio", ProviderID: "SM1", Direction: engine.Outbound,
		Kind: engine.KindText, Contact: "+15550001111", To: []string{"+15550001111"}, Status: engine.StatusQueued, CreatedAt: now, UpdatedAt: now}
	en := &engine.Enrollment{ID: "0000000000000002aaaaaa", Automation: "quiz", Contact: "+15550001111", Channel: "sms",
		Status: engine.EnrollmentWaitingReply, StartedAt: now, UpdatedAt: now}
	nodes(t, s, func(tx *boltTx) error {
		if err := tx.PutMessage(m); err != nil {
			return err
		}
		return tx.PutEnrollment(en)
	})

	m.Status, m.UpdatedAt = engine.StatusSent, now.Add(time.Second)
	onlyRecord := nodes(t, s, func(tx *boltTx) error { return tx.put(bMessages, []byte(m.ID), m) })
	if got := nodes(t, s, func(tx *boltTx) error { return tx.PutMessage(m) }); got != onlyRecord {
		t.Errorf("storing a message again changed %d pages, storing its record alone %d", got, onlyRecord)
	}
	en.Status, en.UpdatedAt = engine.EnrollmentRunning, now.Add(time.Second)
	onlyRecord = nodes(t, s, func(tx *boltTx) error { return tx.put(bEnrollments, []byte(en.ID), en) })
	if got := nodes(t, s, func(tx *boltTx) error { return tx.PutEnrollment(en) }); got != onlyRecord {
		t.Errorf("storing an active enrollment again changed %d pages, storing its record alone %d", got, onlyRecord)
	}

	// A creation time that changed moves the message's entry in the
	// creation-time index (pruning goes by it).
	m.CreatedAt = now.Add(-time.Hour)
	nodes(t, s, func(tx *boltTx) error { return tx.PutMessage(m) })
	err := s.View(context.Background(), func(tx engine.Tx) error {
		var entries []time.Time
		err := tx.(*boltTx).tx.Bucket(bMsgCreated).ForEach(func(k, _ []byte) error {
			entries = append(entries, dueKeyTime(k))
			return nil
		})
		if len(entries) != 1 || !entries[0].Equal(m.CreatedAt) {
			t.Errorf("creation-time index: %v, want only %v", entries, m.CreatedAt)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}

	// The indexes still find both.
	err = s.View(context.Background(), func(tx engine.Tx) error {
		if got, err := tx.MessageByProviderID("twilio", "SM1"); err != nil || got.Status != engine.StatusSent {
			t.Errorf("by provider id: %v, %v", got, err)
		}
		if got, err := tx.Messages("+15550001111", 10); err != nil || len(got) != 1 {
			t.Errorf("the contact's messages: %d, %v", len(got), err)
		}
		if got, err := tx.ActiveEnrollment("+15550001111", "quiz"); err != nil || got.ID != en.ID {
			t.Errorf("active enrollment: %v, %v", got, err)
		}
		if got, err := tx.Enrollments("quiz", "", false, 0); err != nil || len(got) != 1 {
			t.Errorf("the automation's enrollments: %d, %v", len(got), err)
		}
		if got, err := tx.Enrollments("", "+15550001111", false, 0); err != nil || len(got) != 1 {
			t.Errorf("the contact's enrollments: %d, %v", len(got), err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// PutContact keeps the group index from the groups the same transaction
// read the contact with, without reading and decoding it again: here the
// stored record is made unreadable after the read, and storing the
// contact still works and keeps the index right, across two puts.
func TestPutContactUsesTheGroupsItsTransactionRead(t *testing.T) {
	s := openInternal(t)
	ctx := context.Background()
	phone := "+15550001111"
	nodes(t, s, func(tx *boltTx) error {
		return tx.PutContact(&engine.Contact{Phone: phone, Groups: []string{"a", "b"}})
	})
	nodes(t, s, func(tx *boltTx) error {
		c, err := tx.Contact(phone)
		if err != nil {
			return err
		}
		if err := tx.tx.Bucket(bContacts).Put([]byte(phone), []byte{codecS2v1, 0xff}); err != nil {
			return err
		}
		c.Groups = []string{"b", "c"}
		if err := tx.PutContact(c); err != nil {
			return err
		}
		c.Groups = []string{"c"}
		return tx.PutContact(c)
	})
	err := s.View(ctx, func(tx engine.Tx) error {
		for _, g := range []string{"a", "b", "c"} {
			members, err := tx.ContactsInGroup(g, "", 10)
			if err != nil {
				return err
			}
			if want := g == "c"; (len(members) == 1) != want || len(members) > 1 {
				t.Errorf("group %s: %d members, want member: %v", g, len(members), want)
			}
		}
		c, err := tx.Contact(phone)
		if err != nil || !slices.Equal(c.Groups, []string{"c"}) {
			t.Errorf("contact: %+v, %v", c, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
