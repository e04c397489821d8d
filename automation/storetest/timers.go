package storetest

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/keyway-sms/keyway/automation"
)

var timerCases = []testCase{
	{"timer/due-order", testDueOrder},
	{"timer/fields", testTimerFields},
	{"timer/delete-matches-due-and-enrollment", testDeleteTimer},
	{"timer/put-same-key-replaces", testTimerReplace},
	{"timer/hold-release", testHoldRelease},
}

var metaCases = []testCase{
	{"meta/round-trip", testMeta},
	{"not-found", testNotFound},
	{"rejects-empty-keys", testEmptyKeys},
}

func dueTimers(t *testing.T, s automation.Store, now time.Time, limit int) []automation.Timer {
	t.Helper()
	return read(t, s, func(tx automation.Tx) ([]automation.Timer, error) { return tx.DueTimers(now, limit) })
}

func testDueOrder(t *testing.T, s automation.Store) {
	east := time.FixedZone("UTC+3", 3*60*60)
	west := time.FixedZone("UTC-5", -5*60*60)
	update(t, s, putTimers(
		timer(t0.Add(time.Nanosecond), "e0005", "a"), // just after now
		timer(t0.Add(-time.Hour), "e0002", "a"),
		timer(t0.Add(24*time.Hour), "e0006", "b"),
		timer(t0.Add(-90*time.Minute).In(west), "e0007", "b"), // between -2h and -1h, in another zone
		timer(t0, "e0004", "a"),                               // due exactly now
	))
	update(t, s, putTimers(
		timer(t0.Add(-time.Hour).In(east), "e0001", "b"), // same instant as e0002: enrollment id breaks the tie
		timer(t0.Add(-2*time.Hour), "e0009", "a"),
	))
	tests := []struct {
		now   time.Time
		limit int
		want  []string
	}{
		{t0, 100, []string{"e0009", "e0007", "e0001", "e0002", "e0004"}},
		{t0, 2, []string{"e0009", "e0007"}},
		{t0.In(east), 100, []string{"e0009", "e0007", "e0001", "e0002", "e0004"}},
		{t0.Add(-time.Nanosecond), 100, []string{"e0009", "e0007", "e0001", "e0002"}},
		{t0.Add(time.Nanosecond), 100, []string{"e0009", "e0007", "e0001", "e0002", "e0004", "e0005"}},
		{t0.Add(-3 * time.Hour), 100, nil},
		{t0.Add(48 * time.Hour), 100, []string{"e0009", "e0007", "e0001", "e0002", "e0004", "e0005", "e0006"}},
	}
	for _, tt := range tests {
		if got := timerIDs(dueTimers(t, s, tt.now, tt.limit)); !sameStrings(got, tt.want) {
			t.Errorf("DueTimers(t0 + %v, %d) = %v, want %v", tt.now.Sub(t0), tt.limit, got, tt.want)
		}
	}
}

func testTimerFields(t *testing.T, s automation.Store) {
	want := []automation.Timer{
		{Due: t0.Add(-time.Minute), Enrollment: "e0001", Automation: "join", Epoch: 3, Kind: automation.TimerTimeout},
		{Due: t0.Add(-time.Second), Enrollment: "e0002", Automation: "support", Epoch: 12, Kind: automation.TimerIO},
	}
	update(t, s, putTimers(want...))
	got := dueTimers(t, s, t0, 100)
	if len(got) != len(want) {
		t.Fatalf("DueTimers = %+v, want %+v", got, want)
	}
	for i := range want {
		if !sameTimer(got[i], want[i]) {
			t.Errorf("DueTimers[%d] = %+v, want %+v", i, got[i], want[i])
		}
	}
}

func testDeleteTimer(t *testing.T, s automation.Store) {
	due := t0.Add(-time.Hour)
	update(t, s, putTimers(
		timer(due, "e0001", "a"),
		timer(due, "e0002", "a"),
		timer(t0.Add(-30*time.Minute), "e0001", "a"),
	))
	want := func(what string, ids ...string) {
		t.Helper()
		if got := timerIDs(dueTimers(t, s, t0, 100)); !sameStrings(got, ids) {
			t.Errorf("%s: DueTimers = %v, want %v", what, got, ids)
		}
	}
	// One nanosecond off is another timer; deleting a timer that is not
	// there is no error (the engine cancels waits whose timer has fired).
	update(t, s, func(tx automation.Tx) error { return tx.DeleteTimer(timer(due.Add(time.Nanosecond), "e0001", "a")) })
	want("after deleting 1ns off", "e0001", "e0002", "e0001")

	// The same instant in another zone, and no automation, epoch nor kind:
	// the engine deletes with Timer{Due: *en.WaitUntil, Enrollment: en.ID}.
	update(t, s, func(tx automation.Tx) error {
		return tx.DeleteTimer(automation.Timer{Due: due.In(time.FixedZone("UTC+3", 3*60*60)), Enrollment: "e0001"})
	})
	want("after deleting (due, e0001)", "e0002", "e0001")
	got := dueTimers(t, s, t0, 100)
	if len(got) == 2 && !got[1].Due.Equal(t0.Add(-30*time.Minute)) {
		t.Errorf("the wrong timer of e0001 was deleted: left %+v", got[1])
	}
}

