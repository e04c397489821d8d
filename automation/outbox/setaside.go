package outbox

import (
	"fmt"
	"time"

	"github.com/keyway-sms/keyway/automation/engine"
)

// setAside deals with an outcome the store refused to record on its own
// (a duplicate key, a value it cannot take): left in the outbox, its send
// would be claimed, looked up and refused again and again, holding up the
// recorder and its recipient's queue. So, while the store can commit, the
// send is taken out of the outbox and its message says why: sent (when the
// provider took it) or failed, with an error that starts "set aside:".
// While the store cannot commit (a full disk, the database gone) the
// outcome is no fault of the send: it stays claimed, and is looked up as
// in doubt once its lease expires. Past the drain time nothing is written.
func (ob *Outbox) setAside(r outcome, cause error) {
	ctx := ob.recordCtx
	log := ob.o.Logger.With().Str("msg_id", r.m.ID).Str("to", maskAll(r.m.To)).Str("kind", string(r.m.Kind)).Logger()
	if ctx.Err() != nil {
		log.Warn().Err(cause).Msg("outbox: stopped before the outcome of this send was recorded; it is looked up as in doubt when claimed again")
		return
	}
	if herr := ob.o.Store.Healthy(ctx); herr != nil {
		log.Error().Err(cause).AnErr("store", herr).
			Msg("outbox: record send outcome: the store cannot commit; the send is taken up again when its lease expires")
		return
	}
	sent := r.kind == attempted && r.err == nil
	reason := fmt.Sprintf("set aside: the store refused to record its send: %v", cause)
	if sent && r.providerID != "" {
		reason = fmt.Sprintf("set aside: sent (provider id %s), but the store refused to record it: %v", r.providerID, cause)
	}
	var m *engine.Message
	err := ob.update(ctx, func(tx Tx) error {
		m = nil
		cur, err := tx.Message(r.m.ID)
		if err != nil {
			return tx.Dequeue(r.m.ID) // unreadable: all there is to do
		}
		if cur.Status == engine.StatusQueued {
			cur.Status, cur.Error, cur.Sending, cur.UpdatedAt = engine.StatusFailed, reason, time.Time{}, ob.o.Clock.Now()
			cur.Reason = "keyway could not record what became of this send (its log says why)"
			if sent {
				cur.Status, cur.Reason = engine.StatusSent, "sent, but keyway could not record it (its log says why)"
				if ob.dev(cur) {
					cur.Status = engine.StatusDev
				}
			}
			if r.kind == attempted {
				cur.Attempts++
			}
			if err := tx.PutMessage(cur); err != nil {
				return err
			}
		}
		m = cur
		return tx.Dequeue(r.m.ID)
	})
	if err != nil {
		// Even the note is refused: take the send out, so that the others
		// go on, and keep the reason in the log.
		log.Error().Err(err).Msg("outbox: could not note on the message why its send is set aside")
		m = r.m
		err = ob.update(ctx, func(tx Tx) error { return tx.Dequeue(r.m.ID) })
	}
	if err != nil {
		log.Error().Err(cause).AnErr("dequeue", err).Msg("outbox: could not record the outcome of this send nor take it out of the outbox")
		return
	}
	log.Error().Err(cause).Bool("sent", sent).Str("provider_id", r.providerID).
		Msg("outbox: the outcome of this send could not be recorded; set it aside (out of the outbox, the reason on the message) so that the others go on")
	if ob.o.OnSetAside != nil {
		ob.o.OnSetAside(m, cause)
	}
}
