// Package outbox delivers the messages the engine queued in its Store,
// through a provider or by email: it claims due sends with a lease, in
// order per recipient, within each sender number's rate, with retries, and
// records their results in batches.
package outbox

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"
	"golang.org/x/time/rate"

	"github.com/keyway-sms/keyway/automation/engine"
	"github.com/keyway-sms/keyway/providers"
)

// Texter sends text messages through a provider.
type Texter interface {
	// Send sends m and returns the provider's id for it.
	Send(ctx context.Context, m providers.Outbound) (string, error)
}

// DefaultDoubtSkew is how far before an unrecorded attempt the outbox
// looks in the provider's message log, unless OutboxOptions.DoubtSkew says
// otherwise: it allows for the provider's clock running behind ours.
const DefaultDoubtSkew = time.Minute

// DefaultOutboxWorkers is how many sends an Outbox has under way at once
// unless OutboxOptions.Workers says otherwise.
const DefaultOutboxWorkers = 16

// OutboxOptions configure an Outbox.
type OutboxOptions struct {
	Store  Store
	Texter Texter
	Mailer providers.Mailer // nil: emails fail with a recorded reason
	Clock  engine.Clock
	Logger zerolog.Logger
	// MPS limits sends per second by sender number, from this outbox;
	// absent or 0: no limit.
	MPS map[string]float64
	// Dev records sent messages as StatusDev: logged and stored, not sent.
	Dev bool
	// Provider names the provider texts go through, as stored on messages.
	Provider string
	// ProviderOf, if set, names the provider a text on channel from the
	// sender number from goes through, in place of Provider, when texts
	// go through several.
	ProviderOf func(channel, from string) string
	// StatusCallback is the URL providers report delivery status to.
	StatusCallback string
	// Workers is how many sends may be under way at once (default
	// DefaultOutboxWorkers).
	Workers int
	// Backoff is the first retry delay (default 1s); it doubles per
	// attempt up to MaxBackoff (default 5m), with ±25% jitter.
	Backoff    time.Duration
	MaxBackoff time.Duration
	// MaxAttempts ends retries of a retryable error (default 12).
	MaxAttempts int
	// Owner names this process on the leases it takes (default: the host
	// name). A process started again under the same name takes back at
	// once the sends its previous run had claimed; processes that share a
	// store need names of their own.
	Owner string
	// Lease is how long a claimed send stays with this process before
	// another may claim it (default 1m). It must outlast one send.
	Lease time.Duration
	// OnResult, if set, is told of every attempt's outcome (for metrics).
	OnResult func(m *engine.Message, err error)
	// OnOptedOut, if set, is told after commit of a contact the provider
	// refused as opted out (SendError.OptedOut), to opt it out everywhere.
	OnOptedOut func(phone string)
	// DoubtSkew is how far before an attempt whose outcome is unknown the
	// provider's message log is searched for it (default
	// DefaultDoubtSkew). If the Texter is a providers.SentFinder, a text
	// claimed while Message.Sending is set is looked up there first and
	// recorded as sent, not sent again, when the provider has it.
	DoubtSkew time.Duration
}

// maxLookups is the attempt at which the outbox, having failed to read the
// provider's log for a send in doubt at every attempt before, sends it
// anyway: a send must not wait forever on a log that stays unreadable.
const maxLookups = 4

// Limits of the outbox's work per transaction.
const (
	maxClaimPasses = 64  // claims one dispatch makes before it sleeps
	maxRecordBatch = 256 // results recorded in one commit
)

// Outbox delivers queued messages: in order per recipient, within each
// sender number's rate, retrying retryable errors with backoff and jitter
// and recording permanent ones on the message. What it has not delivered
// stays queued in the store, so it survives restarts and crashes.
//
// The store holds the queue: the outbox claims due sends with a lease
// (ClaimSends), sends them on its workers and hands each result to one
// recorder goroutine, which records all the results waiting in one commit
// (the message's new state, and Dequeue or ReleaseSend). A pass costs
// what it claims, not what is queued, and nothing here remembers which
// sends exist; several outboxes may share a store.
//
// A claimed text whose sender number has no token under its mps takes no
// worker: the outbox reserves the next token for it, and releases it
// claimable at that instant. Releasing every send it cannot make now
// books the sender's tokens in queue order, so a backlog from one number
// waits in the store without holding up the others.
type Outbox struct {
	o        OutboxOptions
	wake     chan struct{}
	sem      chan struct{} // one per send under way
	results  chan outcome  // to the recorder
	limiters map[string]*rate.Limiter
	sends    sync.WaitGroup

	mu sync.Mutex
	// paced holds the tokens this process reserved for sends it released
	// to wait for their sender's rate, by message id: the send uses its
	// token when claimed again. An entry is dropped then, or a lease after
	// its instant (another process took the send).
	paced  map[string]time.Time
	pruned time.Time
}

