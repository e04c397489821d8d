package outbox

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/keyway-sms/keyway/automation/engine"
	"github.com/keyway-sms/keyway/config"
	"github.com/keyway-sms/keyway/providers"
)

// recordLoop records outcomes until the results channel is closed: each
// commit takes every outcome waiting, up to maxRecordBatch.
func (ob *Outbox) recordLoop() {
	for r := range ob.results {
		batch := []outcome{r}
	more:
		for len(batch) < maxRecordBatch {
			select {
			case r, ok := <-ob.results:
				if !ok {
					break more
				}
				batch = append(batch, r)
			default:
				break more
			}
		}
		ob.record(batch)
		ob.Wake() // a settled send lets the next one of its queue go
	}
}

// recorded is an outcome as committed, for what follows the commit.
type recorded struct {
	outcome
	stored *engine.Message // attempted or suppressed: the message as committed
	lost   bool            // the lease had gone to another owner: nothing recorded
	bad    error           // the message could not be read: taken out of the outbox
	// refusal is what the provider's refusal says of the recipient, if
	// anything; committed, what Refused, which acted on it in the same
	// transaction, left to run after the commit.
	refusal   engine.SendRefusal
	committed func()
}

// record commits a batch of outcomes in one transaction, with what the
// provider's refusals cause (Refused), then logs them. It runs until the
// outbox's drain time is over, so that a shutdown still records what
// happened. If the batch fails, each outcome is tried alone, so that one
// the store refuses does not lose the others; one refused by the provider
// that fails alone is recorded without what its refusal causes (which may
// be what failed), and one that still fails is set aside.
func (ob *Outbox) record(batch []outcome) {
	done, err := ob.commit(batch, true)
	if err != nil && ob.storeDown(err) {
		// The store cannot commit at all (a full disk, the database
		// gone): these outcomes are facts that only this process knows.
		// Left to their leases, the sends would be tried again, and a
		// provider with no log to look in would take them twice. So they
		// are held here until the store commits again, and no new send is
		// claimed meanwhile.
		ob.stalled.Store(true)
		for err != nil && ob.awaitStore(len(batch), err) {
			done, err = ob.commit(batch, true)
		}
		ob.stalled.Store(false)
	}
	if err != nil && len(batch) > 1 {
		for _, r := range batch {
			ob.record([]outcome{r})
		}
		return
	}
	if err != nil && (ob.o.Refused != nil && refusalOf(batch[0].err) != 0 || ob.o.Undelivered != nil && (batch[0].err != nil || batch[0].kind == suppressed)) {
		r := batch[0]
		ob.o.Logger.Error().Err(err).Str("msg_id", r.m.ID).Str("to", maskAll(r.m.To)).
			Msg("outbox: could not record the failure of this send together with what it causes; recording the failure alone")
		done, err = ob.commit(batch, false)
	}
	if err != nil {
		ob.setAside(batch[0], err)
		return
	}
	for _, rec := range done {
		if rec.committed != nil {
			rec.committed()
		}
		ob.report(rec)
	}
}

// storeDown reports, after a commit failed with err, whether the store
// cannot commit at all, rather than refusing this commit alone.
func (ob *Outbox) storeDown(err error) bool {
	return ob.recordCtx.Err() == nil && ob.o.Store.Healthy(ob.recordCtx) != nil
}

// awaitStore waits until the store can commit again, checking every
// storeRetry, and reports true then; or false at once if it can commit
// now (a commit that failed for another reason), or when the drain time
// of a stop is over (the outcomes are then looked up as in doubt when
// their sends are claimed again).
func (ob *Outbox) awaitStore(n int, cause error) bool {
	ctx := ob.recordCtx
	herr := ob.o.Store.Healthy(ctx)
	if herr == nil || ctx.Err() != nil {
		return false
	}
	ob.o.Logger.Error().Err(cause).AnErr("store", herr).Int("sends", n).
		Msg("outbox: record send outcomes: the store cannot commit; holding them until it can")
	t := time.NewTicker(storeRetry)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return false
		case <-t.C:
		}
		if ob.o.Store.Healthy(ctx) == nil {
			ob.o.Logger.Info().Int("sends", n).Msg("outbox: the store commits again; recording the outcomes held")
			return true
		}
	}
}

// storeRetry is how often a recorder holding outcomes checks whether the
// store can commit again.
const storeRetry = time.Second

