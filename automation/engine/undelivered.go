package engine

import (
	"context"
	"fmt"
	"strings"
)

// A staff answer texted from a staff phone that cannot go at all is told
// to its staff member at once (tellStaff). One that goes to the provider
// and fails for good there (refused at the send, or reported undelivered
// later) is told when it does, so that the staff member does not believe
// the contact has it; so is one the outbox does not send because the
// contact opted out after it was queued. An answer from the dashboard's
// inbox shows its status there instead.
//
// Whatever a send that never reaches its recipient offered (buttons, a
// list, numbered choices) is forgotten when it fails, as when the
// provider refuses it: the recipient never saw those choices, so a number
// it types later answers none of them.

// UndeliveredIn acts on m, which has just failed for good (or was
// suppressed at the send: the contact opted out since it was queued),
// inside tx, the transaction that records the failure (as RefusedIn
// runs): the choices m offered are forgotten (undelivered), and the staff
// member who texted it, when it is a staff answer, is told that it did not
// reach the contact and why. A message that is neither is left alone. It
// returns what is to run once tx has committed.
func (e *Engine) UndeliveredIn(ctx context.Context, tx TurnTx, m *Message) (committed func(), err error) {
	if (m.Purpose != PurposeStaff || m.StaffText == "") && m.Choices.Empty() {
		return nil, nil
	}
	x := e.work(ctx, tx, nil)
	if err := e.undelivered(x, m); err != nil {
		return nil, fmt.Errorf("engine: message %s that failed: %w", m.ID, err)
	}
	if err := x.store(); err != nil {
		return nil, fmt.Errorf("engine: message %s that failed: %w", m.ID, err)
	}
	return x.committed, nil
}

// undelivered acts inside x on m, which will never reach its recipient:
// it forgets the choices m offered, and tells a staff answer's sender.
func (e *Engine) undelivered(x *unitOfWork, m *Message) error {
	if err := x.forgetOffer(m); err != nil {
		return err
	}
	return e.tellUndelivered(x, m)
}

// tellUndelivered queues, inside x, the note to the staff member who
// texted the failed answer m: "#K7Q2 not delivered: <why>.", from the
// number they wrote to, on the channel they wrote on.
func (e *Engine) tellUndelivered(x *unitOfWork, m *Message) error {
	if m.Purpose != PurposeStaff || m.StaffText == "" {
		return nil
	}
	text, err := x.tx.Message(m.StaffText)
	if isNotFound(err) {
		return nil // retention removed it: nobody to tell
	}
	if err != nil {
		return fmt.Errorf("read staff text %s: %w", m.StaffText, err)
	}
	t, err := x.turn(text.From)
	if err != nil {
		return err
	}
	why := m.Reason
	if m.Status == StatusSuppressed {
		why = whyOptedOut // the only reason the outbox holds a send back
	}
	if why == "" {
		why = m.Error
	}
	if why == "" {
		why = "the provider reported it " + string(m.Status)
	}
	if !strings.HasSuffix(why, ".") {
		why += "."
	}
	return e.tellStaff(t, text, fmt.Sprintf("#%s not delivered: %s", m.Ref, why))
}
