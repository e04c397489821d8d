package engine

import (
	"context"
	"fmt"

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

// LatePauser is a step that may pause an enrollment for WhatsAppWindow or
// more (a long wait, a long reply timeout): LatePause reports whether it
// can, and the step the enrollment then goes on at ("" for the next one).
type LatePauser interface {
	LatePause() (target string, late bool)
}

// warnWindow warns about each reply of a that can go out on WhatsApp more
// than 24 hours after the contact's last message there and has no template:
// outside the window such a reply is not sent. A reply can be that late
// when a schedule starts the automation, or when it stands at or after
// where a long pause goes on (in list order, or the pause's target). It
// applies to an automation that can reach WhatsApp: one with `channel:
// whatsapp`, or with no channel while a WhatsApp number is configured.
func (c *Compiler) warnWindow(ca *config.Automation, a *Automation) {
	if ca.Channel == config.ChannelSMS || (ca.Channel == "" && !c.whatsapp()) {
		return
	}
	late, why := len(a.Steps), ""
	if ca.Schedule != nil {
		late, why = 0, "a schedule starts the automation"
	}
	for _, st := range a.Steps {
		p, ok := st.Step.(LatePauser)
		if !ok {
			continue
		}
		target, long := p.LatePause()
		if !long {
			continue
		}
		i := st.Index + 1
		if j, ok := a.byKey[target]; ok {
			i = j
		}
		if i < late {
			late, why = i, fmt.Sprintf("step %d (%s) can pause for 24 hours or more", st.Index+1, st.Type)
		}
	}
	for _, st := range a.Steps[min(late, len(a.Steps)):] {
		if ws, ok := st.Step.(WindowSender); ok && !ws.HasTemplate() {
			c.Warnf(&ca.Steps[st.Index], "", "on WhatsApp this %s can go out more than 24 hours after the contact's last message (%s) and has no template: outside the WhatsApp 24-hour window it is not sent; add a template", st.Type, why)
		}
	}
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
