package outbox

import (
	"errors"
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

// sendAgain keeps m queued to send it again after its backoff: the
// attempt just recorded was dropped by the provider for its rate limits,
// which a report that came before this record said (engine.Message.Dropped
// holds the attempt's id). Once m has had MaxAttempts it fails. A lease
// lost meanwhile leaves m to the owner that took it.
func (ob *Outbox) sendAgain(tx Tx, m *engine.Message) error {
	m.ProviderID = ""
	again, ok := ob.RetryDropped(m)
	if !ok {
		m.Status = engine.StatusFailed
		return ob.finish(tx, m)
	}
	m.NextAttempt = again
	if err := tx.PutMessage(m); err != nil {
		return err
	}
	err := tx.ReleaseSend(m.ID, ob.o.Owner, m.NextAttempt)
	if errors.Is(err, engine.ErrLeaseLost) || errors.Is(err, engine.ErrNotFound) {
		return nil
	}
	return err
}
