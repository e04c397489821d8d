// Package storetest is the conformance suite of automation.Store: every
// implementation (the in-memory one, bbolt, later PostgreSQL) runs the same
// subtests, so the engine can rely on one behaviour whatever stores it.
//
//	func TestStore(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) automation.Store {
//			s, err := store.Open(filepath.Join(t.TempDir(), "keyway.db"))
//			if err != nil {
//				t.Fatal(err)
//			}
//			t.Cleanup(func() { s.Close() })
//			return s
//		})
//	}
//
// The functions the suite passes to Update return errors instead of
// failing the test, because a store may run them on another goroutine and
// more than once (group commit).
package storetest

import (
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/keyway-sms/keyway/automation"
)

// Run runs the conformance suite against the stores open returns. Each
// subtest calls open once and expects an empty store; open should close
// it with t.Cleanup, and Close must accept being called twice.
func Run(t *testing.T, open func(t *testing.T) automation.Store) {
	groups := [][]testCase{contactCases, messageCases, outboxCases, sendCases, enrollmentCases, timerCases, metaCases, txCases, healthCases}
	for _, g := range groups {
		for _, c := range g {
			t.Run(c.name, func(t *testing.T) { c.run(t, open(t)) })
		}
	}
}

type testCase struct {
	name string
	run  func(t *testing.T, s automation.Store)
}

// t0 is the frozen "now" of the suite.
var t0 = time.Date(2030, 3, 4, 5, 6, 7, 0, time.UTC)

// Phones where one is a prefix of the other, to catch index keys that
// are not separated.
const (
	phoneA = "+15550001"
	phoneB = "+155500012"
	phoneC = "+15550003"
)

// update runs fn in one Update and fails the test on an error.
func update(t testing.TB, s automation.Store, fn func(tx automation.Tx) error) {
	t.Helper()
	if err := s.Update(t.Context(), fn); err != nil {
		t.Fatalf("Update: %v", err)
	}
}

// read returns what fn reads in a View, failing the test on an error.
func read[T any](t testing.TB, s automation.Store, fn func(tx automation.Tx) (T, error)) T {
	t.Helper()
	v, err := tryRead(t, s, fn)
	if err != nil {
		t.Fatalf("View: %v", err)
	}
	return v
}

// tryRead returns what fn reads in a View, and its error.
func tryRead[T any](t testing.TB, s automation.Store, fn func(tx automation.Tx) (T, error)) (T, error) {
	t.Helper()
	var v T
	err := s.View(t.Context(), func(tx automation.Tx) error {
		var err error
		v, err = fn(tx)
		return err
	})
	return v, err
}

func putContacts(cs ...*automation.Contact) func(tx automation.Tx) error {
	return func(tx automation.Tx) error {
		for _, c := range cs {
			if err := tx.PutContact(c); err != nil {
				return err
			}
		}
		return nil
	}
}

func putMessages(ms ...*automation.Message) func(tx automation.Tx) error {
	return func(tx automation.Tx) error {
		for _, m := range ms {
			if err := tx.PutMessage(m); err != nil {
				return err
			}
		}
		return nil
	}
}

func putEnrollments(es ...*automation.Enrollment) func(tx automation.Tx) error {
	return func(tx automation.Tx) error {
		for _, e := range es {
			if err := tx.PutEnrollment(e); err != nil {
				return err
			}
		}
		return nil
	}
}

func putTimers(ts ...automation.Timer) func(tx automation.Tx) error {
	return func(tx automation.Tx) error {
		for _, tm := range ts {
			if err := tx.PutTimer(tm); err != nil {
				return err
			}
		}
		return nil
	}
}

func contact(phone string, groups ...string) *automation.Contact {
	return &automation.Contact{
		Phone:     phone,
		Name:      "name of " + phone,
		Channel:   "sms",
		Fields:    map[string]string{"first_name": "Ann"},
		Groups:    groups,
		CreatedAt: t0,
		UpdatedAt: t0,
	}
}