func testTimerReplace(t *testing.T, s automation.Store) {
	due := t0.Add(-time.Minute)
	update(t, s, putTimers(automation.Timer{Due: due, Enrollment: "e0001", Automation: "a", Epoch: 1, Kind: automation.TimerWait}))
	update(t, s, putTimers(
		automation.Timer{Due: due, Enrollment: "e0001", Automation: "a", Epoch: 2, Kind: automation.TimerIO},
		automation.Timer{Due: due, Enrollment: "e0002", Automation: "a", Epoch: 1, Kind: automation.TimerWait},
	))
	got := dueTimers(t, s, t0, 100)
	if !sameStrings(timerIDs(got), []string{"e0001", "e0002"}) {
		t.Fatalf("DueTimers = %v, want [e0001 e0002]", timerIDs(got))
	}
	if got[0].Epoch != 2 || got[0].Kind != automation.TimerIO {
		t.Errorf("a timer put again with the same due and enrollment: got %+v, want epoch 2, kind io", got[0])
	}
}

func testHoldRelease(t *testing.T, s automation.Store) {
	a1 := timer(t0.Add(-time.Hour), "e0001", "a")
	a2 := automation.Timer{Due: t0.Add(-30 * time.Minute), Enrollment: "e0002", Automation: "a", Epoch: 5, Kind: automation.TimerTimeout}
	b1 := timer(t0.Add(-45*time.Minute), "e0003", "b")
	ab1 := timer(t0.Add(-10*time.Minute), "e0004", "ab")
	update(t, s, putTimers(a1, a2, b1, ab1))

	// The engine finds due timers of paused automations and holds them.
	update(t, s, func(tx automation.Tx) error {
		for _, tm := range []automation.Timer{a1, a2, ab1} {
			if err := tx.HoldTimer(tm); err != nil {
				return err
			}
		}
		return nil
	})
	if got := timerIDs(dueTimers(t, s, t0, 100)); !sameStrings(got, []string{"e0003"}) {
		t.Fatalf("after holding a's and ab's timers: DueTimers = %v, want [e0003]", got)
	}

	release := func(auto string) int {
		t.Helper()
		var n int
		update(t, s, func(tx automation.Tx) error {
			var err error
			n, err = tx.ReleaseTimers(auto)
			return err
		})
		return n
	}
	if n := release("b"); n != 0 {
		t.Errorf("ReleaseTimers(b) with none held = %d, want 0", n)
	}
	if n := release("a"); n != 2 {
		t.Errorf("ReleaseTimers(a) = %d, want 2", n)
	}
	got := dueTimers(t, s, t0, 100)
	if !sameStrings(timerIDs(got), []string{"e0001", "e0003", "e0002"}) {
		t.Fatalf("after ReleaseTimers(a): DueTimers = %v, want [e0001 e0003 e0002]", timerIDs(got))
	}
	if !sameTimer(got[2], a2) {
		t.Errorf("a released timer changed: got %+v, want %+v", got[2], a2)
	}
	if n := release("a"); n != 0 {
		t.Errorf("ReleaseTimers(a) again = %d, want 0", n)
	}
	if n := release("ab"); n != 1 {
		t.Errorf("ReleaseTimers(ab) = %d, want 1", n)
	}
	if got := timerIDs(dueTimers(t, s, t0, 100)); !sameStrings(got, []string{"e0001", "e0003", "e0002", "e0004"}) {
		t.Errorf("after ReleaseTimers(ab): DueTimers = %v, want [e0001 e0003 e0002 e0004]", got)
	}

	// A timer can be held before it is due too; it comes back pending.
	later := timer(t0.Add(time.Hour), "e0005", "a")
	update(t, s, putTimers(later))
	update(t, s, func(tx automation.Tx) error { return tx.HoldTimer(later) })
	if got := timerIDs(dueTimers(t, s, t0.Add(2*time.Hour), 100)); len(got) != 4 {
		t.Errorf("a held timer is due: DueTimers = %v", got)
	}
	if n := release("a"); n != 1 {
		t.Errorf("ReleaseTimers(a) = %d, want 1", n)
	}
	if got := timerIDs(dueTimers(t, s, t0, 100)); len(got) != 4 {
		t.Errorf("a released timer not yet due is due: DueTimers = %v", got)
	}
	if got := timerIDs(dueTimers(t, s, t0.Add(2*time.Hour), 100)); len(got) != 5 || got[4] != "e0005" {
		t.Errorf("DueTimers(later) = %v, want e0005 last", got)
	}
}

