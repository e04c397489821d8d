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
	const (
		p1 = "+15550000001"
		p2 = "+15550000002"
		p3 = "+15550000003"
		p4 = "+15550000004"
		p5 = "+15550000005"
		p6 = "+15550000006"
		p7 = "+15550000007"
		p8 = "+15550000008"
	)
	// Put out of order, over two transactions. "new" is a prefix of
	// "news", p4 has neither, and groups of the same names index nobody.
	update(t, s, putContacts(tagged(p6, "news"), tagged(p2, "news", "vip"), tagged(p4, "other"), tagged(p7, "news"), contact(phoneA, "news")))
	update(t, s, putContacts(tagged(p3, "news"), tagged(p1, "vip", "news"), tagged(p5, "news"), tagged(p8, "new")))

	tests := []struct {
		tag, after string
		limit      int
		want       []string
	}{
		{"news", "", 2, []string{p1, p2}},
		{"news", p2, 2, []string{p3, p5}},
		{"news", p5, 10, []string{p6, p7}},
		{"news", p7, 10, nil},
		{"news", p4, 1, []string{p5}},      // after a phone that is not tagged
		{"news", "+1555", 1, []string{p1}}, // after a phone before them all
		{"news", "+15550000009", 10, nil},  // after a phone past them all
		{"news", "", 100, []string{p1, p2, p3, p5, p6, p7}},
		{"new", "", 100, []string{p8}},
		{"vip", "", 100, []string{p1, p2}},
		{"other", "", 100, []string{p4}},
		{"nobody", "", 100, nil},
	}
	for _, tt := range tests {
		got := read(t, s, func(tx engine.Tx) ([]*engine.Contact, error) {
			return tx.ContactsWithTag(tt.tag, tt.after, tt.limit)
		})
		if !sameStrings(phones(got), tt.want) {
			t.Errorf("ContactsWithTag(%q, %q, %d) = %v, want %v", tt.tag, tt.after, tt.limit, phones(got), tt.want)
		}
		for _, c := range got {
			if c.Name != "name of "+c.Phone || !slices.Contains(c.Tags, tt.tag) {
				t.Errorf("ContactsWithTag(%q) returned %s without its stored fields: %+v", tt.tag, c.Phone, c)
			}
		}
	}
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
