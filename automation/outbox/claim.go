package outbox

import (
	"context"
	"fmt"
	"time"

	"github.com/keyway-sms/keyway/automation/engine"
)

// claimed is a send the outbox holds the lease on.
type claimed struct {
	m *engine.Message // as claimed, Sending set to the claim
	// doubt is the message's Sending before this claim: when an earlier
	// attempt, whose outcome is unknown, began; zero when there was none.
	doubt time.Time
}

// claim leases up to limit due sends, reads their messages and marks each
// as being sent (Message.Sending), in the same commit, before any provider
// is asked: so that after a crash the claim of a send that may have gone
// out is known. A message that cannot be read is taken out of the outbox,
// and one whose mark the store refuses is set aside, so that it does not
// hold up its queue.
func (ob *Outbox) claim(ctx context.Context, now time.Time, limit int) ([]claimed, error) {
	var out []claimed
	var unreadable []string
	var reasons []error
	var unmarkable *engine.Message
	err := ob.update(ctx, func(tx Tx) error {
		out, unreadable, reasons, unmarkable = out[:0], unreadable[:0], reasons[:0], nil
		ids, err := tx.ClaimSends(now, ob.o.Lease, ob.o.Owner, limit)
		if err != nil {
			return err
		}
		if err := prefetch(tx, ids); err != nil {
			return err
		}
		for _, id := range ids {
			m, err := tx.Message(id)
			if err != nil {
				unreadable, reasons = append(unreadable, id), append(reasons, err)
				if err := tx.Dequeue(id); err != nil {
					return err
				}
				continue
			}
			c := claimed{m: m, doubt: m.Sending}
			if m.Sending.IsZero() {
				// A send already in doubt stays in doubt from its first
				// attempt: should this claim die unrecorded too, the next
				// must look in the provider's log from there.
				m.Sending = now
			}
			if err := tx.PutMessage(m); err != nil {
				unmarkable = c.m
				return fmt.Errorf("mark message %s as being sent: %w", id, err)
			}
			out = append(out, c)
		}
		return nil
	})
	if err != nil && unmarkable != nil && ctx.Err() == nil {
		// The store refused the mark of one message: set that send aside
		// (if the store can commit), so that the next claim goes on with
		// the others rather than stopping at it again.
		m := *unmarkable
		m.Sending = time.Time{}
		ob.setAside(outcome{claimed: claimed{m: &m}, kind: released}, err)
		ob.Wake()
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	for i, id := range unreadable {
		ob.o.Logger.Error().Err(reasons[i]).Str("msg_id", id).Msg("outbox: unreadable queued message; took it out of the queue")
	}
	return out, nil
}

// holdAhead is how soon a send's slot under its number's mps must come
// for the outbox to keep the send and have a worker send it at that
// instant, rather than release it to be claimed again then: a release and
// a new claim cost more than so short a wait. A backlog from a number with
// a high mps is claimed in batches whose slots all come within it.
const holdAhead = 100 * time.Millisecond

// paceAll paces the claimed sends cs in claim order, as pace does each,
// and returns how long until each one's slot. A store that books several
// slots at once (slotsBooker) books those of each number in one go.
func (ob *Outbox) paceAll(ctx context.Context, cs []claimed) []time.Duration {
	delays := make([]time.Duration, len(cs))
	b, ok := ob.o.Store.(slotsBooker)
	if !ok {
		for i, c := range cs {
			delays[i] = ob.pace(ctx, c.m)
		}
		return delays
	}
	byNumber := map[string][]int{}
	var numbers []string
	for i, c := range cs {
		if ob.limiters[c.m.From] == nil || c.m.Kind != engine.KindText {
			continue
		}
		if _, ok := byNumber[c.m.From]; !ok {
			numbers = append(numbers, c.m.From)
		}
		byNumber[c.m.From] = append(byNumber[c.m.From], i)
	}
	for _, num := range numbers {
		idx := byNumber[num]
		ids := make([]string, len(idx))
		for j, i := range idx {
			ids[j] = cs[i].m.ID
		}
		ds, err := b.BookSlots(ctx, num, float64(ob.limiters[num].Limit()), ids, holdAhead)
		if err != nil {
			ob.o.Logger.Warn().Err(err).Msg("outbox: book send slots in the store; pacing with this process's limiter")
			for _, i := range idx {
				delays[i] = ob.paceHere(cs[i].m)
			}
			continue
		}
		for j, i := range idx {
			delays[i] = ds[j]
		}
	}
	return delays
}

// pace takes a token of m's sender number for a send now, and returns 0;
// or, when the next token is later, reserves it for m and returns how
// long until then. A message without a rate limit takes nothing.
//
// On a store that several processes share (engine.SlotBooker) the token is
// booked in the store, so that the rate holds across all of them; should
// the booking fail, this process's own limiter paces the send.
func (ob *Outbox) pace(ctx context.Context, m *engine.Message) time.Duration {
	lim := ob.limiters[m.From]
	if lim == nil || m.Kind != engine.KindText {
		return 0
	}
	if b, ok := ob.o.Store.(engine.SlotBooker); ok {
		// The store keeps the booking, for whichever process claims the
		// send at its slot.
		d, err := b.BookSlot(ctx, m.From, float64(lim.Limit()), m.ID)
		if err == nil {
			return d
		}
		ob.o.Logger.Warn().Err(err).Msg("outbox: book a send slot in the store; pacing with this process's limiter")
	}
	return ob.paceHere(m)
}

// paceHere paces m with this process's limiter of its sender number: a
// token reserved for a send released to wait for it is kept for the send,
// by message id, for when it is claimed again.
func (ob *Outbox) paceHere(m *engine.Message) time.Duration {
	lim := ob.limiters[m.From]
	now := time.Now() // the limiter keeps wall-clock time
	ob.mu.Lock()
	defer ob.mu.Unlock()
	if at, ok := ob.paced[m.ID]; ok {
		d := at.Sub(now)
		if d > holdAhead {
			return d // claimed well before its token's instant: wait for the same token
		}
		delete(ob.paced, m.ID)
		return max(d, 0)
	}
	if now.Sub(ob.pruned) > ob.o.Lease {
		for id, at := range ob.paced {
			if now.Sub(at) > ob.o.Lease {
				delete(ob.paced, id)
			}
		}
		ob.pruned = now
	}
	d := lim.ReserveN(now, 1).DelayFrom(now)
	if d > holdAhead {
		ob.paced[m.ID] = now.Add(d)
	}
	return d
}
