package engine

import (
	"context"
	"fmt"
	"sort"

	"github.com/keyway-sms/keyway/config"
)

// Step is one compiled step of an automation.
type Step interface {
	// Execute runs the step inside the transaction that handles the
	// message or timer. Runtime failures (a 500 from a CRM) are outcomes;
	// an error is a fault of the engine or its storage.
	Execute(ctx context.Context, run *Run) (Outcome, error)
}

// Resumer is a step that pauses (it returns WaitUntil, WaitReply,
// WaitHandoff, Hold or Pending) and is resumed by an event: a timer, a
// reply, staff, or its I/O result.
type Resumer interface {
	// Resume continues the paused step with ev, inside a transaction.
	Resume(ctx context.Context, run *Run, ev Event) (Outcome, error)
}

// Performer is a step whose I/O (an HTTP call) runs outside any
// transaction: Execute returns Pending(), the engine calls
// Perform once the pause is committed, then Resume with EventIO and the
// result in a new transaction. After a crash, Perform runs again.
type Performer interface {
	// Perform does the step's I/O and returns its result for Resume. It
	// sees the run read-only: outside a transaction there is nothing it
	// could send or change.
	Perform(ctx context.Context, run *RunView) (map[string]any, error)
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
		panic(fmt.Sprintf("engine: step type %q registered twice", typ))
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
