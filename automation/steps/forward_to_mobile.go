package steps

import (
	"context"
	"fmt"
	"strings"
	"unicode"

	"github.com/keyway-sms/keyway/automation/engine"
	"github.com/keyway-sms/keyway/config"
	"github.com/keyway-sms/keyway/providers"
)

func init() { engine.Register("forward_to_mobile", compileForwardToMobile) }

// ForwardToMobile sends the contact's message to staff by SMS, one message
// per staff number, from `from` if set, else the SMS number the contact
// last wrote to, else the first configured SMS number. The default text
// starts with the conversation's reference, names the contact and quotes
// its message, with its media links one a line:
//
//	#K7Q2 From +15550001111 (Ann): "Is the shop open on Sunday?"
//	Media: https://api.twilio.com/.../Media/ME123
//
// A custom text gets the reference on a line of its own unless it holds
// it; one that renders empty (or only spaces) gives way to the default
// text, so that staff still learn what the contact wrote. Staff answer with "#K7Q2 text", or plain text (see engine/staff.go).
//
// Forwards are for staff, so they go out even when the contact has opted
// out. A forward from a WhatsApp number goes to staff on WhatsApp, where
// the 24-hour window is each staff member's: outside it the forward is
// sent as its `template`, and with no template the step sends nothing and
// goes to `on_error`, else the enrollment ends with the reason. A forward
// that does not pass on a
// message the contact has just sent is held during quiet hours.
//
//   - type: forward_to_mobile
//     to: ["+15550100", "+15550101"]
//     text: "{{ contact.phone }} wrote: {{ message.body }}"   # optional
//     from: "+15005550006"                                     # optional
//     template: { content_sid: "HX...", variables: { "1": "{{ contact.phone }}" } }   # optional
//     on_error: by_sms                                                          # optional
//     buttons: [ { id: OMW, title: "On my way" } ]                             # optional, or list
//
// Buttons or a list offer staff quick answers: a staff member who taps
// one, or types its number or title, answers the contact with its title.
type ForwardToMobile struct {
	To   []string         // E.164
	Text *engine.Template // nil: the default text
	From string           // E.164, or "" for the contact's SMS number

	// Channel is whatsapp when From is a WhatsApp number, else sms.
	Channel string
	// Template is sent outside the WhatsApp window; nil: none.
	Template *Content
	// OnError is the step to go to when a staff member is outside the
	// WhatsApp window and there is no template; "": the enrollment ends.
	OnError string
	// Choices are the buttons or list the forward offers staff, e.g.
	// quick answers: the title of the one a staff member picks goes to the
	// contact as their answer. nil: none.
	Choices *providers.Choices
}

type forwardToMobileFields struct {
	To   []string `yaml:"to"`
	Text string   `yaml:"text"`
	From string   `yaml:"from"`

	Template *contentFields `yaml:"template"`
	OnError  string         `yaml:"on_error"`
	Buttons  []buttonFields `yaml:"buttons"`
	List     *listFields    `yaml:"list"`
}

func compileForwardToMobile(c *engine.Compiler, s *config.Step) (engine.Step, config.Problems) {
	var f forwardToMobileFields
	c.Decode(s, &f)
	st := &ForwardToMobile{OnError: f.OnError}
	c.Target(s, "on_error", f.OnError)
	if len(f.To) == 0 {
		c.Problemf(s, "to", "forward_to_mobile needs to: at least one staff number")
	}
	seen := map[string]int{}
	for i, raw := range f.To {
		field := engine.FieldIndex("to", i)
		if strings.TrimSpace(raw) == "" {
			c.Problemf(s, field, "%s is empty", field)
			continue
		}
		n := c.Number(s, field, raw)
		if n == "" {
			continue
		}
		if first, dup := seen[n]; dup {
			c.Problemf(s, field, "%s repeats %s (%s)", field, engine.FieldIndex("to", first), n)
			continue
		}
		seen[n] = i
		if ours(c.Config, n) {
			c.Problemf(s, field, "%s is one of our own numbers; forward to a staff mobile", n)
			continue
		}
		st.To = append(st.To, n)
	}
	if f.Text != "" {
		st.Text = c.Template(s, "text", f.Text)
	}
	st.From = c.Sender(s, "from", f.From)
	st.Channel = config.ChannelSMS
	for _, num := range c.Config.Numbers() {
		if num.Number == st.From && num.Channel == config.ChannelWhatsApp {
			st.Channel = config.ChannelWhatsApp
		}
	}
	st.Template = compileContent(c, s, f.Template, st.From)
	if st.Channel == config.ChannelWhatsApp && st.Template == nil && st.OnError == "" && !c.Refused(s, "template", "on_error") {
		// The window is each staff member's: it is shut for one who has
		// not written on WhatsApp in 24 hours, whenever the step runs.
		c.Warnf(s, "from", "forward_to_mobile from the WhatsApp number %s has no template and no on_error: staff who have not written to it on WhatsApp in the last 24 hours get nothing, and the enrollment ends; add a template", st.From)
	}
	st.Choices = compileChoices(c, s, f.Buttons, f.List)
	if st.From == "" && f.From == "" && !c.Refused(s, "from") && !hasChannel(c.Config, config.ChannelSMS) {
		c.Warnf(s, "", "forward_to_mobile has no SMS number to send from: set from, or add an sms number under %s", strings.Join(c.Config.NumberPaths(), " or "))
	}
	return st, nil
}

