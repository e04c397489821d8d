package storetest

import (
	"errors"
	"slices"
	"testing"

	"github.com/keyway-sms/keyway/automation/broadcast"
	"github.com/keyway-sms/keyway/automation/engine"
)

var tagCases = []testCase{
	{"tag/paging", testTagPaging},
	{"tag/change", testTagChange},
}

// tagged returns a contact with the tags given, in no group.
func tagged(phone string, tags ...string) *engine.Contact {
	c := contact(phone)
	c.Tags = tags
	return c
}

// withTag reads every contact tagged tag, and how many CountTag says.
func withTag(t *testing.T, s engine.Store, tag string) ([]string, int) {
	t.Helper()
	got := read(t, s, func(tx engine.Tx) ([]*engine.Contact, error) { return tx.ContactsWithTag(tag, "", 100) })
	n, err := bread(t, s, func(tx broadcast.Tx) (int, error) { return tx.CountTag(tag) })
	if err != nil {
		t.Fatalf("CountTag(%q): %v", tag, err)
	}
	return phones(got), n
}

func testTagPaging(t *testing.T, s engine.Store) {
	hasTag := func(c *engine.Contact, tag string) bool { return slices.Contains(c.Tags, tag) }
	indexPaging(t, s, "ContactsWithTag", tagged, contact, hasTag,
		func(tx engine.Tx, tag, after string, limit int) ([]*engine.Contact, error) {
			return tx.ContactsWithTag(tag, after, limit)
		})
	for tag, want := range map[string]int{"news": 6, "new": 1, "vip": 2, "other": 1, "nobody": 0} {
		got, err := bread(t, s, func(tx broadcast.Tx) (int, error) { return tx.CountTag(tag) })
		if err != nil || got != want {
			t.Errorf("CountTag(%q) = %d, %v; want %d", tag, got, err, want)
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
		got, n := withTag(t, s, tag)
		if !sameStrings(got, want) || n != len(want) {
			t.Errorf("%s: tagged %s = %v (CountTag %d), want %v", when, tag, got, n, want)
		}
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
	failed := errors.New("rolled back")
	err := s.Update(t.Context(), func(tx engine.Tx) error {
		if err := tx.PutContact(tagged(phoneC, "z")); err != nil {
			return err
		}
		if err := tx.PutContact(tagged(phoneA, "z")); err != nil {
			return err
		}
		return failed
	})
	if !errors.Is(err, failed) {
		t.Fatalf("Update = %v, want %v", err, failed)
	}
	check("after a failed transaction", "z")
	check("after a failed transaction", "y", phoneC)
	check("after a failed transaction", "vip", phoneA)

	// The groups were kept apart.
	members := phones(read(t, s, func(tx engine.Tx) ([]*engine.Contact, error) { return tx.ContactsInGroup("news", "", 100) }))
	if !sameStrings(members, []string{phoneA, phoneB}) {
		t.Errorf("members of news = %v, want [%s %s]", members, phoneA, phoneB)
	}
}
