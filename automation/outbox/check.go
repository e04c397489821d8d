package outbox

import (
	"context"
	"errors"

	"github.com/keyway-sms/keyway/automation/engine"
)

// maxCheckBatch bounds the checks before sending answered in one read
// transaction.
const maxCheckBatch = 256

// checkReq is a worker's check of m before sending it; the answer goes
// to reply.
type checkReq struct {
	m     *engine.Message
	reply chan checkResult
}

// checkResult answers a checkReq: whether the message is still queued,
// and whether its recipient opted out (see optOutPhone).
type checkResult struct {
	queued, optedOut bool
	err              error
}

// readAheader is a Tx that reads several messages and contacts faster
// together than one by one (PostgreSQL: one round trip for all): in a
// View, ReadAhead reads them for the Message and Contact calls that follow.
type readAheader interface {
	ReadAhead(ids, phones []string) error
}

// check asks the checker whether m is still queued and whether its
// recipient opted out (optOutPhone), as the store has them now.
func (ob *Outbox) check(ctx context.Context, m *engine.Message) (queued, optedOut bool, err error) {
	reply := make(chan checkResult, 1)
	ob.checks <- checkReq{m: m, reply: reply}
	r := <-reply
	return r.queued, r.optedOut, r.err
}

// checkLoop answers the workers' checks until checks is closed: each read
// transaction answers every check waiting, up to maxCheckBatch, so that a
// backlog's sends are checked many to a transaction (on PostgreSQL two
// round trips for all, where a check of its own took three per send and
// was most of the outbox's work) while each check is still made after
// its worker took the send, just before it goes.
func (ob *Outbox) checkLoop(ctx context.Context) {
	for r := range ob.checks {
		batch := []checkReq{r}
	more:
		for len(batch) < maxCheckBatch {
			select {
			case r, ok := <-ob.checks:
				if !ok {
					break more
				}
				batch = append(batch, r)
			default:
				break more
			}
		}
		res := ob.checkAll(ctx, batch)
		for i, r := range batch {
			r.reply <- res[i]
		}
	}
}

// checkAll reads the messages of batch, and the contacts of its replies
// and staff answers, in one read transaction. An error of one message's
// read is that check's; a failed transaction is every check's.
func (ob *Outbox) checkAll(ctx context.Context, batch []checkReq) []checkResult {
	res := make([]checkResult, len(batch))
	err := ob.view(ctx, func(tx Tx) error {
		if ra, ok := tx.(readAheader); ok {
			ids, phones := make([]string, 0, len(batch)), make([]string, 0, len(batch))
			for _, r := range batch {
				ids = append(ids, r.m.ID)
				if p := optOutPhone(r.m); p != "" {
					phones = append(phones, p)
				}
			}
			if err := ra.ReadAhead(ids, phones); err != nil {
				return err
			}
		}
		for i, r := range batch {
			res[i] = checkResult{}
			cur, err := tx.Message(r.m.ID)
			if err != nil {
				res[i].err = err
				continue
			}
			res[i].queued = cur.Status == engine.StatusQueued
			p := optOutPhone(r.m)
			if p == "" {
				continue
			}
			c, err := tx.Contact(p)
			if err == nil {
				res[i].optedOut = c.OptedOut
			} else if !errors.Is(err, engine.ErrNotFound) {
				res[i].err = err
			}
		}
		return nil
	})
	if err != nil {
		for i := range res {
			res[i] = checkResult{err: err}
		}
	}
	return res
}

// optOutPhone is the contact whose opt-out is checked before m is sent:
// the contact of a reply or a staff answer, the staff member a forward
// goes to (not a note answering their own message), else "" for none.
func optOutPhone(m *engine.Message) string {
	switch {
	case m.Purpose == engine.PurposeReply || m.Purpose == engine.PurposeStaff:
		return m.Contact
	case m.Purpose == engine.PurposeForward && m.Kind != engine.KindEmail && len(m.To) == 1 && m.To[0] != m.Contact:
		return m.To[0]
	}
	return ""
}
