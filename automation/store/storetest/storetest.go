// Package storetest is the conformance suite of engine.Store: every
// implementation (the in-memory one, bbolt, later PostgreSQL) runs the same
// subtests, so the engine can rely on one behaviour whatever stores it.
//
//	func TestStore(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) engine.Store {
//			s, err := bolt.Open(filepath.Join(t.TempDir(), "keyway.db"))
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
	"errors"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/keyway-sms/keyway/automation/engine"
)

// Run runs the conformance suite against the stores open returns. Each
// subtest calls open once and expects an empty store; open should close
// it with t.Cleanup, and Close must accept being called twice.
func Run(t *testing.T, open func(t *testing.T) engine.Store) {
	groups := [][]testCase{contactCases, tagCases, leftCases, messageCases, pageCases, pruneCases, outboxCases, sendCases, enrollmentCases, timerCases, metaCases, txCases, healthCases, countCases, textCases, activityCases, eventCases, broadcastCases}
	for _, g := range groups {
		for _, c := range g {
			t.Run(c.name, func(t *testing.T) { c.run(t, open(t)) })
		}
	}
}

type testCase struct {
	name string
	run  func(t *testing.T, s engine.Store)
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
func update(t testing.TB, s engine.Store, fn func(tx engine.Tx) error) {
	t.Helper()
	if err := s.Update(t.Context(), fn); err != nil {
		t.Fatalf("Update: %v", err)
	}
}

// rolledBack runs fn in an Update that then fails with errBoom, and fails
// the test unless the Update returns that failure.
func rolledBack(t testing.TB, s engine.Store, fn func(tx engine.Tx) error) {
	t.Helper()
	err := s.Update(t.Context(), func(tx engine.Tx) error {
		if err := fn(tx); err != nil {
			return err
		}
		return errBoom
	})
	if !errors.Is(err, errBoom) {
		t.Fatalf("Update whose function fails: err = %v, want %v", err, errBoom)
	}
}

// read returns what fn reads in a View, failing the test on an error.
func read[T any](t testing.TB, s engine.Store, fn func(tx engine.Tx) (T, error)) T {
	t.Helper()
	v, err := tryRead(t, s, fn)
	if err != nil {
		t.Fatalf("View: %v", err)
	}
	return v
}

// tryRead returns what fn reads in a View, and its error.
func tryRead[T any](t testing.TB, s engine.Store, fn func(tx engine.Tx) (T, error)) (T, error) {
	t.Helper()
	var v T
	err := s.View(t.Context(), func(tx engine.Tx) error {
		var err error
		v, err = fn(tx)
		return err
	})
	return v, err
}

func putContacts(cs ...*engine.Contact) func(tx engine.Tx) error {
	return func(tx engine.Tx) error {
		for _, c := range cs {
			if err := tx.PutContact(c); err != nil {
				return err
			}
		}
		return nil
	}
}

func putMessages(ms ...*engine.Message) func(tx engine.Tx) error {
	return func(tx engine.Tx) error {
		for _, m := range ms {
			if err := tx.PutMessage(m); err != nil {
				return err
			}
		}
		return nil
	}
}

func putEnrollments(es ...*engine.Enrollment) func(tx engine.Tx) error {
	return func(tx engine.Tx) error {
		for _, e := range es {
			if err := tx.PutEnrollment(e); err != nil {
				return err
			}
		}
		return nil
	}
}

func putTimers(ts ...engine.Timer) func(tx engine.Tx) error {
	return func(tx engine.Tx) error {
		for _, tm := range ts {
			if err := tx.PutTimer(tm); err != nil {
				return err
			}
		}
		return nil
	}
}

func contact(phone string, groups ...string) *engine.Contact {
	return &engine.Contact{
		Phone:     phone,
		Name:      "name of " + phone,
		Channel:   "sms",
		Fields:    map[string]string{"first_name": "Ann"},
		Groups:    groups,
		CreatedAt: t0,
		UpdatedAt: t0,
	}
}

func message(id, contact string) *engine.Message {
	return &engine.Message{
		ID:        id,
		Direction: engine.Inbound,
		Kind:      engine.KindText,
		Channel:   "sms",
		Contact:   contact,
		From:      contact,
		To:        []string{"+15005550006"},
		Body:      "JOIN " + id,
		Status:    engine.StatusReceived,
		CreatedAt: t0,
		UpdatedAt: t0,
	}
}

// outbound is a queued text to phone.
func outbound(id, phone string) *engine.Message {
	return &engine.Message{
		ID:        id,
		Direction: engine.Outbound,
		Kind:      engine.KindText,
		Channel:   "sms",
		Contact:   phone,
		From:      "+15005550006",
		To:        []string{phone},
		Body:      "reply " + id,
		Status:    engine.StatusQueued,
		CreatedAt: t0,
		UpdatedAt: t0,
	}
}

func enrollment(id, contact, auto string, status engine.EnrollmentStatus) *engine.Enrollment {
	e := &engine.Enrollment{
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
	if status == engine.EnrollmentEnded {
		e.EndedAt = &t0
		e.EndReason = "done"
	}
	return e
}

func timer(due time.Time, enrollment, auto string) engine.Timer {
	return engine.Timer{Due: due, Enrollment: enrollment, Automation: auto, Epoch: 7, Kind: engine.TimerWait}
}

func phones(cs []*engine.Contact) []string {
	out := []string{}
	for _, c := range cs {
		out = append(out, c.Phone)
	}
	return out
}

func messageIDs(ms []*engine.Message) []string {
	out := []string{}
	for _, m := range ms {
		out = append(out, m.ID)
	}
	return out
}

func enrollmentIDs(es []*engine.Enrollment) []string {
	out := []string{}
	for _, e := range es {
		out = append(out, e.ID)
	}
	return out
}

// timerIDs names timers by enrollment, the suite's timers being one per
// enrollment unless a test says otherwise.
func timerIDs(ts []engine.Timer) []string {
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
func sameContact(a, b *engine.Contact) bool {
	x, y := *a, *b
	for _, c := range []*engine.Contact{&x, &y} {
		c.CreatedAt, c.UpdatedAt, c.OptedOutAt = c.CreatedAt.UTC(), c.UpdatedAt.UTC(), utcPtr(c.OptedOutAt)
		if c.Offer != nil {
			o := *c.Offer
			o.At = o.At.UTC()
			c.Offer = &o
		}
	}
	return reflect.DeepEqual(x, y)
}

func sameMessage(a, b *engine.Message) bool {
	x, y := *a, *b
	for _, m := range []*engine.Message{&x, &y} {
		m.CreatedAt, m.UpdatedAt, m.NextAttempt, m.Sending = m.CreatedAt.UTC(), m.UpdatedAt.UTC(), m.NextAttempt.UTC(), m.Sending.UTC()
	}
	return reflect.DeepEqual(x, y)
}

func sameEnrollment(a, b *engine.Enrollment) bool {
	x, y := *a, *b
	for _, e := range []*engine.Enrollment{&x, &y} {
		e.StartedAt, e.UpdatedAt, e.WaitUntil, e.EndedAt = e.StartedAt.UTC(), e.UpdatedAt.UTC(), utcPtr(e.WaitUntil), utcPtr(e.EndedAt)
	}
	return reflect.DeepEqual(x, y)
}

func sameTimer(a, b engine.Timer) bool {
	return a.Due.Equal(b.Due) && a.Enrollment == b.Enrollment && a.Automation == b.Automation && a.Epoch == b.Epoch && a.Kind == b.Kind
}
