package engine

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/keyway-sms/keyway/config"
	"github.com/keyway-sms/keyway/providers"
)

// RunView is what a step reads of its run: the enrollment, its contact and
// automation, the message that drove the turn, and the names templates
// see. A step's Perform, which runs outside any transaction, gets only
// this: it has no way to send, trace or change anything.
type RunView struct {
	Now        time.Time
	Set        *Set
	Automation *Automation
	Enrollment *Enrollment
	Contact    *Contact
	// Message is the inbound message that drove this turn; nil for timers,
	// schedules and manual starts.
	Message *Message
	// Step is the step being executed or resumed.
	Step *CompiledStep
}

// Run is one enrollment being moved by the engine inside a transaction, as
// a step's Execute and Resume see it: what it reads (RunView), and what it
// does (reply, queue, trace, change the contact and the enrollment).
type Run struct {
	RunView
	t *turn
	// inHandoff is set when the run resumed an enrollment at an open
	// handoff: a handoff outcome then keeps it open rather than opening one.
	inHandoff bool
	// closer is who closes the handoff, when a #done or the dashboard's
	// close resumes it (closeHandoff): the note to its staff names them.
	closer *staffActor
}

// Trace reports what the run did, for the simulator ("added to group x").
func (r *Run) Trace(what string) {
	step := ""
	if r.Step != nil {
		step = r.Step.Key
	}
	r.t.emit(TraceEvent{Automation: r.Automation.ID, Enrollment: r.Enrollment.ID, Contact: r.Contact.Phone, Step: step, What: what})
}

// Render renders a template against the run's bindings.
func (r *RunView) Render(t *Template) (string, error) {
	return t.Render(r.Bindings())
}

// RenderAll renders each template against r's bindings.
func RenderAll(r *Run, ts []*Template) ([]string, error) {
	var out []string
	for _, t := range ts {
		s, err := r.Render(t)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

// Reply queues a message to the contact on its enrollment's channel, from
// the number sender chooses (the step's own, else the one the contact last
// wrote to, else the channel's first). An opted-out contact gets nothing: the
// message is stored as suppressed.
func (r *Run) Reply(body string, media []string, from string) error {
	return r.ReplyWithChoices(body, media, from, nil)
}

// ReplyTemplate queues a template message (a provider content id and its
// rendered variables, or a named template) to the contact on its
// enrollment's channel, from the number chosen as Reply chooses it; the
// rules of Reply apply.
func (r *Run) ReplyTemplate(contentSID string, variables map[string]string, named *providers.Template, from string) error {
	ch := r.Enrollment.Channel
	return r.t.queue(r.stamp(&Message{
		Purpose: PurposeReply, Channel: ch, From: r.t.sender(ch, from), To: []string{r.Contact.Phone},
		ContentSID: contentSID, ContentVariables: variables, Template: named,
		Broadcast: r.Enrollment.Broadcast,
	}))
}

// stamp marks m as queued by the run: its enrollment, automation and
// step, and the contact's message the run handles.
func (r *Run) stamp(m *Message) *Message {
	m.Enrollment, m.Automation = r.Enrollment.ID, r.Automation.ID
	if r.Step != nil {
		m.Step = r.Step.Key
	}
	if r.Message != nil && r.Message.Direction == Inbound {
		m.Answers = r.Message.ID
	}
	return m
}

// InWindowOf reports whether a free-form message may reach phone (the
// contact of the run, or anyone else, such as staff) on channel now: see
// Contact.InWindow. Someone who never wrote is outside the window.
func (r *Run) InWindowOf(phone, channel string) (bool, error) {
	if channel != config.ChannelWhatsApp {
		return true, nil
	}
	if phone == r.Contact.Phone {
		return r.Contact.InWindow(channel, r.Now), nil
	}
	c, err := r.t.peer(phone)
	if err != nil {
		return false, err
	}
	return c != nil && c.InWindow(channel, r.Now), nil
}

// Queue stores an outbound message (a forward, an email) and puts it in the
// outbox; Purpose decides whether an opted-out contact blocks it.
func (r *Run) Queue(m *Message) error {
	return r.t.queue(r.stamp(m))
}

// Sender returns the number to send from on channel (explicit wins).
func (r *Run) Sender(channel, explicit string) string { return r.t.sender(channel, explicit) }

// OptOut opts the contact out everywhere, as STOP does, ending all its
// enrollments (this one included) with reason.
func (r *Run) OptOut(reason string) error {
	return r.t.e.optOutContact(r.t, reason, map[string]any{"enrollment_id": r.Enrollment.ID, "automation": r.Automation.ID})
}

// StartAutomation enrolls the contact in the automation with id under that
// automation's overwrite rule. It reports whether it started.
func (r *Run) StartAutomation(ctx context.Context, id string) (bool, error) {
	a := r.Set.Automation(id)
	if a == nil {
		return false, fmt.Errorf("start automation %q: no such automation", id)
	}
	if on, err := r.t.enrolls(a); err != nil || !on {
		return false, err
	}
	return r.t.e.enroll(ctx, r.t, a, r.Enrollment.Channel, r.Message, nil)
}

// SetVar saves a value under vars.name.
func (r *Run) SetVar(name string, v any) {
	if r.Enrollment.Vars == nil {
		r.Enrollment.Vars = map[string]any{}
	}
	r.Enrollment.Vars[name] = v
}

// AddGroups and the other contact changes below keep lists free of repeats.

// AddGroups adds the contact to groups; joining a group it had left lets
// scheduled sends reach it again.
func (r *Run) AddGroups(groups ...string) {
	c := r.Contact
	for _, g := range groups {
		if !slices.Contains(c.Groups, g) {
			c.Groups = append(c.Groups, g)
		}
		c.LeftGroups = slices.DeleteFunc(c.LeftGroups, func(s string) bool { return s == g })
	}
}

// RemoveGroups takes the contact out of groups.
func (r *Run) RemoveGroups(groups ...string) {
	c := r.Contact
	c.Groups = slices.DeleteFunc(c.Groups, func(s string) bool { return slices.Contains(groups, s) })
}

func stringMap(m map[string]string) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
