package engine

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/keyway-sms/keyway/config"
)

// turn is the handling of one inbound message, timer or start for one
// contact, inside one unit of work (unitOfWork). Every run in the turn
// shares its contact and enrollments, so chained automations see each
// other's changes. Turns are opened by unitOfWork.turn and their contacts
// stored by Engine.transact.
type turn struct {
	e       *Engine
	x       *unitOfWork
	tx      TurnTx
	set     *Set
	now     time.Time
	contact *Contact
	// enrollments caches the contact's enrollments touched in this turn,
	// by automation id.
	enrollments map[string]*Enrollment
	loaded      bool // all active enrollments are in the cache
	// changed holds the enrollments put in this turn, in the order first
	// put, and changedByID finds them by id: each is stored once, as it
	// stands when the transaction ends (flush), however often the turn
	// moved it (a one-step automation starts and ends in one turn).
	changed     []*Enrollment
	changedByID map[string]int
	steps       int
	// answering is set while the turn handles a message the contact has
	// just sent: what it sends answers it and is never held for quiet hours.
	answering bool
	// forwarding holds, by staff number, the conversation reference that
	// Run.Reference gave for a forward to them: the forwards queued to
	// them are noted in their desk as forwards of it.
	forwarding map[string]string
	// offered is the offer the contact's record held before the turn's
	// message was read against it (pick): a compliance word gives it back.
	offered *Offer
}

// emit reports a trace event, told once the turn's transaction commits.
func (t *turn) emit(ev TraceEvent) {
	if t.tracing() {
		*t.x.events = append(*t.x.events, ev)
	}
}

// tracing reports whether anybody is told the turn's trace events.
func (t *turn) tracing() bool { return t.x.events != nil }

// wake notes that the turn queued an outbound message, so that the
// outbox is woken once the transaction commits.
func (t *turn) wake() { t.x.wake = true }

func (t *turn) run(a *Automation, en *Enrollment) *Run {
	return &Run{RunView: RunView{Now: t.now, Set: t.set, Automation: a, Enrollment: en, Contact: t.contact}, t: t}
}

// activeEnrollment returns the contact's active enrollment in automation.
func (t *turn) activeEnrollment(automation string) (*Enrollment, error) {
	if en, ok := t.enrollments[automation]; ok && en.Active() {
		return en, nil
	}
	if t.loaded {
		return nil, nil
	}
	en, err := t.tx.ActiveEnrollment(t.contact.Phone, automation)
	if isNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if en = t.latest(en); !en.Active() {
		return nil, nil // ended in this turn, not yet stored
	}
	t.enrollments[automation] = en
	return en, nil
}

// latest returns the turn's own value of en if the turn has changed it:
// what the store holds is the value before the turn.
func (t *turn) latest(en *Enrollment) *Enrollment {
	if i, ok := t.changedByID[en.ID]; ok {
		return t.changed[i]
	}
	return en
}

// activeEnrollments returns all the contact's active enrollments.
func (t *turn) activeEnrollments() ([]*Enrollment, error) {
	if !t.loaded {
		ens, err := t.tx.ActiveEnrollments(t.contact.Phone)
		if err != nil {
			return nil, err
		}
		for _, en := range ens {
			if en = t.latest(en); !en.Active() {
				continue
			}
			if cached, ok := t.enrollments[en.Automation]; !ok || !cached.Active() {
				t.enrollments[en.Automation] = en
			}
		}
		t.loaded = true
	}
	var out []*Enrollment
	for _, en := range t.enrollments {
		if en.Active() {
			out = append(out, en)
		}
	}
	return out, nil
}

// put keeps the changed enrollment in the cache and notes it to be stored
// when the transaction ends (flush).
func (t *turn) put(en *Enrollment) {
	en.UpdatedAt = t.now
	if cached, ok := t.enrollments[en.Automation]; !ok || en.Active() || cached == en {
		t.enrollments[en.Automation] = en
	}
	if i, ok := t.changedByID[en.ID]; ok {
		t.changed[i] = en
		return
	}
	if t.changedByID == nil {
		t.changedByID = map[string]int{}
	}
	t.changedByID[en.ID] = len(t.changed)
	t.changed = append(t.changed, en)
}

// flush stores the enrollments the turn changed, each once, in the order
// they were first put: an enrollment ended to make way for a new one in
// the same automation is stored before it, so the active index ends up
// with the new one.
func (t *turn) flush() error {
	for _, en := range t.changed {
		if err := t.tx.PutEnrollment(en); err != nil {
			return fmt.Errorf("store enrollment %s: %w", en.ID, err)
		}
	}
	return nil
}

