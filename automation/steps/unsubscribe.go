package steps

import (
	"context"
	"fmt"

	"github.com/keyway-sms/keyway/automation/engine"
	"github.com/keyway-sms/keyway/config"
)

func init() { engine.Register("unsubscribe", compileUnsubscribe) }

// Scopes of an unsubscribe step.
const (
	ScopeAll    = "all"
	ScopeGroups = "groups"
)

// Unsubscribe opts the contact out. With scope all (the default) it is
// opted out everywhere, as STOP does: every send to it stops and all its
// enrollments end, this one included. No opt-out reply goes out unless the
// step has a text, which is sent as a compliance message so that it reaches
// the now opted-out contact. With scope groups the contact leaves those
// groups only and is recorded as having left them, so that scheduled sends
// to them skip it until it joins again; the text, if any, is a normal reply.
//
//   - type: unsubscribe            # everywhere
//     text: "You will get no more messages from us."
//
//   - type: unsubscribe
//     scope: groups
//     groups: [newsletter]
//     text: "You have left the newsletter."
type Unsubscribe struct {
	Scope  string
	Groups []string         // scope groups
	Text   *engine.Template // nil: send nothing
}

type unsubscribeFields struct {
	Scope  string   `yaml:"scope"`
	Groups []string `yaml:"groups"`
	Text   string   `yaml:"text"`
}

func compileUnsubscribe(c *engine.Compiler, s *config.Step) (engine.Step, config.Problems) {
	var f unsubscribeFields
	c.Decode(s, &f)
	st := &Unsubscribe{Scope: f.Scope}
	if st.Scope == "" {
		st.Scope = ScopeAll
	}
	switch {
	case c.Refused(s, "scope"):
		// Whether groups apply, its decoding problem did not say; the
		// ids are checked either way.
		st.Groups = groupIDs(c, s, "groups", f.Groups)
	case st.Scope == ScopeAll:
		if f.Groups != nil {
			c.Problemf(s, "groups", "groups is only for scope: groups; scope all opts the contact out everywhere")
		}
	case st.Scope == ScopeGroups:
		if len(f.Groups) == 0 {
			c.Problemf(s, "groups", "unsubscribe with scope groups needs groups: at least one group id")
		}
		st.Groups = groupIDs(c, s, "groups", f.Groups)
	default:
		c.Problemf(s, "scope", "scope must be all or groups, not %q", f.Scope)
	}
	if f.Text != "" {
		st.Text = c.Template(s, "text", f.Text)
	}
	return st, nil
}

// Execute opts the contact out, everywhere or of the groups.
func (st *Unsubscribe) Execute(_ context.Context, r *engine.Run) (engine.Outcome, error) {
	body, err := r.Render(st.Text)
	if err != nil {
		return engine.End(fmt.Sprintf("unsubscribe text: %v", err)), nil
	}
	if st.Scope == ScopeGroups {
		leaveGroups(r, st.Groups...)
		for _, g := range st.Groups {
			r.Trace("left group " + g)
		}
		if body != "" {
			if err := r.Reply(body, nil, ""); err != nil {
				return engine.Outcome{}, fmt.Errorf("unsubscribe: queue reply: %w", err)
			}
		}
		return engine.Continue(), nil
	}
	r.Trace("opted out everywhere")
	if err := r.OptOut(fmt.Sprintf("unsubscribed by automation %s", r.Automation.ID)); err != nil {
		return engine.Outcome{}, fmt.Errorf("unsubscribe: opt out: %w", err)
	}
	if body != "" {
		ch := r.Enrollment.Channel
		err := r.Queue(&engine.Message{
			Kind: engine.KindText, Purpose: engine.PurposeCompliance, Channel: ch,
			From: r.Sender(ch, ""), To: []string{r.Contact.Phone}, Body: body,
		})
		if err != nil {
			return engine.Outcome{}, fmt.Errorf("unsubscribe: queue text: %w", err)
		}
	}
	// The enrollment ended with the opt-out; the engine goes no further.
	return engine.Continue(), nil
}

var _ engine.Step = (*Unsubscribe)(nil)
