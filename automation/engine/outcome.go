package engine

import (
	"fmt"
	"time"

	"github.com/keyway-sms/keyway/config"
)

// Outcome is what a step decided: go on, go to a step, end, or pause until
// an event. A step builds it with one of Continue, Next, End, WaitUntil,
// WaitReply, WaitHandoff, Hold or Pending; its fields are the engine's, so
// that no step can build a combination that means two things. The zero
// Outcome is Continue. follow, below, is the one place that reads it.
type Outcome struct {
	kind   outcomeKind
	target string        // outcomeNext: the step's id
	reason string        // outcomeEnd: why it ends; outcomeNext: why it goes to on_error
	until  time.Time     // outcomeWaitUntil, outcomeHold: when it goes on
	within time.Duration // outcomeWaitReply, outcomeHandoff: its timeout
}

// outcomeKind is what an Outcome says to do.
type outcomeKind uint8

const (
	outcomeContinue outcomeKind = iota
	outcomeNext
	outcomeEnd
	outcomeWaitUntil
	outcomeHold
	outcomeWaitReply
	outcomeHandoff
	outcomePending
)

// Continue goes on to the step's own `next`, else the following step (the
// end of the automation after its last step).
func Continue() Outcome { return Outcome{} }

// Next goes to the step with id. config.End ends the enrollment as
// completed; an empty id (an unset on_error or on_timeout) is Continue.
func Next(id string) Outcome { return Outcome{kind: outcomeNext, target: id} }

// End ends the enrollment with reason, recorded on it; an empty reason is
// ReasonCompleted.
func End(reason string) Outcome { return Outcome{kind: outcomeEnd, reason: reason} }

// OnError goes to the step with id onError for reason, which is recorded on
// the enrollment (Enrollment.LastError) as the step's; with no onError (an
// unset on_error) it ends the enrollment with reason, as End does.
func OnError(onError, reason string) Outcome {
	if onError == "" {
		return End(reason)
	}
	return Outcome{kind: outcomeNext, target: onError, reason: reason}
}

// WaitUntil pauses the enrollment until t; the step's Resume then gets an
// EventTimer.
func WaitUntil(t time.Time) Outcome { return Outcome{kind: outcomeWaitUntil, until: t} }

// WaitReply pauses the enrollment until the contact writes: the step's
// Resume gets an EventReply, or an EventTimer once timeout has passed
// without one. A timeout of zero waits until the automation's
// expire_after, which ends the enrollment as expired.
func WaitReply(timeout time.Duration) Outcome {
	return Outcome{kind: outcomeWaitReply, within: timeout}
}

// WaitHandoff pauses the enrollment in a handoff (Enrollment.Handoff set
// by the step) until timeout has passed with no message either way (zero:
// the automation's expire_after): the contact's messages resume the step
// with an EventReply, staff answers with an EventStaff, `#done` with an
// EventDone, and the timeout with an EventTimer.
func WaitHandoff(timeout time.Duration) Outcome {
	return Outcome{kind: outcomeHandoff, within: timeout}
}

// Hold holds the step's send for quiet hours until t (see Run.HoldUntil):
// the enrollment shows it (Enrollment.Held), and the step's Resume gets an
// EventTimer when they end.
func Hold(until time.Time) Outcome { return Outcome{kind: outcomeHold, until: until} }

// Pending runs the step's Perform (see Performer) outside the
// transaction, once the pause is committed, then its Resume with an
// EventIO.
func Pending() Outcome { return Outcome{kind: outcomePending} }

// follow applies a step's outcome: it pauses or ends the enrollment (done),
// or returns the index of the next step.
func (e *Engine) follow(r *Run, st *CompiledStep, out Outcome) (next int, done bool, err error) {
	en, t := r.Enrollment, r.t
	if !en.Active() {
		return 0, true, nil
	}
	target := st.Next
	switch out.kind {
	case outcomeHandoff:
		if !r.inHandoff {
			if err := t.x.event(EventHandoffOpened, en.Contact, handoffData(en)); err != nil {
				return 0, true, err
			}
		}
		return 0, true, t.pause(en, EnrollmentHandoff, t.now.Add(r.orExpiry(out.within)), TimerTimeout)
	case outcomeHold:
		return 0, true, t.pause(en, EnrollmentWaiting, out.until, TimerHold)
	case outcomePending:
		return 0, true, t.pause(en, EnrollmentPending, t.now, TimerIO)
	case outcomeWaitUntil:
		return 0, true, t.pause(en, EnrollmentWaiting, out.until, TimerWait)
	case outcomeWaitReply:
		if out.within > 0 {
			return 0, true, t.pause(en, EnrollmentWaitingReply, t.now.Add(out.within), TimerTimeout)
		}
		return 0, true, t.pause(en, EnrollmentWaitingReply, t.now.Add(r.orExpiry(0)), TimerExpire)
	case outcomeEnd:
		target = config.End
	case outcomeNext:
		if out.target != "" {
			target = out.target
		}
		if out.reason != "" {
			en.LastError = fmt.Sprintf("step %s (%s): %s", st.Key, st.Type, out.reason)
		}
	}
	switch target {
	case "":
		return st.Index + 1, false, nil
	case config.End:
		reason := out.reason
		if reason == "" {
			reason = ReasonCompleted
		}
		return 0, true, e.finish(t, en, reason)
	}
	i, ok := r.Automation.byKey[target]
	if !ok {
		return 0, true, e.finish(t, en, fmt.Sprintf("step %q no longer exists", target))
	}
	return i, false, nil
}

// orExpiry returns d, or the automation's expire_after when d is not
// positive.
func (r *Run) orExpiry(d time.Duration) time.Duration {
	if d <= 0 {
		return r.Automation.Config.ExpireAfter.D()
	}
	return d
}
