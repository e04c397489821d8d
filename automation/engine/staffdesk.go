package engine

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"
)

// A staff member's plain answer (without #REF) goes to the one
// conversation it can mean. Only forwards handed to the provider count: a
// forward still queued (behind its sender's mps, or retrying) has not
// reached the staff member, who cannot be answering it. Of the
// conversations forwarded to them within StaffAnswerWindow, those in an
// open handoff with them or that they have not answered since are the
// candidates; with none, the most recent one forwarded is meant; with two
// or more, keyway guesses nothing and asks which.
//
// What was forwarded to a staff number is kept in its desk, the Meta value
// staff:<number>: each forward's reference and message id (the message's
// status says whether it was handed over), and when the staff member last
// answered each conversation.

// maxDeskForwards bounds the forwards a desk keeps; past it the oldest
// are dropped.
const maxDeskForwards = 500

// maxCandidatesListed is how many conversations an ambiguous answer lists.
const maxCandidatesListed = 5

// staffDesk is what keyway keeps of the forwards to one staff number.
type staffDesk struct {
	// Forwards are the forwards to the number within StaffAnswerWindow,
	// oldest first; of each conversation only the most recent one handed
	// over and those queued after it.
	Forwards []staffForward `json:"forwards,omitempty"`
	// Answered holds, by reference, when the staff member last answered
	// the conversation (or closed its handoff).
	Answered map[string]time.Time `json:"answered,omitempty"`
	// Ref and At are the one forward an older keyway kept per staff
	// number, read as handed over.
	Ref string    `json:"ref,omitempty"`
	At  time.Time `json:"at,omitzero"`
}

// staffForward is one forward of a conversation to a staff number (or,
// in the EmailDesk, by email to To).
type staffForward struct {
	Ref string    `json:"ref"`
	Msg string    `json:"msg"` // the forward's message id
	At  time.Time `json:"at"`  // when it was queued
	// To are the addresses of a forward by email.
	To []string `json:"to,omitempty"`
}

func readDesk(tx MetaStore, staff string) (*staffDesk, error) {
	var d staffDesk
	if _, err := getMeta(tx, staffKey(staff), &d); err != nil {
		return nil, err
	}
	return &d, nil
}

// handedOver reports whether the forward m was handed to the provider:
// sent (or recorded in dev mode), reported on by the provider, or queued
// with an attempt under way or of unknown outcome (Message.Sending: the
// provider has been asked, and may have it before its answer is recorded).
// Not while it waits in the outbox untried (behind its sender's mps, or
// for a retry after an answered error), nor when it failed or was
// suppressed.
func handedOver(m *Message) bool {
	switch {
	case m.ProviderID != "", m.Status == StatusSent, m.Status == StatusDev:
		return true
	case m.Status == StatusQueued:
		return !m.Sending.IsZero()
	case m.Status == StatusFailed, m.Status == StatusSuppressed:
		return false
	}
	return m.Status.Rank() > StatusSent.Rank()
}

// forwardHandedOver reads the forward with message id msg and reports
// whether it reached the provider. A forward no longer stored (pruned) is
// taken as handed over: it left the outbox long ago.
func forwardHandedOver(tx TurnTx, msg string) (bool, error) {
	m, err := tx.Message(msg)
	if isNotFound(err) {
		return true, nil
	}
	if err != nil {
		return false, fmt.Errorf("read forward %s: %w", msg, err)
	}
	return handedOver(m), nil
}

// noteForward records in the desk of staff that the forward with message
// id msg, of the conversation ref, was queued now (to the addresses to,
// for the EmailDesk).
func (t *turn) noteForward(staff, ref, msg string, to []string) error {
	d, err := readDesk(t.tx, staff)
	if err != nil {
		return err
	}
	// Of ref's earlier forwards keep the latest handed over and those
	// after it: the only ones an answer may still be judged by.
	last := -1
	for i := len(d.Forwards) - 1; i >= 0 && last < 0; i-- {
		if f := d.Forwards[i]; f.Ref == ref {
			ok, err := forwardHandedOver(t.tx, f.Msg)
			if err != nil {
				return err
			}
			if ok {
				last = i
			}
		}
	}
	kept := d.Forwards[:0]
	for i, f := range d.Forwards {
		if t.now.Sub(f.At) > StaffAnswerWindow || (f.Ref == ref && i < last) {
			continue
		}
		kept = append(kept, f)
	}
	d.Forwards = append(kept, staffForward{Ref: ref, Msg: msg, At: t.now, To: to})
	if n := len(d.Forwards) - maxDeskForwards; n > 0 {
		d.Forwards = d.Forwards[n:]
	}
	for r, at := range d.Answered {
		if t.now.Sub(at) > StaffAnswerWindow {
			delete(d.Answered, r)
		}
	}
	if d.Ref != "" && t.now.Sub(d.At) > StaffAnswerWindow {
		d.Ref, d.At = "", time.Time{}
	}
	return putMeta(t.tx, staffKey(staff), d)
}

// noteAnswered records in the desk of the turn's staff member that they
// answered the conversation ref now.
func (t *turn) noteAnswered(ref string) error {
	d, err := readDesk(t.tx, t.contact.Phone)
	if err != nil {
		return err
	}
	if d.Answered == nil {
		d.Answered = map[string]time.Time{}
	}
	d.Answered[ref] = t.now
	return putMeta(t.tx, staffKey(t.contact.Phone), d)
}

// candidate is a conversation a staff member's plain answer may mean.
type candidate struct {
	conv *Conversation
	at   time.Time // when its latest forward handed over was queued
	seq  int       // that forward's place in the desk: greater is more recent
}

