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

// A data file written before the tag index gets it at Open, from the
// contacts stored (new records and plain JSON ones of an earlier keyway
// alike), once; from then on PutContact keeps it.
func TestOpenIndexesTagsOfAnOldFile(t *testing.T) {
	testOpenIndexesAnOldFile(t, oldFileIndex{
		bucket: "tags",
		contacts: []*engine.Contact{
			{Phone: "+15550002", Tags: []string{"vip", "new"}, Groups: []string{"news"}},
			{Phone: "+15550001", Tags: []string{"vip"}},
			{Phone: "+15550003"},
			{Phone: "+155500012", Tags: []string{"new"}},
		},
		legacy: `{"phone":"+15550004","tags":["vip"],"channel":"sms"}`,
		list:   func(tx engine.Tx, tag string) ([]*engine.Contact, error) { return tx.ContactsWithTag(tag, "", 100) },
		count:  broadcast.Tx.CountTag,
		opened: map[string][]string{"vip": {"+15550001", "+15550002", "+15550004"}, "new": {"+155500012", "+15550002"}},
		change: func(c *engine.Contact) { c.Tags = []string{"new"} }, // +15550002 loses vip
		kept:   map[string][]string{"vip": {"+15550001", "+15550004"}, "new": {"+155500012", "+15550002"}},
	})
}

// A data file written before the index of the groups contacts left gets
// it at Open, in the same way.
func TestOpenIndexesLeftGroupsOfAnOldFile(t *testing.T) {
	testOpenIndexesAnOldFile(t, oldFileIndex{
		bucket: "left_groups",
		contacts: []*engine.Contact{
			{Phone: "+15550002", LeftGroups: []string{"news", "deals"}},
			{Phone: "+15550001", LeftGroups: []string{"news"}, Groups: []string{"deals"}},
			{Phone: "+15550003", Groups: []string{"news"}},
		},
		legacy: `{"phone":"+15550004","left_groups":["news"],"channel":"sms"}`,
		list: func(tx engine.Tx, group string) ([]*engine.Contact, error) {
			return tx.ContactsLeftGroup(group, "", 100)
		},
		count:  broadcast.Tx.CountLeftGroup,
		opened: map[string][]string{"news": {"+15550001", "+15550002", "+15550004"}, "deals": {"+15550002"}},
		// +15550002 joins news again.
		change: func(c *engine.Contact) { c.Groups, c.LeftGroups = []string{"news"}, []string{"deals"} },
		kept:   map[string][]string{"news": {"+15550001", "+15550004"}, "deals": {"+15550002"}},
	})
}

// oldFileIndex is an index of contacts (keyed name\x00phone) that a data file of
// an earlier keyway lacks.
type oldFileIndex struct {
	bucket   string
	contacts []*engine.Contact
	// legacy is +15550004 as an earlier keyway stored it: plain JSON.
	legacy string
	list   func(tx engine.Tx, name string) ([]*engine.Contact, error)
	count  func(tx broadcast.Tx, name string) (int, error)
	// opened is the index at the first Open without it; kept, after
	// change is made to +15550002 and the file opened again.
	opened, kept map[string][]string
	change       func(c *engine.Contact)
}

func testOpenIndexesAnOldFile(t *testing.T, ix oldFileIndex) {
	path := filepath.Join(t.TempDir(), "keyway.db")
	open := func() *bolt.Bolt {
		t.Helper()
		s, err := bolt.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	check := func(when string, s *bolt.Bolt, want map[string][]string) {
		t.Helper()
		for name, want := range want {
			var got []string
			var n int
			err := s.View(t.Context(), func(tx engine.Tx) error {
				cs, err := ix.list(tx, name)
				for _, c := range cs {
					got = append(got, c.Phone)
				}
				if err != nil {
					return err
				}
				n, err = ix.count(tx.(broadcast.Tx), name)
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, want) || n != len(want) {
				t.Errorf("%s: %s %s = %v (counted %d), want %v", when, ix.bucket, name, got, n, want)
			}
		}
	}

	s := open()
	err := s.Update(t.Context(), func(tx engine.Tx) error {
		for _, c := range ix.contacts {
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
		if err := tx.DeleteBucket([]byte(ix.bucket)); err != nil {
			return err
		}
		return tx.Bucket([]byte("contacts")).Put([]byte("+15550004"), []byte(ix.legacy))
	})
	if err != nil {
		t.Fatal(err)
	}
	db.Close()

	s = open()
	check("reopened without the index", s, ix.opened)

	// The index built at Open is kept from then on.
	err = s.Update(t.Context(), func(tx engine.Tx) error {
		c, err := tx.Contact("+15550002")
		if err != nil {
			return err
		}
		ix.change(c)
		return tx.PutContact(c)
	})
	if err != nil {
		t.Fatal(err)
	}
	check("after a change", s, ix.kept)
	s.Close()

	// Opening it again leaves the index as it is.
	s = open()
	defer s.Close()
	check("reopened with the index", s, ix.kept)
}
