package outbox

import (
	"context"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/keyway-sms/keyway/automation/engine"
	"github.com/keyway-sms/keyway/automation/store/mem"
)

// A message the provider dropped for its rate limits goes again after the
// backoff of the attempts it has had, and slows its number, until it has
// had MaxAttempts.
func TestRetryDropped(t *testing.T) {
	const ours = "+15550001234"
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	ob := NewOutbox(OutboxOptions{Logger: zerolog.Nop(), MPS: map[string]float64{ours: 80}, Clock: engine.NewFakeClock(now), MaxAttempts: 3})
	for attempts, want := range map[int]time.Duration{1: time.Second, 2: 2 * time.Second} {
		at, ok := ob.RetryDropped(&engine.Message{From: ours, Attempts: attempts})
		if d := at.Sub(now); !ok || d < want*3/4 || d > want*5/4 {
			t.Errorf("after %d attempts: again in %v (%v), want %v ±25%%", attempts, d, ok, want)
		}
	}
	if got := float64(ob.limiters[ours].Limit()); got != 20 {
		t.Errorf("mps after two drops = %g, want 20", got)
	}
	if _, ok := ob.RetryDropped(&engine.Message{From: ours, Attempts: 3}); ok {
		t.Error("sent again after MaxAttempts")
	}
}

// A report that the provider dropped an attempt for its rate limits can
// come before the outbox records that attempt (the engine then puts its id
// in Message.Dropped): the record keeps the message queued, due after the
// backoff, instead of settling it as sent; at the last attempt it fails.
func TestRecordSendsAgainAnAttemptReportedDropped(t *testing.T) {
	for _, tt := range []struct {
		name     string
		attempts int // before this one
		again    bool
	}{{"sent again", 0, true}, {"the last attempt fails", 2, false}} {
		t.Run(tt.name, func(t *testing.T) {
			store := mem.NewMemStore()
			now := time.Now()
			m := &engine.Message{ID: "m1", Direction: engine.Outbound, Kind: engine.KindText, Status: engine.StatusQueued,
				From: "+15005550006", To: []string{"+15550000001"}, Attempts: tt.attempts}
			err := store.Update(context.Background(), func(tx engine.Tx) error {
				if err := tx.PutMessage(m); err != nil {
					return err
				}
				if err := tx.Enqueue(m); err != nil {
					return err
				}
				if _, err := tx.ClaimSends(now, time.Minute, "me", 1); err != nil {
					return err
				}
				report := *m
				report.Dropped, report.ErrorCode, report.Error = []string{"SM1"}, 30001, "queue overflow"
				return tx.PutMessage(&report)
			})
			if err != nil {
				t.Fatal(err)
			}
			ob := NewOutbox(OutboxOptions{Store: store, Owner: "me", Logger: zerolog.Nop(), Provider: "twilio", MaxAttempts: 3})
			ob.results <- outcome{claimed: claimed{m: m}, kind: attempted, providerID: "SM1"}
			close(ob.results)
			ob.recordLoop()
			_ = store.View(context.Background(), func(tx engine.Tx) error {
				got, err := tx.Message("m1")
				if err != nil {
					t.Fatal(err)
				}
				q, qerr := tx.QueuedSend("m1")
				if !tt.again {
					if got.Status != engine.StatusFailed || qerr == nil {
						t.Errorf("m1 %s, in the outbox: %v; want failed and out", got.Status, qerr == nil)
					}
					return nil
				}
				if got.Status != engine.StatusQueued || got.ProviderID != "" || got.Attempts != 1 || qerr != nil {
					t.Fatalf("m1 = %s %q after %d attempts (outbox: %v); want queued, no provider id, 1, in the outbox", got.Status, got.ProviderID, got.Attempts, qerr)
				}
				if d := q.Due.Sub(now); d < 500*time.Millisecond || q.Owner != "" {
					t.Errorf("queued again due in %v, owner %q; want after the backoff, no lease", d, q.Owner)
				}
				return nil
			})
		})
	}
}
