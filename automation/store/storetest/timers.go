package storetest

import (
	"testing"
	"time"

	"github.com/keyway-sms/keyway/automation/engine"
)

var timerCases = []testCase{
	{"timer/due-order", testDueOrder},
	{"timer/fields", testTimerFields},
	{"timer/delete-matches-due-and-enrollment", testDeleteTimer},
	{"timer/put-same-key-replaces", testTimerReplace},
	{"timer/hold-release", testHoldRelease},
}

func dueTimers(t *testing.T, s engine.Store, now time.Time, limit int) []engine.Timer {
	t.Helper()
	return read(t, s, func(tx engine.Tx) ([]engine.Timer, error) { return tx.DueTimers(now, limit) })
}

func testDueOrder(t *testing.T, s engine.Store) {
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

func testTimerFields(t *testing.T, s engine.Store) {
	want := []engine.Timer{
		{Due: t0.Add(-time.Minute), Enrollment: "e0001", Automation: "join", Epoch: 3, Kind: engine.TimerTimeout},
		{Due: t0.Add(-time.Second), Enrollment: "e0002", Automation: "support", Epoch: 12, Kind: engine.TimerIO},
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

func testDeleteTimer(t *testing.T, s engine.Store) {
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
	update(t, s, func(tx engine.Tx) error { return tx.DeleteTimer(timer(due.Add(time.Nanosecond), "e0001", "a")) })
	want("after deleting 1ns off", "e0001", "e0002", "e0001")

	// The same instant in another zone, and no automation, epoch nor kind:
	// the engine deletes with Timer{Due: *en.WaitUntil, Enrollment: en.ID}.
	update(t, s, func(tx engine.Tx) error {
		return tx.DeleteTimer(engine.Timer{Due: due.In(time.FixedZone("UTC+3", 3*60*60)), Enrollment: "e0001"})
	})
	want("after deleting (due, e0001)", "e0002", "e0001")
	got := dueTimers(t, s, t0, 100)
	if len(got) == 2 && !got[1].Due.Equal(t0.Add(-30*time.Minute)) {
		t.Errorf("the wrong timer of e0001 was deleted: left %+v", got[1])
	}
}

func testTimerReplace(t *testing.T, s engine.Store) {
	due := t0.Add(-time.Minute)
	update(t, s, putTimers(engine.Timer{Due: due, Enrollment: "e0001", Automation: "a", Epoch: 1, Kind: engine.TimerWait}))
	update(t, s, putTimers(
		engine.Timer{Due: due, Enrollment: "e0001", Automation: "a", Epoch: 2, Kind: engine.TimerIO},
		engine.Timer{Due: due, Enrollment: "e0002", Automation: "a", Epoch: 1, Kind: engine.TimerWait},
	))
	got := dueTimers(t, s, t0, 100)
	if !sameStrings(timerIDs(got), []string{"e0001", "e0002"}) {
		t.Fatalf("DueTimers = %v, want [e0001 e0002]", timerIDs(got))
	}
	if got[0].Epoch != 2 || got[0].Kind != engine.TimerIO {
		t.Errorf("a timer put again with the same due and enrollment: got %+v, want epoch 2, kind io", got[0])
	}
}

func testHoldRelease(t *testing.T, s engine.Store) {
	a1 := timer(t0.Add(-time.Hour), "e0001", "a")
	a2 := engine.Timer{Due: t0.Add(-30 * time.Minute), Enrollment: "e0002", Automation: "a", Epoch: 5, Kind: engine.TimerTimeout}
	b1 := timer(t0.Add(-45*time.Minute), "e0003", "b")
	ab1 := timer(t0.Add(-10*time.Minute), "e0004", "ab")
	update(t, s, putTimers(a1, a2, b1, ab1))

	// The engine finds due timers of paused automations and holds them.
	update(t, s, func(tx engine.Tx) error {
		for _, tm := range []engine.Timer{a1, a2, ab1} {
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
		update(t, s, func(tx engine.Tx) error {
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
	update(t, s, func(tx engine.Tx) error { return tx.HoldTimer(later) })
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
