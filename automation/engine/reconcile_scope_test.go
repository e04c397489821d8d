package engine_test

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/keyway-sms/keyway/automation/engine"
	"github.com/keyway-sms/keyway/automation/sim"
	"github.com/keyway-sms/keyway/automation/store/mem"
	"github.com/keyway-sms/keyway/providers"
)

// countingStore counts the enrollments its transactions read.
type countingStore struct {
	engine.Store
	reads atomic.Int64
}

func (s *countingStore) View(ctx context.Context, fn func(engine.Tx) error) error {
	return s.Store.View(ctx, func(tx engine.Tx) error { return fn(countingTx{tx, &s.reads}) })
}

func (s *countingStore) Update(ctx context.Context, fn func(engine.Tx) error) error {
	return s.Store.Update(ctx, func(tx engine.Tx) error { return fn(countingTx{tx, &s.reads}) })
}

type countingTx struct {
	engine.Tx
	reads *atomic.Int64
}

func (tx countingTx) Enrollment(id string) (*engine.Enrollment, error) {
	tx.reads.Add(1)
	return tx.Tx.Enrollment(id)
}

func (tx countingTx) ActiveEnrollment(contact, automation string) (*engine.Enrollment, error) {
	tx.reads.Add(1)
	return tx.Tx.ActiveEnrollment(contact, automation)
}

func (tx countingTx) ActiveEnrollments(contact string) ([]*engine.Enrollment, error) {
	ens, err := tx.Tx.ActiveEnrollments(contact)
	tx.reads.Add(int64(len(ens)))
	return ens, err
}

func (tx countingTx) ActiveEnrollmentsOf(automation, after string, limit int) ([]*engine.Enrollment, error) {
	ens, err := tx.Tx.ActiveEnrollmentsOf(automation, after, limit)
	tx.reads.Add(int64(len(ens)))
	return ens, err
}

func (tx countingTx) Enrollments(automation, contact string, activeOnly bool, limit int) ([]*engine.Enrollment, error) {
	ens, err := tx.Tx.Enrollments(automation, contact, activeOnly, limit)
	tx.reads.Add(int64(len(ens)))
	return ens, err
}

const scopeV1 = `automations:
  - id: drip
    keywords: [DRIP]
    steps:
      - { type: reply, text: "one" }
      - { id: w, type: wait, duration: 1h }
      - { type: reply, text: "two" }
  - id: ask
    keywords: [ASK]
    steps:
      - { id: q, type: wait_for_reply }
      - { type: reply, text: "thanks" }
`

