package engine

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/keyway-sms/keyway/providers"
)

// Rank orders delivery statuses so that a late report never moves a
// message back: a "sent" arriving after "delivered" ranks lower. A status
// it does not know ranks 0.
func (s MessageStatus) Rank() int { return statusRank[s] }

// Statuses are the statuses keyway records on messages: its own, and the
// delivery statuses of providers' reports that Rank orders (a report of
// any other status does not move a message that went out), as the
// message log lists them.
func Statuses() []MessageStatus {
	return []MessageStatus{StatusReceived, StatusQueued, "accepted", "scheduled", "sending", StatusSent,
		"delivered", "read", "undelivered", StatusFailed, StatusSuppressed, StatusDev}
}

// Recorded reports whether s is one of Statuses.
func (s MessageStatus) Recorded() bool { return slices.Contains(Statuses(), s) }

// statusRank orders delivery statuses so that a late callback never
// moves a message back (a "sent" arriving after "delivered").
var statusRank = map[MessageStatus]int{
	StatusQueued: 1, "accepted": 1, "scheduled": 1, "sending": 2, StatusSent: 3,
	"delivered": 4, "read": 5, "undelivered": 4, StatusFailed: 4,
}

// UpdateStatus records a provider's delivery status report on the outbound
// message it is about: the message with keyway's id msgID when given (the
// status callback URL carries it, so a report that overtakes the send's
// own record still lands), else the one with the provider's id. It
// reports false when no such message is stored. A report that the
// recipient opted out at the provider (Status.OptedOut) opts that contact
// out everywhere; one of a marketing opt-out or of the WhatsApp window
// acts as the same refusal of a send does (see applyRefusal).
func (e *Engine) UpdateStatus(ctx context.Context, provider string, s providers.Status, msgID string) (bool, error) {
	if msgID != "" {
		s.MessageID = msgID
	}
	r, err := e.HandleBatch(ctx, provider, providers.Batch{Statuses: []providers.Status{s}})
	if err != nil {
		return false, err
	}
	return r.Found[0], nil
}

// updateStatus records status report s of provider inside transaction x
// and reports whether its message is stored.
func (e *Engine) updateStatus(ctx context.Context, x *unitOfWork, provider string, s providers.Status) (bool, error) {
	m, err := e.statusMessage(x.tx, provider, s.ProviderID, s.MessageID)
	if isNotFound(err) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return true, e.applyStatus(ctx, x, provider, s, m)
}

// applyStatus records the status report s on m, the message it is about,
// inside x. The first report of m failing as outside the WhatsApp window
// also takes the window path of the step that queued m (windowPath).
func (e *Engine) applyStatus(ctx context.Context, x *unitOfWork, provider string, s providers.Status, m *Message) error {
	if slices.Contains(m.Dropped, s.ProviderID) {
		// About an attempt the provider dropped, and m went again since.
		return nil
	}
	if m.ProviderID == "" {
		m.Provider, m.ProviderID = provider, s.ProviderID
	}
	status := MessageStatus(s.Status)
	if status.Rank() < m.Status.Rank() {
		return nil
	}
	failedBefore := m.Status.Failed()
	if s.Throttled && status.Failed() && !failedBefore && e.retryDropped != nil {
		if m.Status.Rank() < StatusSent.Rank() {
			// The report overtook the record of the attempt it is about:
			// the outbox sends m again when it records it (Dropped).
			return dropped(x, m, s, time.Time{})
		}
		if at, ok := e.retryDropped(m); ok {
			return dropped(x, m, s, at)
		}
	}
	m.Status, m.UpdatedAt = status, x.now
	switch {
	case s.ErrorCode != 0:
		reportedError(m, s)
	case status.Failed() && !failedBefore && m.Error == "":
		// A failure reported with no code: the message says so, as its
		// message.failed event does.
		m.Error = "the provider reported it " + string(status)
	}
	if err := x.tx.PutMessage(m); err != nil {
		return err
	}
	if status.Failed() && !failedBefore && failedEventOf(m) {
		if err := x.event(EventMessageFailed, m.Contact, messageData(m)); err != nil {
			return err
		}
	}
	if status.Failed() && !failedBefore {
		if err := e.undelivered(x, m); err != nil {
			return err
		}
	}
	if err := e.applyRefusal(x, s, m); err != nil {
		return err
	}
	if s.OutsideWindow && status.Failed() && !failedBefore {
		return e.windowPath(ctx, x, m)
	}
	return nil
}