// StaffNumbers returns the staff numbers the step forwards to: they are
// staff, whose messages are answers, not a contact's.
func (st *ForwardToMobile) StaffNumbers() []string { return st.To }

// Execute queues one forward per staff number, each carrying the
// conversation's reference; or holds them for quiet hours; or, on WhatsApp
// with a staff member outside the window and no template, sends nothing.
func (st *ForwardToMobile) Execute(_ context.Context, r *engine.Run) (engine.Outcome, error) {
	if until, held := r.HoldUntil(); held {
		return engine.Hold(until), nil
	}
	open := make([]bool, len(st.To))
	for i, to := range st.To {
		in, err := r.InWindowOf(to, st.Channel)
		if err != nil {
			return engine.Outcome{}, fmt.Errorf("forward_to_mobile: %w", err)
		}
		if !in && st.Template == nil {
			return st.outsideWindow(r, to), nil
		}
		open[i] = in
	}
	ref, err := r.Reference(st.To...)
	if err != nil {
		return engine.Outcome{}, fmt.Errorf("forward_to_mobile: %w", err)
	}
	body := "#" + ref + " " + forwardText(r)
	if st.Text != nil {
		custom, ok, err := customText(r, st.Text, ref)
		if err != nil {
			return engine.End(fmt.Sprintf("forward_to_mobile: %v", err)), nil
		}
		if ok {
			body = custom
		}
	}
	var tmpl *engine.Message
	if st.Template != nil {
		if tmpl, err = st.templateMessage(r); err != nil {
			return engine.End(fmt.Sprintf("forward_to_mobile: template: %v", err)), nil
		}
	}
	from := r.Sender(st.Channel, st.From)
	for i, to := range st.To {
		m := &engine.Message{Body: body, Choices: st.Choices}
		if !open[i] {
			m = tmpl
		}
		if err := st.queue(r, m, from, to); err != nil {
			return engine.Outcome{}, err
		}
	}
	return engine.Continue(), nil
}

// templateMessage is the forward as its template, rendered, before
// queue addresses it: what goes to a staff member outside the window.
func (st *ForwardToMobile) templateMessage(r *engine.Run) (*engine.Message, error) {
	vars, named, err := st.Template.render(r)
	if err != nil {
		return nil, err
	}
	return &engine.Message{ContentSID: st.Template.SID, ContentVariables: vars, Template: named}, nil
}

// queue queues a copy of m, the forward's content, from from to staff
// member to.
func (st *ForwardToMobile) queue(r *engine.Run, m *engine.Message, from, to string) error {
	c := *m
	c.Kind, c.Purpose, c.Channel = engine.KindText, engine.PurposeForward, st.Channel
	c.Contact, c.From, c.To = r.Contact.Phone, from, []string{to}
	if err := r.Queue(&c); err != nil {
		return fmt.Errorf("forward_to_mobile: queue forward: %w", err)
	}
	r.Trace("forwarded to " + to)
	return nil
}

// outsideWindow is where a forward that may not reach staff member to
// outside the WhatsApp window, and has no template, goes: on_error, else
// the end.
func (st *ForwardToMobile) outsideWindow(r *engine.Run, to string) engine.Outcome {
	r.Trace("not sent: " + engine.ReasonOutsideWindow + " of " + to)
	return engine.OnError(st.OnError, engine.ReasonOutsideWindow)
}

// Refused takes the forward's window path for m, a copy to one staff
// member that the provider refused as outside the WhatsApp window (see
// engine.WindowRefuser): the template goes to that staff member instead,
// from the number m was to go from; with none (or when m was the
// template), it goes where a forward goes outside a staff member's window.
func (st *ForwardToMobile) Refused(_ context.Context, r *engine.Run, m *engine.Message) (engine.Outcome, error) {
	if len(m.To) != 1 {
		return engine.Continue(), nil
	}
	if st.Template == nil || templated(m) {
		return st.outsideWindow(r, m.To[0]), nil
	}
	tmpl, err := st.templateMessage(r)
	if err != nil {
		return engine.End(fmt.Sprintf("forward_to_mobile: template: %v", err)), nil
	}
	return engine.Continue(), st.queue(r, tmpl, m.From, m.To[0])
}