// NewOutbox returns an outbox; Run starts it.
func NewOutbox(o OutboxOptions) *Outbox {
	if o.Clock == nil {
		o.Clock = engine.SystemClock{}
	}
	if o.Workers <= 0 {
		o.Workers = DefaultOutboxWorkers
	}
	if o.Backoff <= 0 {
		o.Backoff = time.Second
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = 5 * time.Minute
	}
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = 12
	}
	if o.Owner == "" {
		o.Owner, _ = os.Hostname()
		if o.Owner == "" {
			o.Owner = "keyway"
		}
	}
	if o.Lease <= 0 {
		o.Lease = time.Minute
	}
	if o.DoubtSkew <= 0 {
		o.DoubtSkew = DefaultDoubtSkew
	}
	ob := &Outbox{
		o: o, wake: make(chan struct{}, 1), sem: make(chan struct{}, o.Workers),
		results: make(chan outcome, 2*o.Workers), limiters: map[string]*rate.Limiter{}, paced: map[string]time.Time{},
	}
	for num, mps := range o.MPS {
		if mps > 0 {
			ob.limiters[num] = rate.NewLimiter(rate.Limit(mps), 1)
		}
	}
	return ob
}

// Wake makes the outbox look for queued messages now.
func (ob *Outbox) Wake() {
	select {
	case ob.wake <- struct{}{}:
	default:
	}
}

// Run delivers until ctx is done, then waits for the sends under way and
// records their results. It takes back, first, the leases its owner held
// before (RecoverSends). An Outbox runs once.
func (ob *Outbox) Run(ctx context.Context) {
	recorded := make(chan struct{})
	go func() { defer close(recorded); ob.recordLoop() }()
	defer func() {
		ob.o.Logger.Info().Int("sends", len(ob.sem)).Msg("outbox: stopping; waiting for the sends under way")
		ob.sends.Wait()
		close(ob.results)
		<-recorded
	}()
	ob.recover(ctx)
	for {
		next := ob.dispatch(ctx)
		wait := time.Second
		if !next.IsZero() {
			wait = min(wait, next.Sub(ob.o.Clock.Now()))
		}
		if wait <= 0 {
			if ctx.Err() != nil {
				return
			}
			continue
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-ob.wake:
		case <-t.C:
		}
		t.Stop()
	}
}

// recover takes back the sends this owner had claimed when it last
// stopped: they were never recorded, so they may be tried again at once.
func (ob *Outbox) recover(ctx context.Context) {
	var n int
	err := ob.update(ctx, func(tx Tx) error {
		var err error
		n, err = tx.RecoverSends(ob.o.Owner)
		return err
	})
	switch {
	case err != nil:
		ob.o.Logger.Error().Err(err).Msg("outbox: take back the sends claimed before the last stop")
	case n > 0:
		ob.o.Logger.Warn().Int("sends", n).Msg("outbox: sends under way at the last stop were not recorded; trying them again")
	}
}

