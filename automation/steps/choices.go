package steps

import (
	"strings"
	"unicode/utf8"

	"github.com/keyway-sms/keyway/automation/engine"
	"github.com/keyway-sms/keyway/config"
	"github.com/keyway-sms/keyway/providers"
)

// WhatsApp's limits on interactive messages, which `validate` enforces so
// that a step sends the same choices on every channel.
const (
	MaxButtons          = 3   // reply buttons per message
	MaxButtonTitle      = 20  // characters of a button's title
	MaxListRows         = 10  // rows of a list, all sections together
	MaxRowTitle         = 24  // characters of a row's title
	MaxRowDescription   = 72  // characters of a row's description
	MaxListButton       = 20  // characters of the button that opens a list
	MaxSectionTitle     = 24  // characters of a section's title
	MaxChoiceID         = 200 // characters of a button's or row's id
	maxListSectionCount = 10  // sections of a list
)

// buttonFields is one of a step's `buttons`, and one row of its `list`.
type buttonFields struct {
	ID          string `yaml:"id"`
	Title       string `yaml:"title"`
	Description string `yaml:"description"`
}

// listFields is a step's `list`.
type listFields struct {
	Button   string          `yaml:"button"`
	Sections []sectionFields `yaml:"sections"`
}

type sectionFields struct {
	Title string         `yaml:"title"`
	Rows  []buttonFields `yaml:"rows"`
}

// compileChoices checks the `buttons` or `list` of step s against
// WhatsApp's limits, each problem placed at its field, and returns them in
// the shape providers send; nil when the step offers none. Ids and titles
// are sent as written: they are not templates.
//
//	buttons: [ { id: ORDER, title: "My order" }, { id: AGENT, title: "A person" } ]
//	list: { button: "Sizes", sections: [ { title: "Coffee", rows: [ { id: SMALL, title: "Small", description: "8 oz" } ] } ] }
func compileChoices(c *engine.Compiler, s *config.Step, buttons []buttonFields, list *listFields) *providers.Choices {
	if buttons == nil && list == nil {
		return nil
	}
	if buttons != nil && list != nil {
		c.Problemf(s, "list", "a step offers buttons or a list, not both")
		return nil
	}
	ids := map[string]string{} // id → the field that first used it
	if buttons != nil {
		if len(buttons) == 0 {
			c.Problemf(s, "buttons", "buttons is empty: give 1 to %d buttons, or leave it out", MaxButtons)
		}
		out := &providers.Choices{}
		for i, b := range buttons {
			field := engine.FieldIndex("buttons", i)
			if i == MaxButtons {
				c.Problemf(s, field, "at most %d buttons (WhatsApp's limit), got %d; use a list for up to %d choices", MaxButtons, len(buttons), MaxListRows)
			}
			checkChoice(c, s, field, b, MaxButtonTitle, ids)
			if b.Description != "" {
				c.Problemf(s, field+".description", "a button has no description; only list rows do")
			}
			out.Buttons = append(out.Buttons, providers.Choice{ID: b.ID, Title: b.Title})
		}
		return out
	}
	out := &providers.Choices{List: &providers.List{Button: list.Button}}
	checkText(c, s, "list.button", "the list's button text", list.Button, MaxListButton, true)
	if len(list.Sections) == 0 {
		c.Problemf(s, "list", "a list needs sections: [ { title, rows: [ { id, title } ] } ]")
	}
	if len(list.Sections) > maxListSectionCount {
		c.Problemf(s, engine.FieldIndex("list.sections", maxListSectionCount), "at most %d sections, got %d", maxListSectionCount, len(list.Sections))
	}
	rows := 0
	for i, sec := range list.Sections {
		field := engine.FieldIndex("list.sections", i)
		// WhatsApp wants a title on every section of a list that has more
		// than one.
		checkText(c, s, field+".title", "a section's title", sec.Title, MaxSectionTitle, len(list.Sections) > 1)
		if len(sec.Rows) == 0 {
			c.Problemf(s, field, "%s has no rows", field)
		}
		ps := providers.Section{Title: sec.Title}
		for j, row := range sec.Rows {
			rowField := engine.FieldIndex(field+".rows", j)
			rows++
			if rows == MaxListRows+1 {
				c.Problemf(s, rowField, "at most %d rows in a list, all sections together (WhatsApp's limit); this is row %d", MaxListRows, rows)
			}
			checkChoice(c, s, rowField, row, MaxRowTitle, ids)
			checkText(c, s, rowField+".description", "a row's description", row.Description, MaxRowDescription, false)
			ps.Rows = append(ps.Rows, providers.Choice(row))
		}
		out.List.Sections = append(out.List.Sections, ps)
	}
	return out
}

// checkChoice checks the id and title of the button or row at field; ids
// notes the ids seen in the step, each with its field.
func checkChoice(c *engine.Compiler, s *config.Step, field string, b buttonFields, maxTitle int, ids map[string]string) {
	checkText(c, s, field+".title", "a title", b.Title, maxTitle, true)
	id := b.ID
	switch {
	case strings.TrimSpace(id) == "":
		c.Problemf(s, field+".id", "%s needs an id: what comes back as message.button when the contact picks it", field)
		return
	case utf8.RuneCountInString(id) > MaxChoiceID:
		c.Problemf(s, field+".id", "id is %d characters; WhatsApp allows at most %d", utf8.RuneCountInString(id), MaxChoiceID)
	case isTemplate(id):
		c.Problemf(s, field+".id", "id %q holds template markup; ids are sent as written", id)
	}
	if first, dup := ids[id]; dup {
		c.Problemf(s, field+".id", "id %q repeats %s's: each choice of a step needs its own id", id, first)
		return
	}
	ids[id] = field
}

// checkText checks the text at field (what names it in messages): not
// empty when required, at most max characters, and no template markup.
func checkText(c *engine.Compiler, s *config.Step, field, what, text string, max int, required bool) {
	n := utf8.RuneCountInString(text)
	switch {
	case strings.TrimSpace(text) == "" && required:
		c.Problemf(s, field, "%s is missing or empty", field)
	case n > max:
		c.Problemf(s, field, "%s is %d characters; WhatsApp allows at most %d", what, n, max)
	case isTemplate(text):
		c.Problemf(s, field, "%s holds template markup; button and list texts are sent as written", field)
	}
}

// isTemplate reports whether text holds Liquid markup.
func isTemplate(text string) bool {
	return strings.Contains(text, "{{") || strings.Contains(text, "{%")
}
