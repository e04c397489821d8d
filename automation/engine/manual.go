package engine

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/keyway-sms/keyway/config"
)

// StartResult says what a manual or scheduled start did.
type StartResult struct {
	Started []string `json:"started"`
	// Skipped maps a phone to why it was not enrolled: opted out, already
	// enrolled, left the group; or, in the admin API, a contact as given to
	// why it is no address.
	Skipped map[string]string `json:"skipped,omitempty"`
}

// StartBatch is how many contacts one transaction enrolls, so that big
// groups do not hold the writer for long.
const StartBatch = 100

// Start enrolls contacts (E.164 phones; created when new) in the automation
// with id, under its overwrite rule. A phone written "whatsapp:+E164" is
// reached on WhatsApp; otherwise on the channel the contact last wrote on,
// else SMS. Opted-out contacts are skipped: nothing reaches them from any
// path until they opt back in.
func (e *Engine) Start(ctx context.Context, id string, phones []string) (StartResult, error) {
	return e.start(ctx, id, phones, nil)
}

// StartVars is Start where each run begins with a copy of vars, which its
// templates and conditions see as {{ vars.X }} (the admin API's manual
// start with "vars").
func (e *Engine) StartVars(ctx context.Context, id string, phones []string, vars map[string]any) (StartResult, error) {
	return e.start(ctx, id, phones, vars)
}

// start is Start where each run begins with vars.
func (e *Engine) start(ctx context.Context, id string, phones []string, vars map[string]any) (StartResult, error) {
	res := StartResult{Skipped: map[string]string{}}
	set := e.Set()
	a := set.Automation(id)
	if a == nil {
		return res, fmt.Errorf("engine: start %q: %w", id, ErrNotFound)
	}
	if err := e.Refusal(ctx, a); err != nil {
		return res, fmt.Errorf("engine: start %q: %w", id, err)
	}
	for i := 0; i < len(phones); i += StartBatch {
		batch := phones[i:min(i+StartBatch, len(phones))]
		got, err := transactValue(ctx, e, set, func(x *unitOfWork) (StartResult, error) {
			got := StartResult{Skipped: map[string]string{}}
			if err := Refusal(x.tx, a); err != nil {
				return StartResult{}, err
			}
			for _, addr := range batch {
				phone, channel := SplitChannel(addr)
				t, err := x.turn(phone)
				if err != nil {
					return StartResult{}, err
				}
				if why := skipReason(t.contact, ""); why != "" {
					got.Skipped[phone] = why
					continue
				}
				ok, err := e.enroll(ctx, t, a, channel, nil, vars)
				if err != nil {
					return StartResult{}, err
				}
				if !ok {
					got.Skipped[phone] = "already enrolled"
					continue
				}
				got.Started = append(got.Started, phone)
			}
			return got, nil
		})
		if err != nil {
			return res, fmt.Errorf("engine: start %q: %w", id, err)
		}
		res.Started = append(res.Started, got.Started...)
		maps.Copy(res.Skipped, got.Skipped)
	}
	return res, nil
}

// SplitChannel reads an address that may name its channel, as Twilio
// writes WhatsApp numbers ("whatsapp:+15551234567"), into the phone and
// the channel ("" when none is named).
func SplitChannel(addr string) (phone, channel string) {
	if p, ok := strings.CutPrefix(addr, config.ChannelWhatsApp+":"); ok {
		return p, config.ChannelWhatsApp
	}
	return addr, ""
}

func skipReason(c *Contact, group string) string {
	switch {
	case c.OptedOut:
		return "opted out"
	case group != "" && slices.Contains(c.LeftGroups, group):
		return "unsubscribed from group " + group
	}
	return ""
}

// Cancel ends an active enrollment with reason. It returns the enrollment,
// or an error wrapping ErrNotFound.
func (e *Engine) Cancel(ctx context.Context, id, reason string) (*Enrollment, error) {
	out, err := transactValue(ctx, e, nil, func(x *unitOfWork) (*Enrollment, error) {
		en, err := x.enrollment(id)
		if err != nil {
			return nil, err
		}
		if !en.Active() {
			return en, nil
		}
		t, err := x.turn(en.Contact)
		if err != nil {
			return nil, err
		}
		t.adopt(en)
		return en, e.end(t, en, reason)
	})
	if err != nil {
		return nil, fmt.Errorf("engine: cancel enrollment %s: %w", id, err)
	}
	return out, nil
}

