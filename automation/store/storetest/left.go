package storetest

import (
	"slices"
	"testing"

	"github.com/keyway-sms/keyway/automation/broadcast"
	"github.com/keyway-sms/keyway/automation/engine"
)

var leftCases = []testCase{
	{"left-group/paging", testLeftGroupPaging},
	{"left-group/change", testLeftGroupChange},
}

// leaver returns a contact that unsubscribed from the groups given, in
// no group.
func leaver(phone string, groups ...string) *engine.Contact {
	c := contact(phone)
	c.LeftGroups = groups
	return c
}

var leftIndex = namedIndex{
	list: "ContactsLeftGroup", count: "CountLeftGroup", with: leaver,
	has: func(c *engine.Contact, group string) bool { return slices.Contains(c.LeftGroups, group) },
	page: func(tx engine.Tx, group, after string, limit int) ([]*engine.Contact, error) {
		return tx.ContactsLeftGroup(group, after, limit)
	},
	counts: broadcast.Tx.CountLeftGroup,
}

func testLeftGroupPaging(t *testing.T, s engine.Store) {
	leftIndex.paging(t, s)
	// The members of news (one, put by indexPaging) are another index.
	if n, err := bread(t, s, func(tx broadcast.Tx) (int, error) { return tx.CountGroup("news") }); err != nil || n != 1 {
		t.Errorf("CountGroup(news) = %d, %v; want 1", n, err)
	}
}

// A contact leaves a group, joins it again and leaves another, the way the
// engine stores it (loaded, changed and put back), or put without being
// read first; a transaction that fails leaves the index alone.
func testLeftGroupChange(t *testing.T, s engine.Store) {
	check := func(when, group string, want ...string) {
		t.Helper()
		leftIndex.check(t, s, when, group, want...)
	}
	change := func(phone string, fn func(c *engine.Contact)) {
		t.Helper()
		update(t, s, func(tx engine.Tx) error {
			c, err := tx.Contact(phone)
			if err != nil {
				return err
			}
			fn(c)
			return tx.PutContact(c)
		})
	}
	update(t, s, putContacts(contact(phoneA, "news", "deals"), contact(phoneB, "news")))
	check("at first", "news")

	// A unsubscribes from news.
	change(phoneA, func(c *engine.Contact) { c.Groups, c.LeftGroups = []string{"deals"}, []string{"news"} })
	check("after A left news", "news", phoneA)
	check("after A left news", "deals")

	// B leaves news too, then A joins it again and leaves deals.
	change(phoneB, func(c *engine.Contact) { c.Groups, c.LeftGroups = nil, []string{"news"} })
	check("after B left news", "news", phoneA, phoneB)
	change(phoneA, func(c *engine.Contact) { c.Groups, c.LeftGroups = []string{"news"}, []string{"deals"} })
	check("after A joined news again", "news", phoneB)
	check("after A left deals", "deals", phoneA)

	// B, put without being read, has left nothing.
	update(t, s, putContacts(contact(phoneB)))
	check("after B was put anew", "news")

	// A transaction that fails changes nothing.
	rolledBack(t, s, putContacts(leaver(phoneC, "news")))
	check("after a failed transaction", "news")
	check("after a failed transaction", "deals", phoneA)
}
