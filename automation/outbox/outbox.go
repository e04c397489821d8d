// Package outbox delivers the messages the engine queued in its Store,
// through a provider or by email: in order per recipient, within each
// sender number's rate, with retries.
package outbox

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
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

// OutboxOptions configure an Outbox.
type OutboxOptions struct {
	Store  engine.Store
	Texter Texter
	Mailer providers.Mailer // nil: emails fail with a recorded reason
	Clock  engine.Clock
	Logger zerolog.Logger
	// MPS limits sends per second by sender number; absent or 0: no limit.
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
	// Workers is how many sends may be under way at once (default 16).
	Workers int
	// Backoff is the first retry delay (default 1s); it doubles per
	// attempt up to MaxBackoff (default 5m), with ±25% jitter.
	Backoff    time.Duration
	MaxBackoff time.Duration
	// MaxAttempts ends retries of a retryable error (default 12).
	MaxAttempts int
	// OnResult, if set, is told of every attempt's outcome (for metrics).
	OnResult func(m *engine.Message, err error)
	// OnOptedOut, if set, is told after commit of a contact the provider
	// refused as opted out (SendError.OptedOut), to opt it out everywhere.
	OnOptedOut func(phone string)
}

// Limits of one dispatch pass over the queue.
const (
	outboxPage = 1000  // ids read per transaction
	outboxScan = 20000 // ids one pass looks at, at most
)

// Outbox delivers queued messages: in order per recipient, within each
// sender number's rate, retrying retryable errors with backoff and jitter
// and recording permanent ones on the message. What it has not delivered
// stays queued in the store, so it survives restarts and crashes.
type Outbox struct {
	o        OutboxOptions
	wake     chan struct{}
	sem      chan struct{}
	mu       sync.Mutex
	inflight map[string]string // message id → recipient key
	// queued caches the queued messages read from the store: only the
	// outbox changes a queued message, so it need not decode them again
	// at every pass.
	queued map[string]*engine.Message
	// settled holds messages recorded as done that a queue snapshot read
	// before their commit may still list; they are never dispatched again.
	settled  map[string]bool
	limiters map[string]*rate.Limiter
	wg       sync.WaitGroup
}

