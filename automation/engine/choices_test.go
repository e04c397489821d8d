package engine_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/keyway-sms/keyway/automation/engine"
	"github.com/keyway-sms/keyway/automation/sim"
)

const choicesConfig = `
staff: [ { number: "+15550100100", name: "Sam" } ]
automations:
  - id: menu
    keywords: [MENU]
    steps:
      - { type: reply, text: "How can we help?", buttons: [ { id: ORDER, title: "My order" }, { id: HOURS, title: "Opening hours" }, { id: AGENT, title: "Stop" } ] }
  - id: hours
    keywords: [HOURS]
    steps: [ { type: reply, text: "hours {{ message.button }}/{{ message.body }}" } ]
  - id: agent
    keywords: [AGENT]
    steps: [ { type: reply, text: "agent" } ]
  - id: opening
    keywords: [OPENING]
    steps: [ { type: reply, text: "opening, by the title's first word" } ]
  - id: size
    keywords: [SIZE]
    steps:
      - { type: reply, text: "Size?", list: { button: "Sizes", sections: [ { rows: [ { id: SMALL, title: "Small" }, { id: LARGE, title: "Large" } ] } ] } }
      - { type: wait_for_reply, save_as: size }
      - { type: condition, if: 'message.button == "LARGE"', then: big }
      - { type: reply, text: "{{ vars.size }} {{ vars.size_title }}", next: end }
      - { id: big, type: reply, text: "big {{ vars.size }} {{ vars.size_title }}" }
  - id: party
    keywords: [PARTY]
    steps:
      - { type: reply, text: "How many?", buttons: [ { id: TEN, title: "10" }, { id: TWENTY, title: "20" } ] }
  - id: other
    catch_all: true
    steps: [ { type: reply, text: "other: {{ message.body }}" } ]
`

// turn is one step of a conversation in the choices tests: a message
// typed (say) or a button tapped (press), after moving the clock by wait.
type choiceTurn struct {
	wait   time.Duration
	say    string
	press  string
	route  string
	button string // the id the message was read as, "" for none
	sent   []string
}

