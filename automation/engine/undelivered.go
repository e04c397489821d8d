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

// UndeliveredIn tells the staff member who texted the staff answer m,
// which has just failed for good (or was suppressed at the send: the
// contact opted out since it was queued), that it did not reach the
// contact and why, inside tx, the transaction that records the failure
// (as RefusedIn runs). A message that is no answer texted by staff is
// left alone. It returns what is to run once tx has committed.
func (e *Engine) UndeliveredIn(ctx context.Context, tx TurnTx, m *Message) (committed func(), err error) {
	if m.Purpose != PurposeStaff || m.StaffText == "" {
		return nil, nil
	}
	x := e.work(ctx, tx, nil)
	if err := e.tellUndelivered(x, m); err != nil {
		return nil, fmt.Errorf("engine: tell staff that answer %s failed: %w", m.ID, err)
	}
	if err := x.store(); err != nil {
		return nil, fmt.Errorf("engine: tell staff that answer %s failed: %w", m.ID, err)
	}
	return x.committed, nil
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