func message(id, contact string) *automation.Message {
	return &automation.Message{
		ID:        id,
		Direction: automation.Inbound,
		Kind:      automation.KindText,
		Channel:   "sms",
		Contact:   contact,
		From:      contact,
		To:        []string{"+15005550006"},
		Body:      "JOIN " + id,
		Status:    automation.StatusReceived,
		CreatedAt: t0,
		UpdatedAt: t0,
	}
}

// outbound is a queued text to phone.
func outbound(id, phone string) *automation.Message {
	return &automation.Message{
		ID:        id,
		Direction: automation.Outbound,
		Kind:      automation.KindText,
		Channel:   "sms",
		Contact:   phone,
		From:      "+15005550006",
		To:        []string{phone},
		Body:      "reply " + id,
		Status:    automation.StatusQueued,
		CreatedAt: t0,
		UpdatedAt: t0,
	}
}

func enrollment(id, contact, auto string, status automation.EnrollmentStatus) *automation.Enrollment {
	e := &automation.Enrollment{
		ID:         id,
		Automation: auto,
		Contact:    contact,
		Channel:    "sms",
		Status:     status,
		Step:       "#1",
		StepType:   "reply",
		Epoch:      1,
		StartedAt:  t0,
		UpdatedAt:  t0,
	}
	if status == automation.EnrollmentEnded {
		e.EndedAt = &t0
		e.EndReason = "done"
	}
	return e
}

func timer(due time.Time, enrollment, auto string) automation.Timer {
	return automation.Timer{Due: due, Enrollment: enrollment, Automation: auto, Epoch: 7, Kind: automation.TimerWait}
}

func phones(cs []*automation.Contact) []string {
	out := []string{}
	for _, c := range cs {
		out = append(out, c.Phone)
	}
	return out
}

func messageIDs(ms []*automation.Message) []string {
	out := []string{}
	for _, m := range ms {
		out = append(out, m.ID)
	}
	return out
}

func enrollmentIDs(es []*automation.Enrollment) []string {
	out := []string{}
	for _, e := range es {
		out = append(out, e.ID)
	}
	return out
}

// timerIDs names timers by enrollment, the suite's timers being one per
// enrollment unless a test says otherwise.
func timerIDs(ts []automation.Timer) []string {
	out := []string{}
	for _, tm := range ts {
		out = append(out, tm.Enrollment)
	}
	return out
}

// sameStrings compares two lists, nil and empty being the same.
func sameStrings(got, want []string) bool { return slices.Equal(got, want) || len(got)+len(want) == 0 }

func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

// sameContact compares contacts as instants, not as time zones.
func sameContact(a, b *automation.Contact) bool {
	x, y := *a, *b
	for _, c := range []*automation.Contact{&x, &y} {
		c.CreatedAt, c.UpdatedAt, c.OptedOutAt = c.CreatedAt.UTC(), c.UpdatedAt.UTC(), utcPtr(c.OptedOutAt)
	}
	return reflect.DeepEqual(x, y)
}

func sameMessage(a, b *automation.Message) bool {
	x, y := *a, *b
	for _, m := range []*automation.Message{&x, &y} {
		m.CreatedAt, m.UpdatedAt, m.NextAttempt = m.CreatedAt.UTC(), m.UpdatedAt.UTC(), m.NextAttempt.UTC()
	}
	return reflect.DeepEqual(x, y)
}

func sameEnrollment(a, b *automation.Enrollment) bool {
	x, y := *a, *b
	for _, e := range []*automation.Enrollment{&x, &y} {
		e.StartedAt, e.UpdatedAt, e.WaitUntil, e.EndedAt = e.StartedAt.UTC(), e.UpdatedAt.UTC(), utcPtr(e.WaitUntil), utcPtr(e.EndedAt)
	}
	return reflect.DeepEqual(x, y)
}

func sameTimer(a, b automation.Timer) bool {
	return a.Due.Equal(b.Due) && a.Enrollment == b.Enrollment && a.Automation == b.Automation && a.Epoch == b.Epoch && a.Kind == b.Kind
}