// pause stores the enrollment as paused with a timer due at due.
func (t *turn) pause(en *Enrollment, status EnrollmentStatus, due time.Time, kind TimerKind) error {
	en.Epoch++
	en.Status = status
	en.WaitUntil = &due
	en.TimerKind = kind
	en.Held = ""
	if kind == TimerHold {
		en.Held = ReasonHeld
	}
	en.Answering = kind == TimerIO && t.answering
	if err := t.tx.PutTimer(Timer{Due: due, Enrollment: en.ID, Automation: en.Automation, Epoch: en.Epoch, Kind: kind}); err != nil {
		return fmt.Errorf("store timer: %w", err)
	}
	if due.Before(t.now.Add(TimerSoon)) {
		t.x.wakeTimers = true
	}
	if t.tracing() {
		when := due.In(t.set.Location).Format("Mon 2006-01-02 15:04 MST")
		what := "waiting until " + when
		switch kind {
		case TimerIO:
			what = "calling out"
		case TimerTimeout, TimerExpire:
			what = "waiting for a reply until " + when
		case TimerHold:
			what = "held for quiet hours until " + when
		}
		if status == EnrollmentHandoff && en.Handoff != nil {
			what = fmt.Sprintf("handoff #%s open with %s until %s", en.Handoff.Ref, strings.Join(en.Handoff.Staff, ", "), when)
		}
		t.emit(TraceEvent{Automation: en.Automation, Enrollment: en.ID, Contact: en.Contact, Step: en.Step, What: what})
	}
	t.put(en)
	return nil
}

// adopt puts en, read from the store outside the turn, in the turn's cache
// of enrollments, so that a step that looks the contact's enrollments up
// (an unsubscribe ending them all) changes this very value and not a copy
// that a later put of en would overwrite.
func (t *turn) adopt(en *Enrollment) {
	if cached, ok := t.enrollments[en.Automation]; !ok || !cached.Active() || cached.ID == en.ID {
		t.enrollments[en.Automation] = en
	}
}

// clearTimer removes the timer of a paused enrollment.
func (t *turn) clearTimer(en *Enrollment) error {
	if en.WaitUntil == nil {
		return nil
	}
	err := t.tx.DeleteTimer(Timer{Due: *en.WaitUntil, Enrollment: en.ID})
	en.WaitUntil = nil
	return err
}

// queue stores an outbound message and puts it in the outbox, unless it is
// for an opted-out contact and not allowed to reach one, for an
// alphanumeric sender id, which can send but never receive, a forward to
// a staff member who opted out (texted STOP like anyone), a text whose
// template rendered empty (with no media, template or choices), or an
// automated message (PurposeReply) to a contact that already got
// compliance.loop_guard.max of them within its period: such a message is
// stored as suppressed, with the reason, and no send is attempted.
// Compliance replies and forwards to staff are never counted nor stopped
// by the loop guard.
func (t *turn) queue(m *Message) error {
	m.ID = t.e.ids.next(t.now)
	m.Direction = Outbound
	if m.Kind == "" {
		m.Kind = KindText
	}
	if m.Contact == "" {
		m.Contact = t.contact.Phone
	}
	m.CreatedAt, m.UpdatedAt = t.now, t.now
	if m.By == "" && (m.Purpose == PurposeStaff || m.Enrollment == "" && m.Purpose != PurposeCompliance) {
		m.By = t.x.by // a person's answer or send, not an automation's
	}
	m.Status = StatusQueued
	if (m.Purpose == PurposeReply || m.Purpose == PurposeStaff) && t.contact.OptedOut {
		m.Status = StatusSuppressed
		m.Error = "contact opted out"
		t.emit(TraceEvent{Automation: m.Automation, Enrollment: m.Enrollment, Contact: m.Contact, What: "not sent: contact opted out", Message: m})
		return t.tx.PutMessage(m)
	}
	if m.Purpose == PurposeForward && len(m.To) == 1 && m.To[0] != t.contact.Phone {
		if staff, err := t.peer(m.To[0]); err != nil {
			return err
		} else if staff != nil && staff.OptedOut {
			m.Status = StatusSuppressed
			m.Error = "the staff member opted out"
			t.emit(TraceEvent{Automation: m.Automation, Enrollment: m.Enrollment, Contact: m.Contact, What: "not sent: " + m.Error, Message: m})
			return t.tx.PutMessage(m)
		}
	}
	if m.Purpose == PurposeReply && m.Contact == t.contact.Phone && t.contact.NoMarketing && !t.answering {
		m.Status = StatusSuppressed
		m.Error = "the contact stopped messages that do not answer its own"
		t.emit(TraceEvent{Automation: m.Automation, Enrollment: m.Enrollment, Contact: m.Contact, What: "not sent: " + m.Error, Message: m})
		return t.tx.PutMessage(m)
	}
	if m.Kind == KindText && len(m.To) == 1 && config.KindOf(m.To[0]) == config.AddressAlphanumeric {
		m.Status = StatusSuppressed
		m.Error = whyAlphanumeric
		t.emit(TraceEvent{Automation: m.Automation, Enrollment: m.Enrollment, Contact: m.Contact, What: "not sent: " + m.Error, Message: m})
		return t.tx.PutMessage(m)
	}
	if m.Kind == KindText && m.nothingToSay() {
		m.Status = StatusSuppressed
		m.Error = whyNothingToSay
		t.emit(TraceEvent{Automation: m.Automation, Enrollment: m.Enrollment, Contact: m.Contact, What: "not sent: " + m.Error, Message: m})
		return t.tx.PutMessage(m)
	}
	if m.Purpose == PurposeReply && m.Contact == t.contact.Phone {
		if ok, why := t.loopGuard(); !ok {
			m.Status = StatusSuppressed
			m.Error = why
			t.emit(TraceEvent{Automation: m.Automation, Enrollment: m.Enrollment, Contact: m.Contact, What: "not sent: " + why, Message: m})
			return t.tx.PutMessage(m)
		}
	}
	if err := t.tx.PutMessage(m); err != nil {
		return err
	}
	t.emit(TraceEvent{Automation: m.Automation, Enrollment: m.Enrollment, Contact: m.Contact, What: "queued", Message: m})
	if err := t.tx.Enqueue(m); err != nil {
		return err
	}
	if m.Purpose == PurposeForward && m.Kind == KindText && len(m.To) == 1 && t.forwarding[m.To[0]] != "" {
		if err := t.noteForward(m.To[0], t.forwarding[m.To[0]], m.ID, nil); err != nil {
			return fmt.Errorf("note the forward to staff: %w", err)
		}
	}
	if m.Purpose == PurposeForward && m.Kind == KindEmail && t.forwarding[EmailDesk] != "" {
		if err := t.noteForward(EmailDesk, t.forwarding[EmailDesk], m.ID, m.To); err != nil {
			return fmt.Errorf("note the forward by email: %w", err)
		}
	}
	t.wake()
	return t.recordOffer(m)
}

