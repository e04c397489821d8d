package broadcast

import (
	"context"
	"errors"
	"fmt"

	"github.com/keyway-sms/keyway/automation/engine"
)

// Cancel stops broadcast id: the contacts it has not enrolled yet are not.
// With end, the enrollments it started that are still active end too:
// the commit that cancels records that they are to end (Ending), leased to
// this process, which ends them, a batch per transaction, for up to
// Options.EndWithin before it returns; the rest goes on in the background,
// and a crash before the last batch leaves them to the next claim (this
// process started again, or another once the lease expired). Canceling a
// broadcast that is done or canceled changes nothing but, with end, still
// ends its enrollments. The person ctx acts for (engine.WithActor) is
// recorded as CanceledBy. It returns the broadcast, or an error wrapping
// engine.ErrNotFound.
func (r *Runner) Cancel(ctx context.Context, id string, end bool) (*Broadcast, error) {
	var b *Broadcast
	err := r.update(ctx, func(tx Tx) error {
		var err error
		if b, err = tx.Broadcast(id); err != nil {
			return err
		}
		now := r.e.Now()
		if by := engine.ActorOf(ctx); by != "" && (b.Open() || end) {
			b.CanceledBy = by
		}
		if b.Open() {
			b.Status, b.FinishedAt, b.UpdatedAt = StatusCanceled, &now, now
		}
		if end {
			b.EndStarted, b.Ending, b.EndCursor, b.UpdatedAt = true, true, "", now
			b.Owner, b.LeaseUntil = r.o.Owner, now.Add(r.o.Lease)
		}
		return tx.PutBroadcast(b)
	})
	if err != nil {
		return nil, fmt.Errorf("broadcast: cancel %s: %w", id, err)
	}
	if end {
		if err := r.endWithin(ctx, b); err != nil {
			return b, err
		}
	}
	return r.Get(ctx, id)
}

// endWithin ends the enrollments b started for up to Options.EndWithin,
// then leaves what is left to Run.
func (r *Runner) endWithin(ctx context.Context, b *Broadcast) error {
	took := r.take(b.ID) // false while Run works on it here: both may end, a batch at a time
	defer func() {
		if took {
			r.release(b.ID)
		}
		r.Wake()
	}()
	within, cancel := context.WithTimeout(ctx, r.o.EndWithin)
	defer cancel()
	_, err := r.end(within, b)
	if err != nil && ctx.Err() == nil && within.Err() != nil {
		return nil // out of time: Run goes on with it
	}
	return err
}

// end ends the active enrollments b started, a batch per transaction,
// until none is left, another process took the broadcast over, or ctx
// ends.
func (r *Runner) end(ctx context.Context, b *Broadcast) (*Broadcast, error) {
	for ctx.Err() == nil {
		next, err := engine.TransactValue(ctx, r.e, func(x engine.Enroller) (*Broadcast, error) {
			return r.endBatch(x, b.ID)
		})
		switch {
		case errors.Is(err, errLost):
			return r.Get(context.WithoutCancel(ctx), b.ID)
		case err != nil:
			return b, fmt.Errorf("broadcast: end the enrollments of %s: %w", b.ID, err)
		}
		b = next
		if !b.Ending {
			r.o.Logger.Info().Str("broadcast", b.ID).Str("automation", b.Automation).Int("ended", b.Ended).
				Msg("broadcast canceled: its started enrollments are ended")
			return b, nil
		}
	}
	return b, nil
}

// endBatch ends the next Batch active enrollments of b's automation that
// b started, from its EndCursor on, and moves the cursor past them in the
// same transaction.
func (r *Runner) endBatch(x engine.Enroller, id string) (*Broadcast, error) {
	tx, ok := x.Tx().(Tx)
	if !ok {
		return nil, ErrNoStore
	}
	b, err := tx.Broadcast(id)
	if err != nil {
		return nil, err
	}
	if !b.Ending || b.Owner != r.o.Owner {
		return nil, errLost
	}
	page, err := x.Tx().ActiveEnrollmentsOf(b.Automation, b.EndCursor, Batch)
	if err != nil {
		return nil, err
	}
	for _, en := range page {
		if en.Broadcast != b.ID {
			continue
		}
		ended, err := x.End(en.ID, "the broadcast was canceled")
		if err != nil && !errors.Is(err, engine.ErrNotFound) {
			return nil, err
		}
		if ended {
			b.Ended++
		}
	}
	now := x.Now()
	if len(page) > 0 {
		b.EndCursor = page[len(page)-1].ID
	}
	b.UpdatedAt, b.LeaseUntil = now, now.Add(r.o.Lease)
	if len(page) < Batch {
		b.Ending = false
	}
	return b, tx.PutBroadcast(b)
}
