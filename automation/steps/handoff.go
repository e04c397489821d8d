package steps

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/keyway-sms/keyway/automation/engine"
	"github.com/keyway-sms/keyway/config"
)

func init() { engine.Register("handoff", compileHandoff) }

// Handoff hands the conversation to a person. The contact's message is
// forwarded to staff by SMS as forward_to_mobile does, with the
// conversation's reference (a custom text that renders empty gives way to
// the default one), and the enrollment pauses in a handoff: until
// it closes, the contact's messages (after compliance words) go to the
// staff, tagged with the reference, instead of keywords, replies and the
// catch-all, and staff answers go to the contact. It closes when staff send
// `#done` (or `#K7Q2 done`): the enrollment goes on to the next step; or
// after `timeout` with no message either way (each message pushes it): the
// enrollment goes to on_timeout, else the next step. Without a timeout it
// stays open until #done, or until the automation's expire_after.
//
//   - type: handoff
//     to: ["+15550100"]
//     timeout: 2h
//     text: "{{ contact.phone }} asks for a person: {{ message.body }}"   # optional
//     on_timeout: sorry                                                     # optional
type Handoff struct {
	To   []string         // E.164
	Text *engine.Template // nil: the default text
	// Timeout closes the handoff after this long with no message either
	// way; zero: the automation's expire_after.
	Timeout   time.Duration
	OnTimeout string
}

type handoffFields struct {
	To        []string             `yaml:"to"`
	Text      string               `yaml:"text"`
	Timeout   *config.DurationText `yaml:"timeout"`
	OnTimeout string               `yaml:"on_timeout"`
}

func compileHandoff(c *engine.Compiler, s *config.Step) (engine.Step, config.Problems) {
	var f handoffFields
	c.Decode(s, &f)
	st := &Handoff{OnTimeout: f.OnTimeout, To: staffNumbers(c, s, f.To)}
	if len(f.To) == 0 {
		c.Problemf(s, "to", "handoff needs to: at least one staff number")
	}
	if f.Text != "" {
		st.Text = c.Template(s, "text", f.Text)
	}
	if f.Timeout != nil {
		st.Timeout = c.Duration(s, "timeout", string(*f.Timeout))
	}
	c.Target(s, "on_timeout", f.OnTimeout)
	if f.OnTimeout != "" && f.Timeout == nil && !c.Refused(s, "timeout") {
		c.Warnf(s, "on_timeout", "on_timeout has no effect without a timeout: the handoff stays open until #done or the automation's expire_after")
	}
	if !hasChannel(c.Config, config.ChannelSMS) {
		c.Warnf(s, "", "handoff has no SMS number to reach staff from: add an sms number under %s", strings.Join(c.Config.NumberPaths(), " or "))
	}
	return st, nil
}

// staffNumbers checks the staff numbers of a step's `to` and returns them
// in E.164: each a valid phone number, not repeated, not one of ours.
func staffNumbers(c *engine.Compiler, s *config.Step, raw []string) []string {
	var out []string
	seen := map[string]int{}
	for i, r := range raw {
		field := engine.FieldIndex("to", i)
		if strings.TrimSpace(r) == "" {
			c.Problemf(s, field, "%s is empty", field)
			continue
		}
		n := c.Number(s, field, r)
		if n == "" {
			continue
		}
		if first, dup := seen[n]; dup {
			c.Problemf(s, field, "%s repeats %s (%s)", field, engine.FieldIndex("to", first), n)
			continue
		}
		seen[n] = i
		if ours(c.Config, n) {
			c.Problemf(s, field, "%s is one of our own numbers; hand off to a staff mobile", n)
			continue
		}
		out = append(out, n)
	}
	return out
}

// StaffNumbers returns the staff the step hands off to.
func (st *Handoff) StaffNumbers() []string { return st.To }

// Execute forwards the message to staff and opens the handoff.
func (st *Handoff) Execute(_ context.Context, r *engine.Run) (engine.Outcome, error) {
	ref, err := r.Reference(st.To...)
	if err != nil {
		return engine.Outcome{}, fmt.Errorf("handoff: %w", err)
	}
	body := fmt.Sprintf("#%s %s\nYou have this conversation: answer here, #done when finished.", ref, forwardText(r))
	if st.Text != nil {
		custom, ok, err := customText(r, st.Text, ref)
		if err != nil {
			return engine.End(fmt.Sprintf("handoff: %v", err)), nil
		}
		if ok {
			body = custom
		}
	}
	if err := st.relay(r, body); err != nil {
		return engine.Outcome{}, err
	}
	r.Enrollment.Handoff = &engine.Handoff{Ref: ref, Staff: st.To, Since: r.Now}
	r.Trace(fmt.Sprintf("handoff #%s opened to %s", ref, strings.Join(st.To, ", ")))
	return engine.WaitHandoff(st.Timeout), nil
}

// Resume relays a contact's message to staff, keeps the handoff open after
// a staff answer, closes it on #done or on its timeout.
func (st *Handoff) Resume(_ context.Context, r *engine.Run, ev engine.Event) (engine.Outcome, error) {
	ref := ""
	if h := r.Enrollment.Handoff; h != nil {
		ref = h.Ref
	}
	switch ev.Kind {
	case engine.EventReply:
		if ev.Message == nil {
			return engine.Outcome{}, fmt.Errorf("handoff: reply event without a message")
		}
		var err error
		if ref, err = r.Reference(st.To...); err != nil {
			return engine.Outcome{}, fmt.Errorf("handoff: %w", err)
		}
		if r.Enrollment.Handoff != nil {
			r.Enrollment.Handoff.Ref = ref
		}
		if err := st.relay(r, "#"+ref+" "+forwardText(r)); err != nil {
			return engine.Outcome{}, err
		}
		return engine.WaitHandoff(st.Timeout), nil
	case engine.EventStaff:
		return engine.WaitHandoff(st.Timeout), nil
	case engine.EventDone:
		r.Trace(fmt.Sprintf("handoff #%s closed by staff", ref))
		return engine.Continue(), nil
	case engine.EventTimer:
		r.Trace(fmt.Sprintf("handoff #%s closed: timed out", ref))
		return engine.Next(st.OnTimeout), nil
	}
	return engine.Outcome{}, fmt.Errorf("handoff: resumed by a %s event", ev.Kind)
}

// relay sends body to each staff number by SMS.
func (st *Handoff) relay(r *engine.Run, body string) error {
	from := r.Sender(config.ChannelSMS, "")
	for _, to := range st.To {
		err := r.Queue(&engine.Message{
			Kind: engine.KindText, Purpose: engine.PurposeForward, Channel: config.ChannelSMS,
			Contact: r.Contact.Phone, From: from, To: []string{to}, Body: body,
		})
		if err != nil {
			return fmt.Errorf("handoff: queue forward: %w", err)
		}
	}
	return nil
}

var (
	_ engine.Step      = (*Handoff)(nil)
	_ engine.Resumer   = (*Handoff)(nil)
	_ engine.StaffStep = (*Handoff)(nil)
)

// LatePause returns the handoff's timeout: it closes after that long with
// no message either way and goes on at on_timeout, else the next step.
// Closed by #done, it goes on to the next step at once.
func (st *Handoff) LatePause() (target string, longest time.Duration, renews bool) {
	if st.Timeout == 0 {
		return "", 0, false
	}
	return st.OnTimeout, st.Timeout, false
}

var _ engine.LatePauser = (*Handoff)(nil)
