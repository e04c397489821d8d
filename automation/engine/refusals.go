package engine

import (
	"context"
	"fmt"
	"time"
)

// CloseWindow records that the provider refused a free-form message to
// phone on channel as outside the WhatsApp 24-hour window (it knows better
// than keyway when the contact last wrote): the window counts as closed
// until the contact writes again, so that what is sent next takes the
// window's path (its template, or on_error).
func (e *Engine) CloseWindow(ctx context.Context, phone, channel string) error {
	err := e.transact(ctx, func(x *unitOfWork) error {
		t, err := x.turn(phone)
		if err != nil {
			return err
		}
		delete(t.contact.LastInbound, channel)
		return nil
	})
	if err != nil {
		return fmt.Errorf("engine: close the window of a contact: %w", err)
	}
	return nil
}

// StopMarketing records that the provider refused a message to phone
// because the contact stopped messages that do not answer its own:
// automated messages that do not answer a message it has just sent are
// suppressed from now on (Contact.NoMarketing), until it sends an opt-in
// word.
func (e *Engine) StopMarketing(ctx context.Context, phone string) error {
	err := e.transact(ctx, func(x *unitOfWork) error {
		t, err := x.turn(phone)
		if err != nil {
			return err
		}
		t.contact.NoMarketing = true
		return nil
	})
	if err != nil {
		return fmt.Errorf("engine: stop messages that are not answers to a contact: %w", err)
	}
	return nil
}

// SendRefusal is what a provider's refusal of an outbound message says of
// its recipient, for RefusedIn.
type SendRefusal int

const (
	// RefusalOptedOut is a recipient who opted out at the provider: it is
	// opted out everywhere, as STOP does but without a reply.
	RefusalOptedOut SendRefusal = iota + 1
	// RefusalMarketingOptOut is a recipient who stopped messages that do
	// not answer its own (as StopMarketing records).
	RefusalMarketingOptOut
	// RefusalOutsideWindow is a message outside the WhatsApp 24-hour
	// window: the recipient's window on the message's channel is closed
	// (as CloseWindow does) and the step that queued the message takes its
	// window path.
	RefusalOutsideWindow
)

// optedOutAtProvider is the reason an opt-out the provider reported
// ends enrollments with.
const optedOutAtProvider = "the provider refused a message: the contact opted out there"

// RefusedOutsideWindow acts on the provider's refusal of the outbound
// message with id as outside the WhatsApp 24-hour window, once it is
// recorded failed, in a transaction of its own: as RefusedIn does with
// RefusalOutsideWindow. A message no step queued (a staff answer, a
// one-off send) only closes the window.
func (e *Engine) RefusedOutsideWindow(ctx context.Context, id string) error {
	err := e.transact(ctx, func(x *unitOfWork) error {
		m, err := x.tx.Message(id)
		if err != nil {
			return fmt.Errorf("read message %s: %w", id, err)
		}
		return e.refused(ctx, x, m, RefusalOutsideWindow)
	})
	if err != nil {
		return fmt.Errorf("engine: a message refused as outside the WhatsApp window: %w", err)
	}
	return nil
}

// RefusedIn acts, inside tx, on the provider's refusal r of the outbound
// message m, as tx records it failed: the outbox calls it in the
// transaction that records the send's result, so that the refusal and
// what it causes commit together, or neither does (a process that
// crashed between two commits would keep the failed send, never tried
// again, and lose what it causes). An opted-out recipient is opted out
// everywhere and a marketing opt-out stops what does not answer it,
// unless m is a forward (the staff member refused it, not the customer
// it is about); outside the window closes the recipient's window on m's
// channel and takes the window path of the step that queued m
// (windowPath; a message no step queued only closes the window). It
// returns what is to run once tx has committed (wake the workers, tell
// the tracer, start step I/O), and nothing of that must run if it does
// not. tx may run this more than once (group commit, a retry after a
// conflict): only the committed function of the run that committed
// counts.
func (e *Engine) RefusedIn(ctx context.Context, tx TurnTx, m *Message, r SendRefusal) (committed func(), err error) {
	x := e.work(ctx, tx, nil)
	if err := e.refused(ctx, x, m, r); err != nil {
		return nil, fmt.Errorf("engine: message %s the provider refused: %w", m.ID, err)
	}
	if err := x.store(); err != nil {
		return nil, fmt.Errorf("engine: message %s the provider refused: %w", m.ID, err)
	}
	return x.committed, nil
}

