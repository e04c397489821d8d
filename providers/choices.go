package providers

import (
	"strconv"
	"strings"
)

// Choices are the reply buttons or the list a message offers the contact,
// in a shape that names no provider. At most one of Buttons and List is
// set. A provider that can send them as an interactive message (WhatsApp's
// reply buttons and list messages) declares it with ChoiceSender; to any
// other, Deliverable hands the message with the choices written out as
// numbered lines after its text.
type Choices struct {
	Buttons []Choice `json:"buttons,omitempty"`
	List    *List    `json:"list,omitempty"`
}

// Choice is one reply button or list row: ID comes back as the inbound
// message's Button when the contact picks it, Title is what the contact
// sees (and what comes back as its Body). Description is for list rows.
type Choice struct {
	ID          string `json:"id"`
	Title       string `json:"title"`
	Description string `json:"description,omitempty"`
}

// List is a list message: Button is the text of the button that opens it,
// and its rows come in sections.
type List struct {
	Button   string    `json:"button"`
	Sections []Section `json:"sections"`
}

// Section is a titled group of a list's rows.
type Section struct {
	Title string   `json:"title,omitempty"`
	Rows  []Choice `json:"rows"`
}

// All returns every choice in the order they are shown and numbered: the
// buttons, or the list's rows section by section. It returns nil for nil
// Choices.
func (c *Choices) All() []Choice {
	if c == nil {
		return nil
	}
	if c.List == nil {
		return c.Buttons
	}
	var out []Choice
	for _, s := range c.List.Sections {
		out = append(out, s.Rows...)
	}
	return out
}

// Empty reports whether c offers nothing.
func (c *Choices) Empty() bool { return len(c.All()) == 0 }

// NumberedText returns body followed by the choices of c, one a line, each
// its number from 1 and its title: "1 My order". A list row's description
// is shown only where the list is (the WhatsApp Cloud API): a numbered
// line is what the contact answers with, nothing more. Without choices it
// returns body.
func NumberedText(body string, c *Choices) string {
	all := c.All()
	if len(all) == 0 {
		return body
	}
	var b strings.Builder
	b.WriteString(body)
	for i, ch := range all {
		if b.Len() > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(strconv.Itoa(i + 1))
		b.WriteByte(' ')
		b.WriteString(ch.Title)
	}
	return b.String()
}

// ChoiceSender is implemented by a Provider that can send some messages'
// Choices natively, as an interactive message the contact taps (the
// WhatsApp Cloud API). SendsChoices reports whether it sends m's choices
// so; a provider without the method sends none natively.
type ChoiceSender interface {
	SendsChoices(m Outbound) bool
}

// Deliverable returns m as p is to send it: unchanged when it offers no
// choices or p sends them natively (ChoiceSender), else with the choices
// written after the text as numbered lines (NumberedText) and Choices
// cleared. A message sent as an approved template (ContentSID) carries the
// template's own buttons, so its choices are dropped rather than written
// out. The gateway sends and looks up every text through it, so that no
// provider needs to know about choices it cannot send.
func Deliverable(p Provider, m Outbound) Outbound {
	if m.Choices.Empty() {
		m.Choices = nil
		return m
	}
	if cs, ok := p.(ChoiceSender); ok && cs.SendsChoices(m) {
		return m
	}
	if m.ContentSID == "" {
		m.Body = NumberedText(m.Body, m.Choices)
	}
	m.Choices = nil
	return m
}
