package storetest

import (
	"slices"
	"testing"

	"github.com/keyway-sms/keyway/automation/broadcast"
	"github.com/keyway-sms/keyway/automation/engine"
)

var tagCases = []testCase{
	{"tag/paging", tagIndex.paging},
	{"tag/change", testTagChange},
}

// tagged returns a contact with the tags given, in no group.
func tagged(phone string, tags ...string) *engine.Contact {
	c := contact(phone)
	c.Tags = tags
	return c
}

// namedIndex is an index of contacts by the names in one of their lists
// (tags, the groups they left), with its list and count methods.
type namedIndex struct {
	list, count string // the methods' names, for messages
	// with returns a contact with the names given, in no group.
	with   func(phone string, names ...string) *engine.Contact
	has    func(c *engine.Contact, name string) bool
	page   func(tx engine.Tx, name, after string, limit int) ([]*engine.Contact, error)
	counts func(tx broadcast.Tx, name string) (int, error)
}

var tagIndex = namedIndex{
	list: "ContactsWithTag", count: "CountTag", with: tagged,
	has: func(c *engine.Contact, tag string) bool { return slices.Contains(c.Tags, tag) },
	page: func(tx engine.Tx, tag, after string, limit int) ([]*engine.Contact, error) {
		return tx.ContactsWithTag(tag, after, limit)
	},
	counts: broadcast.Tx.CountTag,
}

// read returns the phones of every contact the index lists under name,
// and how many its count method says.
func (ix namedIndex) read(t *testing.T, s engine.Store, name string) ([]string, int) {
	t.Helper()
	got := read(t, s, func(tx engine.Tx) ([]*engine.Contact, error) { return ix.page(tx, name, "", 100) })
	n, err := bread(t, s, func(tx broadcast.Tx) (int, error) { return ix.counts(tx, name) })
	if err != nil {
		t.Fatalf("%s(%q): %v", ix.count, name, err)
	}
	return phones(got), n
}

// check fails the test unless the index lists exactly want under name.
func (ix namedIndex) check(t *testing.T, s engine.Store, when, name string, want ...string) {
	t.Helper()
	if got, n := ix.read(t, s, name); !sameStrings(got, want) || n != len(want) {
		t.Errorf("%s: %s(%q) = %v (%s %d), want %v", when, ix.list, name, got, ix.count, n, want)
	}
}

// paging pages through the index as indexPaging does, and counts it.
func (ix namedIndex) paging(t *testing.T, s engine.Store) {
	indexPaging(t, s, ix.list, ix.with, contact, ix.has, ix.page)
	for name, want := range map[string]int{"news": 6, "new": 1, "vip": 2, "other": 1, "nobody": 0} {
		got, err := bread(t, s, func(tx broadcast.Tx) (int, error) { return ix.counts(tx, name) })
		if err != nil || got != want {
			t.Errorf("%s(%q) = %d, %v; want %d", ix.count, name, got, err, want)
		}
	}
}

// Tags added, removed and replaced, the way the engine and the admin API
// store them: a contact loaded, changed and put back (its groups as they
// were), one put without being read first, one put twice in one
// transaction; and a transaction that fails leaves the index alone.
func testTagChange(t *testing.T, s engine.Store) {
	check := func(when, tag string, want ...string) {
		t.Helper()
		tagIndex.check(t, s, when, tag, want...)
	}
	a, b := tagged(phoneA, "vip", "new"), tagged(phoneB, "vip")
	a.Groups, b.Groups = []string{"news"}, []string{"news"}
	update(t, s, putContacts(a, b))
	check("at first", "vip", phoneA, phoneB)
	check("at first", "new", phoneA)

	// A loses new and gains gold, its groups unchanged.
	update(t, s, func(tx engine.Tx) error {
		c, err := tx.Contact(phoneA)
		if err != nil {
			return err
		}
		c.Tags = []string{"vip", "gold"}
		return tx.PutContact(c)
	})
	check("after A was re-tagged", "new")
	check("after A was re-tagged", "gold", phoneA)
	check("after A was re-tagged", "vip", phoneA, phoneB)

	// B, put without being read, loses every tag.
	nb := contact(phoneB, "news")
	update(t, s, putContacts(nb))
	check("after B lost its tags", "vip", phoneA)

	// C is stored tagged x, then y, in one transaction.
	update(t, s, func(tx engine.Tx) error {
		if err := tx.PutContact(tagged(phoneC, "x")); err != nil {
			return err
		}
		return tx.PutContact(tagged(phoneC, "y"))
	})
	check("after C was stored twice", "x")
	check("after C was stored twice", "y", phoneC)

	// A transaction that fails changes nothing.
	rolledBack(t, s, putContacts(tagged(phoneC, "z"), tagged(phoneA, "z")))
	check("after a failed transaction", "z")
	check("after a failed transaction", "y", phoneC)
	check("after a failed transaction", "vip", phoneA)

	// The groups were kept apart.
	members := phones(read(t, s, func(tx engine.Tx) ([]*engine.Contact, error) { return tx.ContactsInGroup("news", "", 100) }))
	if !sameStrings(members, []string{phoneA, phoneB}) {
		t.Errorf("members of news = %v, want [%s %s]", members, phoneA, phoneB)
	}
}