// refused acts inside x on the provider's refusal r of the outbound
// message m (see RefusedIn).
func (e *Engine) refused(ctx context.Context, x *unitOfWork, m *Message, r SendRefusal) error {
	forward := m.Purpose == PurposeForward
	if len(m.To) != 1 || (forward && r != RefusalOutsideWindow) {
		return nil
	}
	t, err := x.turn(m.To[0])
	if err != nil {
		return err
	}
	forget(t.contact, m)
	switch r {
	case RefusalOptedOut:
		return e.optOutContact(t, optedOutAtProvider, messageIDs(m))
	case RefusalMarketingOptOut:
		t.contact.NoMarketing = true
		return nil
	case RefusalOutsideWindow:
		delete(t.contact.LastInbound, m.Channel)
		return e.windowPath(ctx, x, m)
	}
	return fmt.Errorf("refusal %d: unknown", r)
}

// windowPath takes, inside x, the window path of the step that queued m,
// now that the provider refused m as outside the WhatsApp window: what the
// step would have done had keyway seen the window closed when it ran (see
// WindowRefuser). A template the step has goes in m's place whether or
// not its enrollment is still active. Otherwise an active enrollment
// leaves where it stands for the step's on_error and runs from there, or
// ends with ReasonOutsideWindow; an ended one stays ended, and a paused
// automation's enrollment stays where it is. The copies of one run of a
// step (a forward to several staff) take that path once.
func (e *Engine) windowPath(ctx context.Context, x *unitOfWork, m *Message) error {
	if m.Enrollment == "" || m.Step == "" || m.Direction != Outbound {
		return nil
	}
	en, err := x.enrollment(m.Enrollment)
	if isNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read enrollment %s: %w", m.Enrollment, err)
	}
	a := x.set.Automation(en.Automation)
	if a == nil {
		return nil
	}
	st, ok := a.step(m.Step, "")
	if !ok {
		return nil
	}
	wr, ok := st.Step.(WindowRefuser)
	if !ok {
		return nil
	}
	t, err := x.turn(en.Contact)
	if err != nil {
		return err
	}
	if en.Active() {
		t.adopt(en)
	}
	r := t.run(a, en)
	r.Step = st
	if m.Answers != "" {
		in, err := x.tx.Message(m.Answers)
		switch {
		case err == nil:
			r.Message = in
		case !isNotFound(err):
			return fmt.Errorf("read message %s: %w", m.Answers, err)
		}
	}
	if en.Channel != m.Channel {
		// The conversation has moved since (an answer on another channel):
		// what goes in m's place goes on m's channel.
		on := *en
		on.Channel = m.Channel
		r.Enrollment = &on
	}
	out, err := wr.Refused(ctx, r, m)
	if err != nil {
		return fmt.Errorf("automation %q step %s (%s): refused outside the window: %w", a.ID, st.Key, st.Type, err)
	}
	r.Enrollment = en
	if out.kind == outcomeContinue || !en.Active() {
		return nil
	}
	run := m.Step + "@" + m.CreatedAt.UTC().Format(time.RFC3339Nano)
	if en.Refused == run {
		return nil
	}
	if on, err := t.runs(a); err != nil || !on {
		return err
	}
	if err := t.clearTimer(en); err != nil {
		return err
	}
	if en.Status == EnrollmentHandoff {
		d := handoffData(en)
		d["closed_by"], d["reason"] = "end", ReasonOutsideWindow
		if err := x.event(EventHandoffClosed, en.Contact, d); err != nil {
			return err
		}
	}
	en.Refused = run
	en.Epoch++ // a timer or step I/O of where it stood is stale now
	en.Step, en.StepType, en.Status = st.Key, st.Type, EnrollmentRunning
	en.Held, en.Answering = "", false
	t.put(en)
	next, done, err := e.follow(r, st, out)
	if done || err != nil {
		return err
	}
	return e.stepFrom(ctx, r, next)
}
