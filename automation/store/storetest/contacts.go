package storetest

import (
	"errors"
	"testing"
	"time"

	"github.com/keyway-sms/keyway/automation/engine"
)

var contactCases = []testCase{
	{"contact/round-trip", testContactRoundTrip},
	{"contact/copies", testContactCopies},
	{"contact/group-paging", testContactGroupPaging},
	{"contact/group-leave", testContactGroupLeave},
}

func testContactRoundTrip(t *testing.T, s engine.Store) {
	out := t0.Add(-time.Hour)
	want := &engine.Contact{
		Phone:      phoneA,
		Name:       "Ann",
		Channel:    "whatsapp",
		LastTo:     map[string]string{"whatsapp": "+14155238886"},
		Fields:     map[string]string{"first_name": "Ann", "email": "ann@example.com"},
		Tags:       []string{"vip"},
		Groups:     []string{"newsletter"},
		LeftGroups: []string{"deals"},
		OptedOut:   true,
		OptedOutAt: &out,
		CreatedAt:  t0.Add(-48 * time.Hour),
		UpdatedAt:  t0,
		// The last choices sent, which the next message may answer.
		Offer: &engine.Offer{Message: "m0001", At: t0.Add(-time.Minute), Choices: []engine.OfferedChoice{{ID: "ORDER", Title: "My order"}, {ID: "AGENT", Title: "A person"}}},
	}
	update(t, s, putContacts(want))
	got := read(t, s, func(tx engine.Tx) (*engine.Contact, error) { return tx.Contact(phoneA) })
	if !sameContact(got, want) {
		t.Fatalf("Contact = %+v, want %+v", got, want)
	}
	if _, err := tryRead(t, s, func(tx engine.Tx) (*engine.Contact, error) { return tx.Contact(phoneB) }); !errors.Is(err, engine.ErrNotFound) {
		t.Errorf("Contact of a phone that has the stored one as prefix: err = %v, want ErrNotFound", err)
	}

	again := *want
	again.Name, again.OptedOut, again.OptedOutAt = "Ann B.", false, nil
	update(t, s, putContacts(&again))
	got = read(t, s, func(tx engine.Tx) (*engine.Contact, error) { return tx.Contact(phoneA) })
	if !sameContact(got, &again) {
		t.Errorf("after overwrite Contact = %+v, want %+v", got, &again)
	}
}

func testContactCopies(t *testing.T, s engine.Store) {
	// Changing the value after PutContact, in the same transaction, must
	// not change what the transaction reads back.
	var inTx string
	update(t, s, func(tx engine.Tx) error {
		inTx = ""
		c := contact(phoneA, "newsletter")
		c.Tags = []string{"vip"}
		if err := tx.PutContact(c); err != nil {
			return err
		}
		c.Name = "changed after put"
		c.Fields["first_name"] = "changed"
		got, err := tx.Contact(phoneA)
		if err != nil {
			return err
		}
		inTx = got.Name + "/" + got.Fields["first_name"]
		return nil
	})
	if want := "name of " + phoneA + "/Ann"; inTx != want {
		t.Errorf("in the transaction, after changing the value put: got %q, want %q", inTx, want)
	}
	got := read(t, s, func(tx engine.Tx) (*engine.Contact, error) { return tx.Contact(phoneA) })
	if got.Name != "name of "+phoneA || got.Fields["first_name"] != "Ann" {
		t.Fatalf("after commit: stored contact follows the caller's value: %+v", got)
	}

	// Changing what a getter returned must not change the store.
	got.Name = "mutated"
	got.Fields["first_name"] = "mutated"
	got.Tags[0] = "mutated"
	got.Groups = append(got.Groups[:0], "mutated")
	again := read(t, s, func(tx engine.Tx) (*engine.Contact, error) { return tx.Contact(phoneA) })
	if again.Name != "name of "+phoneA || again.Fields["first_name"] != "Ann" || again.Tags[0] != "vip" || again.Groups[0] != "newsletter" {
		t.Errorf("changing a returned contact changed the store: %+v", again)
	}
	members := read(t, s, func(tx engine.Tx) ([]*engine.Contact, error) { return tx.ContactsInGroup("newsletter", "", 10) })
	if !sameStrings(phones(members), []string{phoneA}) {
		t.Errorf("changing a returned contact's groups changed the group index: %v", phones(members))
	}
}

