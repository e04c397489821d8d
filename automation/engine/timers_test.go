package engine_test

import (
	"context"
	"errors"
	"fmt"
	"github.com/keyway-sms/keyway/automation/sim/simtest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keyway-sms/keyway/automation/engine"
	"github.com/keyway-sms/keyway/automation/sim"
	"github.com/keyway-sms/keyway/automation/store/mem"
	"github.com/keyway-sms/keyway/providers"
)

// Shared with the other automation packages' tests (automation/sim/simtest).
var (
	drainOutbox = simtest.DrainOutbox
)

const dripConfig = `
automations:
  - id: drip
    keywords: [DRIP]
    overwrite_if_exists: true
    steps:
      - { type: reply, text: "one" }
      - { type: wait, duration: 1h }
      - { type: reply, text: "two" }
`

func putTimer(t *testing.T, s engine.Store, tm engine.Timer) {
	t.Helper()
	if err := s.Update(context.Background(), func(tx engine.Tx) error { return tx.PutTimer(tm) }); err != nil {
		t.Fatal(err)
	}
}

func dueTimers(t *testing.T, s engine.Store, now time.Time) []engine.Timer {
	t.Helper()
	var ts []engine.Timer
	err := s.View(context.Background(), func(tx engine.Tx) error {
		var err error
		ts, err = tx.DueTimers(now, 1000)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return ts
}

// TestStaleTimersDoNothing checks the epoch check: a timer left behind by
// an enrollment that was restarted, cancelled, ended or moved on does
// nothing when it fires, and is gone after.
func TestStaleTimersDoNothing(t *testing.T) {
	ctx := context.Background()
	sim := timeSim(t, timeSet(t, dripConfig), sim.SimStart)
	say(t, sim, "DRIP")
	first := enrollmentOf(t, sim.Store, sim.From, "drip")
	advance(t, sim, 30*time.Minute)
	wantBodies(t, "restart", say(t, sim, "DRIP").Sent, "one")
	if old := enrollmentOf(t, sim.Store, sim.From, "drip"); old.ID == first.ID {
		t.Fatalf("overwrite_if_exists did not restart the enrollment")
	}
	second := enrollmentOf(t, sim.Store, sim.From, "drip")
	now := sim.Clock.Now()
	if due := dueTimers(t, sim.Store, now.Add(2*time.Hour)); len(due) != 1 || due[0].Enrollment != second.ID {
		t.Fatalf("timers after the restart: %+v, want only the new enrollment's", due)
	}

	// Timers as a crash between two commits could leave them: of the
	// restarted enrollment at its old epoch and at its last, of the live
	// one at an old epoch, and of an enrollment that does not exist.
	stale := []engine.Timer{
		{Due: now.Add(-time.Minute), Enrollment: first.ID, Automation: "drip", Epoch: first.Epoch, Kind: engine.TimerWait},
		{Due: now.Add(-time.Second), Enrollment: first.ID, Automation: "drip", Epoch: first.Epoch + 1, Kind: engine.TimerWait},
		{Due: now, Enrollment: second.ID, Automation: "drip", Epoch: second.Epoch - 1, Kind: engine.TimerWait},
		{Due: now, Enrollment: "no-such-enrollment", Automation: "drip", Epoch: 1, Kind: engine.TimerTimeout},
	}
	for _, tm := range stale {
		putTimer(t, sim.Store, tm)
	}
	n, err := sim.Engine.FireDue(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if n != len(stale) {
		t.Errorf("FireDue took %d timers, want the %d stale ones", n, len(stale))
	}
	if sent := drainOutbox(t, sim.Store); len(sent) != 0 {
		t.Errorf("stale timers sent %q", bodies(sent))
	}
	if got := enrollmentOf(t, sim.Store, sim.From, "drip"); got.ID != second.ID || got.Status != engine.EnrollmentWaiting || got.Epoch != second.Epoch {
		t.Errorf("the live enrollment moved: %+v", got)
	}

	// Cancelled: the timer goes with it, and a copy left behind does nothing.
	cancelled, err := sim.Engine.Cancel(ctx, second.ID, "cancelled by test")
	if err != nil {
		t.Fatal(err)
	}
	putTimer(t, sim.Store, engine.Timer{Due: sim.Clock.Now(), Enrollment: second.ID, Automation: "drip", Epoch: cancelled.Epoch, Kind: engine.TimerWait})
	if res := advance(t, sim, 3*time.Hour); len(res.Sent) != 0 {
		t.Errorf("a cancelled enrollment's timers sent %q", bodies(res.Sent))
	}
	if due := dueTimers(t, sim.Store, sim.Clock.Now().Add(24*time.Hour)); len(due) != 0 {
		t.Errorf("timers left: %+v", due)
	}
	if got := enrollmentOf(t, sim.Store, sim.From, "drip"); got.EndReason != "cancelled by test" {
		t.Errorf("end reason %q, want the cancel's", got.EndReason)
	}
}

// askConfig adds to dripConfig an automation that waits an hour for a
// reply, and a catch_all.
const askConfig = `
  - id: ask
    keywords: [ASK]
    steps:
      - { type: wait_for_reply, timeout: 1h, on_timeout: late }
      - { type: reply, text: "answered {{ vars.reply }}", next: end }
      - { id: late, type: reply, text: "timed out" }
  - id: support
    catch_all: true
    steps:
      - { type: reply, text: "support" }
`

// TestPausedAutomationHoldsTimers checks that the timers of a paused
// automation hold, and fire once, overdue, after it is enabled again.
func TestPausedAutomationHoldsTimers(t *testing.T) {
	ctx := context.Background()
	on := timeSet(t, dripConfig+askConfig)
	// The same config with drip and ask paused.
	off := timeSet(t, strings.Replace(dripConfig, "overwrite_if_exists: true", "overwrite_if_exists: true\n    enabled: false", 1)+
		strings.Replace(askConfig, "keywords: [ASK]", "keywords: [ASK]\n    enabled: false", 1))
	sim := timeSim(t, on, sim.SimStart)
	wantBodies(t, "DRIP", say(t, sim, "DRIP").Sent, "one")
	say(t, sim, "ASK")

	sim.Engine.Swap(off)
	if res := advance(t, sim, 3*time.Hour); len(res.Sent) != 0 {
		t.Fatalf("paused automations' timers fired: %q", bodies(res.Sent))
	}
	for _, id := range []string{"drip", "ask"} {
		if en := enrollmentOf(t, sim.Store, sim.From, id); !en.Active() {
			t.Fatalf("%s ended while paused: %q", id, en.EndReason)
		}
	}
	if due := dueTimers(t, sim.Store, sim.Clock.Now()); len(due) != 0 {
		t.Fatalf("held timers are still due: %+v", due)
	}
	// Paused: its keyword enrolls nobody and its question takes no reply;
	// the message goes to catch_all.
	res := say(t, sim, "DRIP")
	wantBodies(t, "a paused keyword", res.Sent, "support")
	wantBodies(t, "a reply to a paused question", say(t, sim, "hello").Sent, "support")
	if en := enrollmentOf(t, sim.Store, sim.From, "ask"); en.Status != engine.EnrollmentWaitingReply || en.Vars["reply"] != nil {
		t.Fatalf("the paused question took a reply: %s, vars %v", en.Status, en.Vars)
	}

	// A reload that keeps them paused releases nothing.
	if _, err := sim.Engine.Reconcile(ctx); err != nil {
		t.Fatal(err)
	}
	if res := advance(t, sim, time.Hour); len(res.Sent) != 0 {
		t.Fatalf("still paused after a reconcile, yet fired: %q", bodies(res.Sent))
	}

	sim.Engine.Swap(on)
	if _, err := sim.Engine.Reconcile(ctx); err != nil {
		t.Fatal(err)
	}
	res = advance(t, sim, 0)
	if got := strings.Join(bodies(res.Sent), "|"); got != "two|timed out" && got != "timed out|two" {
		t.Errorf("after enabling again: sent %q, want two and timed out, once each", bodies(res.Sent))
	}
	if res := advance(t, sim, 24*time.Hour); len(res.Sent) != 0 {
		t.Errorf("fired again: %q", bodies(res.Sent))
	}
	for _, id := range []string{"drip", "ask"} {
		if en := enrollmentOf(t, sim.Store, sim.From, id); en.Active() || en.EndReason != engine.ReasonCompleted {
			t.Errorf("%s: %s %q, want completed", id, en.Status, en.EndReason)
		}
	}
}

// faultyStore fails updates on demand, as a crash before the commit would
// leave them: nothing the update wrote is kept.
type faultyStore struct {
	engine.Store
	mu sync.Mutex
	// failUpdates fails this many next updates after their fn ran.
	failUpdates int
	// failMessage fails any PutMessage for which it reports true.
	failMessage func(m *engine.Message) bool
	// unhealthy, if set, is what Healthy answers: the store cannot commit.
	unhealthy error
}

func (s *faultyStore) Healthy(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.unhealthy != nil {
		return s.unhealthy
	}
	return s.Store.Healthy(ctx)
}

var errInjected = errors.New("injected fault")

func (s *faultyStore) Update(ctx context.Context, fn func(tx engine.Tx) error) error {
	return s.Store.Update(ctx, func(tx engine.Tx) error {
		if err := fn(faultyTx{Tx: tx, s: s}); err != nil {
			return err
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.failUpdates > 0 {
			s.failUpdates--
			return errInjected
		}
		return nil
	})
}

type faultyTx struct {
	engine.Tx
	s *faultyStore
}

func (tx faultyTx) PutMessage(m *engine.Message) error {
	if f := tx.s.failMessage; f != nil && f(m) {
		return errInjected
	}
	return tx.Tx.PutMessage(m)
}

func outboxBodies(t *testing.T, s engine.Store) []string {
	t.Helper()
	var out []string
	err := s.View(context.Background(), func(tx engine.Tx) error {
		ids, err := tx.Outbox("", 1000)
		for _, id := range ids {
			m, err := tx.Message(id)
			if err != nil {
				return err
			}
			out = append(out, m.Body)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func inbound(from, body string, n int) providers.Inbound {
	return providers.Inbound{Provider: "test", ID: fmt.Sprintf("%s-%s-%d", from, body, n), Channel: "sms", From: from, To: "+15005550006", Body: body}
}

// TestTimerFiresOnceAcrossAFailedCommit checks that a timer's deletion and
// its effects commit together: a fire whose commit fails leaves the timer
// to fire again, and once it commits it never fires again.
func TestTimerFiresOnceAcrossAFailedCommit(t *testing.T) {
	ctx := context.Background()
	set := timeSet(t, dripConfig)
	store := &faultyStore{Store: mem.NewMemStore()}
	clock := engine.NewFakeClock(sim.SimStart)
	e := engine.New(store, set, engine.Options{Clock: clock})
	if _, err := e.HandleInbound(ctx, inbound("+15550002222", "DRIP", 0)); err != nil {
		t.Fatal(err)
	}
	clock.Advance(time.Hour)

	// Every commit fails, as when the process dies mid-fire: nothing moves.
	store.failUpdates = 1000
	if _, err := e.FireDue(ctx); err == nil {
		t.Fatal("FireDue with every commit failing: no error")
	}
	if got := outboxBodies(t, store); strings.Join(got, "|") != "one" {
		t.Fatalf("outbox after failed fires: %q, want just the first reply", got)
	}
	if due := dueTimers(t, store, clock.Now()); len(due) != 1 {
		t.Fatalf("due timers after failed fires: %+v, want the one still there", due)
	}

	// After a restart (a new engine on the same store) it fires once.
	store.failUpdates = 0
	e = engine.New(store, set, engine.Options{Clock: clock})
	if n, err := e.FireDue(ctx); err != nil || n != 1 {
		t.Fatalf("FireDue after restart = %d, %v; want 1", n, err)
	}
	if n, err := e.FireDue(ctx); err != nil || n != 0 {
		t.Fatalf("FireDue again = %d, %v; want 0", n, err)
	}
	if got := outboxBodies(t, store); strings.Join(got, "|") != "one|two" {
		t.Fatalf("outbox: %q, want one then two, once each", got)
	}

	// One failed commit of a batch: the batch is fired again, one by one,
	// and each timer still fires once.
	for i := range 3 {
		if _, err := e.HandleInbound(ctx, inbound(fmt.Sprintf("+155500030%02d", i), "DRIP", 1)); err != nil {
			t.Fatal(err)
		}
	}
	clock.Advance(time.Hour)
	store.failUpdates = 1
	if n, err := e.FireDue(ctx); err != nil || n != 3 {
		t.Fatalf("FireDue after one failed commit = %d, %v; want 3", n, err)
	}
	if got := outboxBodies(t, store); strings.Count(strings.Join(got, "|"), "two") != 4 {
		t.Fatalf("outbox: %q, want four 'two' (one per contact)", got)
	}
}

// TestFaultyTimerDoesNotHoldBackOthers checks that a timer that fails on
// its own every time is taken out, with its enrollment ended and the
// fault recorded, and that the timers due after it fire.
func TestFaultyTimerDoesNotHoldBackOthers(t *testing.T) {
	ctx := context.Background()
	set := timeSet(t, dripConfig)
	const bad, good = "+15550004444", "+15550005555"
	store := &faultyStore{Store: mem.NewMemStore()}
	clock := engine.NewFakeClock(sim.SimStart)
	e := engine.New(store, set, engine.Options{Clock: clock})
	if _, err := e.HandleInbound(ctx, inbound(bad, "DRIP", 0)); err != nil {
		t.Fatal(err)
	}
	clock.Advance(time.Minute) // the bad timer is due first
	if _, err := e.HandleInbound(ctx, inbound(good, "DRIP", 0)); err != nil {
		t.Fatal(err)
	}
	store.failMessage = func(m *engine.Message) bool { return m.Contact == bad && m.Body == "two" }
	clock.Advance(2 * time.Hour)
	n, err := e.FireDue(ctx)
	if err != nil {
		t.Fatalf("FireDue: %v", err)
	}
	if n != 2 {
		t.Errorf("FireDue took %d timers, want 2", n)
	}
	en := enrollmentOf(t, store, bad, "drip")
	if en.Active() || !strings.Contains(en.EndReason, "engine fault") || !strings.Contains(en.EndReason, errInjected.Error()) {
		t.Errorf("the faulty enrollment: %s, %q; want ended with the fault", en.Status, en.EndReason)
	}
	if en := enrollmentOf(t, store, good, "drip"); en.Active() || en.EndReason != engine.ReasonCompleted {
		t.Errorf("the good enrollment: %s, %q; want completed", en.Status, en.EndReason)
	}
	if due := dueTimers(t, store, clock.Now().Add(24*time.Hour)); len(due) != 0 {
		t.Errorf("timers left: %+v", due)
	}
}

// TestStorageFaultLeavesTheTimer checks that a timer that fails to fire
// because the store cannot commit (a full disk) is not taken out: its
// enrollment goes on, and its reminder is sent once the store commits
// again. Only a fault of the timer's own step ends an enrollment.
func TestStorageFaultLeavesTheTimer(t *testing.T) {
	ctx := context.Background()
	const contact = "+15550006666"
	for _, tc := range []struct {
		name  string
		fault func(s *faultyStore)
		clear func(s *faultyStore)
	}{{
		// The batch's commit and the lone timer's commit fail, as on a
		// full disk: a third commit (the old quarantine) would succeed.
		name:  "commit fails",
		fault: func(s *faultyStore) { s.failUpdates = 2 },
		clear: func(s *faultyStore) {},
	}, {
		// A write inside the transaction fails while the store says it
		// cannot commit.
		name: "store unavailable",
		fault: func(s *faultyStore) {
			s.failMessage = func(m *engine.Message) bool { return m.Body == "two" }
			s.unhealthy = errors.New("last commit failed: write keyway.db: no space left on device")
		},
		clear: func(s *faultyStore) { s.failMessage, s.unhealthy = nil, nil },
	}} {
		t.Run(tc.name, func(t *testing.T) {
			store := &faultyStore{Store: mem.NewMemStore()}
			clock := engine.NewFakeClock(sim.SimStart)
			e := engine.New(store, timeSet(t, dripConfig), engine.Options{Clock: clock})
			if _, err := e.HandleInbound(ctx, inbound(contact, "DRIP", 0)); err != nil {
				t.Fatal(err)
			}
			clock.Advance(time.Hour)
			tc.fault(store)
			if _, err := e.FireDue(ctx); err == nil {
				t.Fatal("FireDue while the store cannot commit: no error")
			}
			if en := enrollmentOf(t, store, contact, "drip"); !en.Active() {
				t.Fatalf("after a storage fault the enrollment is %s: %q; want it still waiting", en.Status, en.EndReason)
			}
			if due := dueTimers(t, store, clock.Now()); len(due) != 1 {
				t.Fatalf("due timers after a storage fault: %+v, want the wait's timer still there", due)
			}

			// Space comes back: the next tick sends the reminder, once.
			store.mu.Lock()
			tc.clear(store)
			store.mu.Unlock()
			if n, err := e.FireDue(ctx); err != nil || n != 1 {
				t.Fatalf("FireDue once the store commits = %d, %v; want 1", n, err)
			}
			if got := outboxBodies(t, store); strings.Join(got, "|") != "one|two" {
				t.Fatalf("outbox: %q, want one then the reminder two", got)
			}
			if en := enrollmentOf(t, store, contact, "drip"); en.Active() || en.EndReason != engine.ReasonCompleted {
				t.Errorf("the enrollment: %s, %q; want completed", en.Status, en.EndReason)
			}
		})
	}
}