// plainAnswerTarget finds the conversation a plain answer from the turn's
// staff member means: the one candidate, or the most recent conversation
// forwarded when none is. It returns the candidates instead when there
// are two or more (conv nil), and nothing when no forward handed over
// reached them within StaffAnswerWindow.
//
// With done, the answer is a bare "#done", which can only mean a
// conversation in an open handoff with them: those are the candidates,
// answered or not, and with none there is nothing. A handoff whose
// timeout has passed times out first (lapse), and is open no more.
func (t *turn) plainAnswerTarget(ctx context.Context, done bool) (*Conversation, []candidate, error) {
	staff := t.contact.Phone
	d, err := readDesk(t.tx, staff)
	if err != nil {
		return nil, nil, err
	}
	latest := map[string]candidate{}
	for i := len(d.Forwards) - 1; i >= 0; i-- {
		f := d.Forwards[i]
		if _, seen := latest[f.Ref]; seen || t.now.Sub(f.At) > StaffAnswerWindow {
			continue
		}
		ok, err := forwardHandedOver(t.tx, f.Msg)
		if err != nil {
			return nil, nil, err
		}
		if ok {
			latest[f.Ref] = candidate{at: f.At, seq: i}
		}
	}
	if _, seen := latest[d.Ref]; d.Ref != "" && !seen && t.now.Sub(d.At) <= StaffAnswerWindow {
		latest[d.Ref] = candidate{at: d.At, seq: -1}
	}
	var all, cands []candidate
	for ref, c := range latest {
		conv, err := conversation(t.tx, ref)
		if err != nil {
			return nil, nil, err
		}
		if conv == nil {
			continue
		}
		c.conv = conv
		all = append(all, c)
		open, err := t.handoffWith(ctx, conv, staff)
		if err != nil {
			return nil, nil, err
		}
		if answered, ok := d.Answered[ref]; open || (!done && (!ok || answered.Before(c.at))) {
			cands = append(cands, c)
		}
	}
	newestFirst := func(cs []candidate) {
		sort.Slice(cs, func(i, j int) bool { return cs[i].seq > cs[j].seq })
	}
	newestFirst(all)
	newestFirst(cands)
	switch {
	case len(cands) == 1:
		return cands[0].conv, nil, nil
	case len(cands) > 1:
		return nil, cands, nil
	case len(all) > 0 && !done:
		return all[0].conv, nil, nil
	}
	return nil, nil, nil
}

// handoffWith reports whether the contact of conv is in an open handoff of
// conv with staff. One whose timeout has passed, before the timer loop
// acted on it, times out now in the contact's turn, as its timer would
// have (lapse): a lapsed handoff is open no more.
func (t *turn) handoffWith(ctx context.Context, conv *Conversation, staff string) (bool, error) {
	ct, opened := t.x.turns[conv.Contact]
	var ens []*Enrollment
	var err error
	if opened {
		ens, err = ct.activeEnrollments()
	} else {
		ens, err = t.tx.ActiveEnrollments(conv.Contact)
	}
	if err != nil {
		return false, fmt.Errorf("enrollments of %s: %w", conv.Contact, err)
	}
	open, due := false, false
	for _, en := range ens {
		if handsOver(en, conv, staff) {
			open, due = true, due || lapsed(t, en)
		}
	}
	if !due {
		return open, nil
	}
	if ct, err = t.x.turn(conv.Contact); err != nil {
		return false, err
	}
	if err := t.e.lapse(ctx, ct); err != nil {
		return false, err
	}
	if ens, err = ct.activeEnrollments(); err != nil {
		return false, fmt.Errorf("enrollments of %s: %w", conv.Contact, err)
	}
	for _, en := range ens {
		if handsOver(en, conv, staff) {
			return true, nil
		}
	}
	return false, nil
}

// handsOver reports whether en is an open handoff of conv with staff.
func handsOver(en *Enrollment, conv *Conversation, staff string) bool {
	h := en.Handoff
	return en.Active() && en.Status == EnrollmentHandoff && h != nil && h.Ref == conv.Ref && slices.Contains(h.Staff, staff)
}

// whichConversation asks a staff member which of cands their answer is
// for: "Which conversation? Start your answer with #K7Q2 (Ann) or #P3XZ
// (+15551230002)." With done, cands are open handoffs that a bare
// "#done" could close.
func whichConversation(tx TurnTx, cands []candidate, done bool) (string, error) {
	var names []string
	for i, c := range cands {
		if i == maxCandidatesListed {
			break
		}
		who := c.conv.Contact
		ct, err := tx.Contact(c.conv.Contact)
		if err != nil && !isNotFound(err) {
			return "", fmt.Errorf("read contact %s: %w", c.conv.Contact, err)
		}
		if err == nil && ct.Name != "" {
			who = ct.Name
		}
		names = append(names, fmt.Sprintf("#%s (%s)", c.conv.Ref, who))
	}
	list := names[0]
	if len(names) > 1 {
		list = strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1]
	}
	more := ""
	if n := len(cands) - len(names); n > 0 {
		more = fmt.Sprintf(" (and %d more)", n)
	}
	if done {
		return fmt.Sprintf("Nothing closed: %d handoffs are open with you, %s%s. Say which, e.g. #%s done.", len(cands), list, more, cands[0].conv.Ref), nil
	}
	return fmt.Sprintf("Not sent: more than one conversation could be meant. Which conversation? Start your answer with %s%s.", list, more), nil
}