// NewOutbox returns an outbox; Run starts it.
func NewOutbox(o OutboxOptions) *Outbox {
	if o.Clock == nil {
		o.Clock = engine.SystemClock{}
	}
	if o.Workers <= 0 {
		o.Workers = 16
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
	ob := &Outbox{
		o: o, wake: make(chan struct{}, 1), sem: make(chan struct{}, o.Workers),
		inflight: map[string]string{}, queued: map[string]*engine.Message{}, settled: map[string]bool{}, limiters: map[string]*rate.Limiter{},
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

// Run delivers until ctx is done, then waits for sends under way.
func (ob *Outbox) Run(ctx context.Context) {
	defer ob.wg.Wait()
	for {
		next := ob.dispatch(ctx)
		wait := time.Second
		if !next.IsZero() {
			if d := next.Sub(ob.o.Clock.Now()); d < wait {
				wait = max(d, 10*time.Millisecond)
			}
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

// dispatch starts sends for queued messages whose turn has come and
// returns when the earliest message held back is due (zero if none). A
// message waits while an earlier one to the same recipient is queued (order
// per recipient), until its retry is due, and until its sender number has
// a token under its mps; a worker is taken only for a send that can go now.
func (ob *Outbox) dispatch(ctx context.Context) time.Time {
	queued, err := ob.readQueue(ctx)
	if err != nil {
		ob.o.Logger.Error().Err(err).Msg("outbox: read queue")
		return time.Time{}
	}
	now := ob.o.Clock.Now()
	var next time.Time
	later := func(t time.Time) {
		if next.IsZero() || t.Before(next) {
			next = t
		}
	}
	ob.mu.Lock()
	defer ob.mu.Unlock()
	blocked := map[string]bool{}
	for _, r := range ob.inflight {
		blocked[r] = true
	}
	for _, m := range queued {
		r := recipientKey(m)
		if _, busy := ob.inflight[m.ID]; busy || blocked[r] {
			continue
		}
		blocked[r] = true // later messages to r wait for this one
		if m.NextAttempt.After(now) {
			later(m.NextAttempt)
			continue
		}
		if len(ob.sem) >= cap(ob.sem) {
			return next // every worker is busy; a finished send wakes us
		}
		if d := ob.reserve(m); d > 0 {
			later(now.Add(d))
			continue
		}
		ob.sem <- struct{}{}
		ob.inflight[m.ID] = r
		ob.wg.Add(1)
		go ob.deliver(ctx, m)
	}
	return next
}

// reserve takes a token of m's sender number, or returns how long until
// one is free; a message without a rate limit takes nothing.
func (ob *Outbox) reserve(m *engine.Message) time.Duration {
	lim := ob.limiters[m.From]
	if lim == nil || m.Kind != engine.KindText {
		return 0
	}
	now := time.Now() // the limiter keeps wall-clock time
	res := lim.ReserveN(now, 1)
	if d := res.DelayFrom(now); d > 0 {
		res.CancelAt(now)
		return d
	}
	return 0
}

// readQueue returns the queued messages, oldest first, paging through the
// whole queue (up to outboxScan) so that a backlog to one recipient cannot
// hide everyone else's; it decodes only the messages it has not seen.
func (ob *Outbox) readQueue(ctx context.Context) ([]*engine.Message, error) {
	var ids, unreadable []string
	fresh := map[string]*engine.Message{}
	for after := ""; len(ids) < outboxScan; {
		var page []string
		err := ob.o.Store.View(ctx, func(tx engine.Tx) error {
			var err error
			if page, err = tx.Outbox(after, outboxPage); err != nil {
				return err
			}
			ob.mu.Lock()
			defer ob.mu.Unlock()
			for _, id := range page {
				if _, ok := ob.queued[id]; ok || ob.settled[id] {
					continue
				}
				m, err := tx.Message(id)
				if err != nil {
					// A record that cannot be read must not hold up the
					// whole queue: it is taken out below.
					unreadable = append(unreadable, id)
					ob.o.Logger.Error().Err(err).Str("msg_id", id).Msg("outbox: unreadable queued message; taking it out of the queue")
					continue
				}
				fresh[id] = m
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		ids = append(ids, page...)
		if len(page) < outboxPage {
			break
		}
		after = page[len(page)-1]
	}
	if len(unreadable) > 0 {
		err := ob.o.Store.Update(ctx, func(tx engine.Tx) error {
			for _, id := range unreadable {
				if err := tx.Dequeue(id); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("outbox: take unreadable messages out: %w", err)
		}
	}
	ob.mu.Lock()
	defer ob.mu.Unlock()
	listed := make(map[string]bool, len(ids))
	keep := make(map[string]*engine.Message, len(ids))
	out := make([]*engine.Message, 0, len(ids))
	for _, id := range ids {
		listed[id] = true
		if ob.settled[id] {
			continue // recorded after the snapshot was read
		}
		m := ob.queued[id]
		if m == nil {
			m = fresh[id]
		}
		if m == nil {
			continue // settled and forgotten meanwhile; the next pass re-reads
		}
		keep[id] = m
		out = append(out, m)
	}
	for id := range ob.settled {
		if !listed[id] {
			delete(ob.settled, id) // the store no longer lists it
		}
	}
	ob.queued = keep
	return out, nil
}

func recipientKey(m *engine.Message) string { return string(m.Kind) + ":" + strings.Join(m.To, ",") }

// deliver makes one attempt at m and records its outcome.
func (ob *Outbox) deliver(ctx context.Context, m *engine.Message) {
	defer func() {
		ob.mu.Lock()
		delete(ob.inflight, m.ID)
		ob.mu.Unlock()
		<-ob.sem
		ob.wg.Done()
		ob.Wake()
	}()
	providerID, err := ob.attempt(ctx, m)
	if errors.Is(err, errNotQueued) {
		return // settled elsewhere; nothing to record
	}
	if errors.Is(err, errSuppressed) {
		ob.record(m, "", err)
		return
	}
	if ob.o.OnResult != nil {
		ob.o.OnResult(m, err)
	}
	ob.record(m, providerID, err)
}

var (
	errSuppressed = errors.New("contact opted out")
	errNotQueued  = errors.New("message is no longer queued")
)

func (ob *Outbox) attempt(ctx context.Context, m *engine.Message) (string, error) {
	// Check, just before sending, that the message is still queued (no
	// other worker or replica sent it) and that a reply's contact has not
	// opted out since it was queued.
	queued, optedOut := false, false
	err := ob.o.Store.View(ctx, func(tx engine.Tx) error {
		cur, err := tx.Message(m.ID)
		if err != nil {
			return err
		}
		queued = cur.Status == engine.StatusQueued
		if m.Purpose != engine.PurposeReply {
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
	case err != nil:
		return "", err
	case !queued:
		return "", errNotQueued
	case optedOut:
		return "", errSuppressed
	}
	if m.Kind == engine.KindEmail {
		if ob.o.Mailer == nil {
			return "", &providers.SendError{Err: errors.New("email.smtp is not configured")}
		}
		return "", ob.o.Mailer.Mail(ctx, providers.Email{ID: m.ID, To: m.To, Subject: m.Subject, Body: m.Body})
	}
	if len(m.To) != 1 {
		return "", &providers.SendError{Err: fmt.Errorf("a text message needs one recipient, has %d", len(m.To))}
	}
	callback := ""
	if ob.o.StatusCallback != "" {
		// keyway's id in the URL finds the message even when the callback
		// arrives before the provider's id is recorded.
		callback = ob.o.StatusCallback + "?msg=" + m.ID
	}
	return ob.o.Texter.Send(ctx, providers.Outbound{
		ID: m.ID, Channel: m.Channel, From: m.From, To: m.To[0], Body: m.Body, Media: m.Media,
		StatusCallback: callback,
	})
}

// record stores the outcome of an attempt: sent, retry later, or failed.
// It uses a fresh context so that a shutdown still records what happened.
func (ob *Outbox) record(sent *engine.Message, providerID string, sendErr error) {
	now := ob.o.Clock.Now()
	var stored *engine.Message // the message as committed
	log := ob.o.Logger.With().Str("msg_id", sent.ID).Str("to", maskAll(sent.To)).Str("kind", string(sent.Kind)).Logger()
	err := ob.o.Store.Update(context.Background(), func(tx engine.Tx) error {
		m, err := tx.Message(sent.ID)
		if err != nil {
			return err
		}
		stored = m
		m.UpdatedAt = now
		var se *providers.SendError
		switch {
		case sendErr == nil:
			m.Attempts++
			m.Status, m.ProviderID, m.Error, m.ErrorCode = engine.StatusSent, providerID, "", 0
			if m.Kind == engine.KindText {
				m.Provider = ob.o.Provider
				if ob.o.ProviderOf != nil {
					m.Provider = ob.o.ProviderOf(m.Channel, m.From)
				}
			}
			if ob.o.Dev {
				m.Status = engine.StatusDev
			}
			return ob.finish(tx, m)
		case errors.Is(sendErr, errSuppressed):
			m.Status, m.Error = engine.StatusSuppressed, sendErr.Error()
			return ob.finish(tx, m)
		}
		m.Attempts++
		m.Error = sendErr.Error()
		if errors.As(sendErr, &se) {
			m.ErrorCode = se.Code
		}
		if providers.IsRetryable(sendErr) && m.Attempts < ob.o.MaxAttempts {
			m.NextAttempt = now.Add(ob.backoff(m.Attempts))
			return tx.PutMessage(m)
		}
		m.Status = engine.StatusFailed
		return ob.finish(tx, m)
	})
	ob.mu.Lock()
	switch {
	case err != nil:
		delete(ob.queued, sent.ID) // re-read from the store
	case stored.Status == engine.StatusQueued:
		ob.queued[sent.ID] = stored // to retry at NextAttempt
	default:
		delete(ob.queued, sent.ID)
		ob.settled[sent.ID] = true
	}
	ob.mu.Unlock()
	var se *providers.SendError
	if err == nil && errors.As(sendErr, &se) && se.OptedOut && stored.Purpose != engine.PurposeForward && ob.o.OnOptedOut != nil {
		// The recipient refused it: opt out the contact the message was
		// for, never the customer a staff forward was about.
		ob.o.OnOptedOut(sent.To[0])
	}
	switch {
	case err != nil:
		log.Error().Err(err).Msg("outbox: record send outcome")
	case sendErr == nil:
		log.Info().Str("provider_id", providerID).Bool("dev", ob.o.Dev).Msg("sent")
		log.Debug().Str("body", sent.Body).Msg("sent body")
	case errors.Is(sendErr, errSuppressed):
		log.Info().Msg("not sent: contact opted out")
	default:
		log.Warn().Err(sendErr).Bool("retryable", providers.IsRetryable(sendErr)).Msg("send failed")
	}
}

func (ob *Outbox) finish(tx engine.Tx, m *engine.Message) error {
	if err := tx.PutMessage(m); err != nil {
		return err
	}
	return tx.Dequeue(m.ID)
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
