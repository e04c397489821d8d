package engine

import (
	"context"
	"fmt"
	"time"

	"github.com/keyway-sms/keyway/config"
)

// WindowSender is a step that sends to the contact on its channel, so that
// on WhatsApp it meets the 24-hour window (a reply): HasTemplate reports
// whether it has a template to send outside the window.
type WindowSender interface {
	HasTemplate() bool
}

// WindowRefuser is a step that sends on WhatsApp (a reply, a forward) and
// takes its window path after the fact, when the provider refuses a
// message it queued as outside the 24-hour window that keyway thought
// open. Refused runs inside the transaction that records the refusal, for
// m, the refused message: it queues the step's template in m's place, as
// the step sends it outside the window, and returns Continue; or, with no
// template for it, returns where the enrollment goes instead, as the step
// does outside the window (Next(on_error), or End(ReasonOutsideWindow)).
// The engine applies that only while the enrollment is active.
type WindowRefuser interface {
	Refused(ctx context.Context, r *Run, m *Message) (Outcome, error)
}

// LatePauser is a step that pauses an enrollment while the contact may
// write nothing: LatePause returns the longest such pause (capped at
// WhatsAppWindow: a date or a cron can be any distance away), and the step
// the enrollment then goes on at ("" for the next one, "end" when the pause
// ends it). renews tells that the step goes on to its next step only when
// the contact writes (a question answered), which opens the window again.
type LatePauser interface {
	LatePause() (target string, longest time.Duration, renews bool)
}

// windowEdge is a way from one step to another: the longest the contact
// may stay silent on the way (delay), or renew when the way is taken only
// on a message from the contact.
type windowEdge struct {
	from, to int
	delay    time.Duration
	renew    bool
}

// windowEdges returns every way between the steps of a: to the next step
// (in list order, or its next), to each branch, and a pause's own way.
func windowEdges(a *Automation) []windowEdge {
	var edges []windowEdge
	add := func(from int, target string, delay time.Duration, renew bool) {
		to := from + 1
		if target != "" {
			j, ok := a.byKey[target]
			if !ok {
				return // "end", or a target validate refuses
			}
			to = j
		}
		if to < len(a.Steps) {
			edges = append(edges, windowEdge{from: from, to: to, delay: min(delay, WhatsAppWindow), renew: renew})
		}
	}
	for i, st := range a.Steps {
		next := st.Next
		if st.Type == config.End {
			next = config.End
		}
		p, pauses := st.Step.(LatePauser)
		if !pauses {
			add(i, next, 0, false)
			for _, br := range st.Branches {
				add(i, br.Target, 0, false)
			}
			continue
		}
		target, longest, renews := p.LatePause()
		switch {
		case target == "":
			add(i, next, longest, false)
		case renews:
			add(i, next, 0, true)
		default:
			add(i, next, 0, false)
		}
		for _, br := range st.Branches {
			if br.Target == target {
				add(i, target, longest, false)
			} else {
				add(i, br.Target, 0, false)
			}
		}
	}
	return edges
}