// commit records batch in one transaction and returns the outcomes as
// committed; with act, what the provider's refusals among them cause is
// done in it too (Refused).
func (ob *Outbox) commit(batch []outcome, act bool) ([]recorded, error) {
	var done []recorded
	err := ob.o.Store.Update(ob.recordCtx, func(tx engine.Tx) error {
		done = done[:0]
		now := ob.o.Clock.Now()
		ids := make([]string, len(batch))
		for i, r := range batch {
			ids[i] = r.m.ID
		}
		if err := prefetch(tx, ids); err != nil {
			return err
		}
		for _, r := range batch {
			rec, err := ob.apply(tx, r, now)
			if err != nil {
				return fmt.Errorf("message %s: %w", r.m.ID, err)
			}
			if act && rec.refusal != 0 && ob.o.Refused != nil {
				if rec.committed, err = ob.o.Refused(ob.recordCtx, tx, rec.stored, rec.refusal); err != nil {
					return fmt.Errorf("message %s: act on the provider's refusal: %w", r.m.ID, err)
				}
			}
			if act && undelivered(rec) && ob.o.Undelivered != nil {
				then, err := ob.o.Undelivered(ob.recordCtx, tx, rec.stored)
				if err != nil {
					return fmt.Errorf("message %s: act on its failure: %w", r.m.ID, err)
				}
				rec.committed = both(rec.committed, then)
			}
			done = append(done, rec)
		}
		return nil
	})
	return done, err
}

// undelivered reports whether rec records a send that will never reach
// its recipient: failed for good, or suppressed at the send because the
// recipient opted out after it was queued.
func undelivered(rec recorded) bool {
	return rec.stored != nil && (rec.stored.Status == engine.StatusFailed || rec.stored.Status == engine.StatusSuppressed)
}

// both returns a function that runs a and then b, either of which may be
// nil.
func both(a, b func()) func() {
	switch {
	case a == nil:
		return b
	case b == nil:
		return a
	}
	return func() { a(); b() }
}

// refusalOf returns what a send's error says of its recipient, if the
// provider refused it for the recipient's sake, else 0 (a throttled send
// says something of its sender number only).
func refusalOf(err error) engine.SendRefusal {
	var se *providers.SendError
	switch {
	case !errors.As(err, &se), se.Throttled:
		return 0
	case se.OptedOut:
		return engine.RefusalOptedOut
	case se.MarketingOptOut:
		return engine.RefusalMarketingOptOut
	case se.OutsideWindow:
		return engine.RefusalOutsideWindow
	}
	return 0
}

// apply writes one outcome in tx: the message's new state, and the send
// out of the outbox (settled) or released (to retry or to wait).
func (ob *Outbox) apply(tx Tx, r outcome, now time.Time) (recorded, error) {
	rec := recorded{outcome: r}
	switch r.kind {
	case released:
		err := tx.ReleaseSend(r.m.ID, ob.o.Owner, r.due)
		if errors.Is(err, engine.ErrLeaseLost) || errors.Is(err, engine.ErrNotFound) {
			rec.lost = true
			return rec, nil
		}
		if err != nil {
			return rec, err
		}
		// Not tried: the send is in doubt again only if it was before.
		m, err := tx.Message(r.m.ID)
		if err != nil || m.Sending.Equal(r.doubt) {
			return rec, nil
		}
		m.Sending = r.doubt
		return rec, tx.PutMessage(m)
	case notQueued:
		return rec, tx.Dequeue(r.m.ID)
	}
	m, err := tx.Message(r.m.ID)
	if err != nil {
		rec.bad = err
		return rec, tx.Dequeue(r.m.ID)
	}
	q, err := tx.QueuedSend(r.m.ID)
	if err != nil && !errors.Is(err, engine.ErrNotFound) {
		return rec, err
	}
	sent := r.kind == attempted && r.err == nil
	if !sent && (err != nil || q.Owner != ob.o.Owner) {
		// The lease expired and another owner took the send (or settled
		// it): what becomes of it is theirs to record. A send that went
		// out is recorded whatever the lease: that is a fact.
		rec.lost = true
		return rec, nil
	}
	rec.stored = m
	m.UpdatedAt = now
	var se *providers.SendError
	answered := errors.As(r.err, &se) && se.Status != 0
	switch {
	case sent, r.kind == suppressed, !providers.IsRetryable(r.err), answered:
		// The outcome is known: the provider took the message, or refused
		// it with an answer, or it was never tried.
		m.Sending = time.Time{}
	case se != nil && se.Unreached:
		// This attempt never reached the provider; only an earlier one
		// may have.
		m.Sending = r.doubt
	case !r.doubt.IsZero():
		// The provider may have taken either attempt: look from the first.
		m.Sending = r.doubt
	}
	switch {
	case sent:
		m.Attempts++
		if m.Kind == engine.KindText {
			m.Provider = ob.providerOf(m)
		}
		m.ProviderID = r.providerID
		if slices.Contains(m.Dropped, r.providerID) {
			// The provider's report that it dropped this attempt for its
			// rate limits overtook this record.
			return rec, ob.sendAgain(tx, m)
		}
		if m.Status.Rank() > engine.StatusSent.Rank() {
			// The provider's delivery report overtook this record: keep it.
			return rec, ob.finish(tx, m)
		}
		m.Status, m.Error, m.ErrorCode, m.Reason = engine.StatusSent, "", 0, ""
		if ob.dev(m) {
			m.Status = engine.StatusDev
		}
		return rec, ob.finish(tx, m)
	case r.kind == suppressed:
		m.Status, m.Error, m.Reason = engine.StatusSuppressed, errSuppressed.Error(), ""
		return rec, ob.finish(tx, m)
	}
	m.Attempts++
	m.Error, m.Reason = r.err.Error(), providers.Reason(r.err)
	if se != nil {
		m.ErrorCode = se.Code
	}
	if len(m.To) == 1 {
		rec.refusal = refusalOf(r.err)
	}
	if providers.IsRetryable(r.err) && m.Attempts < ob.o.MaxAttempts {
		// It stays at the head of its queue: the sends behind it wait.
		m.NextAttempt = now.Add(ob.backoff(m.Attempts))
		if err := tx.PutMessage(m); err != nil {
			return rec, err
		}
		return rec, tx.ReleaseSend(m.ID, ob.o.Owner, m.NextAttempt)
	}
	m.Status = engine.StatusFailed
	return rec, ob.finish(tx, m)
}