// Resume forwards once the quiet hours the forward was held for end.
func (st *ForwardToMobile) Resume(ctx context.Context, r *engine.Run, _ engine.Event) (engine.Outcome, error) {
	return st.Execute(ctx, r)
}

// forwardText is the default text of a forward to a staff mobile.
func forwardText(r *engine.Run) string {
	who := contactLabel(r.Contact)
	m := r.Message
	if m == nil {
		return fmt.Sprintf("About %s: automation %q ran without a new message from the contact", who, r.Automation.ID)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "From %s", who)
	if m.Channel != "" && m.Channel != config.ChannelSMS {
		fmt.Fprintf(&b, " on %s", channelName(m.Channel))
	}
	b.WriteString(": ")
	b.WriteString(quotedInText(m.Body))
	if m.Button != "" {
		// A choice: its id is what the automations went by.
		fmt.Fprintf(&b, " (choice %s)", m.Button)
	}
	for _, u := range m.Media {
		b.WriteString("\nMedia: " + u)
	}
	return b.String()
}

// whyDefaultText is the trace of a forward whose custom text rendered
// empty, sent with its default text instead.
const whyDefaultText = "the forward's text rendered empty: sent the default text, which quotes the contact's message"

// customText renders a forward's custom text t with the reference ref
// (see withRef). ok is false when t renders empty or only spaces: the
// forward then goes with its default text, since staff must still learn
// that a message came in and what it said, which a bare reference does
// not tell them.
func customText(r *engine.Run, t *engine.Template, ref string) (body string, ok bool, err error) {
	body, err = r.Render(t)
	if err != nil {
		return "", false, err
	}
	if strings.TrimSpace(body) == "" {
		r.Trace(whyDefaultText)
		return "", false, nil
	}
	return withRef(body, ref), true, nil
}

// withRef adds the conversation's reference to a custom forward text that
// does not carry it, so that staff can answer it.
func withRef(body, ref string) string {
	if strings.Contains(strings.ToUpper(body), "#"+ref) {
		return body
	}
	return body + "\n#" + ref
}

// contactLabel names a contact by number, and by name when it has one:
// "+15550001111 (Ann)".
func contactLabel(c *engine.Contact) string {
	if c.Name == "" {
		return c.Phone
	}
	return fmt.Sprintf("%s (%s)", c.Phone, c.Name)
}

// quoted puts a message's text in double quotes, or says it had none.
// maxQuoted is how many characters of a contact's message a forward by
// text quotes: the forward, with the sender, the reference and a few media
// links, stays within what every provider takes as one message (Vonage
// SMS 1,000 characters, Twilio 1,600), where a longer one would be refused
// and staff would get nothing. The whole message is in the dashboard.
const maxQuoted = 800

// quotedInText is quoted, cut to maxQuoted characters, saying so.
func quotedInText(body string) string {
	if r := []rune(body); len(r) > maxQuoted {
		return `"` + strings.TrimRightFunc(string(r[:maxQuoted]), unicode.IsSpace) + `…" (cut: the whole message is in the dashboard)`
	}
	return quoted(body)
}

func quoted(body string) string {
	if strings.TrimSpace(body) == "" {
		return "(no text)"
	}
	return `"` + body + `"`
}

// channelName is a channel as people write it.
func channelName(ch string) string {
	switch ch {
	case config.ChannelSMS:
		return "SMS"
	case config.ChannelWhatsApp:
		return "WhatsApp"
	}
	return ch
}

// ours reports whether n is one of the configured sender numbers.
func ours(cfg *config.Config, n string) bool {
	for _, num := range cfg.Numbers() {
		if num.Number == n {
			return true
		}
	}
	return false
}

// hasChannel reports whether a sender number of channel is configured.
func hasChannel(cfg *config.Config, ch string) bool {
	for _, num := range cfg.Numbers() {
		if num.Channel == ch {
			return true
		}
	}
	return false
}

var (
	_ engine.Step          = (*ForwardToMobile)(nil)
	_ engine.StaffStep     = (*ForwardToMobile)(nil)
	_ engine.Resumer       = (*ForwardToMobile)(nil)
	_ engine.WindowRefuser = (*ForwardToMobile)(nil)
)
