package engine_test

import (
	"context"
	"strings"
	"testing"

	"github.com/keyway-sms/keyway/automation/engine"
)

// A handoff that ends because its contact opted out tells its staff, once,
// from the number its forward came from: their answers could no longer
// reach the contact. A handoff closed otherwise, or a forward, tells
// nobody at the opt-out.
func TestAHandoffEndedByOptOutTellsItsStaff(t *testing.T) {
	const staff, x, y = "+15550100100", "+15551230031", "+15551230032"
	e, _, store := refEngine(t, staffLapseConfig, "XXXX", "YYYY")
	sayFrom(t, e, store, 1, x, "sms", "AGENT")
	_, got := sayFrom(t, e, store, 2, x, "sms", "STOP")
	if want := []string{staff + " #XXXX: handoff closed: the contact opted out.", x + " You are unsubscribed. Reply START to resubscribe."}; strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("STOP during a handoff: sent %q, want %q", got, want)
	}
	if _, got := sayFrom(t, e, store, 3, x, "sms", "STOP"); len(got) != 0 {
		t.Errorf("STOP again: sent %q, want nothing", got)
	}
	sayFrom(t, e, store, 4, y, "sms", "a question")
	if _, got := sayFrom(t, e, store, 5, y, "sms", "STOP"); len(got) != 1 || got[0] != y+" You are unsubscribed. Reply START to resubscribe." {
		t.Errorf("STOP after a forward: sent %q, want only the opt-out reply", got)
	}
}

// An opt-out the provider reports (it refused a send: the contact opted
// out there) ends a handoff as STOP does, and tells its staff the same.
func TestAHandoffEndedByTheProvidersOptOutTellsItsStaff(t *testing.T) {
	const staff, x = "+15550100100", "+15551230031"
	e, _, store := refEngine(t, staffLapseConfig, "XXXX")
	ctx := context.Background()
	sayFrom(t, e, store, 1, x, "sms", "AGENT")
	m := &engine.Message{ID: "refused", Direction: engine.Outbound, Kind: engine.KindText, Status: engine.StatusFailed,
		Purpose: engine.PurposeReply, Channel: "sms", From: "+15005550006", To: []string{x}, Contact: x}
	err := store.Update(ctx, func(tx engine.Tx) error {
		if err := tx.PutMessage(m); err != nil {
			return err
		}
		_, err := e.RefusedIn(ctx, tx, m, engine.RefusalOptedOut)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	got := outboxNow(t, store, func(*engine.Message) bool { return true })
	if want := staff + " #XXXX: handoff closed: the contact opted out."; len(got) != 1 || got[0] != want {
		t.Fatalf("after the provider's opt-out the outbox holds %q, want %q", got, want)
	}
}