func runChoiceTurns(t *testing.T, turns []choiceTurn) {
	t.Helper()
	s := sim.NewSimulator(compileSet(t, choicesConfig), nil)
	ctx := context.Background()
	for i, tn := range turns {
		if tn.wait > 0 {
			if _, err := s.Advance(ctx, tn.wait); err != nil {
				t.Fatal(err)
			}
		}
		var res sim.SimResult
		var err error
		if tn.press != "" {
			res, err = s.Press(ctx, tn.press)
		} else {
			res, err = s.Say(ctx, tn.say)
		}
		if err != nil {
			t.Fatalf("turn %d: %v", i+1, err)
		}
		var sent []string
		for _, m := range res.Sent {
			sent = append(sent, engine.TextWithChoices(m))
		}
		if res.Via != tn.route || res.In.Button != tn.button || !equalStrings(sent, tn.sent) {
			t.Fatalf("turn %d (%q%s): route %s, button %q, sent %q; want %s, %q, %q", i+1, tn.say, tn.press, res.Via, res.In.Button, sent, tn.route, tn.button, tn.sent)
		}
	}
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

const menuText = "How can we help?\n1 My order\n2 Opening hours\n3 Stop"

const helpReply = "Reply STOP to opt out. Msg&data rates may apply."

func TestChoices(t *testing.T) {
	cases := []struct {
		name  string
		turns []choiceTurn
	}{
		{"a number within 24 hours picks a choice, whose id is matched before its title", []choiceTurn{
			{say: "MENU", route: engine.ViaKeyword, sent: []string{menuText}},
			{wait: 23 * time.Hour, say: "2", route: engine.ViaKeyword, button: "HOURS", sent: []string{"hours HOURS/Opening hours"}},
		}},
		{"a title, normalised, picks a choice", []choiceTurn{
			{say: "MENU", route: engine.ViaKeyword, sent: []string{menuText}},
			{say: "  opening HOURS! ", route: engine.ViaKeyword, button: "HOURS", sent: []string{"hours HOURS/Opening hours"}},
		}},
		{"a number after 24 hours is no choice", []choiceTurn{
			{say: "MENU", route: engine.ViaKeyword, sent: []string{menuText}},
			{wait: 25 * time.Hour, say: "2", route: engine.ViaCatchAll, sent: []string{"other: 2"}},
		}},
		{"only the next message may answer the choices", []choiceTurn{
			{say: "MENU", route: engine.ViaKeyword, sent: []string{menuText}},
			{say: "what?", route: engine.ViaCatchAll, sent: []string{"other: what?"}},
			{say: "2", route: engine.ViaCatchAll, sent: []string{"other: 2"}},
		}},
		{"a number written with punctuation picks a choice", []choiceTurn{
			{say: "MENU", route: engine.ViaKeyword, sent: []string{menuText}},
			{say: "2)", route: engine.ViaKeyword, button: "HOURS", sent: []string{"hours HOURS/Opening hours"}},
			{say: "MENU", route: engine.ViaKeyword, sent: []string{menuText}},
			{say: " #2 ", route: engine.ViaKeyword, button: "HOURS", sent: []string{"hours HOURS/Opening hours"}},
		}},
		{"a keycap emoji picks a choice", []choiceTurn{
			{say: "MENU", route: engine.ViaKeyword, sent: []string{menuText}},
			{say: "2\ufe0f\u20e3", route: engine.ViaKeyword, button: "HOURS", sent: []string{"hours HOURS/Opening hours"}},
		}},
		{"a choice's line as shown picks it", []choiceTurn{
			{say: "MENU", route: engine.ViaKeyword, sent: []string{menuText}},
			{say: "2. opening hours", route: engine.ViaKeyword, button: "HOURS", sent: []string{"hours HOURS/Opening hours"}},
		}},
		{"a number beyond the choices may still be a title", []choiceTurn{
			{say: "PARTY", route: engine.ViaKeyword, sent: []string{"How many?\n1 10\n2 20"}},
			{say: "20", route: engine.ViaCatchAll, button: "TWENTY", sent: []string{"other: 20"}},
		}},
		{"a number out of range is no choice", []choiceTurn{
			{say: "MENU", route: engine.ViaKeyword, sent: []string{menuText}},
			{say: "4", route: engine.ViaCatchAll, sent: []string{"other: 4"}},
		}},
		{"a tapped button routes by its id, though its title is a compliance word", []choiceTurn{
			{say: "MENU", route: engine.ViaKeyword, sent: []string{menuText}},
			{press: "AGENT", route: engine.ViaKeyword, button: "AGENT", sent: []string{"agent"}},
		}},
		{"STOP typed is an opt-out even when a choice has that title", []choiceTurn{
			{say: "MENU", route: engine.ViaKeyword, sent: []string{menuText}},
			{say: "STOP", route: engine.ViaCompliance, button: "AGENT", sent: []string{"You are unsubscribed. Reply START to resubscribe."}},
		}},
		{"HELP between the choices and the answer leaves them to the answer", []choiceTurn{
			{say: "MENU", route: engine.ViaKeyword, sent: []string{menuText}},
			{say: "help", route: engine.ViaCompliance, sent: []string{helpReply}},
			{say: "2", route: engine.ViaKeyword, button: "HOURS", sent: []string{"hours HOURS/Opening hours"}},
			{say: "2", route: engine.ViaCatchAll, sent: []string{"other: 2"}},
		}},
		{"HELP while a wait_for_reply offers choices leaves them to the answer", []choiceTurn{
			{say: "SIZE", route: engine.ViaKeyword, sent: []string{"Size?\n1 Small\n2 Large"}},
			{say: "HELP", route: engine.ViaCompliance, sent: []string{helpReply}},
			{say: "2", route: engine.ViaReply, button: "LARGE", sent: []string{"big LARGE Large"}},
		}},
		{"an opt-out forgets the choices", []choiceTurn{
			{say: "MENU", route: engine.ViaKeyword, sent: []string{menuText}},
			{say: "STOP", route: engine.ViaCompliance, button: "AGENT", sent: []string{"You are unsubscribed. Reply START to resubscribe."}},
			{say: "START", route: engine.ViaCompliance, sent: []string{"You are resubscribed."}},
			{say: "2", route: engine.ViaCatchAll, sent: []string{"other: 2"}},
		}},
		{"a button without an offer still routes by its id", []choiceTurn{
			{press: "HOURS", route: engine.ViaKeyword, button: "HOURS", sent: []string{"hours HOURS/HOURS"}},
		}},
		{"wait_for_reply saves the id and the title of a list row, and conditions see message.button", []choiceTurn{
			{say: "SIZE", route: engine.ViaKeyword, sent: []string{"Size?\n1 Small\n2 Large"}},
			{say: "1", route: engine.ViaReply, button: "SMALL", sent: []string{"SMALL Small"}},
			{say: "SIZE", route: engine.ViaKeyword, sent: []string{"Size?\n1 Small\n2 Large"}},
			{press: "LARGE", route: engine.ViaReply, button: "LARGE", sent: []string{"big LARGE Large"}},
		}},
		{"a typed answer to wait_for_reply is saved as it is, in both", []choiceTurn{
			{say: "SIZE", route: engine.ViaKeyword, sent: []string{"Size?\n1 Small\n2 Large"}},
			{say: "medium", route: engine.ViaReply, sent: []string{"medium medium"}},
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) { runChoiceTurns(t, tc.turns) })
	}
}

// The choices are remembered on the contact record, with the id and title
// of each; the inbound message keeps the id, the title and what was typed.
func TestChoicesAreStored(t *testing.T) {
	s := sim.NewSimulator(compileSet(t, choicesConfig), nil)
	ctx := context.Background()
	if _, err := s.Say(ctx, "MENU"); err != nil {
		t.Fatal(err)
	}
	c, err := s.Contact(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if c.Offer == nil || len(c.Offer.Choices) != 3 || c.Offer.Choices[1] != (engine.OfferedChoice{ID: "HOURS", Title: "Opening hours"}) {
		t.Fatalf("offer = %+v", c.Offer)
	}
	res, err := s.Say(ctx, "2.")
	if err != nil {
		t.Fatal(err)
	}
	var m *engine.Message
	err = s.Store.View(ctx, func(tx engine.Tx) error {
		var err error
		m, err = tx.Message(res.In.ID)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if m.Button != "HOURS" || m.Body != "Opening hours" || m.Typed != "2." {
		t.Errorf("stored message: button %q, body %q, typed %q", m.Button, m.Body, m.Typed)
	}
	if c, err = s.Contact(ctx); err != nil || c.Offer != nil {
		t.Errorf("offer after the answer = %+v (%v), want none", c.Offer, err)
	}
}

// quickAnswersConfig forwards every message to one staff member with two
// quick answers.
const quickAnswersConfig = `
automations:
  - id: support
    catch_all: true
    steps:
      - { type: forward_to_mobile, to: ["+15550100100"], buttons: [ { id: OMW, title: "On my way" }, { id: LATER, title: "Call you later" } ] }
`

// Staff get a forward's choices as quick answers: a number typed by staff
// sends the choice's title to the contact.
func TestStaffPickAQuickAnswer(t *testing.T) {
	s := sim.NewSimulator(compileSet(t, quickAnswersConfig), nil)
	ctx := context.Background()
	res, err := s.Say(ctx, "help me")
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Sent) != 1 || engine.TextWithChoices(res.Sent[0]) != "#2W33 From +15550001111: \"help me\"\n1 On my way\n2 Call you later" {
		t.Fatalf("forward: %+v", res.Sent)
	}
	contact := s.From
	s.From = "+15550100100"
	res, err = s.Say(ctx, "2")
	s.From = contact
	if err != nil {
		t.Fatal(err)
	}
	if res.Via != engine.ViaStaff || len(res.Sent) != 1 || res.Sent[0].Body != "Call you later" || res.Sent[0].To[0] != contact {
		t.Fatalf("staff answer: route %s, sent %+v", res.Via, res.Sent)
	}
}

// A field that was never set compares as "" in a condition, as a template
// renders it, whichever side the string is on; a set one as its value.
func TestConditionReadsAMissingFieldAsEmpty(t *testing.T) {
	set := compileSet(t, `
fields: [first_name]
automations:
  - id: hi
    keywords: [HI]
    steps:
      - { type: condition, if: 'contact.fields.first_name != ""', then: named }
      - { type: condition, if: '"" == contact.fields.first_name && vars.nothing == ""', then: anon }
      - { type: reply, text: "neither", next: end }
      - { id: anon, type: reply, text: "Hi there", next: end }
      - { id: named, type: reply, text: "Hi {{ contact.fields.first_name }}" }
  - id: name
    keywords: [NAME]
    steps: [ { type: set_field, fields: { first_name: "Ann" } } ]
`)
	s := sim.NewSimulator(set, nil)
	say := func(text, want string) {
		t.Helper()
		res, err := s.Say(context.Background(), text)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, m := range res.Sent {
			got = append(got, m.Body)
		}
		if (want == "" && len(got) != 0) || (want != "" && !slices.Equal(got, []string{want})) {
			t.Fatalf("%s: sent %q, want %q", text, got, want)
		}
	}
	say("HI", "Hi there")
	say("NAME", "")
	say("HI", "Hi Ann")
}