// enrollMany starts n contacts in drip and n in ask.
func enrollMany(t *testing.T, e *engine.Engine, n int) {
	t.Helper()
	for i := range n {
		for _, kw := range []string{"DRIP", "ASK"} {
			phone := fmt.Sprintf("+1555100%04d", i)
			if _, err := e.HandleInbound(context.Background(), providers.Inbound{Provider: "test", ID: fmt.Sprintf("SM%s%d", kw, i),
				Channel: "sms", From: phone, To: "+15005550006", Body: kw}); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// A reconcile with the config it reconciled last, or with one that only
// adds, reads no enrollment, however many are active; one that removes a
// step reads only the enrollments of that step's automation, and ends
// those at the step.
func TestReconcileReadsOnlyWhatAConfigChangeTouched(t *testing.T) {
	v1 := timeSet(t, scopeV1)
	st := &countingStore{Store: mem.NewMemStore()}
	e := engine.New(st, v1, engine.Options{Clock: engine.NewFakeClock(sim.SimStart)})
	ctx := context.Background()
	if n, err := e.Reconcile(ctx); err != nil || n != 0 {
		t.Fatalf("first reconcile, on an empty store: ended %d, %v", n, err)
	}
	const n = 30
	enrollMany(t, e, n)

	st.reads.Store(0)
	if ended, err := e.Reconcile(ctx); err != nil || ended != 0 {
		t.Fatalf("reconcile, same config: ended %d, %v", ended, err)
	}
	if r := st.reads.Load(); r != 0 {
		t.Errorf("a reconcile with the config reconciled last read %d enrollments, want 0", r)
	}

	added := timeSet(t, scopeV1+`  - id: fresh
    keywords: [FRESH]
    steps:
      - { type: reply, text: "new" }
`)
	st.reads.Store(0)
	if ended, err := e.ReconcileTo(ctx, added, func() { e.Swap(added) }); err != nil || ended != 0 {
		t.Fatalf("reconcile, an automation added: ended %d, %v", ended, err)
	}
	if r := st.reads.Load(); r != 0 {
		t.Errorf("a reconcile that only added an automation read %d enrollments, want 0", r)
	}

	// drip loses its wait: its enrollments are read (and ended), ask's not.
	noWait := timeSet(t, `automations:
  - id: drip
    keywords: [DRIP]
    steps:
      - { type: reply, text: "one" }
      - { type: reply, text: "two" }
  - id: ask
    keywords: [ASK]
    steps:
      - { id: q, type: wait_for_reply }
      - { type: reply, text: "thanks" }
`)
	st.reads.Store(0)
	ended, err := e.ReconcileTo(ctx, noWait, func() { e.Swap(noWait) })
	if err != nil || ended != n {
		t.Fatalf("reconcile, drip's wait removed: ended %d, %v; want %d", ended, err, n)
	}
	// Each of drip's is read in its page, and again before it ends.
	if r := st.reads.Load(); r > 2*n+n {
		t.Errorf("a reconcile that changed drip read %d enrollments, want drip's %d (twice) and none of ask's", r, n)
	}
	for i := range n {
		phone := fmt.Sprintf("+1555100%04d", i)
		if en := enrollmentOf(t, st, phone, "drip"); en.Active() || en.EndReason != `step w was removed from automation "drip"` {
			t.Fatalf("%s in drip: %s %q", phone, en.Status, en.EndReason)
		}
		if en := enrollmentOf(t, st, phone, "ask"); en.Status != engine.EnrollmentWaitingReply {
			t.Fatalf("%s in ask: %s, want still waiting for the reply", phone, en.Status)
		}
	}
}

// Pages: an automation with more active enrollments than a page holds,
// most of which stay, has every orphan ended.
func TestReconcilePagesThroughAnAutomation(t *testing.T) {
	v1 := timeSet(t, scopeV1)
	st := mem.NewMemStore()
	e := engine.New(st, v1, engine.Options{Clock: engine.NewFakeClock(sim.SimStart)})
	ctx := context.Background()
	const n = 1200 // more than two pages of 500
	enrollMany(t, e, n)
	// The ask step q changes type: every ask enrollment is at it.
	retyped := timeSet(t, `automations:
  - id: drip
    keywords: [DRIP]
    steps:
      - { type: reply, text: "one" }
      - { id: w, type: wait, duration: 1h }
      - { type: reply, text: "two" }
  - id: ask
    keywords: [ASK]
    steps:
      - { id: q, type: wait, duration: 1h }
      - { type: reply, text: "thanks" }
`)
	e.Swap(retyped)
	ended, err := e.Reconcile(ctx)
	if err != nil || ended != n {
		t.Fatalf("ended %d, %v; want %d (every ask enrollment)", ended, err, n)
	}
	var counts map[string]int
	if err := st.View(ctx, func(tx engine.Tx) error {
		var err error
		counts, err = tx.CountActive()
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if counts["drip"] != n || counts["ask"] != 0 {
		t.Errorf("active after reconcile: %v, want %d in drip and none in ask", counts, n)
	}
}

// The steps of a config are recorded before it goes live: enrollments made
// at a step the config added, by a process that then died before its
// reconcile finished, still end when a later config removes that step.
func TestReconcileRecordsStepsBeforeTheConfigGoesLive(t *testing.T) {
	v1 := timeSet(t, scopeV1)
	st := mem.NewMemStore()
	e := engine.New(st, v1, engine.Options{Clock: engine.NewFakeClock(sim.SimStart)})
	ctx := context.Background()
	if _, err := e.Reconcile(ctx); err != nil {
		t.Fatal(err)
	}
	// v2 adds a step before the wait; a contact enrolls and stands at it.
	v2 := timeSet(t, `automations:
  - id: drip
    keywords: [DRIP]
    steps:
      - { id: first, type: wait, duration: 2h }
      - { type: reply, text: "one" }
      - { id: w, type: wait, duration: 1h }
      - { type: reply, text: "two" }
  - id: ask
    keywords: [ASK]
    steps:
      - { id: q, type: wait_for_reply }
      - { type: reply, text: "thanks" }
`)
	died, die := context.WithCancel(ctx)
	_, err := e.ReconcileTo(died, v2, func() {
		e.Swap(v2)
		enrollMany(t, e, 1)
		die() // the process dies: its reconcile does not finish
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("the reconcile that died: %v", err)
	}
	if en := enrollmentOf(t, st, "+15551000000", "drip"); en.Step != "first" || !en.Active() {
		t.Fatalf("the contact stands at %s (%s), want at first", en.Step, en.Status)
	}
	// A restart on v1 again: step first is gone.
	ended, err := e.ReconcileTo(ctx, v1, func() { e.Swap(v1) })
	if err != nil || ended != 1 {
		t.Fatalf("reconcile on v1: ended %d, %v; want 1", ended, err)
	}
	if en := enrollmentOf(t, st, "+15551000000", "drip"); en.Active() || en.EndReason != `step first was removed from automation "drip"` {
		t.Errorf("the enrollment at the removed step: %s %q", en.Status, en.EndReason)
	}
}
