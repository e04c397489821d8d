package engine

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"sort"
	"time"
)

// The dashboard's inbox is where staff work without a phone: the
// conversations forwarded to staff lately and the open handoffs, and an
// answer box that sends the way a staff member's "#REF text" does
// (answerConversation), with the reason shown when it cannot go.

// InboxWindow is how far back the inbox lists conversations forwarded to
// staff: as long as a staff member's plain answer may mean one.
const InboxWindow = StaffAnswerWindow

// inboxScan is how many of a conversation's latest messages the inbox
// reads to tell whether staff answered it and what was said last.
const inboxScan = 50

// inboxGlance is how many of them it reads first: the page is polled
// every few seconds, and the latest few messages usually tell already.
const inboxGlance = 8

// InboxEntry is one conversation in the inbox.
type InboxEntry struct {
	// Ref is the conversation's reference (without "#").
	Ref     string `json:"ref"`
	Contact string `json:"contact"`
	// Channel is the channel an answer goes on: where the contact last
	// wrote.
	Channel string `json:"channel"`
	// Staff are the staff numbers it was forwarded or handed to, and the
	// addresses it was forwarded to by email.
	Staff []string `json:"staff"`
	// Forwarded is when it was last forwarded to staff (zero when only an
	// open handoff lists it).
	Forwarded time.Time `json:"forwarded,omitzero"`
	// Handoff is its open handoff, nil when none is open.
	Handoff *OpenHandoff `json:"handoff,omitempty"`
	// Activity is when its latest message, either way, was stored.
	Activity time.Time `json:"activity"`
	// Last is its latest message to or from the contact (not a forward).
	Last *Message `json:"last,omitempty"`
	// Unanswered is set when no staff answer went out since the latest
	// forward.
	Unanswered bool `json:"unanswered"`
}

// inboxTx is what the inbox reads.
type inboxTx interface {
	MetaStore
	EnrollmentLister
	Messages(contact string, limit int) ([]*Message, error)
}

// Inbox lists every open handoff and every conversation forwarded to staff
// within InboxWindow, the most recent activity first.
func (e *Engine) Inbox(ctx context.Context) ([]InboxEntry, error) {
	var out []InboxEntry
	set, now := e.Set(), e.clock.Now()
	err := e.store.View(ctx, func(tx Tx) error {
		var err error
		out, err = inbox(tx, set, now)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("engine: inbox: %w", err)
	}
	return out, nil
}

func inbox(tx inboxTx, set *Set, now time.Time) ([]InboxEntry, error) {
	byContact := map[string]*InboxEntry{}
	convs := map[string]*Conversation{} // by reference: a desk lists a conversation's forwards one by one
	lookup := func(ref string) (*Conversation, error) {
		if conv, ok := convs[ref]; ok {
			return conv, nil
		}
		conv, err := conversation(tx, ref)
		convs[ref] = conv
		return conv, err
	}
	entry := func(conv *Conversation) *InboxEntry {
		en := byContact[conv.Contact]
		if en == nil {
			en = &InboxEntry{Ref: conv.Ref, Contact: conv.Contact, Channel: conv.Channel}
			byContact[conv.Contact] = en
		}
		return en
	}
	for _, staff := range append(set.StaffNumbers(), EmailDesk) {
		d, err := readDesk(tx, staff)
		if err != nil {
			return nil, err
		}
		fwds := d.Forwards
		if d.Ref != "" {
			fwds = append(fwds, staffForward{Ref: d.Ref, At: d.At})
		}
		for _, f := range fwds {
			if now.Sub(f.At) > InboxWindow {
				continue
			}
			conv, err := lookup(f.Ref)
			if err != nil {
				return nil, err
			}
			if conv == nil {
				continue
			}
			en := entry(conv)
			if f.At.After(en.Forwarded) {
				en.Forwarded = f.At
			}
			to := []string{staff}
			if staff == EmailDesk {
				to = f.To
			}
			for _, s := range to {
				if !slices.Contains(en.Staff, s) {
					en.Staff = append(en.Staff, s)
				}
			}
		}
	}
	handoffs, err := OpenHandoffs(tx)
	if err != nil {
		return nil, err
	}
	for _, h := range handoffs {
		conv, err := lookup(h.Ref)
		if err != nil {
			return nil, err
		}
		if conv == nil || conv.Contact != h.Contact {
			conv = &Conversation{Ref: h.Ref, Contact: h.Contact}
		}
		en := entry(conv)
		if en.Handoff == nil {
			en.Handoff = &h
		}
		for _, s := range h.Staff {
			if !slices.Contains(en.Staff, s) {
				en.Staff = append(en.Staff, s)
			}
		}
	}
	out := make([]InboxEntry, 0, len(byContact))
	for _, en := range byContact {
		if err := en.readMessages(tx); err != nil {
			return nil, err
		}
		out = append(out, *en)
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].Activity.Equal(out[j].Activity) {
			return out[i].Activity.After(out[j].Activity)
		}
		return out[i].Contact < out[j].Contact
	})
	return out, nil
}

