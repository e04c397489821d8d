// Package outbox delivers the messages the engine queued in its Store,
// through a provider or by email: it claims due sends with a lease, in
// order per recipient, within each sender number's rate, with retries, and
// records their results in batches.
package outbox

import (
	"context"
	"errors"
	"os"
	"sync"
	"sync/atomic"
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
// unless OutboxOptions.Workers says otherwise: enough that a provider
// answering in 200 ms still takes 300 sends a second, and that the claims
// of a backlog come 64 or more to a commit.
const DefaultOutboxWorkers = 64

// DefaultDrain is how long a stopping Outbox waits for the sends under way
// and their records, unless OutboxOptions.Drain says otherwise.
const DefaultDrain = 10 * time.Second

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
	// DevOf, if set, says of a text on channel from the sender number from
	// whether its provider runs in dev mode, in place of Dev, when texts
	// go through several providers of which some may run live.
	DevOf func(channel, from string) bool
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
	// another may claim it (default 1m). It must outlast two sends: a
	// claimed send may wait for a worker while one send is under way. A
	// send that waited past half its lease checks, before it goes, that
	// the lease is still its own.
	Lease time.Duration
	// FailedEvent, if set, stores a message.failed event about m, whose
	// send has just failed for good, in the transaction that records it
	// (engine.Engine.MessageFailedEvent).
	FailedEvent func(tx engine.EventAdder, m *engine.Message) error
	// OnResult, if set, is told of every attempt's outcome (for metrics).
	OnResult func(m *engine.Message, err error)
	// Refused, if set, acts on a send the provider refused for what it
	// says of the recipient (SendError.OptedOut, MarketingOptOut or
	// OutsideWindow: opt the contact out, stop what does not answer it,
	// close its WhatsApp window and take the window path of the step that
	// queued m) inside tx, the transaction that records the refusal
	// (engine.Engine.RefusedIn), so that a crash cannot keep the refusal
	// and lose what it causes; m is the message as tx records it. It
	// returns what is to run once tx has committed. Should it fail, the
	// refusal is recorded without it (the send is not tried again) and the
	// failure logged.
	Refused func(ctx context.Context, tx engine.TurnTx, m *engine.Message, r engine.SendRefusal) (func(), error)
	// Undelivered, if set, acts on a send that has just failed for good,
	// or been suppressed because its recipient opted out since it was
	// queued, inside tx, the transaction that records it, as Refused does
	// (a staff answer texted from a phone tells its staff member:
	// engine.Engine.UndeliveredIn); m is the message as tx records it. It
	// returns what is to run once tx has committed. Should it fail, the
	// failure is recorded without it and logged.
	Undelivered func(ctx context.Context, tx engine.TurnTx, m *engine.Message) (func(), error)
	// OnSetAside, if set, is told after commit of a send set aside because
	// its outcome could not be recorded, with the store's error (for
	// metrics).
	OnSetAside func(m *engine.Message, reason error)
	// Drain is how long Run, once its context is done, waits for the sends
	// under way and the recording of their outcomes (default
	// DefaultDrain). Past it Run returns all the same: a send whose outcome
	// was not recorded is looked up as in doubt when it is claimed again.
	Drain time.Duration
	// DoubtSkew is how far before an attempt whose outcome is unknown the
	// provider's message log is searched for it (default
	// DefaultDoubtSkew). If the Texter is a providers.SentFinder, a text
	// claimed while Message.Sending is set is looked up there first and
	// recorded as sent, not sent again, when the provider has it.
	DoubtSkew time.Duration
}

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
// claimable at that instant; unless the token comes within holdAhead,
// when a worker sends it at that instant. Releasing every send it cannot make now
// books the sender's tokens in queue order, so a backlog from one number
// waits in the store without holding up the others.
type Outbox struct {
	o    OutboxOptions
	wake chan struct{}
	// ready holds claimed sends, in claim order, for the Workers
	// goroutines that send them.
	ready chan claimedAt
	// held counts the sends claimed and not yet handed to the recorder:
	// under way, or waiting in ready; busy, those under way.
	held, busy atomic.Int64
	results    chan outcome // to the recorder
	// stalled is set while the recorder holds outcomes it could not
	// record because the store cannot commit: no send is claimed then.
	stalled  atomic.Bool
	checks   chan checkReq // to the checker
	limiters map[string]*rate.Limiter
	sends    sync.WaitGroup
	// recordCtx is what outcomes are recorded under: it outlives Run's
	// context by the drain time, so that a shutdown records what
	// happened, but never hangs on a store that will not commit.
	recordCtx  context.Context
	stopRecord context.CancelFunc

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
	if o.Drain <= 0 {
		o.Drain = DefaultDrain
	}
	ob := &Outbox{
		o: o, wake: make(chan struct{}, 1), ready: make(chan claimedAt, 2*o.Workers),
		results: make(chan outcome, 2*o.Workers), checks: make(chan checkReq, o.Workers), limiters: map[string]*rate.Limiter{}, paced: map[string]time.Time{},
	}
	ob.recordCtx, ob.stopRecord = context.WithCancel(context.Background())
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
// records their results, for at most the drain time. It takes back, first,
// the leases its owner held before (RecoverSends). An Outbox runs once.
func (ob *Outbox) Run(ctx context.Context) {
	recorded := make(chan struct{})
	go func() { defer close(recorded); ob.recordLoop() }()
	go ob.checkLoop(ctx)
	finished := make(chan struct{})
	go ob.drainAfter(ctx, finished)
	for range ob.o.Workers {
		ob.sends.Add(1)
		go ob.work(ctx)
	}
	defer func() {
		ob.o.Logger.Info().Int64("sends", ob.busy.Load()).Msg("outbox: stopping; waiting for the sends under way")
		close(ob.ready) // the workers hand back what is left in it, untried
		stopped := make(chan struct{})
		go func() {
			ob.sends.Wait()
			close(ob.checks)
			close(ob.results)
			<-recorded
			close(stopped)
		}()
		select {
		case <-stopped:
		case <-ob.recordCtx.Done():
			// The drain time is over: what is still under way is left, in
			// doubt, to the next claim of its send.
		}
		close(finished)
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

// drainAfter ends the recording of outcomes the drain time after ctx is
// done, unless Run finished before: so that a stop never waits longer on a
// send or a store that does not answer.
func (ob *Outbox) drainAfter(ctx context.Context, finished <-chan struct{}) {
	select {
	case <-ctx.Done():
	case <-finished:
		return
	}
	t := time.NewTimer(ob.o.Drain)
	defer t.Stop()
	select {
	case <-finished:
		ob.stopRecord()
	case <-t.C:
		ob.o.Logger.Warn().Dur("drain", ob.o.Drain).
			Msg("outbox: the sends under way were not all recorded within the drain time; stopping without them (each is looked up as in doubt when claimed again)")
		ob.stopRecord()
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

// dispatch claims due sends and starts them, and returns when to look
// again: the instant the next send is due, now when there may be more due
// at once, or zero to wait for a wake-up (a send that ends wakes it).
//
// It claims a wave ahead: once no more than Workers sends are held, it
// claims enough for two waves, so that a worker that finishes finds its
// next send claimed already, and a backlog is claimed Workers or more to
// a commit rather than one send per commit as workers free up one by one.
func (ob *Outbox) dispatch(ctx context.Context) time.Time {
	for range maxClaimPasses {
		held := int(ob.held.Load())
		if held > ob.o.Workers || ctx.Err() != nil || ob.stalled.Load() {
			return time.Time{}
		}
		free := 2*ob.o.Workers - held
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
		// Paced here, in claim order, so that a number's tokens go to its
		// sends in queue order.
		delays := ob.paceAll(ctx, claimed)
		for i, c := range claimed {
			d := delays[i]
			if d > holdAhead {
				ob.results <- outcome{claimed: c, kind: released, due: now.Add(d)}
				continue
			}
			ob.held.Add(1)
			ob.ready <- claimedAt{claimed: c, at: now, notBefore: time.Now().Add(d)}
		}
	}
	return ob.o.Clock.Now()
}
