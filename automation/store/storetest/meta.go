package storetest

import (
	"bytes"
	"errors"
	"testing"

	"github.com/keyway-sms/keyway/automation/engine"
)

var metaCases = []testCase{
	{"meta/round-trip", testMeta},
	{"meta/delete", testDeleteMeta},
	{"not-found", testNotFound},
	{"rejects-empty-keys", testEmptyKeys},
}

func testMeta(t *testing.T, s engine.Store) {
	meta := func() ([]byte, error) {
		return tryRead(t, s, func(tx engine.Tx) ([]byte, error) { return tx.Meta("schedule/weekly") })
	}
	if _, err := meta(); !errors.Is(err, engine.ErrNotFound) {
		t.Fatalf("Meta of an empty store: err = %v, want ErrNotFound", err)
	}
	v := []byte("2030-03-04T10:00:00Z")
	update(t, s, func(tx engine.Tx) error { return tx.PutMeta("schedule/weekly", v) })
	v[0] = 'X' // the caller reuses its buffer
	got, err := meta()
	if err != nil || string(got) != "2030-03-04T10:00:00Z" {
		t.Fatalf("Meta = %q, %v; want the value put", got, err)
	}
	got[0] = 'Y'
	if again, _ := meta(); string(again) != "2030-03-04T10:00:00Z" {
		t.Errorf("changing a returned value changed the store: %q", again)
	}
	update(t, s, func(tx engine.Tx) error { return tx.PutMeta("schedule/weekly", []byte("2")) })
	if got, err := meta(); err != nil || !bytes.Equal(got, []byte("2")) {
		t.Errorf("after overwrite: Meta = %q, %v; want \"2\"", got, err)
	}
	// A caller may reuse its buffer within the transaction too, for the
	// next value (a file stored in chunks).
	update(t, s, func(tx engine.Tx) error {
		buf := []byte("chunk 0")
		if err := tx.PutMeta("upload/u/0", buf); err != nil {
			return err
		}
		copy(buf, "chunk 1")
		return tx.PutMeta("upload/u/1", buf)
	})
	for i, want := range []string{"chunk 0", "chunk 1"} {
		key := "upload/u/" + string(rune('0'+i))
		if got, err := tryRead(t, s, func(tx engine.Tx) ([]byte, error) { return tx.Meta(key) }); err != nil || string(got) != want {
			t.Errorf("Meta(%s) = %q, %v; want %q (the buffer was reused after it was put)", key, got, err, want)
		}
	}
	if _, err := tryRead(t, s, func(tx engine.Tx) ([]byte, error) { return tx.Meta("schedule/week") }); !errors.Is(err, engine.ErrNotFound) {
		t.Errorf("Meta of a prefix of a stored key: err = %v, want ErrNotFound", err)
	}
}

// A deleted value is gone for good, deleting one that is not there is no
// error, and the values beside it stay.
func testDeleteMeta(t *testing.T, s engine.Store) {
	update(t, s, func(tx engine.Tx) error {
		if err := tx.PutMeta("upload/1", []byte("a")); err != nil {
			return err
		}
		return tx.PutMeta("upload/10", []byte("b"))
	})
	update(t, s, func(tx engine.Tx) error {
		if err := tx.DeleteMeta("upload/1"); err != nil {
			return err
		}
		return tx.DeleteMeta("upload/2") // never there
	})
	if _, err := tryRead(t, s, func(tx engine.Tx) ([]byte, error) { return tx.Meta("upload/1") }); !errors.Is(err, engine.ErrNotFound) {
		t.Errorf("Meta of a deleted value: err = %v, want ErrNotFound", err)
	}
	if got, err := tryRead(t, s, func(tx engine.Tx) ([]byte, error) { return tx.Meta("upload/10") }); err != nil || string(got) != "b" {
		t.Errorf("the value beside the deleted one: %q, %v; want \"b\"", got, err)
	}
	// Deleted and written again in one transaction: the last word stands.
	update(t, s, func(tx engine.Tx) error {
		if err := tx.PutMeta("upload/1", []byte("c")); err != nil {
			return err
		}
		if err := tx.DeleteMeta("upload/1"); err != nil {
			return err
		}
		if err := tx.PutMeta("upload/3", []byte("d")); err != nil {
			return err
		}
		return tx.DeleteMeta("upload/10")
	})
	if _, err := tryRead(t, s, func(tx engine.Tx) ([]byte, error) { return tx.Meta("upload/1") }); !errors.Is(err, engine.ErrNotFound) {
		t.Errorf("put then deleted in one transaction: err = %v, want ErrNotFound", err)
	}
	if _, err := tryRead(t, s, func(tx engine.Tx) ([]byte, error) { return tx.Meta("upload/10") }); !errors.Is(err, engine.ErrNotFound) {
		t.Errorf("deleted: err = %v, want ErrNotFound", err)
	}
	if got, err := tryRead(t, s, func(tx engine.Tx) ([]byte, error) { return tx.Meta("upload/3") }); err != nil || string(got) != "d" {
		t.Errorf("put beside a delete: %q, %v; want \"d\"", got, err)
	}
	// Inside the transaction that deletes, the value is gone already.
	update(t, s, func(tx engine.Tx) error {
		if err := tx.DeleteMeta("upload/3"); err != nil {
			return err
		}
		if _, err := tx.Meta("upload/3"); !errors.Is(err, engine.ErrNotFound) {
			t.Errorf("Meta after DeleteMeta in the same transaction: err = %v, want ErrNotFound", err)
		}
		return nil
	})
}

