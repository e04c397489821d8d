package engine

import (
	"fmt"
	"slices"
	"strings"

	"github.com/keyway-sms/keyway/config"
)

// A handoff that closes is told to its staff, once each, from the number
// its forwards to them came from, so that nobody goes on answering a
// conversation that went back to the automation: "#K7Q2: handoff closed:
// timed out." The staff member whose own #done closed it gets its answer
// instead ("#K7Q2: handoff closed.", staffMessage); the others of the
// handoff are told who closed it ("#K7Q2: handoff closed by +15550100
// (Ann)."). A close from the dashboard is told to every staff number of
// the handoff: a dashboard user has no number to leave out. A #done that
// comes after the handoff's timeout passed, before its timer fired, has
// the timeout's note as its only answer (lapse closes the handoff first):
// no second message that no handoff is open.

// closedBy says who closed a handoff, for the note to its staff: "by
// +15550100 (Ann)", or "in the dashboard by ann" for a dashboard user.
func (a staffActor) closedBy() string {
	switch {
	case a.number != "":
		return "by " + a.label
	case a.user != "":
		return "in the dashboard by " + a.user
	}
	return "in the dashboard"
}

// tellClosed tells the staff of r's handoff, which the event ev has just
// closed, that it did: a timeout, or a #done (or the dashboard's close)
// of closer, who is not told (they have their own answer).
func (r *Run) tellClosed(ev Event) error {
	how, except := ": timed out", ""
	if ev.Kind == EventDone {
		how = ""
		if r.closer != nil {
			how, except = " "+r.closer.closedBy(), r.closer.number
		}
	}
	return r.t.tellHandoffClosed(r.Enrollment, how, except)
}

// endedWhy says, for the note to a handoff's staff, why the enrollment
// ended with reason: the reason up to its first colon, which holds the
// details ("expired: no reply within expire_after" is "expired").
func endedWhy(reason string) string {
	if i := strings.Index(reason, ": "); i > 0 {
		return reason[:i]
	}
	return reason
}

// tellHandoffClosed tells each staff member of en's handoff but except
// that it closed, "#K7Q2: handoff closed<how>.", from the number the
// latest forward of the conversation to them came from. The note is no
// forward of the conversation: a plain text after it answers what it did
// before.
func (t *turn) tellHandoffClosed(en *Enrollment, how, except string) error {
	h := en.Handoff
	if h == nil {
		return nil
	}
	forwarding := t.forwarding
	t.forwarding = nil
	defer func() { t.forwarding = forwarding }()
	var told []string
	for _, staff := range h.Staff {
		if staff == except || slices.Contains(told, staff) {
			continue
		}
		told = append(told, staff)
		from, channel, err := t.forwardedFrom(staff, h.Ref)
		if err != nil {
			return err
		}
		err = t.queue(&Message{
			Purpose: PurposeForward, Channel: channel, Contact: staff, From: from, To: []string{staff},
			Body: fmt.Sprintf("#%s: handoff closed%s.", h.Ref, how), Automation: en.Automation, Enrollment: en.ID,
		})
		if err != nil {
			return fmt.Errorf("tell staff that handoff #%s closed: %w", h.Ref, err)
		}
		if t.x.toldClosed == nil {
			t.x.toldClosed = map[string]bool{}
		}
		t.x.toldClosed[staff] = true
	}
	return nil
}

// forwardedFrom returns the number and channel that the latest forward of
// the conversation ref to staff went from, as their desk has it; with
// none kept, those a forward would go from now.
func (t *turn) forwardedFrom(staff, ref string) (from, channel string, err error) {
	d, err := readDesk(t.tx, staff)
	if err != nil {
		return "", "", err
	}
	for i := len(d.Forwards) - 1; i >= 0; i-- {
		f := d.Forwards[i]
		if f.Ref != ref {
			continue
		}
		m, err := t.tx.Message(f.Msg)
		if isNotFound(err) {
			break
		}
		if err != nil {
			return "", "", fmt.Errorf("read forward %s: %w", f.Msg, err)
		}
		return m.From, m.Channel, nil
	}
	return t.sender(config.ChannelSMS, ""), config.ChannelSMS, nil
}
