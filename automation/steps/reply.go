package steps

import (
	"context"
	"net/url"
	"strings"

	"github.com/keyway-sms/keyway/automation/engine"
	"github.com/keyway-sms/keyway/config"
	"github.com/keyway-sms/keyway/providers"
)

func init() { engine.Register("reply", compileReply) }

// Reply sends a message to the contact on its channel, from `from` if set,
// else the number it last wrote to, else the first configured number of
// that channel. An opted-out contact gets nothing. Validation warns when a
// fixed text takes more than one SMS segment (see Segments).
//
// On WhatsApp, outside 24 hours of the contact's last message there, the
// reply is sent as its `template`; with no template it sends nothing and
// goes to `on_error`, else the enrollment ends with the reason. Inside the
// window the text (and media) is sent, or the template when the step has
// neither. A reply that does not answer a message the contact has just
// sent (a wait falling due, a schedule, a manual start) is held during
// quiet hours until they end, and runs then.
//
//   - id: ask
//     type: reply
//     text: "Hi {{ contact.name }}! What is your first name?"
//     media: ["https://example.com/menu.jpg"]
//     from: "+15005550006"
//     template: { content_sid: "HX0123456789abcdef0123456789abcdef", variables: { "1": "{{ contact.name }}" } }
//     on_error: sorry
//
// A reply may offer `buttons` (at most 3) or a `list` (at most 10 rows);
// see compileChoices. Where the provider cannot show them (SMS, Twilio
// WhatsApp) they go as numbered lines after the text; outside the WhatsApp
// window the template is sent instead, with its own buttons. On Twilio
// WhatsApp, where buttons show only in a content template, a step with a
// content_sid sends it inside the window too.
//
//   - type: reply
//     text: "How can we help?"
//     buttons: [ { id: ORDER, title: "My order" }, { id: HOURS, title: "Opening hours" }, { id: AGENT, title: "A person" } ]
type Reply struct {
	Text  *engine.Template
	Media []*engine.Template
	From  string
	// Free says the step has a text or media to send free-form.
	Free     bool
	Template *Content // nil: none
	OnError  string
	// Choices are the buttons or list the reply offers; nil: none.
	Choices *providers.Choices
}

type replyFields struct {
	Text     string         `yaml:"text"`
	Media    []string       `yaml:"media"`
	From     string         `yaml:"from"`
	Template *contentFields `yaml:"template"`
	OnError  string         `yaml:"on_error"`
	Buttons  []buttonFields `yaml:"buttons"`
	List     *listFields    `yaml:"list"`
}

func compileReply(c *engine.Compiler, s *config.Step) (engine.Step, config.Problems) {
	var f replyFields
	c.Decode(s, &f)
	st := &Reply{Text: c.Template(s, "text", f.Text), Free: f.Text != "" || len(f.Media) > 0, OnError: f.OnError}
	c.WarnSegments(s, "text", st.Text)
	if !st.Free && f.Template == nil && !c.Refused(s, "text", "media", "template") {
		c.Problemf(s, "", "a reply needs text or media (or a template)")
	}
	for i, m := range f.Media {
		field := engine.FieldIndex("media", i)
		st.Media = append(st.Media, c.Template(s, field, m))
		checkMediaURL(c, s, field, m)
	}
	st.From = c.Sender(s, "from", f.From)
	st.Template = compileContent(c, s, f.Template, st.From)
	c.Target(s, "on_error", f.OnError)
	c.WarnWhatsAppFrom(s, "from", st.From)
	st.Choices = compileChoices(c, s, f.Buttons, f.List)
	if st.Choices != nil && f.Text == "" {
		c.Problemf(s, "text", "a reply with buttons or a list needs text: the question the choices answer")
	}
	return st, nil
}

// Execute queues the reply, or holds it for quiet hours, or, outside the
// WhatsApp window with no template, sends nothing.
func (st *Reply) Execute(_ context.Context, r *engine.Run) (engine.Outcome, error) {
	if until, held := r.HoldUntil(); held {
		return engine.Hold(until), nil
	}
	inWindow := r.InWindow()
	if st.Template != nil && (!st.Free || !inWindow || st.choicesInTemplate(r)) {
		return st.sendTemplate(r, st.From)
	}
	if !inWindow {
		return st.outsideWindow(r), nil
	}
	body, err := r.Render(st.Text)
	if err != nil {
		return engine.End(err.Error()), nil
	}
	media, err := engine.RenderAll(r, st.Media)
	if err != nil {
		return engine.End(err.Error()), nil
	}
	return engine.Continue(), r.ReplyWithChoices(body, media, st.From, st.Choices)
}