// readMessages fills in the entry's activity, last message and whether
// staff answered since the latest forward, from its latest messages: the
// first inboxGlance, and up to inboxScan when those do not tell.
func (en *InboxEntry) readMessages(tx inboxTx) error {
	msgs, err := tx.Messages(en.Contact, inboxGlance)
	if err == nil && len(msgs) == inboxGlance {
		if last, _, decided := scanMessages(msgs); last == nil || !decided {
			msgs, err = tx.Messages(en.Contact, inboxScan)
		}
	}
	if err != nil {
		return fmt.Errorf("messages of %s: %w", en.Contact, err)
	}
	if en.Handoff != nil {
		en.Activity = en.Handoff.Since
	}
	if en.Forwarded.After(en.Activity) {
		en.Activity = en.Forwarded
	}
	if len(msgs) > 0 && msgs[0].CreatedAt.After(en.Activity) {
		en.Activity = msgs[0].CreatedAt
	}
	last, unanswered, decided := scanMessages(msgs)
	if last != nil {
		en.Last = last
		if last.Direction == Inbound && last.Channel != "" {
			en.Channel = last.Channel
		}
	}
	en.Unanswered = unanswered
	// A handoff whose forwards are all older than the messages read is
	// waiting for staff all the same when nobody answered in them.
	if !decided && en.Handoff != nil {
		en.Unanswered = true
	}
	return nil
}

// scanMessages reads a conversation's messages, the latest first: last is
// the latest one to or from the contact (not a forward); decided says
// whether a forward or a staff answer is among them, and unanswered
// whether the latest of those is a forward.
func scanMessages(msgs []*Message) (last *Message, unanswered, decided bool) {
	for _, m := range msgs {
		forward := m.Direction == Outbound && m.Purpose == PurposeForward
		if last == nil && !forward {
			last = m
		}
		if !decided {
			switch {
			case m.Direction == Outbound && m.Purpose == PurposeStaff && !m.Status.Failed() && m.Status != StatusSuppressed:
				decided = true
			case forward:
				unanswered, decided = true, true
			}
		}
		if decided && last != nil {
			break
		}
	}
	return last, unanswered, decided
}

// StaffNumbers returns every staff number, in order.
func (s *Set) StaffNumbers() []string {
	out := make([]string, 0, len(s.staff))
	for n := range s.staff {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// Delivery says what became of a message a person sent from the
// dashboard: the message queued, or why it was not sent.
type Delivery struct {
	// Ref is the conversation's reference, for an answer.
	Ref string `json:"ref,omitempty"`
	// Message is the id of the queued message; empty when none was.
	Message string `json:"message,omitempty"`
	// NotSent says why nothing was sent, e.g. "the contact opted out".
	NotSent string `json:"not_sent,omitempty"`
}

// contactConversation returns the conversation of the contact with phone,
// nil when it never had one.
func contactConversation(tx MetaStore, phone string) (*Conversation, error) {
	var ref string
	if _, err := getMeta(tx, convRefKey(phone), &ref); err != nil || ref == "" {
		return nil, err
	}
	conv, err := conversation(tx, ref)
	if err != nil || conv == nil || conv.Contact != phone {
		return nil, err
	}
	return conv, nil
}

// Answer sends text to the contact with phone as a staff answer to its
// conversation, exactly as "#REF text" from a staff number would go (the
// same number, channel, opt-out and WhatsApp window rules; an open
// handoff hears of it), recording as its sender the person ctx names
// (WithActor). It returns why nothing was sent when it cannot go.
func (e *Engine) Answer(ctx context.Context, phone, text string) (Delivery, error) {
	out, err := transactValue(ctx, e, nil, func(x *unitOfWork) (Delivery, error) {
		conv, err := contactConversation(x.tx, phone)
		if err != nil {
			return Delivery{}, err
		}
		if conv == nil {
			return Delivery{NotSent: "no conversation with this contact was forwarded to staff"}, nil
		}
		if text == "" {
			return Delivery{Ref: conv.Ref, NotSent: "nothing to send: write the answer first"}, nil
		}
		m, why, err := e.answerConversation(ctx, x, conv, staffAnswer{text: text, who: x.dashboardActor()})
		if err != nil || why != "" {
			return Delivery{Ref: conv.Ref, NotSent: why}, err
		}
		return Delivery{Ref: conv.Ref, Message: m.ID}, nil
	})
	if err != nil {
		return Delivery{}, fmt.Errorf("engine: answer %s: %w", phone, err)
	}
	return out, nil
}

// CloseHandoff closes the open handoff of the contact with phone, as
// "#done" from a staff number does, for the person ctx names. It reports
// whether one was open.
func (e *Engine) CloseHandoff(ctx context.Context, phone string) (bool, error) {
	closed, err := transactValue(ctx, e, nil, func(x *unitOfWork) (bool, error) {
		conv, err := contactConversation(x.tx, phone)
		if err != nil || conv == nil {
			return false, err
		}
		return e.closeHandoff(ctx, x, conv, x.dashboardActor())
	})
	if err != nil {
		return false, fmt.Errorf("engine: close the handoff of %s: %w", phone, err)
	}
	return closed, nil
}

// dashboardActor is the person the unit of work acts for (WithActor), as
// an answer or a close from the dashboard names them.
func (x *unitOfWork) dashboardActor() staffActor {
	return staffActor{label: "dashboard user " + cmp.Or(x.by, "(unnamed)"), user: x.by}
}
