package bolt_test

import (
	"path/filepath"
	"slices"
	"testing"

	bbolt "go.etcd.io/bbolt"

	"github.com/keyway-sms/keyway/automation/broadcast"
	"github.com/keyway-sms/keyway/automation/engine"
	"github.com/keyway-sms/keyway/automation/store/bolt"
)

// A data file written before the index of the groups contacts left gets
// it at Open, from the contacts stored (new records and plain JSON ones of
// an earlier keyway alike), once; from then on PutContact keeps it.
func TestOpenIndexesLeftGroupsOfAnOldFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keyway.db")
	open := func() *bolt.Bolt {
		t.Helper()
		s, err := bolt.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	check := func(when string, s *bolt.Bolt, group string, want ...string) {
		t.Helper()
		var got []string
		var n int
		err := s.View(t.Context(), func(tx engine.Tx) error {
			cs, err := tx.ContactsLeftGroup(group, "", 100)
			for _, c := range cs {
				got = append(got, c.Phone)
			}
			if err != nil {
				return err
			}
			n, err = tx.(broadcast.Tx).CountLeftGroup(group)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, want) || n != len(want) {
			t.Errorf("%s: left %s = %v (CountLeftGroup %d), want %v", when, group, got, n, want)
		}
	}

	s := open()
	err := s.Update(t.Context(), func(tx engine.Tx) error {
		for _, c := range []*engine.Contact{
			{Phone: "+15550002", LeftGroups: []string{"news", "deals"}},
			{Phone: "+15550001", LeftGroups: []string{"news"}, Groups: []string{"deals"}},
			{Phone: "+15550003", Groups: []string{"news"}},
		} {
			if err := tx.PutContact(c); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()

	db, err := bbolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bbolt.Tx) error {
		if err := tx.DeleteBucket([]byte("left_groups")); err != nil {
			return err
		}
		// A contact as an earlier keyway stored it: plain JSON, with its phone.
		return tx.Bucket([]byte("contacts")).Put([]byte("+15550004"), []byte(`{"phone":"+15550004","left_groups":["news"],"channel":"sms"}`))
	})
	if err != nil {
		t.Fatal(err)
	}
	db.Close()

	s = open()
	check("reopened without the index", s, "news", "+15550001", "+15550002", "+15550004")
	check("reopened without the index", s, "deals", "+15550002")

	// The index built at Open is kept from then on: +15550002 joins news
	// again.
	err = s.Update(t.Context(), func(tx engine.Tx) error {
		c, err := tx.Contact("+15550002")
		if err != nil {
			return err
		}
		c.Groups, c.LeftGroups = []string{"news"}, []string{"deals"}
		return tx.PutContact(c)
	})
	if err != nil {
		t.Fatal(err)
	}
	check("after a contact joined news again", s, "news", "+15550001", "+15550004")
	s.Close()

	// Opening it again leaves the index as it is.
	s = open()
	defer s.Close()
	check("reopened with the index", s, "news", "+15550001", "+15550004")
	check("reopened with the index", s, "deals", "+15550002")
}