func (ob *Outbox) finish(tx Tx, m *engine.Message) error {
	if err := tx.PutMessage(m); err != nil {
		return err
	}
	if m.Status == engine.StatusFailed && ob.o.FailedEvent != nil {
		if err := ob.o.FailedEvent(tx, m); err != nil {
			return err
		}
	}
	return tx.Dequeue(m.ID)
}

// report logs a committed outcome, and slows down the sender number of a
// send the provider throttled.
func (ob *Outbox) report(rec recorded) {
	m := rec.m
	log := ob.o.Logger.With().Str("msg_id", m.ID).Str("to", maskAll(m.To)).Str("kind", string(m.Kind)).Logger()
	switch {
	case rec.bad != nil:
		log.Error().Err(rec.bad).Msg("outbox: unreadable queued message; took it out of the queue")
		return
	case rec.lost && rec.kind == released:
		log.Debug().Msg("outbox: released a send another owner had claimed already")
		return
	case rec.lost:
		log.Warn().Err(rec.err).Msg("outbox: the lease on this send expired and another owner took it; its outcome is theirs to record")
		return
	case rec.kind == released:
		log.Debug().Time("due", rec.due).Msg("outbox: send released until its sender's rate allows it")
		return
	case rec.kind == notQueued:
		log.Debug().Msg("outbox: message settled already; took it out of the queue")
		return
	case rec.kind == suppressed:
		log.Info().Msg("not sent: contact opted out")
		return
	case rec.err == nil && rec.found:
		log.Warn().Str("provider_id", rec.providerID).
			Msg("outbox: the provider had taken this message in an attempt whose outcome was lost; recorded as sent, not sent again")
		return
	case rec.err == nil:
		log.Info().Str("provider_id", rec.providerID).Bool("dev", ob.dev(m)).Msg("sent")
		log.Debug().Str("body", m.Body).Msg("sent body")
		return
	}
	log.Warn().Err(rec.err).Bool("retryable", providers.IsRetryable(rec.err)).Msg("send failed")
	var se *providers.SendError
	if errors.As(rec.err, &se) && se.Throttled && len(m.To) == 1 {
		ob.slowDown(m.From)
	}
}

// backoff is the delay before attempt n+1: Backoff·2^(n-1), capped, ±25%.
func (ob *Outbox) backoff(n int) time.Duration {
	d := ob.o.Backoff
	for i := 1; i < n && d < ob.o.MaxBackoff; i++ {
		d *= 2
	}
	d = min(d, ob.o.MaxBackoff)
	jitter := time.Duration((rand.Float64()*0.5 - 0.25) * float64(d))
	return d + jitter
}

func maskAll(to []string) string {
	out := make([]string, len(to))
	for i, n := range to {
		if strings.Contains(n, "@") {
			out[i] = maskEmail(n)
		} else {
			out[i] = config.MaskAddress(n)
		}
	}
	return strings.Join(out, ",")
}

func maskEmail(a string) string {
	i := strings.IndexByte(a, '@')
	if i <= 1 {
		return "*" + a[max(i, 0):]
	}
	return a[:1] + strings.Repeat("*", i-1) + a[i:]
}

// dev reports whether m was only logged and stored, not sent: a text whose
// provider runs in dev mode (DevOf), else anything while Dev.
func (ob *Outbox) dev(m *engine.Message) bool {
	if m.Kind == engine.KindText && ob.o.DevOf != nil {
		return ob.o.DevOf(m.Channel, m.From)
	}
	return ob.o.Dev
}