func testMeta(t *testing.T, s automation.Store) {
	meta := func() ([]byte, error) {
		return tryRead(t, s, func(tx automation.Tx) ([]byte, error) { return tx.Meta("schedule/weekly") })
	}
	if _, err := meta(); !errors.Is(err, automation.ErrNotFound) {
		t.Fatalf("Meta of an empty store: err = %v, want ErrNotFound", err)
	}
	v := []byte("2030-03-04T10:00:00Z")
	update(t, s, func(tx automation.Tx) error { return tx.PutMeta("schedule/weekly", v) })
	v[0] = 'X' // the caller reuses its buffer
	got, err := meta()
	if err != nil || string(got) != "2030-03-04T10:00:00Z" {
		t.Fatalf("Meta = %q, %v; want the value put", got, err)
	}
	got[0] = 'Y'
	if again, _ := meta(); string(again) != "2030-03-04T10:00:00Z" {
		t.Errorf("changing a returned value changed the store: %q", again)
	}
	update(t, s, func(tx automation.Tx) error { return tx.PutMeta("schedule/weekly", []byte("2")) })
	if got, err := meta(); err != nil || !bytes.Equal(got, []byte("2")) {
		t.Errorf("after overwrite: Meta = %q, %v; want \"2\"", got, err)
	}
	if _, err := tryRead(t, s, func(tx automation.Tx) ([]byte, error) { return tx.Meta("schedule/week") }); !errors.Is(err, automation.ErrNotFound) {
		t.Errorf("Meta of a prefix of a stored key: err = %v, want ErrNotFound", err)
	}
}

func testNotFound(t *testing.T, s automation.Store) {
	// Something stored, so that a store answering the first thing it holds
	// is caught.
	update(t, s, func(tx automation.Tx) error {
		m := message("m0001", phoneA)
		m.Provider, m.ProviderID = "twilio", "SM0001"
		if err := putMessages(m)(tx); err != nil {
			return err
		}
		if err := putContacts(contact(phoneA))(tx); err != nil {
			return err
		}
		if err := putEnrollments(enrollment("e0001", phoneA, "a", automation.EnrollmentWaiting))(tx); err != nil {
			return err
		}
		return tx.PutMeta("k", []byte("v"))
	})
	gets := []struct {
		name string
		get  func(tx automation.Tx) error
	}{
		{"Contact", func(tx automation.Tx) error { _, err := tx.Contact(phoneB); return err }},
		{"Message", func(tx automation.Tx) error { _, err := tx.Message("m0002"); return err }},
		{"MessageByProviderID", func(tx automation.Tx) error { _, err := tx.MessageByProviderID("twilio", "SM0002"); return err }},
		{"Enrollment", func(tx automation.Tx) error { _, err := tx.Enrollment("e0002"); return err }},
		{"ActiveEnrollment other automation", func(tx automation.Tx) error { _, err := tx.ActiveEnrollment(phoneA, "b"); return err }},
		{"ActiveEnrollment other contact", func(tx automation.Tx) error { _, err := tx.ActiveEnrollment(phoneB, "a"); return err }},
		{"Meta", func(tx automation.Tx) error { _, err := tx.Meta("k2"); return err }},
	}
	for _, g := range gets {
		if err := s.View(t.Context(), g.get); !errors.Is(err, automation.ErrNotFound) {
			t.Errorf("%s in a View: err = %v, want ErrNotFound", g.name, err)
		}
		if err := s.Update(t.Context(), g.get); !errors.Is(err, automation.ErrNotFound) {
			t.Errorf("%s in an Update: err = %v, want ErrNotFound", g.name, err)
		}
	}
}

func testEmptyKeys(t *testing.T, s automation.Store) {
	puts := []struct {
		name string
		put  func(tx automation.Tx) error
	}{
		{"PutContact", func(tx automation.Tx) error { return tx.PutContact(contact("")) }},
		{"PutMessage", func(tx automation.Tx) error { return tx.PutMessage(message("", phoneA)) }},
		{"PutEnrollment", func(tx automation.Tx) error {
			return tx.PutEnrollment(enrollment("", phoneA, "a", automation.EnrollmentWaiting))
		}},
		{"Enqueue", func(tx automation.Tx) error { return tx.Enqueue("") }},
		{"PutMeta", func(tx automation.Tx) error { return tx.PutMeta("", []byte("v")) }},
	}
	for _, p := range puts {
		if err := s.Update(t.Context(), p.put); err == nil {
			t.Errorf("%s without a key: no error", p.name)
		}
	}
	// And nothing of them is left behind.
	if got := read(t, s, func(tx automation.Tx) ([]*automation.Enrollment, error) { return tx.ActiveEnrollments(phoneA) }); len(got) != 0 {
		t.Errorf("a refused PutEnrollment left an active enrollment: %v", enrollmentIDs(got))
	}
	if got := read(t, s, func(tx automation.Tx) ([]*automation.Message, error) { return tx.Messages(phoneA, 10) }); len(got) != 0 {
		t.Errorf("a refused PutMessage left a message: %v", messageIDs(got))
	}
}
