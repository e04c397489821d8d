package engine

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/keyway-sms/keyway/config"
)

// Step is one compiled step of an automation.
type Step interface {
	// Execute runs the step inside the transaction that handles the
	// message or timer. Runtime failures (a 500 from a CRM) are outcomes;
	// an error is a fault of the engine or its storage.
	Execute(ctx context.Context, run *Run) (Outcome, error)
}

// Resumer is a step that pauses (Outcome.WaitUntil, WaitReply or Pending)
// and is resumed by an event: a timer, a reply, or its I/O result.
type Resumer interface {
	// Resume continues the paused step with ev, inside a transaction.
	Resume(ctx context.Context, run *Run, ev Event) (Outcome, error)
}

// Performer is a step whose I/O (an HTTP call) runs outside any
// transaction: Execute returns Outcome{Pending: true}, the engine calls
// Perform once the pause is committed, then Resume with EventIO and the
// result in a new transaction. After a crash, Perform runs again.
type Performer interface {
	// Perform does the step's I/O and returns its result for Resume.
	Perform(ctx context.Context, run *Run) (map[string]any, error)
}

// Outcome is what a step decided.
type Outcome struct {
	// Next is the id of the step to go to, or config.End. Empty means the
	// step's own `next`, else the following step.
	Next string
	// EndReason, when set with Next == config.End, is recorded on the
	// enrollment instead of "completed".
	EndReason string
	// WaitUntil pauses the enrollment until then; the step's Resume gets
	// an EventTimer.
	WaitUntil time.Time
	// WaitReply pauses the enrollment until the contact writes; the
	// step's Resume gets an EventReply, or an EventTimer at Timeout (zero:
	// the automation's expire_after ends it).
	WaitReply bool
	Timeout   time.Time
	// Pending runs the step's Perform outside the transaction, then Resume.
	Pending bool
	// Handoff pauses the enrollment in a handoff (Enrollment.Handoff set
	// by the step) until Timeout: the contact's messages resume the step
	// with an EventReply, staff answers with an EventStaff, `#done` with
	// an EventDone, and the timeout with an EventTimer.
	Handoff bool
	// Hold, with WaitUntil, says the step holds its send for quiet hours:
	// the enrollment shows it (Enrollment.Held) and Resume gets an
	// EventTimer when they end.
	Hold bool
}

// Kinds of an Event.
const (
	EventTimer = "timer"
	EventReply = "reply"
	EventIO    = "io"
	// EventStaff: staff answered the contact during a handoff (the answer
	// is already on its way).
	EventStaff = "staff"
	// EventDone: staff closed the handoff with #done.
	EventDone = "done"
)

// Event resumes a paused step.
type Event struct {
	Kind    string
	Timer   *Timer         // EventTimer
	Message *Message       // EventReply
	Result  map[string]any // EventIO: what Perform returned
	Err     error          // EventIO: Perform's error, if any
}

// Factory compiles one step of a registered type, reporting every problem.
type Factory func(c *Compiler, s *config.Step) (Step, config.Problems)

var registry = map[string]Factory{}

// Register makes a step type known; each step type's file calls it from init.
func Register(typ string, f Factory) {
	if _, dup := registry[typ]; dup {
		panic(fmt.Sprintf("automation: step type %q registered twice", typ))
	}
	registry[typ] = f
}

// Types returns the registered step types, sorted.
func Types() []string {
	out := make([]string, 0, len(registry))
	for t := range registry {
		out = append(out, t)
	}
	sort.Strings(out)
	return out
}
