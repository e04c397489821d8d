package storetest

import (
	"reflect"
	"testing"

	"github.com/keyway-sms/keyway/automation/engine"
)

var textCases = []testCase{
	{"text/nul", testTextNUL},
}

// A provider or the admin API may hand keyway any string, a NUL character
// (U+0000) too, which PostgreSQL's jsonb refuses: every store takes it and
// reads it back as U+FFFD, the same on each (engine.RecordJSON), in a
// message's body, fields and error, a contact's name, fields and tags (and its tag index),
// and an enrollment's variables.
func testTextNUL(t *testing.T, s engine.Store) {
	const nul, mark = "a\x00b", "a\uFFFDb"
	m := message("m0001", phoneA)
	m.Body, m.Fields, m.Error = nul, map[string]string{"Body": nul, "P\x00": "x"}, nul
	c := contact(phoneA)
	c.Name, c.Fields, c.Tags = nul, map[string]string{"first_name": nul}, []string{nul}
	e := enrollment("e0001", phoneA, "join", engine.EnrollmentWaitingReply)
	e.Vars = map[string]any{"name": nul}
	update(t, s, func(tx engine.Tx) error {
		if err := putMessages(m)(tx); err != nil {
			return err
		}
		if err := putContacts(c)(tx); err != nil {
			return err
		}
		return tx.PutEnrollment(e)
	})

	gm := read(t, s, func(tx engine.Tx) (*engine.Message, error) { return tx.Message("m0001") })
	if gm.Body != mark || gm.Error != mark || !reflect.DeepEqual(gm.Fields, map[string]string{"Body": mark, "P\uFFFD": "x"}) {
		t.Errorf("message read back body %q, error %q, fields %q; want each NUL as U+FFFD", gm.Body, gm.Error, gm.Fields)
	}
	gc := read(t, s, func(tx engine.Tx) (*engine.Contact, error) { return tx.Contact(phoneA) })
	if gc.Name != mark || gc.Fields["first_name"] != mark || !reflect.DeepEqual(gc.Tags, []string{mark}) {
		t.Errorf("contact read back name %q, fields %q, tags %q; want each NUL as U+FFFD", gc.Name, gc.Fields, gc.Tags)
	}
	// The tag index says what the contact read back says, asked either way.
	for _, tag := range []string{mark, nul} {
		got, n := tagIndex.read(t, s, tag)
		if !sameStrings(got, []string{phoneA}) || n != 1 {
			t.Errorf("tagged %q = %v (CountTag %d), want [%s]", tag, got, n, phoneA)
		}
	}
	// Stored again as read back, it keeps its one entry; without the tag, none.
	update(t, s, putContacts(gc))
	if got, n := tagIndex.read(t, s, mark); !sameStrings(got, []string{phoneA}) || n != 1 {
		t.Errorf("stored again: tagged %q = %v (CountTag %d), want [%s]", mark, got, n, phoneA)
	}
	update(t, s, putContacts(contact(phoneA)))
	if got, n := tagIndex.read(t, s, mark); len(got) != 0 || n != 0 {
		t.Errorf("untagged: tagged %q = %v (CountTag %d), want none", mark, got, n)
	}
	ge := read(t, s, func(tx engine.Tx) (*engine.Enrollment, error) { return tx.Enrollment("e0001") })
	if ge.Vars["name"] != mark {
		t.Errorf("enrollment read back vars %q; want each NUL as U+FFFD", ge.Vars)
	}
}
