package engine_test

import (
	"context"
	"testing"
	"time"

	"github.com/keyway-sms/keyway/automation/engine"
	"github.com/keyway-sms/keyway/automation/sim"
	"github.com/keyway-sms/keyway/automation/store/mem"
	"github.com/keyway-sms/keyway/providers"
)

// A reload that keeps a step's id but changes its type ends the
// enrollments standing on it; the contact's next message is handled.
func TestReloadChangingAStepTypeEndsEnrollmentsOnIt(t *testing.T) {
	old := timeSet(t, "automations:\n  - id: q\n    keywords: [JOIN]\n    steps:\n      - { id: ask, type: wait_for_reply, timeout: 1h }\n      - { type: reply, text: thanks }\n")
	nw := timeSet(t, "automations:\n  - id: q\n    keywords: [JOIN]\n    steps:\n      - { id: ask, type: wait, duration: 1h }\n      - { type: reply, text: thanks }\n")
	sim := timeSim(t, old, sim.SimStart)
	say(t, sim, "JOIN")
	sim.Engine.Swap(nw)
	_, _ = sim.Engine.Reconcile(context.Background())
	if _, err := sim.Say(context.Background(), "Ann"); err != nil {
		t.Errorf("inbound after reload fails (500, message not stored): %v", err)
	}
	if en := enrollmentOf(t, sim.Store, sim.From, "q"); en.Active() || en.EndReason == "" {
		t.Errorf("enrollment on the changed step: %s %q", en.Status, en.EndReason)
	}
}

// An enrollment pending at a step that can no longer do I/O ends, instead
// of being leased again every minute.
func TestPendingStepThatCanNoLongerPerformEnds(t *testing.T) {
	old := timeSet(t, "http: { allow_private: true }\nautomations:\n  - id: q\n    keywords: [JOIN]\n    steps:\n      - { id: call, type: http, method: GET, url: \"http://127.0.0.1:1/x\" }\n")
	nw := timeSet(t, "automations:\n  - id: q\n    keywords: [JOIN]\n    steps:\n      - { id: call, type: wait_for_reply }\n")
	store := mem.NewMemStore()
	clk := engine.NewFakeClock(sim.SimStart)
	e := engine.New(store, old, engine.Options{Clock: clk})
	ctx := context.Background()
	if _, err := e.HandleInbound(ctx, providers.Inbound{Provider: "twilio", ID: "SM1", Channel: "sms", From: "+15550001111", To: "+15005550006", Body: "JOIN"}); err != nil {
		t.Fatal(err)
	}
	e.Swap(nw)
	_, _ = e.Reconcile(ctx)
	for i := 0; i < 5; i++ {
		_, _ = e.FireDue(ctx)
		e.WaitIO()
		clk.Advance(engine.IOLease + time.Second)
	}
	if en := enrollmentOf(t, store, "+15550001111", "q"); en.Active() && en.Status == engine.EnrollmentPending {
		t.Errorf("enrollment stuck pending, re-leased every minute")
	}
}
