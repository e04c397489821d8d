package engine

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/keyway-sms/keyway/config"
	"github.com/keyway-sms/keyway/providers"
)

// OneOff is a single message a person sends a contact from the dashboard:
// its text, and the approved template that goes instead outside the
// WhatsApp 24-hour window, in the form of the sending number's provider
// (a Twilio content sid and its variables by key, or a WhatsApp Cloud API
// template by name and language).
type OneOff struct {
	Text             string
	ContentSID       string
	ContentVariables map[string]string
	Template         *providers.Template
}

// hasTemplate reports whether o carries a template of either form.
func (o OneOff) hasTemplate() bool { return o.ContentSID != "" || o.Template != nil }

// OneOffChannel is where a one-off message to the contact goes: the
// channel it last wrote on (SMS when none), from the number it wrote to
// there, and whether the WhatsApp window is open (always on SMS); the
// dashboard shows it before the message is written.
type OneOffChannel struct {
	Channel string
	From    string
	// Provider is the key of the sending number's provider, whose
	// template form (config.TemplateFormOf) says what template it takes.
	Provider string
	InWindow bool
}

// oneOffChannel is OneOffChannel for contact c at now.
func oneOffChannel(set *Set, c *Contact, now time.Time) OneOffChannel {
	ch := reachChannel(set, c, nil)
	out := OneOffChannel{Channel: ch, From: senderFor(set, c, ch), InWindow: true}
	if ch == config.ChannelWhatsApp {
		out.InWindow = c.InWindow(ch, now)
	}
	for _, n := range set.Config.Numbers() {
		if n.Number == out.From && n.Channel == ch {
			out.Provider = n.Provider
		}
	}
	return out
}

// notSendable says why o cannot go to the contact on c, or "".
func (o OneOff) notSendable(contact *Contact, c OneOffChannel) string {
	switch {
	case contact.OptedOut:
		return "the contact opted out: nothing reaches it until it opts back in"
	case config.KindOf(contact.Phone) == config.AddressAlphanumeric:
		return whyAlphanumeric
	case c.From == "":
		return "no number is configured for " + c.Channel
	case !c.InWindow && !o.hasTemplate():
		return "outside the WhatsApp 24-hour window (the contact has not written in 24 hours): only an approved template can go; choose one"
	case c.Channel != config.ChannelWhatsApp && o.Text == "":
		return "nothing to send: write the message first"
	case c.InWindow && o.Text == "" && !o.hasTemplate():
		return "nothing to send: write the message first"
	}
	if c.Channel == config.ChannelWhatsApp && o.hasTemplate() && (!c.InWindow || o.Text == "") {
		form := config.TemplateFormOf(c.Provider)
		switch {
		case o.ContentSID != "" && form == config.TemplatesByName:
			return fmt.Sprintf("%s sends templates by name and language, not content sid", c.From)
		case o.Template != nil && form == config.TemplatesByContentSID:
			return fmt.Sprintf("%s sends templates by content sid, not by name", c.From)
		case o.Template != nil && (o.Template.Name == "" || o.Template.Language == ""):
			return "a template needs its name and language code (e.g. en_US)"
		}
	}
	return ""
}

// SendChannel returns where a one-off message to the contact with phone
// would go now. It only reads (the conversation page asks it at each
// refresh); an unknown contact is ErrNotFound.
func (e *Engine) SendChannel(ctx context.Context, phone string) (OneOffChannel, error) {
	var c *Contact
	err := e.store.View(ctx, func(tx Tx) error {
		var err error
		c, err = tx.Contact(phone)
		return err
	})
	if err != nil {
		return OneOffChannel{}, fmt.Errorf("engine: channel of %s: %w", phone, err)
	}
	return oneOffChannel(e.Set(), c, e.clock.Now()), nil
}

// Send sends o to the stored contact with phone, for the person ctx names
// (WithActor, recorded as the message's By): on the channel
// it last wrote on, from the number it wrote to there. Inside the WhatsApp
// window (and on SMS) the text goes; outside it only the template. It is
// a person's message, like a staff answer: never to an opted-out contact
// nor to an alphanumeric sender id, never held for quiet hours nor counted
// by the loop guard. It returns why nothing was sent when it cannot go; an
// unknown contact is ErrNotFound.
func (e *Engine) Send(ctx context.Context, phone string, o OneOff) (Delivery, error) {
	o.Text = strings.TrimSpace(o.Text)
	out, err := transactValue(ctx, e, nil, func(x *unitOfWork) (Delivery, error) {
		if _, err := x.tx.Contact(phone); err != nil {
			return Delivery{}, err
		}
		t, err := x.turn(phone)
		if err != nil {
			return Delivery{}, err
		}
		c := oneOffChannel(t.set, t.contact, t.now)
		if why := o.notSendable(t.contact, c); why != "" {
			return Delivery{NotSent: why}, nil
		}
		m := &Message{Purpose: PurposeStaff, Channel: c.Channel, From: c.From, To: []string{phone}, Body: o.Text}
		if c.Channel == config.ChannelWhatsApp && o.hasTemplate() && (!c.InWindow || o.Text == "") {
			// As a reply step sends one: the template alone.
			m.Body, m.ContentSID, m.ContentVariables, m.Template = "", o.ContentSID, o.ContentVariables, o.Template
		}
		t.emit(TraceEvent{Contact: phone, What: "one-off message from " + x.dashboardActor().label})
		if err := t.queue(m); err != nil {
			return Delivery{}, err
		}
		return Delivery{Message: m.ID}, nil
	})
	if err != nil {
		return Delivery{}, fmt.Errorf("engine: send to %s: %w", phone, err)
	}
	return out, nil
}
