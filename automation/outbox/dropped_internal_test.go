package outbox

import (
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/keyway-sms/keyway/automation/engine"
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