// peer returns the contact with phone, other than the turn's (staff, a
// forward's recipient), as this unit of work has it: the contact of a turn
// of it opened in the same transaction, else the stored one; nil when the
// number is no contact.
func (t *turn) peer(phone string) (*Contact, error) {
	if t.x != nil {
		if rt, ok := t.x.turns[phone]; ok {
			return rt.contact, nil
		}
	}
	c, err := t.tx.Contact(phone)
	switch {
	case isNotFound(err):
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("read contact %s: %w", phone, err)
	}
	return c, nil
}

// queueCompliance queues a compliance reply to the sender of m; an empty
// reply sends nothing.
func (t *turn) queueCompliance(m *Message, reply string) error {
	if reply == "" {
		return nil
	}
	return t.queue(&Message{
		Purpose: PurposeCompliance, Channel: m.Channel, From: m.To[0],
		To: []string{m.From}, Body: reply,
	})
}

// sender picks the number to send from on channel: explicit if set, else
// the number the contact last wrote to there, else the first configured
// number of the channel.
func (t *turn) sender(channel, explicit string) string {
	if explicit != "" {
		return explicit
	}
	return senderFor(t.set, t.contact, channel)
}

// senderFor is the number a send to c on channel goes from when no step
// names one: the number c last wrote to there, else the first configured
// number of the channel.
func senderFor(set *Set, c *Contact, channel string) string {
	if n := c.LastTo[channel]; n != "" {
		return n
	}
	for _, n := range set.Config.Numbers() {
		if n.Channel == channel {
			return n.Number
		}
	}
	return ""
}

func isNotFound(err error) bool { return errors.Is(err, ErrNotFound) }

// reachChannel is the channel a start of automation a (nil for a one-off
// send) reaches contact c on when the start names none: the channel c last
// wrote on (before it wrote, the one its import named); for a contact that
// never wrote and was imported naming none, a's own
// channel when it names one, else SMS when a number sends SMS, else
// WhatsApp when the config's numbers are all WhatsApp ones.
func reachChannel(set *Set, c *Contact, a *Automation) string {
	if c.Channel != "" {
		return c.Channel
	}
	if a != nil && a.Config != nil && a.Config.Channel != "" {
		return a.Config.Channel
	}
	whatsapp := false
	for _, n := range set.Config.Numbers() {
		switch n.Channel {
		case config.ChannelSMS:
			return config.ChannelSMS
		case config.ChannelWhatsApp:
			whatsapp = true
		}
	}
	if whatsapp {
		return config.ChannelWhatsApp
	}
	return config.ChannelSMS
}

// whyNothingToSay is why a text that rendered empty is not sent: every
// provider refuses a message with nothing in it.
const whyNothingToSay = "nothing to send: the text rendered empty"

// nothingToSay reports whether m, a text, has nothing in it: no text but
// spaces, no media, no template and no choices.
func (m *Message) nothingToSay() bool {
	return strings.TrimSpace(m.Body) == "" && len(m.Media) == 0 && m.ContentSID == "" && m.Template == nil && m.Choices.Empty()
}