func testNotFound(t *testing.T, s engine.Store) {
	// Something stored, so that a store answering the first thing it holds
	// is caught.
	update(t, s, func(tx engine.Tx) error {
		m := message("m0001", phoneA)
		m.Provider, m.ProviderID = "twilio", "SM0001"
		if err := putMessages(m)(tx); err != nil {
			return err
		}
		if err := putContacts(contact(phoneA))(tx); err != nil {
			return err
		}
		if err := putEnrollments(enrollment("e0001", phoneA, "a", engine.EnrollmentWaiting))(tx); err != nil {
			return err
		}
		return tx.PutMeta("k", []byte("v"))
	})
	gets := []struct {
		name string
		get  func(tx engine.Tx) error
	}{
		{"Contact", func(tx engine.Tx) error { _, err := tx.Contact(phoneB); return err }},
		{"Message", func(tx engine.Tx) error { _, err := tx.Message("m0002"); return err }},
		{"MessageByProviderID", func(tx engine.Tx) error { _, err := tx.MessageByProviderID("twilio", "SM0002"); return err }},
		{"Enrollment", func(tx engine.Tx) error { _, err := tx.Enrollment("e0002"); return err }},
		{"ActiveEnrollment other automation", func(tx engine.Tx) error { _, err := tx.ActiveEnrollment(phoneA, "b"); return err }},
		{"ActiveEnrollment other contact", func(tx engine.Tx) error { _, err := tx.ActiveEnrollment(phoneB, "a"); return err }},
		{"Meta", func(tx engine.Tx) error { _, err := tx.Meta("k2"); return err }},
	}
	for _, g := range gets {
		if err := s.View(t.Context(), g.get); !errors.Is(err, engine.ErrNotFound) {
			t.Errorf("%s in a View: err = %v, want ErrNotFound", g.name, err)
		}
		if err := s.Update(t.Context(), g.get); !errors.Is(err, engine.ErrNotFound) {
			t.Errorf("%s in an Update: err = %v, want ErrNotFound", g.name, err)
		}
	}
}

func testEmptyKeys(t *testing.T, s engine.Store) {
	puts := []struct {
		name string
		put  func(tx engine.Tx) error
	}{
		{"PutContact", func(tx engine.Tx) error { return tx.PutContact(contact("")) }},
		{"PutMessage", func(tx engine.Tx) error { return tx.PutMessage(message("", phoneA)) }},
		{"PutEnrollment", func(tx engine.Tx) error {
			return tx.PutEnrollment(enrollment("", phoneA, "a", engine.EnrollmentWaiting))
		}},
		{"Enqueue", func(tx engine.Tx) error { return tx.Enqueue(outbound("", phoneA)) }},
		{"PutMeta", func(tx engine.Tx) error { return tx.PutMeta("", []byte("v")) }},
	}
	for _, p := range puts {
		if err := s.Update(t.Context(), p.put); err == nil {
			t.Errorf("%s without a key: no error", p.name)
		}
	}
	// And nothing of them is left behind.
	if got := read(t, s, func(tx engine.Tx) ([]*engine.Enrollment, error) { return tx.ActiveEnrollments(phoneA) }); len(got) != 0 {
		t.Errorf("a refused PutEnrollment left an active enrollment: %v", enrollmentIDs(got))
	}
	if got := read(t, s, func(tx engine.Tx) ([]*engine.Message, error) { return tx.Messages(phoneA, 10) }); len(got) != 0 {
		t.Errorf("a refused PutMessage left a message: %v", messageIDs(got))
	}
}
