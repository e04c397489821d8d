package storetest

import (
	"testing"

	"github.com/keyway-sms/keyway/automation/engine"
)

// pageCases cover the listings the admin API and the dashboard page
// through: every contact in phone order, every message newest first.
var pageCases = []testCase{
	{"contact/page", testContactsPage},
	{"message/page", testMessagesPage},
}

func testContactsPage(t *testing.T, s engine.Store) {
	// phoneA is a prefix of phoneB; put out of order over two transactions,
	// and phoneA twice (an update must not list it twice).
	update(t, s, putContacts(contact(phoneC, "news"), contact(phoneA)))
	update(t, s, putContacts(contact(phoneB, "vip"), contact(phoneA, "news")))

	tests := []struct {
		after string
		limit int
		want  []string
	}{
		{"", 0, []string{phoneA, phoneB, phoneC}},
		{"", 100, []string{phoneA, phoneB, phoneC}},
		{"", 2, []string{phoneA, phoneB}},
		{phoneA, 1, []string{phoneB}},
		{phoneB, 10, []string{phoneC}},
		{phoneC, 10, nil},
		{"+1555000", 10, []string{phoneA, phoneB, phoneC}}, // after a phone that is not stored
		{"+15550002", 10, []string{phoneC}},
	}
	for _, tt := range tests {
		got := read(t, s, func(tx engine.Tx) ([]*engine.Contact, error) { return tx.ContactsPage(tt.after, tt.limit) })
		if !sameStrings(phones(got), tt.want) {
			t.Errorf("ContactsPage(%q, %d) = %v, want %v", tt.after, tt.limit, phones(got), tt.want)
		}
		for _, c := range got {
			if c.Name != "name of "+c.Phone {
				t.Errorf("ContactsPage returned %s without its stored fields: %+v", c.Phone, c)
			}
		}
	}
	got := read(t, s, func(tx engine.Tx) ([]*engine.Contact, error) { return tx.ContactsPage(phoneA, 1) })
	if len(got) == 1 && !sameStrings(got[0].Groups, []string{"vip"}) {
		t.Errorf("ContactsPage(%q, 1)[0].Groups = %v, want [vip]", phoneA, got[0].Groups)
	}
}

func testMessagesPage(t *testing.T, s engine.Store) {
	// Ids sort by creation time; messages of several contacts interleave.
	update(t, s, putMessages(message("m0003", phoneA), message("m0001", phoneB), message("m0006", phoneC)))
	update(t, s, putMessages(message("m0005", phoneA), message("m0002", phoneA), outbound("m0004", phoneB)))

	all := []string{"m0006", "m0005", "m0004", "m0003", "m0002", "m0001"}
	tests := []struct {
		before string
		limit  int
		want   []string
	}{
		{"", 0, all},
		{"", 100, all},
		{"", 2, []string{"m0006", "m0005"}},
		{"m0005", 2, []string{"m0004", "m0003"}},
		{"m0002", 10, []string{"m0001"}},
		{"m0001", 10, nil},
		{"m00045", 10, []string{"m0004", "m0003", "m0002", "m0001"}}, // before an id that is not stored
		{"m9999", 1, []string{"m0006"}},
	}
	for _, tt := range tests {
		got := read(t, s, func(tx engine.Tx) ([]*engine.Message, error) { return tx.MessagesPage(tt.before, tt.limit) })
		if !sameStrings(messageIDs(got), tt.want) {
			t.Errorf("MessagesPage(%q, %d) = %v, want %v", tt.before, tt.limit, messageIDs(got), tt.want)
		}
	}
	got := read(t, s, func(tx engine.Tx) ([]*engine.Message, error) { return tx.MessagesPage("m0005", 1) })
	if len(got) != 1 || got[0].Direction != engine.Outbound || got[0].Contact != phoneB {
		t.Errorf("MessagesPage(m0005, 1) = %+v, want the outbound message m0004 to %s", got, phoneB)
	}
}