// Enroller is the engine's unit of work as the packages beside the engine
// (the scheduler) see it: the store transaction (Tx), and enrolling
// contacts under the engine's rules (Enroll). Engine.Transact and
// TransactValue hand it to their function.
type Enroller struct{ x *unitOfWork }

// Transact runs fn in one engine transaction under the running config:
// contacts stored before the commit, workers woken and trace events told
// after it. The store may run fn more than once: work that has a result
// uses TransactValue.
func (e *Engine) Transact(ctx context.Context, fn func(x Enroller) error) error {
	return e.transact(ctx, func(x *unitOfWork) error { return fn(Enroller{x}) })
}

// TransactValue is Transact for work that has a result: it returns what fn
// returned in the run that committed, so that nothing a run that was
// rolled back computed can leak out.
func TransactValue[T any](ctx context.Context, e *Engine, fn func(x Enroller) (T, error)) (T, error) {
	return transactValue(ctx, e, nil, func(x *unitOfWork) (T, error) { return fn(Enroller{x}) })
}

// Tx returns the store transaction.
func (x Enroller) Tx() TurnTx { return x.x.tx }

// Enroll enrolls the contact with phone (created when new) in a, on the
// channel it last wrote on, under a's overwrite rule, unless Start would
// skip it: opted out, or unsubscribed from group. It reports whether it
// started.
func (x Enroller) Enroll(ctx context.Context, phone string, a *Automation, group string) (bool, error) {
	t, err := x.x.turn(phone)
	if err != nil {
		return false, err
	}
	if skipReason(t.contact, group) != "" {
		return false, nil
	}
	return x.x.e.enroll(ctx, t, a, "", nil, nil)
}

// Reasons a broadcast skips a contact, as EnrollFor returns them.
const (
	SkipOptedOut        = "opted_out"
	SkipLeftGroup       = "left_group"
	SkipInvalid         = "invalid"
	SkipAlreadyEnrolled = "already_enrolled"
)

// EnrollFor enrolls the contact at addr (a phone, or "whatsapp:+E164" to
// reach it on WhatsApp; created when new) in a for broadcast, with vars as
// the run's first {{ vars }}, under a's overwrite rule. It returns why it
// did not (SkipOptedOut, SkipLeftGroup when it unsubscribed from group,
// SkipAlreadyEnrolled), or "" when it started. Its sends follow every rule
// of a send that answers nothing: quiet hours, the loop guard, the WhatsApp
// window.
func (x Enroller) EnrollFor(ctx context.Context, addr string, a *Automation, group string, vars map[string]any, broadcast string) (string, error) {
	phone, channel := SplitChannel(addr)
	t, err := x.x.turn(phone)
	if err != nil {
		return "", err
	}
	switch {
	case t.contact.OptedOut:
		return SkipOptedOut, nil
	case group != "" && slices.Contains(t.contact.LeftGroups, group):
		return SkipLeftGroup, nil
	}
	ok, err := x.x.e.enrollFor(ctx, t, a, channel, nil, vars, broadcast)
	if err != nil || ok {
		return "", err
	}
	return SkipAlreadyEnrolled, nil
}

// End ends the enrollment with id, if it is still active, with reason, as
// Engine.Cancel does, in the transaction; it reports whether it ended it.
// It returns an error wrapping ErrNotFound when no such enrollment is
// stored.
func (x Enroller) End(id, reason string) (bool, error) {
	en, err := x.x.enrollment(id)
	if err != nil {
		return false, fmt.Errorf("engine: end enrollment %s: %w", id, err)
	}
	if !en.Active() {
		return false, nil
	}
	t, err := x.x.turn(en.Contact)
	if err != nil {
		return false, err
	}
	t.adopt(en)
	if err := x.x.e.end(t, en, reason); err != nil {
		return false, fmt.Errorf("engine: end enrollment %s: %w", id, err)
	}
	return true, nil
}

// Now is the time the transaction acts at.
func (x Enroller) Now() time.Time { return x.x.now }

// NewID returns a new id that sorts by creation time, as the engine's
// messages and enrollments have.
func (e *Engine) NewID() string { return e.ids.next(e.clock.Now()) }
