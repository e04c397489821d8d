package steps

import "github.com/keyway-sms/keyway/automation/engine"

// The flows of the step types that may run in a loop without stopping it
// (engine.Flowing), and of end, for validate's check of loops that never
// stop. The types not here are taken to stop: wait, wait_for_reply and
// handoff pause, and start_automation may restart or end this enrollment
// through the automation it starts.
//
// A reply or forward held for quiet hours is no stop: it goes out when they
// end, and the loop runs on from there. Nor is the WhatsApp window: a loop
// that sends inside it stays inside it, and one outside it was never meant.

// Flow says the end step ends, and goes nowhere.
func (EndStep) Flow() engine.StepFlow { return engine.StepFlow{Stops: true} }

// Flow says a reply goes on (or to on_error, a declared jump).
func (*Reply) Flow() engine.StepFlow { return engine.StepFlow{Continues: true} }

// Flow says a forward goes on (or to on_error, a declared jump).
func (*ForwardToMobile) Flow() engine.StepFlow { return engine.StepFlow{Continues: true} }

// Flow says an email forward goes on.
func (*ForwardToEmail) Flow() engine.StepFlow { return engine.StepFlow{Continues: true} }

// Flow says set_field goes on.
func (*SetField) Flow() engine.StepFlow { return engine.StepFlow{Continues: true} }

// Flow says tag goes on.
func (*Tag) Flow() engine.StepFlow { return engine.StepFlow{Continues: true} }

// Flow says add_to_group goes on.
func (*AddToGroup) Flow() engine.StepFlow { return engine.StepFlow{Continues: true} }

// Flow says remove_from_group goes on.
func (*RemoveFromGroup) Flow() engine.StepFlow { return engine.StepFlow{Continues: true} }

// Flow says unsubscribe goes on from groups, and ends the enrollment with
// an opt-out from everything.
func (st *Unsubscribe) Flow() engine.StepFlow {
	return engine.StepFlow{Continues: true, Stops: st.Scope != ScopeGroups}
}

// Flow says a condition goes on to the next step only where then or else
// is missing; its targets are declared jumps.
func (st *Condition) Flow() engine.StepFlow {
	return engine.StepFlow{Continues: st.Then == "" || st.Else == ""}
}

var (
	_ engine.Flowing = EndStep{}
	_ engine.Flowing = (*Reply)(nil)
	_ engine.Flowing = (*ForwardToMobile)(nil)
	_ engine.Flowing = (*ForwardToEmail)(nil)
	_ engine.Flowing = (*SetField)(nil)
	_ engine.Flowing = (*Tag)(nil)
	_ engine.Flowing = (*AddToGroup)(nil)
	_ engine.Flowing = (*RemoveFromGroup)(nil)
	_ engine.Flowing = (*Unsubscribe)(nil)
	_ engine.Flowing = (*Condition)(nil)
)
