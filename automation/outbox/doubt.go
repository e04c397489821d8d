package outbox

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/keyway-sms/keyway/automation/engine"
	"github.com/keyway-sms/keyway/providers"
)

// maxLookups is the attempt at which the outbox, having failed to read the
// provider's log for a send in doubt at every attempt before, sends it
// anyway: a send must not wait forever on a log that stays unreadable.
const maxLookups = 4

// lookUp asks the provider's message log whether an attempt at m that began
// at since reached it, and returns the provider's id for the message if
// so: the oldest message of the log that matches and that no other stored
// message claims. It returns "" when the provider has none, or keeps no
// log (then the message is sent again). An error is retryable: the log
// could not be read, and sending blindly could send twice; at the
// maxLookups-th attempt the message is sent all the same.
func (ob *Outbox) lookUp(ctx context.Context, m *engine.Message, out providers.Outbound, since time.Time) (string, error) {
	log := ob.o.Logger.With().Str("msg_id", m.ID).Str("to", maskAll(m.To)).Time("attempt", since).Logger()
	finder, ok := ob.o.Texter.(providers.SentFinder)
	if !ok {
		if err := ob.awaitHolder(ctx, m); err != nil {
			return "", err
		}
		log.Warn().Msg("outbox: an earlier attempt at this message may have reached the provider, which cannot be asked; it is sent again")
		return "", nil
	}
	ids, err := finder.FindSent(ctx, out, since.Add(-ob.o.DoubtSkew))
	switch {
	case errors.Is(err, providers.ErrNoMessageLog):
		if err := ob.awaitHolder(ctx, m); err != nil {
			return "", err
		}
		log.Warn().Msg("outbox: an earlier attempt at this message may have reached the provider, which keeps no log to look in; it is sent again")
		return "", nil
	case err != nil && m.Attempts+1 >= maxLookups:
		log.Warn().Err(err).Int("attempts", m.Attempts+1).
			Msg("outbox: the provider's log could not be read for an earlier attempt at this message, again; it is sent again")
		return "", nil
	case err != nil:
		return "", &providers.SendError{Retryable: true, Err: fmt.Errorf("outbox: look in the provider's log for an earlier attempt at message %s: %w", m.ID, err)}
	}
	provider := ob.providerOf(m)
	var found string
	err = ob.view(ctx, func(tx Tx) error {
		for _, id := range ids {
			_, err := tx.MessageByProviderID(provider, id)
			switch {
			case errors.Is(err, engine.ErrNotFound):
				found = id
				return nil
			case err != nil:
				return err
			}
		}
		return nil
	})
	if err != nil {
		return "", &providers.SendError{Retryable: true, Err: fmt.Errorf("outbox: match the provider's log against stored messages for message %s: %w", m.ID, err)}
	}
	if found == "" {
		log.Info().Int("candidates", len(ids)).Msg("outbox: an earlier attempt at this message did not reach the provider; sending it")
	}
	return found, nil
}

// holderWait is how long a send in doubt that no log can settle waits,
// once claimed, before it goes again (at most a quarter of the lease).
// The earlier attempt may have been another process's, which holds its
// outcome while the store cannot commit (record): when a storage outage
// outlasts the lease, the send is claimed again as soon as the store is
// back, a moment before its holder, which looks each storeRetry, has
// recorded it. Sent at once it would go twice. A process that died with
// the outcome leaves it to this wait and then to the send again.
const holderWait = 5 * storeRetry

// awaitHolder waits holderWait for the outcome of an earlier attempt at m
// to be recorded elsewhere, and then checks m again as before a send
// (stillToSend) and that this outbox still holds its lease: nil when m is
// to be sent again, errNotQueued when the outcome was recorded meanwhile.
func (ob *Outbox) awaitHolder(ctx context.Context, m *engine.Message) error {
	t := time.NewTimer(min(holderWait, ob.o.Lease/4))
	defer t.Stop()
	select {
	case <-ctx.Done():
		return errNotTried
	case <-t.C:
	}
	err := ob.stillToSend(ctx, m)
	switch {
	case errors.Is(err, errNotQueued):
		ob.o.Logger.Info().Str("msg_id", m.ID).Str("to", maskAll(m.To)).
			Msg("outbox: the outcome of an earlier attempt at this message was recorded meanwhile; not sent again")
		return err
	case err != nil:
		return err
	case !ob.stillHeld(ctx, m.ID):
		return errNotTried // released, or left to the owner that took it
	}
	return nil
}
