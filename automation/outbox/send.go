package outbox

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/keyway-sms/keyway/automation/engine"
	"github.com/keyway-sms/keyway/providers"
)

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

// claimedAt is a claimed send, when it was claimed, and the instant of
// its slot under its number's mps, which it must not go before (wall
// clock, as the rate's).
type claimedAt struct {
	claimed
	at, notBefore time.Time
}

// work sends what dispatch claims, in claim order, until ready is closed.
func (ob *Outbox) work(ctx context.Context) {
	defer ob.sends.Done()
	for c := range ob.ready {
		if wait := time.Until(c.notBefore); wait > 0 {
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
			case <-t.C:
			}
			t.Stop()
		}
		ob.deliver(ctx, c.claimed, c.at)
		ob.held.Add(-1)
		ob.Wake()
	}
}

// deliver makes one attempt at c's message, claimed at the instant given,
// and hands its outcome to the recorder.
func (ob *Outbox) deliver(ctx context.Context, c claimed, at time.Time) {
	m := c.m
	if ctx.Err() != nil {
		ob.results <- outcome{claimed: c, kind: released, due: m.NextAttempt} // stopping: not tried
		return
	}
	if ob.o.Clock.Now().Sub(at) > ob.o.Lease/2 && !ob.stillHeld(ctx, m.ID) {
		// It waited for a worker so long that its lease may have gone to
		// another process: not sent here (released, or left to the owner
		// that took it).
		ob.results <- outcome{claimed: c, kind: released, due: m.NextAttempt}
		return
	}
	ob.busy.Add(1)
	defer ob.busy.Add(-1)
	providerID, found, err := ob.attempt(ctx, c)
	switch {
	case errors.Is(err, errNotQueued):
		ob.results <- outcome{claimed: c, kind: notQueued}
	case errors.Is(err, errSuppressed):
		ob.results <- outcome{claimed: c, kind: suppressed}
	case errors.Is(err, errNotTried):
		ob.results <- outcome{claimed: c, kind: released, due: m.NextAttempt}
	default:
		if ob.o.OnResult != nil && !found {
			ob.o.OnResult(m, err)
		}
		ob.results <- outcome{claimed: c, kind: attempted, providerID: providerID, found: found, err: err}
	}
}

// stillHeld reports whether this outbox still holds the lease on send id
// with a quarter of the lease to spare.
func (ob *Outbox) stillHeld(ctx context.Context, id string) bool {
	held := false
	err := ob.view(ctx, func(tx Tx) error {
		q, err := tx.QueuedSend(id)
		if err != nil {
			return err
		}
		held = q.Owner == ob.o.Owner && q.LeaseUntil.Sub(ob.o.Clock.Now()) > ob.o.Lease/4
		return nil
	})
	return err == nil && held
}

var (
	errSuppressed = errors.New("contact opted out")
	errNotQueued  = errors.New("message is no longer queued")
	errNotTried   = errors.New("not tried: the outbox is stopping or the store cannot be read")
)

// attempt sends c's message, unless it is no longer queued or its contact
// opted out, and returns the provider's id for it. When an earlier attempt
// may have reached the provider (c.doubt), it first looks for the message
// in the provider's log, and returns found with the id it has there.
func (ob *Outbox) attempt(ctx context.Context, c claimed) (providerID string, found bool, err error) {
	m := c.m
	if err := ob.stillToSend(ctx, m); err != nil {
		return "", false, err
	}
	if m.Kind == engine.KindEmail {
		if ob.o.Mailer == nil {
			return "", false, &providers.SendError{Err: errors.New("email.smtp is not configured")}
		}
		if !c.doubt.IsZero() {
			// SMTP keeps no log to look in.
			if err := ob.awaitHolder(ctx, m); err != nil {
				return "", false, err
			}
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
		StatusCallback: callback, ContentSID: m.ContentSID, ContentVariables: m.ContentVariables, Template: m.Template,
		Choices: m.Choices,
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

// stillToSend checks, just before m is sent, that it is still queued (no
// other worker or process sent it) and that the contact of a reply or a
// staff answer, or the staff member of a forward, has not opted out since
// it was queued: nil, or why it is not sent.
func (ob *Outbox) stillToSend(ctx context.Context, m *engine.Message) error {
	queued, optedOut, err := ob.check(ctx, m)
	switch {
	case err != nil && ctx.Err() != nil:
		return errNotTried
	case err != nil && ob.o.Store.Healthy(ctx) != nil:
		// The store cannot be read now (the database gone): not tried, so
		// not an attempt; the send is claimed again once it can.
		return errNotTried
	case err != nil:
		return err
	case !queued:
		return errNotQueued
	case optedOut:
		return errSuppressed
	}
	return nil
}

// providerOf names the provider m goes through, as stored on messages.
func (ob *Outbox) providerOf(m *engine.Message) string {
	if ob.o.ProviderOf != nil {
		return ob.o.ProviderOf(m.Channel, m.From)
	}
	return ob.o.Provider
}
