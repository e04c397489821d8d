package engine

import "time"

// Name is one top-level name that templates and conditions see: its key,
// the fields below it (documented, and given by Run.Bindings), and how a
// run fills it. Names is the one declaration of them: Run.Bindings, the
// trial render of Liquid templates at load time, expr's environment for
// conditions and the README are all derived from, or checked against, it.
type Name struct {
	Key string
	// Fields are the names below Key, as `Key.Field` in a template; a
	// field ending in ".X" is a map of free keys.
	Fields []string
	// Doc says what the name holds, for people.
	Doc string
	// Free marks a name whose fields steps fill (vars, http): a template
	// or condition may read any field below it.
	Free bool
	// zero is an empty value of the name's type, for load-time checks.
	zero any
	// value gives the name's value for a run.
	value func(r *RunView) any
}

// Names are the names templates and conditions see, in the order the
// README lists them.
var Names = []Name{
	{
		Key: "contact", Doc: "the contact the run is for",
		Fields: []string{"phone", "name", "channel", "fields.X", "tags", "groups", "opted_out"},
		zero:   map[string]any{}, value: contactValue,
	},
	{
		Key: "message", Doc: "the inbound message that drove this turn; empty for timers, schedules and manual starts",
		Fields: []string{"id", "body", "from", "to", "channel", "media", "button"},
		zero:   map[string]any{}, value: messageValue,
	},
	{
		Key: "vars", Doc: "saved replies (wait_for_reply save_as), http responses saved with save_as, and values a manual start gave",
		Fields: []string{"X"}, Free: true,
		zero: map[string]any{}, value: func(r *RunView) any { return jsonValue(orEmpty(r.Enrollment.Vars)) },
	},
	{
		Key: "http", Doc: "the last http step's response",
		Fields: []string{"status", "headers", "body", "json.X"}, Free: true,
		zero: map[string]any{}, value: func(r *RunView) any { return jsonValue(orEmpty(r.Enrollment.HTTP)) },
	},
	{
		Key: "automation", Doc: "the automation the run is in",
		Fields: []string{"id", "name"},
		zero:   map[string]any{},
		value:  func(r *RunView) any { return map[string]any{"id": r.Automation.ID, "name": r.Automation.Name} },
	},
	{
		Key: "enrollment", Doc: "the enrollment being run",
		Fields: []string{"id", "channel"},
		zero:   map[string]any{},
		value:  func(r *RunView) any { return map[string]any{"id": r.Enrollment.ID, "channel": r.Enrollment.Channel} },
	},
	{
		Key: "now", Doc: "the current time in defaults.timezone",
		zero: time.Time{}, value: func(r *RunView) any { return r.Now.In(r.Set.Location) },
	},
}

// Bindings returns the names templates and conditions see (Names), filled
// for the run.
func (r *RunView) Bindings() map[string]any {
	b := make(map[string]any, len(Names))
	for _, n := range Names {
		b[n.Key] = n.value(r)
	}
	return b
}

// zeroBindings are the names with empty values of their types: the trial
// render of templates and expr's environment use them.
func zeroBindings() map[string]any {
	b := make(map[string]any, len(Names))
	for _, n := range Names {
		b[n.Key] = n.zero
	}
	return b
}

func contactValue(r *RunView) any {
	c := r.Contact
	return map[string]any{
		"phone":     c.Phone,
		"name":      c.Name,
		"channel":   c.Channel,
		"fields":    stringMap(c.Fields),
		"tags":      nonNil(c.Tags),
		"groups":    nonNil(c.Groups),
		"opted_out": c.OptedOut,
	}
}

func messageValue(r *RunView) any {
	m := r.Message
	if m == nil {
		return map[string]any{"id": "", "body": "", "from": "", "to": "", "channel": "", "media": []string{}, "button": ""}
	}
	to := ""
	if len(m.To) > 0 {
		to = m.To[0]
	}
	return map[string]any{"id": m.ID, "body": m.Body, "from": m.From, "to": to, "channel": m.Channel, "media": nonNil(m.Media), "button": m.Button}
}

func orEmpty(m map[string]any) map[string]any {
	if m == nil {
		return map[string]any{}
	}
	return m
}