// dropped records inside x that the provider dropped, for its rate
// limits, the attempt at m that report s is about: the attempt's provider
// id goes into m.Dropped, so that a later report on it changes nothing.
// When the send was settled (m was recorded sent, or further), m goes back
// to the end of its recipients' queue, to be sent again at again. When the
// report overtook the record of the attempt (again is zero: m is still
// queued, its send under way), the outbox, recording a send whose id is in
// m.Dropped, keeps m queued to send it again after its backoff instead of
// settling it.
func dropped(x *unitOfWork, m *Message, s providers.Status, again time.Time) error {
	if m.ProviderID != "" {
		m.Dropped = append(m.Dropped, m.ProviderID)
	}
	m.ProviderID, m.UpdatedAt = "", x.now
	reportedError(m, s)
	if again.IsZero() {
		return x.tx.PutMessage(m)
	}
	m.Status, m.NextAttempt = StatusQueued, again
	if err := x.tx.PutMessage(m); err != nil {
		return err
	}
	x.wake = true
	return x.tx.Enqueue(m)
}

// reportedError records on m the error that status report s gives.
func reportedError(m *Message, s providers.Status) {
	m.ErrorCode, m.Error, m.Reason = s.ErrorCode, s.ErrorMessage, ""
	if m.Error == "" {
		m.Error = fmt.Sprintf("provider error %d", s.ErrorCode)
	}
}

// applyRefusal acts inside x on what a status report s says of its
// recipient, as the outbox does for a send refused so: opted out at the
// provider opts the contact out everywhere; a marketing opt-out stops
// what is not an answer to it; outside the WhatsApp window closes the
// recipient's window, unless it wrote since m was queued. An opt-out on a
// forward opts out nobody: the staff member refused it, not the customer.
func (e *Engine) applyRefusal(x *unitOfWork, s providers.Status, m *Message) error {
	forward := m.Purpose == PurposeForward
	if act := s.OutsideWindow || (!forward && (s.OptedOut || s.MarketingOptOut)); !act || len(m.To) != 1 {
		return nil
	}
	t, err := x.turn(m.To[0])
	if err != nil {
		return err
	}
	forget(t.contact, m)
	if s.OutsideWindow {
		if last, ok := t.contact.LastInbound[m.Channel]; ok && !last.After(m.CreatedAt) {
			delete(t.contact.LastInbound, m.Channel)
		}
	}
	switch {
	case forward:
	case s.OptedOut:
		return e.optOutContact(t, "the provider reported the contact opted out", messageIDs(m))
	case s.MarketingOptOut:
		t.contact.NoMarketing = true
	}
	return nil
}

// statusMessage finds the outbound message a status report is about.
func (e *Engine) statusMessage(tx TurnTx, provider, providerID, msgID string) (*Message, error) {
	if msgID != "" {
		m, err := tx.Message(msgID)
		if err == nil && m.Direction == Outbound && (m.ProviderID == "" || m.ProviderID == providerID) {
			return m, nil
		}
		if err != nil && !isNotFound(err) {
			return nil, err
		}
	}
	m, err := tx.MessageByProviderID(provider, providerID)
	if err == nil && m.Direction != Outbound {
		// A status is about a message keyway sent, never one it received.
		return nil, fmt.Errorf("engine: status of %s %s: %w", provider, providerID, ErrNotFound)
	}
	return m, err
}

// OptOut opts the contact with phone out everywhere, as STOP does but
// without a reply, ending its enrollments with reason, in a transaction of
// its own. (The outbox's record of a send refused as opted out does the
// same in its own transaction: RefusedIn.)
func (e *Engine) OptOut(ctx context.Context, phone, reason string) error {
	err := e.transact(ctx, func(x *unitOfWork) error {
		t, err := x.turn(phone)
		if err != nil {
			return err
		}
		return e.optOutContact(t, reason, nil)
	})
	if err != nil {
		return fmt.Errorf("engine: opt out: %w", err)
	}
	return nil
}
