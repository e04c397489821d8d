package outbox

import (
	"time"

	"github.com/keyway-sms/keyway/automation/engine"
)

// RetryDropped says when m is to be sent again: its provider took it and
// then dropped it for its rate limits, which a later status report said
// (providers.Status.Throttled). As for a send refused for throttling, that
// is after the backoff of the attempts m has had, and its sender number is
// slowed down; once m has had MaxAttempts attempts it says false, and m
// stays failed. The engine calls it from the transaction that records the
// report (engine.Options.RetryDropped).
func (ob *Outbox) RetryDropped(m *engine.Message) (time.Time, bool) {
	if m.Attempts >= ob.o.MaxAttempts {
		return time.Time{}, false
	}
	ob.slowDown(m.From)
	return ob.o.Clock.Now().Add(ob.backoff(max(m.Attempts, 1))), true
}
