package engine

import (
	"strings"

	"github.com/keyway-sms/keyway/config"
)

// StepFlow is what a step may do besides taking the jumps it declares
// through Compiler.Target (then, else, on_error, on_timeout...): the loop
// check (checkLoops) reads it.
type StepFlow struct {
	// Continues: the step may go on to its next, else the following step.
	Continues bool
	// Stops: the step may stop a run of steps by itself: pause the
	// enrollment until later (a wait, a wait for a reply, a handoff), or end
	// it by design (the `end` step, an http call's failure with no
	// on_error, an opt-out). A fault while running (a template that fails
	// to render) is no way out: a loop left only that way is still a bug.
	Stops bool
	// Starts is the automation the step enrolls the contact in, which
	// runs its first steps at once (start_automation); "" for none. The
	// check of loops between automations (checkStartLoops) reads it.
	Starts string
}

// Flowing is a step that says its StepFlow. A step that does not is
// taken to continue and to stop, so that no loop through it is refused.
type Flowing interface {
	// Flow returns what the step, as compiled, may do.
	Flow() StepFlow
}

// loopEdge is a way from a step to another: the field that names the
// target ("" for going on to the following step).
type loopEdge struct {
	to    int
	field string
}

// checkLoops refuses the loops of a's steps that can never stop: steps an
// enrollment can reach from which every path stays among steps that
// neither pause nor end (no wait, no wait_for_reply, no handoff, no jump
// to end or past the last step, no condition branch that leaves them).
// An enrollment there runs until the per-run step limit ends it (an http
// call in it resumes the run anew, so it would call forever). A loop with
// a way out (a condition that may leave it, a counter) is the admin's
// business and passes. Each loop is reported once, at the jump that
// closes it, with the steps it goes through.
func (c *Compiler) checkLoops(ca *config.Automation, a *Automation) {
	n := len(a.Steps)
	if n == 0 {
		return
	}
	edges, exits, _ := flowGraph(a)
	// leaves: a path from the step reaches a step that stops or leaves.
	leaves := append([]bool(nil), exits...)
	for changed := true; changed; {
		changed = false
		for i := range n {
			if leaves[i] {
				continue
			}
			for _, e := range edges[i] {
				if leaves[e.to] {
					leaves[i], changed = true, true
					break
				}
			}
		}
	}
	reached := reach(edges, 0, nil)
	covered := make([]bool, n)
	for i := range n {
		if !reached[i] || leaves[i] || covered[i] {
			continue
		}
		// i is the first step of its loop, if it is on one: the jump back
		// to it is never a plain "go on to the following step".
		path := cycleThrough(edges, i, leaves)
		if path == nil {
			continue // it only leads into a loop, reported at its own first step
		}
		from := reach(edges, i, leaves)
		for j := range n {
			if from[j] && reach(edges, j, leaves)[i] {
				covered[j] = true
			}
		}
		last := path[len(path)-1]
		keys := make([]string, 0, len(path)+1)
		for _, e := range path {
			keys = append(keys, a.Steps[e.to].Key)
		}
		keys = append([]string{a.Steps[i].Key}, keys...)
		closer := i
		if len(path) > 1 {
			closer = path[len(path)-2].to
		}
		s := &ca.Steps[closer]
		c.problems = append(c.problems, c.Config.Problemf(fieldPath(s, last.field),
			"%s: %s %q closes a loop that never stops (%s): no step in it waits (wait, wait_for_reply, handoff) and no path leads out of it; add a wait, or a condition or end that leaves it",
			c.StepName(s), last.field, a.Steps[i].Key, strings.Join(keys, " → ")))
	}
}

// flowGraph returns the ways between a's steps (edges), which steps may
// stop a run or leave the automation's steps (exits: they stop, jump to
// end or to an unknown step, or go on past the last step), and what each
// step says of itself (a step that says nothing continues and stops).
func flowGraph(a *Automation) (edges [][]loopEdge, exits []bool, flows []StepFlow) {
	n := len(a.Steps)
	edges, exits, flows = make([][]loopEdge, n), make([]bool, n), make([]StepFlow, n)
	for i, st := range a.Steps {
		flow := StepFlow{Continues: true, Stops: true}
		if f, ok := st.Step.(Flowing); ok {
			flow = f.Flow()
		}
		flows[i] = flow
		exits[i] = flow.Stops
		jump := func(target, field string) {
			if j, ok := a.byKey[target]; ok && target != config.End {
				edges[i] = append(edges[i], loopEdge{j, field})
				return
			}
			exits[i] = true // end, or a target reported as unknown
		}
		if flow.Continues {
			switch {
			case st.Next != "":
				jump(st.Next, "next")
			case i+1 < n:
				edges[i] = append(edges[i], loopEdge{i + 1, ""})
			default:
				exits[i] = true
			}
		}
		for _, b := range st.Branches {
			jump(b.Target, b.Field)
		}
	}
	return edges, exits, flows
}

// reach marks the steps reachable from start along edges (start itself
// included), through steps for which skip is false (nil: any).
func reach(edges [][]loopEdge, start int, skip []bool) []bool {
	seen := make([]bool, len(edges))
	seen[start] = true
	queue := []int{start}
	for len(queue) > 0 {
		i := queue[0]
		queue = queue[1:]
		for _, e := range edges[i] {
			if !seen[e.to] && (skip == nil || !skip[e.to]) {
				seen[e.to] = true
				queue = append(queue, e.to)
			}
		}
	}
	return seen
}

// cycleThrough returns the shortest way from step start back to itself
// through steps for which skip is false, as the edges taken (the last one
// goes to start), or nil when there is none.
func cycleThrough(edges [][]loopEdge, start int, skip []bool) []loopEdge {
	type hop struct {
		from int
		edge loopEdge
	}
	came := map[int]hop{}
	queue := []int{start}
	for len(queue) > 0 {
		i := queue[0]
		queue = queue[1:]
		for _, e := range edges[i] {
			if skip[e.to] {
				continue
			}
			if e.to == start {
				path := []loopEdge{e}
				for at := i; at != start; at = came[at].from {
					path = append([]loopEdge{came[at].edge}, path...)
				}
				return path
			}
			if _, seen := came[e.to]; !seen {
				came[e.to] = hop{i, e}
				queue = append(queue, e.to)
			}
		}
	}
	return nil
}