func testContactGroupPaging(t *testing.T, s engine.Store) {
	indexPaging(t, s, "ContactsInGroup", contact, tagged, (*engine.Contact).InGroup,
		func(tx engine.Tx, group, after string, limit int) ([]*engine.Contact, error) {
			return tx.ContactsInGroup(group, after, limit)
		})
}

// indexPaging pages through an index of contacts by a key (a group, or a
// tag), list reading it: contacts made by of with their keys, put out of
// order over two transactions, where "new" is a prefix of "news", p4 has
// neither, and a contact made by other (the other index) with the key
// "news" is not in it; pages read after a phone in it, one not in it, one
// before them all and one past them all. has says whether a contact has
// a key: each one returned must, with its stored fields.
func indexPaging(t *testing.T, s engine.Store, name string, of, other func(phone string, keys ...string) *engine.Contact,
	has func(c *engine.Contact, key string) bool, list func(tx engine.Tx, key, after string, limit int) ([]*engine.Contact, error)) {
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
	update(t, s, putContacts(of(p6, "news"), of(p2, "news", "vip"), of(p4, "other"), of(p7, "news"), other(phoneA, "news")))
	update(t, s, putContacts(of(p3, "news"), of(p1, "vip", "news"), of(p5, "news"), of(p8, "new")))

	tests := []struct {
		key, after string
		limit      int
		want       []string
	}{
		{"news", "", 2, []string{p1, p2}},
		{"news", p2, 2, []string{p3, p5}},
		{"news", p5, 10, []string{p6, p7}},
		{"news", p7, 10, nil},
		{"news", p4, 1, []string{p5}},      // after a phone without the key
		{"news", "+1555", 1, []string{p1}}, // after a phone before them all
		{"news", "+15550000009", 10, nil},  // after a phone past them all
		{"news", "", 100, []string{p1, p2, p3, p5, p6, p7}},
		{"new", "", 100, []string{p8}},
		{"vip", "", 100, []string{p1, p2}},
		{"other", "", 100, []string{p4}},
		{"nobody", "", 100, nil},
	}
	for _, tt := range tests {
		got := read(t, s, func(tx engine.Tx) ([]*engine.Contact, error) { return list(tx, tt.key, tt.after, tt.limit) })
		if !sameStrings(phones(got), tt.want) {
			t.Errorf("%s(%q, %q, %d) = %v, want %v", name, tt.key, tt.after, tt.limit, phones(got), tt.want)
		}
		for _, c := range got {
			if c.Name != "name of "+c.Phone || !has(c, tt.key) {
				t.Errorf("%s(%q) returned %s without its stored fields: %+v", name, tt.key, c.Phone, c)
			}
		}
	}
}

func testContactGroupLeave(t *testing.T, s engine.Store) {
	members := func(group string) []string {
		t.Helper()
		return phones(read(t, s, func(tx engine.Tx) ([]*engine.Contact, error) { return tx.ContactsInGroup(group, "", 100) }))
	}
	update(t, s, putContacts(contact(phoneA, "a", "b"), contact(phoneB, "a")))

	// Leave a, stay in b, join c.
	update(t, s, putContacts(contact(phoneA, "b", "c")))
	if got := members("a"); !sameStrings(got, []string{phoneB}) {
		t.Errorf("after %s left a: members of a = %v, want [%s]", phoneA, got, phoneB)
	}
	if got := members("b"); !sameStrings(got, []string{phoneA}) {
		t.Errorf("members of b = %v, want [%s]", got, phoneA)
	}
	if got := members("c"); !sameStrings(got, []string{phoneA}) {
		t.Errorf("after %s joined c: members of c = %v, want [%s]", phoneA, got, phoneA)
	}

	// Leave everything; a contact loaded, changed and put back, as the
	// engine does.
	update(t, s, func(tx engine.Tx) error {
		c, err := tx.Contact(phoneA)
		if err != nil {
			return err
		}
		c.Groups = nil
		return tx.PutContact(c)
	})
	for _, g := range []string{"b", "c"} {
		if got := members(g); len(got) != 0 {
			t.Errorf("after %s left every group: members of %s = %v, want none", phoneA, g, got)
		}
	}
	if got := members("a"); !sameStrings(got, []string{phoneB}) {
		t.Errorf("members of a = %v, want [%s]", got, phoneB)
	}
}