// choicesInTemplate reports whether the reply's choices go out as its
// template even inside the WhatsApp window: from a WhatsApp number whose
// provider sends templates by content sid (Twilio), where buttons show
// only in an approved content template, rather than as numbered lines.
func (st *Reply) choicesInTemplate(r *engine.Run) bool {
	if st.Choices == nil || st.Template.SID == "" || r.Enrollment.Channel != config.ChannelWhatsApp {
		return false
	}
	from := r.Sender(config.ChannelWhatsApp, st.From)
	for _, n := range r.Set.Config.Numbers() {
		if n.Number == from && n.Channel == config.ChannelWhatsApp {
			return config.TemplateFormOf(n.Provider) == config.TemplatesByContentSID
		}
	}
	return false
}

// sendTemplate queues the reply's template from from (as Reply chooses).
func (st *Reply) sendTemplate(r *engine.Run, from string) (engine.Outcome, error) {
	vars, named, err := st.Template.render(r)
	if err != nil {
		return engine.End(err.Error()), nil
	}
	return engine.Continue(), r.ReplyTemplate(st.Template.SID, vars, named, from)
}

// outsideWindow is where a reply with nothing it may send outside the
// WhatsApp window goes: on_error, else the end.
func (st *Reply) outsideWindow(r *engine.Run) engine.Outcome {
	r.Trace("not sent: " + engine.ReasonOutsideWindow)
	return engine.OnError(st.OnError, engine.ReasonOutsideWindow)
}

// Refused takes the reply's window path for m, a message it queued that
// the provider refused as outside the WhatsApp window (see
// engine.WindowRefuser): its template goes instead, from the number m was
// to go from, else it goes where it goes outside the window. A refused
// template is not sent again.
func (st *Reply) Refused(_ context.Context, r *engine.Run, m *engine.Message) (engine.Outcome, error) {
	if st.Template != nil && !templated(m) {
		return st.sendTemplate(r, m.From)
	}
	return st.outsideWindow(r), nil
}

// Resume runs the reply again once the quiet hours it was held for end,
// so that it renders with the data of then.
func (st *Reply) Resume(ctx context.Context, r *engine.Run, _ engine.Event) (engine.Outcome, error) {
	return st.Execute(ctx, r)
}

// HasTemplate reports whether the reply has a template for outside the
// WhatsApp window (see engine.WindowSender).
func (st *Reply) HasTemplate() bool { return st.Template != nil }

var (
	_ engine.Step          = (*Reply)(nil)
	_ engine.Resumer       = (*Reply)(nil)
	_ engine.WindowSender  = (*Reply)(nil)
	_ engine.WindowRefuser = (*Reply)(nil)
)

// checkMediaURL places a problem at field when src, a media entry, is not
// an absolute http(s) URL: the provider fetches it, and refuses the whole
// message otherwise. A template is checked only as far as the text before
// its first markup: "{{ vars.image }}" and "https://{{ vars.cdn }}/a.jpg"
// are left to the run, "menu/{{ vars.day }}.jpg" is not a URL.
func checkMediaURL(c *engine.Compiler, s *config.Step, field, src string) {
	lead := src
	for _, open := range []string{"{{", "{%"} {
		if i := strings.Index(lead, open); i >= 0 {
			lead = lead[:i]
		}
	}
	scheme, _, found := strings.Cut(lead, "://")
	scheme = strings.ToLower(scheme)
	ok := found && (scheme == "http" || scheme == "https")
	switch {
	case lead == src && ok:
		u, err := url.Parse(src)
		ok = err == nil && u.Hostname() != ""
	case lead != src && lead == "":
		ok = true
	}
	if !ok {
		c.Problemf(s, field, "media %q is not an http:// or https:// URL: the provider fetches the media from it", src)
	}
}
