package engine

import (
	"context"
	"fmt"
	"slices"
	"strings"
)

// lapse lets the contact's reply timeouts that fell due before the turn's
// message happen first: a wait_for_reply or a handoff whose timeout has
// passed, but whose timer the timer loop has not fired yet (it looks once
// a second, and after a restart it races the first webhooks), takes its
// timeout's way in this turn, as the timer would have, before the message
// is routed. So an answer that comes after the timeout is never taken as
// the answer, and the on_timeout step's sends go first. What those steps
// send is no answer to the message: quiet hours hold it as they hold a
// timer's.
func (e *Engine) lapse(ctx context.Context, t *turn) error {
	ens, err := t.activeEnrollments()
	if err != nil {
		return err
	}
	var due []*Enrollment
	for _, en := range ens {
		if lapsed(t, en) {
			due = append(due, en)
		}
	}
	if len(due) == 0 {
		return nil
	}
	// Soonest first, as the timer loop fires them.
	slices.SortFunc(due, func(a, b *Enrollment) int {
		if c := a.WaitUntil.Compare(*b.WaitUntil); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	answering := t.answering
	t.answering = false
	defer func() { t.answering, t.steps = answering, 0 }()
	for _, en := range due {
		if !lapsed(t, en) { // an earlier one's steps moved it
			continue
		}
		a := t.set.Automation(en.Automation)
		if a == nil {
			continue
		}
		if on, err := t.runs(a); err != nil {
			return err
		} else if !on {
			continue // paused: its timer is held until it is enabled
		}
		tm := Timer{Due: *en.WaitUntil, Enrollment: en.ID, Automation: en.Automation, Epoch: en.Epoch, Kind: en.TimerKind}
		if err := t.tx.DeleteTimer(tm); err != nil {
			return fmt.Errorf("delete the lapsed timer of enrollment %s: %w", en.ID, err)
		}
		en.WaitUntil = nil
		t.steps = 0 // the step limit counts per timer
		if tm.Kind == TimerExpire {
			err = e.end(t, en, "expired: no reply within expire_after")
		} else {
			err = e.resume(ctx, t.run(a, en), Event{Kind: EventTimer, Timer: &tm})
		}
		if err != nil {
			return fmt.Errorf("the lapsed timeout of enrollment %s: %w", en.ID, err)
		}
	}
	return nil
}

// lapsed reports whether en waits for a reply (wait_for_reply or an open
// handoff) past its timeout or expiry at the turn's time.
func lapsed(t *turn, en *Enrollment) bool {
	if !en.Active() || en.WaitUntil == nil || en.WaitUntil.After(t.now) {
		return false
	}
	switch en.Status {
	case EnrollmentWaitingReply, EnrollmentHandoff:
		return en.TimerKind == TimerTimeout || en.TimerKind == TimerExpire
	}
	return false
}