// dispatch claims due sends for the free workers and starts them, and
// returns when to look again: the instant the next send is due, now when
// there may be more due at once, or zero to wait for a wake-up (a send
// that ends wakes it).
func (ob *Outbox) dispatch(ctx context.Context) time.Time {
	for range maxClaimPasses {
		free := cap(ob.sem) - len(ob.sem)
		if free == 0 || ctx.Err() != nil {
			return time.Time{}
		}
		now := ob.o.Clock.Now()
		var due time.Time
		err := ob.view(ctx, func(tx Tx) error {
			var err error
			due, err = tx.NextSendDue()
			return err
		})
		switch {
		case errors.Is(err, engine.ErrNotFound):
			return time.Time{}
		case err != nil:
			ob.o.Logger.Error().Err(err).Msg("outbox: read the next send due")
			return time.Time{}
		case due.After(now):
			return due
		}
		claimed, err := ob.claim(ctx, now, free)
		if err != nil {
			ob.o.Logger.Error().Err(err).Msg("outbox: claim sends")
			return time.Time{}
		}
		if len(claimed) == 0 {
			return time.Time{} // another process took them
		}
		for _, c := range claimed {
			if d := ob.pace(ctx, c.m); d > 0 {
				ob.results <- outcome{claimed: c, kind: released, due: now.Add(d)}
				continue
			}
			ob.sem <- struct{}{}
			ob.sends.Add(1)
			go ob.deliver(ctx, c)
		}
	}
	return ob.o.Clock.Now()
}

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
// so that it does not hold up its queue.
func (ob *Outbox) claim(ctx context.Context, now time.Time, limit int) ([]claimed, error) {
	var out []claimed
	var unreadable []string
	var reasons []error
	err := ob.update(ctx, func(tx Tx) error {
		out, unreadable, reasons = out[:0], unreadable[:0], reasons[:0]
		ids, err := tx.ClaimSends(now, ob.o.Lease, ob.o.Owner, limit)
		if err != nil {
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
			m.Sending = now
			if err := tx.PutMessage(m); err != nil {
				return err
			}
			out = append(out, c)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for i, id := range unreadable {
		ob.o.Logger.Error().Err(reasons[i]).Str("msg_id", id).Msg("outbox: unreadable queued message; took it out of the queue")
	}
	return out, nil
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
	now := time.Now() // the limiter keeps wall-clock time
	if b, ok := ob.o.Store.(engine.SlotBooker); ok {
		// The store keeps the booking, for whichever process claims the
		// send at its slot.
		d, err := b.BookSlot(ctx, m.From, float64(lim.Limit()), m.ID)
		if err == nil {
			return d
		}
		ob.o.Logger.Warn().Err(err).Msg("outbox: book a send slot in the store; pacing with this process's limiter")
	}
	ob.mu.Lock()
	defer ob.mu.Unlock()
	if at, ok := ob.paced[m.ID]; ok {
		if d := at.Sub(now); d > 0 {
			return d // claimed before its token's instant: wait for the same token
		}
		delete(ob.paced, m.ID)
		return 0
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
	if d > 0 {
		ob.paced[m.ID] = now.Add(d)
	}
	return d
}

// outcome is what became of a claimed send, for the recorder.
type outcome struct {
	claimed
	kind       outcomeKind
	providerID string    // attempted: the provider's id for the sent message
	found      bool      // attempted: found in the provider's log, not sent again
	err        error     // attempted: the attempt's error
	due        time.Time // released: when it may be claimed again
}

type outcomeKind int

const (
	attempted  outcomeKind = iota // sent, or failed with err
	suppressed                    // not sent: the contact opted out
	notQueued                     // settled already: out of the outbox
	released                      // not tried: claimable again at due
)

// deliver makes one attempt at c's message and hands its outcome to the
// recorder.
func (ob *Outbox) deliver(ctx context.Context, c claimed) {
	defer func() {
		<-ob.sem
		ob.sends.Done()
		ob.Wake()
	}()
	m := c.m
	if ctx.Err() != nil {
		ob.results <- outcome{claimed: c, kind: released, due: m.NextAttempt} // stopping: not tried
		return
	}
	providerID, found, err := ob.attempt(ctx, c)
	switch {
	case errors.Is(err, errNotQueued):
		ob.results <- outcome{claimed: c, kind: notQueued}
	case errors.Is(err, errSuppressed):
		ob.results <- outcome{claimed: c, kind: suppressed}
	case errors.Is(err, errStopped):
		ob.results <- outcome{claimed: c, kind: released, due: m.NextAttempt}
	default:
		if ob.o.OnResult != nil && !found {
			ob.o.OnResult(m, err)
		}
		ob.results <- outcome{claimed: c, kind: attempted, providerID: providerID, found: found, err: err}
	}
}

var (
	errSuppressed = errors.New("contact opted out")
	errNotQueued  = errors.New("message is no longer queued")
	errStopped    = errors.New("outbox stopping")
)

// attempt sends c's message, unless it is no longer queued or its contact
// opted out, and returns the provider's id for it. When an earlier attempt
// may have reached the provider (c.doubt), it first looks for the message
// in the provider's log, and returns found with the id it has there.
func (ob *Outbox) attempt(ctx context.Context, c claimed) (providerID string, found bool, err error) {
	m := c.m
	// Check, just before sending, that the message is still queued (no
	// other worker or process sent it) and that the contact of a reply or
	// a staff answer has not opted out since it was queued.
	queued, optedOut := false, false
	err = ob.view(ctx, func(tx Tx) error {
		cur, err := tx.Message(m.ID)
		if err != nil {
			return err
		}
		queued = cur.Status == engine.StatusQueued
		if m.Purpose != engine.PurposeReply && m.Purpose != engine.PurposeStaff {
			return nil
		}
		c, err := tx.Contact(m.Contact)
		if err == nil {
			optedOut = c.OptedOut
		} else if !errors.Is(err, engine.ErrNotFound) {
			return err
		}
		return nil
	})
	switch {
	case err != nil && ctx.Err() != nil:
		return "", false, errStopped
	case err != nil:
		return "", false, err
	case !queued:
		return "", false, errNotQueued
	case optedOut:
		return "", false, errSuppressed
	}
	if m.Kind == engine.KindEmail {
		if ob.o.Mailer == nil {
			return "", false, &providers.SendError{Err: errors.New("email.smtp is not configured")}
		}
		if !c.doubt.IsZero() {
			ob.o.Logger.Warn().Str("msg_id", m.ID).Time("attempt", c.doubt).
				Msg("outbox: an earlier attempt at this email may have reached the mail server; SMTP keeps no log to look in, so it is sent again")
		}
		return "", false, ob.o.Mailer.Mail(ctx, providers.Email{ID: m.ID, To: m.To, Subject: m.Subject, Body: m.Body})
	}
	if len(m.To) != 1 {
		return "", false, &providers.SendError{Err: fmt.Errorf("a text message needs one recipient, has %d", len(m.To))}
	}
	callback := ""
	if ob.o.StatusCallback != "" {
		// keyway's id in the URL finds the message even when the callback
		// arrives before the provider's id is recorded.
		callback = ob.o.StatusCallback + "?msg=" + m.ID
	}
	out := providers.Outbound{
		ID: m.ID, Channel: m.Channel, From: m.From, To: m.To[0], Body: m.Body, Media: m.Media,
		StatusCallback: callback, ContentSID: m.ContentSID, ContentVariables: m.ContentVariables,
	}
	if !c.doubt.IsZero() {
		id, err := ob.lookUp(ctx, m, out, c.doubt)
		if err != nil || id != "" {
			return id, id != "", err
		}
	}
	providerID, err = ob.o.Texter.Send(ctx, out)
	return providerID, false, err
}

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
		log.Warn().Msg("outbox: an earlier attempt at this message may have reached the provider, which cannot be asked; it is sent again")
		return "", nil
	}
	ids, err := finder.FindSent(ctx, out, since.Add(-ob.o.DoubtSkew))
	switch {
	case errors.Is(err, providers.ErrNoMessageLog):
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

// providerOf names the provider m goes through, as stored on messages.
func (ob *Outbox) providerOf(m *engine.Message) string {
	if ob.o.ProviderOf != nil {
		return ob.o.ProviderOf(m.Channel, m.From)
	}
	return ob.o.Provider
}

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
}

// record commits a batch of outcomes in one transaction, then logs them
// and tells OnOptedOut. It uses a fresh context so that a shutdown still
// records what happened. If the batch fails, each outcome is tried alone,
// so that one the store refuses does not lose the others.
func (ob *Outbox) record(batch []outcome) {
	var done []recorded
	err := ob.update(context.Background(), func(tx Tx) error {
		done = done[:0]
		now := ob.o.Clock.Now()
		for _, r := range batch {
			rec, err := ob.apply(tx, r, now)
			if err != nil {
				return fmt.Errorf("message %s: %w", r.m.ID, err)
			}
			done = append(done, rec)
		}
		return nil
	})
	if err != nil {
		if len(batch) > 1 {
			for _, r := range batch {
				ob.record([]outcome{r})
			}
			return
		}
		ob.o.Logger.Error().Err(err).Str("msg_id", batch[0].m.ID).Msg("outbox: record send outcome")
		return
	}
	for _, rec := range done {
		ob.report(rec)
	}
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
		if m.Status.Rank() > engine.StatusSent.Rank() {
			// The provider's delivery report overtook this record: keep it.
			return rec, ob.finish(tx, m)
		}
		m.Status, m.Error, m.ErrorCode = engine.StatusSent, "", 0
		if ob.o.Dev {
			m.Status = engine.StatusDev
		}
		return rec, ob.finish(tx, m)
	case r.kind == suppressed:
		m.Status, m.Error = engine.StatusSuppressed, errSuppressed.Error()
		return rec, ob.finish(tx, m)
	}
	m.Attempts++
	m.Error = r.err.Error()
	if se != nil {
		m.ErrorCode = se.Code
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
	return tx.Dequeue(m.ID)
}

// report logs a committed outcome and tells OnOptedOut of a recipient who
// refused the message.
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
		log.Info().Str("provider_id", rec.providerID).Bool("dev", ob.o.Dev).Msg("sent")
		log.Debug().Str("body", m.Body).Msg("sent body")
		return
	}
	log.Warn().Err(rec.err).Bool("retryable", providers.IsRetryable(rec.err)).Msg("send failed")
	var se *providers.SendError
	if errors.As(rec.err, &se) && se.OptedOut && rec.stored.Purpose != engine.PurposeForward && ob.o.OnOptedOut != nil {
		// The recipient refused it: opt out the contact the message was
		// for, never the customer a staff forward was about.
		ob.o.OnOptedOut(m.To[0])
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
			out[i] = providers.Mask(n)
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