// warnWindow warns about each reply of a that can go out on WhatsApp more
// than 24 hours after the contact's last message there and has no template:
// outside the window such a reply is not sent. A reply can be that late
// when a schedule starts the automation, or only a manual start or a
// broadcast can (no keyword, catch_all or start_automation step), or when
// the pauses on some way
// from the contact's last message to it (waits, questions that time out,
// handoffs that time out, one after another or in a loop) can add up to
// 24 hours. It applies to an automation that can reach WhatsApp: one with
// `channel: whatsapp`, or with no channel while a WhatsApp number is
// configured.
func (c *Compiler) warnWindow(ca *config.Automation, a *Automation) {
	if ca.Channel == config.ChannelSMS || (ca.Channel == "" && !c.whatsapp()) || len(a.Steps) == 0 {
		return
	}
	// since[i] is the longest the contact may have been silent when step i
	// runs, capped at WhatsAppWindow; why[i] says why it reaches the cap.
	n := len(a.Steps)
	since, reached, why := make([]time.Duration, n), make([]bool, n), make([]string, n)
	reached[0] = true
	switch {
	case ca.Schedule != nil:
		since[0], why[0] = WhatsAppWindow, "a schedule starts the automation"
	case len(ca.Keywords) == 0 && !ca.CatchAll && !c.startedBySteps()[ca.ID]:
		// A manual start or a broadcast reaches contacts whenever they
		// last wrote, or never.
		since[0], why[0] = WhatsAppWindow, "only a manual start or a broadcast starts the automation"
	}
	edges := windowEdges(a)
	// The longest silences, as longest paths: after n rounds a way that
	// still grows goes round a loop of pauses, which can last any time.
	for round := 0; round <= 3*n; round++ {
		changed := false
		for _, e := range edges {
			if !reached[e.from] {
				continue
			}
			d, w := time.Duration(0), ""
			if !e.renew {
				d, w = min(since[e.from]+e.delay, WhatsAppWindow), why[e.from]
				if round >= n && (!reached[e.to] || d > since[e.to]) {
					d = WhatsAppWindow
				}
				if d == WhatsAppWindow && since[e.from] < WhatsAppWindow {
					st := a.Steps[e.from]
					switch {
					case e.delay >= WhatsAppWindow:
						w = fmt.Sprintf("step %d (%s) can pause for 24 hours or more", st.Index+1, st.Type)
					case round >= n:
						w = fmt.Sprintf("a loop through step %d (%s) can pause for 24 hours or more", st.Index+1, st.Type)
					default:
						w = fmt.Sprintf("the pauses up to step %d (%s) can add up to 24 hours or more", st.Index+1, st.Type)
					}
				}
			}
			if reached[e.to] && d <= since[e.to] {
				continue
			}
			reached[e.to], since[e.to], why[e.to], changed = true, d, w, true
		}
		if !changed {
			break
		}
	}
	for _, st := range a.Steps {
		if ws, ok := st.Step.(WindowSender); ok && !ws.HasTemplate() && since[st.Index] >= WhatsAppWindow {
			c.Warnf(&ca.Steps[st.Index], "", "on WhatsApp this %s can go out more than 24 hours after the contact's last message (%s) and has no template: outside the WhatsApp 24-hour window it is not sent; add a template", st.Type, why[st.Index])
		}
	}
}

// startedBySteps returns the ids of the automations that a
// start_automation step of the config names: such an automation runs when
// its starter's step does, which may be an answer to the contact.
func (c *Compiler) startedBySteps() map[string]bool {
	if c.stepStarted != nil {
		return c.stepStarted
	}
	c.stepStarted = map[string]bool{}
	for _, ca := range c.Config.Automations {
		for _, s := range ca.Steps {
			if s.Type != "start_automation" || s.Node == nil {
				continue
			}
			for i := 0; i+1 < len(s.Node.Content); i += 2 {
				if s.Node.Content[i].Value == "automation" {
					c.stepStarted[s.Node.Content[i+1].Value] = true
				}
			}
		}
	}
	return c.stepStarted
}

// whatsapp reports whether a WhatsApp number is configured.
func (c *Compiler) whatsapp() bool {
	for _, n := range c.Config.Numbers() {
		if n.Channel == config.ChannelWhatsApp {
			return true
		}
	}
	return false
}

// WarnWhatsAppFrom warns, when a WhatsApp number is configured, about a
// `from` (field of s) that is not one: a reply to a WhatsApp contact would
// go out on WhatsApp from a number that cannot send there.
func (c *Compiler) WarnWhatsAppFrom(s *config.Step, field, from string) {
	if from == "" || !c.whatsapp() {
		return
	}
	for _, n := range c.Config.Numbers() {
		if n.Number == from && n.Channel == config.ChannelWhatsApp {
			return
		}
	}
	c.Warnf(s, field, "from %s is not a WhatsApp number; sent to a WhatsApp contact, this message would fail", from)
}
