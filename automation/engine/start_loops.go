package engine

import (
	"slices"
	"strings"
)

// startPath is how an automation's steps reach the start_automation steps
// that name one target, from its first step.
type startPath struct {
	// step is the first of those steps (the report names it).
	step int
	// later: every way there passes an http call, so the start comes in
	// a later turn, once the call is answered.
	later bool
	// finishes: after each of those steps the enrollment ends in the same
	// run: nothing after it may pause, call out or stop it otherwise.
	finishes bool
}

// forcedStarts returns the automations that a must start, each with how:
// those that every way from a's first step reaches a start_automation
// step naming, before any step that may stop the run or leave a's steps.
func forcedStarts(a *Automation) map[string]startPath {
	n := len(a.Steps)
	if n == 0 {
		return nil
	}
	edges, exits, flows := flowGraph(a)
	performs := make([]bool, n)
	var targets []string
	for i, st := range a.Steps {
		_, performs[i] = st.Step.(Performer)
		if t := flows[i].Starts; t != "" && !slices.Contains(targets, t) {
			targets = append(targets, t)
		}
	}
	out := map[string]startPath{}
	for _, target := range targets {
		starts := func(i int) bool { return flows[i].Starts == target }
		p := startPath{step: -1, later: true, finishes: true}
		forced := true
		for i, seen := range walk(edges, []int{0}, starts) {
			switch {
			case !seen:
			case starts(i):
				if p.step < 0 {
					p.step = i
				}
				var after []int
				for _, e := range edges[i] {
					after = append(after, e.to)
				}
				for j, on := range walk(edges, after, nil) {
					if on && (flows[j].Stops || performs[j]) {
						p.finishes = false
					}
				}
			case exits[i]:
				forced = false
			}
		}
		if !forced || p.step < 0 {
			continue
		}
		for i, seen := range walk(edges, []int{0}, func(i int) bool { return starts(i) || performs[i] }) {
			if seen && starts(i) {
				p.later = false // a way there with no http call
			}
		}
		out[target] = p
	}
	return out
}

// walk marks the steps reachable from the steps from along edges (those
// included), going on from none for which stop is true (nil: any).
func walk(edges [][]loopEdge, from []int, stop func(int) bool) []bool {
	seen := make([]bool, len(edges))
	var queue []int
	for _, i := range from {
		if !seen[i] {
			seen[i] = true
			queue = append(queue, i)
		}
	}
	for len(queue) > 0 {
		i := queue[0]
		queue = queue[1:]
		if stop != nil && stop(i) {
			continue
		}
		for _, e := range edges[i] {
			if !seen[e.to] {
				seen[e.to] = true
				queue = append(queue, e.to)
			}
		}
	}
	return seen
}

// checkStartLoops refuses the loops of automations starting each other
// that can never stop: automations each of which must start the next
// (start_automation) with no step on the way that waits or leads out,
// where each start does start it again. It does when the automation
// restarts (overwrite_if_exists): the starts then run one inside the
// other until the per-run step limit ends them, at every message that
// enters the loop. Without it, the contact is still in the automation
// when the loop comes back to it in the same run, and nothing starts; but
// after an http call of another automation of the loop, the start comes
// in a later run, and if the automation has finished by then (nothing
// after its own start pauses), it starts again: the loop calls the other
// system for ever. A loop a condition or a wait may leave passes, as one
// through a paused automation does (it enrolls nobody). Each loop is
// reported once, at the start that closes it.
func (c *Compiler) checkStartLoops(set *Set) {
	forced := map[string]map[string]startPath{}
	for _, a := range set.order {
		if set.automations[a.ID] == a {
			forced[a.ID] = forcedStarts(a)
		}
	}
	covered := map[string]bool{}
	for _, a := range set.order {
		if covered[a.ID] || len(forced[a.ID]) == 0 || set.automations[a.ID] != a {
			continue
		}
		loop := startCycle(forced, a.ID)
		if loop == nil || !startsForEver(set, forced, loop) {
			continue
		}
		for _, id := range loop {
			covered[id] = true
		}
		last := set.automations[loop[len(loop)-1]]
		ca := last.Config
		s := &ca.Steps[forced[last.ID][a.ID].step]
		automation := c.Automation
		c.Automation = ca
		name := c.StepName(s)
		c.Automation = automation
		c.problems = append(c.problems, c.Config.Problemf(fieldPath(s, "automation"),
			"%s: start_automation %q closes a loop of automations that never stops (%s): each starts the next with no step on the way that waits (wait, wait_for_reply, handoff) or leads out, and each start enrolls again (overwrite_if_exists, or after an http call once the earlier run finished); add a wait, or a condition or end that leaves it",
			name, a.ID, strings.Join(append(loop, a.ID), " → ")))
	}
}

// startCycle returns the shortest way from the automation start back to
// itself along forced starts, as the automations it goes through (start
// first), or nil when there is none.
func startCycle(forced map[string]map[string]startPath, start string) []string {
	came := map[string]string{}
	queue := []string{start}
	for len(queue) > 0 {
		id := queue[0]
		queue = queue[1:]
		var next []string
		for t := range forced[id] {
			next = append(next, t)
		}
		slices.Sort(next)
		for _, t := range next {
			if t == start {
				loop := []string{id}
				for at := id; at != start; {
					at = came[at]
					loop = append([]string{at}, loop...)
				}
				return loop
			}
			if _, seen := came[t]; !seen && forced[t] != nil {
				came[t] = id
				queue = append(queue, t)
			}
		}
	}
	return nil
}

// startsForEver reports whether each start along loop (the automations of
// a loop of forced starts, in order) enrolls the contact again, every
// time round.
func startsForEver(set *Set, forced map[string]map[string]startPath, loop []string) bool {
	k := len(loop)
	path := func(i int) startPath { return forced[loop[i%k]][loop[(i+1)%k]] }
	for i, id := range loop {
		a := set.automations[id]
		if !a.Enabled {
			return false
		}
		if a.Overwrite {
			continue
		}
		later := false
		for j := range k {
			later = later || (j != i && path(j).later)
		}
		if !later || !path(i).finishes {
			return false
		}
	}
	return true
}
