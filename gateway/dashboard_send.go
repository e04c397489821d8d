package gateway

import (
	"context"
	"errors"
	"fmt"
	"html/template"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/keyway-sms/keyway/automation/broadcast"
	"github.com/keyway-sms/keyway/automation/engine"
	"github.com/keyway-sms/keyway/config"
	"github.com/keyway-sms/keyway/providers"
)

// A one-off message from a contact's page, and starting an automation for
// a contact, a group or a tag (admins only), after a page that says how
// many contacts the start reaches.

// sendView is what the send page shows.
type sendView struct {
	Contact *engine.Contact
	Channel engine.OneOffChannel
	// Named is set when the sending number takes templates by name and
	// language (the WhatsApp Cloud API), else by content sid (Twilio).
	Named   bool
	Form    sendForm
	NotSent string
	Sent    bool
	Back    string
}

// sendForm is the send page's form as typed.
type sendForm struct {
	Text, ContentSID, Name, Language, Variables string
}

// oneOff reads the form into the message to send: variables one per line,
// "key=value" for a content sid, the values in order for a named
// template.
func (f sendForm) oneOff() engine.OneOff {
	o := engine.OneOff{Text: f.Text, ContentSID: strings.TrimSpace(f.ContentSID)}
	var lines []string
	for _, l := range strings.Split(f.Variables, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			lines = append(lines, l)
		}
	}
	if o.ContentSID != "" {
		o.ContentVariables = map[string]string{}
		for i, l := range lines {
			k, v, ok := strings.Cut(l, "=")
			if !ok {
				k, v = fmt.Sprint(i+1), l
			}
			o.ContentVariables[strings.TrimSpace(k)] = strings.TrimSpace(v)
		}
	}
	if name := strings.TrimSpace(f.Name); name != "" {
		o.Template = &providers.Template{Name: name, Language: strings.TrimSpace(f.Language), Variables: lines}
	}
	return o
}

func (g *Gateway) sendView(c *fiber.Ctx, phone string) (*sendView, error) {
	v := &sendView{Back: "/admin/contacts/" + url.PathEscape(phone)}
	err := g.view(c.UserContext(), func(tx adminTx) error {
		var err error
		v.Contact, err = tx.Contact(phone)
		return err
	})
	if errors.Is(err, engine.ErrNotFound) {
		return nil, fiber.NewError(fiber.StatusNotFound, "no contact "+phone)
	}
	if err != nil {
		return nil, err
	}
	if v.Channel, err = g.engine.SendChannel(c.UserContext(), phone); err != nil {
		return nil, err
	}
	v.Named = v.Channel.Provider == "meta"
	return v, nil
}

func (g *Gateway) renderSend(c *fiber.Ctx, v *sendView) error {
	who := v.Contact.Phone
	if v.Contact.Name != "" {
		who = v.Contact.Name
	}
	return g.render(c, "send", "Send a message to "+who, v)
}

func (g *Gateway) dashSendPage(c *fiber.Ctx) error {
	phone, err := g.phone(c.Params("phone"))
	if err != nil {
		return badContact(err)
	}
	v, err := g.sendView(c, phone)
	if err != nil {
		return err
	}
	v.Sent = c.Query("done") == "sent"
	return g.renderSend(c, v)
}

// dashSend sends the one-off message of the send page's form. When it
// cannot go the page shows why, the form kept (422); when it went, the
// browser goes back to the page (303), which says so.
func (g *Gateway) dashSend(c *fiber.Ctx) error {
	phone, err := g.phone(c.Params("phone"))
	if err != nil {
		return badContact(err)
	}
	f := sendForm{Text: c.FormValue("text"), ContentSID: c.FormValue("content_sid"), Name: c.FormValue("name"),
		Language: c.FormValue("language"), Variables: c.FormValue("variables")}
	user := actor(c)
	d, err := g.engine.Send(c.UserContext(), phone, f.oneOff())
	if errors.Is(err, engine.ErrNotFound) {
		return fiber.NewError(fiber.StatusNotFound, "no contact "+phone)
	}
	if err != nil {
		return err
	}
	g.log.Info().Str("contact", config.MaskAddress(phone)).Str("user", user.Name).Bool("sent", d.NotSent == "").Msg("dashboard: one-off message")
	if d.NotSent == "" {
		return c.Redirect("/admin/contacts/"+url.PathEscape(phone)+"/send?done=sent", fiber.StatusSeeOther)
	}
	v, err := g.sendView(c, phone)
	if err != nil {
		return err
	}
	v.Form, v.NotSent = f, d.NotSent
	c.Status(fiber.StatusUnprocessableEntity)
	return g.renderSend(c, v)
}

// startForm is a start as the start page's form gives it: the automation,
// whom (a contact, a group or a tag) and when ("" for now, else a local
// time in defaults.timezone as a datetime-local input writes it).
type startForm struct {
	Automation string
	Target     string // contact, group or tag
	Contact    string
	Group      string
	Tag        string
	At         string
}

// ChangeURL is the start page with the form filled in as f.
func (f startForm) ChangeURL() template.URL {
	q := url.Values{"automation": {f.Automation}, "target": {f.Target}, "contact": {f.Contact}, "group": {f.Group}, "tag": {f.Tag}, "at": {f.At}}
	return template.URL("/admin/start?" + q.Encode())
}

// atLayout is how a datetime-local input writes a time.
const atLayout = "2006-01-02T15:04"

func readStartForm(c *fiber.Ctx, get func(key string, def ...string) string) startForm {
	f := startForm{Automation: get("automation"), Target: get("target"), Contact: strings.TrimSpace(get("contact")),
		Group: get("group"), Tag: strings.TrimSpace(get("tag")), At: strings.TrimSpace(get("at"))}
	if f.Target == "" {
		switch {
		case f.Group != "":
			f.Target = "group"
		case f.Tag != "":
			f.Target = "tag"
		default:
			f.Target = "contact"
		}
	}
	return f
}

// startPlan is a start checked and counted, for the confirmation page.
type startPlan struct {
	Form       startForm
	Automation *engine.Automation
	Phone      string     // the contact's key, for a contact start
	Addr       string     // the address to start it at: Phone, or "whatsapp:"+Phone
	At         *time.Time // nil: now
	// Reach is how many contacts the start enrolls as things stand;
	// Skipped says how many of those it is for it passes over, and why.
	Reach   int
	Skipped map[string]int
	Whom    string // "Ann Lee (+15551230001)", "group newsletter", "tag vip"
}

// plan checks a start's form and counts whom it reaches; problems are
// what the form got wrong, in words.
func (g *Gateway) plan(ctx context.Context, f startForm) (*startPlan, []string) {
	set := g.engine.Set()
	p := &startPlan{Form: f, Skipped: map[string]int{}}
	var problems []string
	if p.Automation = set.Automation(f.Automation); p.Automation == nil {
		problems = append(problems, "automation: choose one")
	} else if err := g.engine.Refusal(ctx, p.Automation); errors.Is(err, engine.ErrPausedFromDashboard) {
		problems = append(problems, fmt.Sprintf("automation: %s is paused from the dashboard", f.Automation))
	} else if errors.Is(err, engine.ErrPaused) {
		problems = append(problems, fmt.Sprintf("automation: %s is paused", f.Automation))
	} else if err != nil {
		problems = append(problems, fmt.Sprintf("automation: %s: %v", f.Automation, err))
	}
	if f.At != "" {
		at, err := time.ParseInLocation(atLayout, f.At, set.Config.Location())
		switch {
		case err != nil:
			problems = append(problems, "time: not a date and time (YYYY-MM-DDTHH:MM)")
		case !at.After(time.Now()):
			problems = append(problems, "time: "+at.Format(dashTimeLayout)+" is past; leave it empty to start now")
		default:
			p.At = &at
		}
	}
	filter := contactFilter{}
	switch f.Target {
	case "contact":
		key, addr, err := g.address(f.Contact)
		switch {
		case err != nil:
			return p, append(problems, "contact: "+strings.TrimPrefix(err.Error(), "config: "))
		case config.KindOf(key) == config.AddressAlphanumeric:
			// As the admin API's start counts it invalid: it cannot receive.
			return p, append(problems, fmt.Sprintf("contact: %q is an alphanumeric sender id, which cannot receive messages", key))
		}
		p.Phone, p.Addr, p.Whom = key, addr, addr
	case "group":
		if f.Group == "" || !set.Config.HasGroup(f.Group) {
			return p, append(problems, "group: choose a declared group")
		}
		filter.Group, p.Whom = f.Group, "group "+f.Group
	case "tag":
		if f.Tag == "" {
			return p, append(problems, "tag: write the tag")
		}
		filter.Tag, p.Whom = f.Tag, "tag "+f.Tag
	default:
		return p, append(problems, "whom: a contact, a group or a tag")
	}
	if err := g.count(ctx, p, filter); err != nil {
		problems = append(problems, err.Error())
	}
	return p, problems
}

// count counts the contacts a start reaches, and those it passes over.
func (g *Gateway) count(ctx context.Context, p *startPlan, f contactFilter) error {
	return g.view(ctx, func(tx adminTx) error {
		if p.Phone != "" {
			c, err := tx.Contact(p.Phone)
			switch {
			case errors.Is(err, engine.ErrNotFound):
				p.Reach = 1 // a new contact, created by the start
				return nil
			case err != nil:
				return err
			case c.OptedOut:
				p.Skipped["opted out"]++
			default:
				p.Reach = 1
			}
			if c.Name != "" {
				p.Whom = c.Name + " (" + p.Addr + ")"
			}
			return nil
		}
		err := walkContacts(func(after string) ([]*engine.Contact, error) { return f.scan(tx, after) }, func(c *engine.Contact) {
			switch {
			case !f.keeps(c):
			case c.OptedOut:
				p.Skipped["opted out"]++
			case f.Group != "" && slices.Contains(c.LeftGroups, f.Group):
				p.Skipped["left the group"]++
			default:
				p.Reach++
			}
		})
		if err != nil || f.Group == "" {
			return err
		}
		// A broadcast to a group goes through those that unsubscribed from
		// it too, and counts them as skipped.
		return walkContacts(func(after string) ([]*engine.Contact, error) { return tx.ContactsLeftGroup(f.Group, after, pageScan) }, func(c *engine.Contact) {
			switch {
			case c.InGroup(f.Group): // counted with the members
			case c.OptedOut:
				p.Skipped["opted out"]++
			default:
				p.Skipped["left the group"]++
			}
		})
	})
}

// walkContacts calls each with every contact scan returns, a page of up
// to pageScan at a time, from the first on.
func walkContacts(scan func(after string) ([]*engine.Contact, error), each func(c *engine.Contact)) error {
	after := ""
	for {
		batch, err := scan(after)
		if err != nil {
			return err
		}
		for _, c := range batch {
			each(c)
		}
		if len(batch) < pageScan {
			return nil
		}
		after = batch[len(batch)-1].Phone
	}
}

// startData is what the start page shows: the form, or the plan to
// confirm, or what a start did.
type startData struct {
	Form        startForm
	Automations []*engine.Automation
	Groups      []string
	Problems    []string
	Plan        *startPlan
	Result      *startResult
	Zone        string // defaults.timezone, where the form's time is read
}

// startResult is what a start did.
type startResult struct {
	Started int
	Skipped map[string]string
	// Broadcast is the broadcast a start for a group or a tag, or one at
	// a later time, became.
	Broadcast *broadcast.Broadcast
	Later     bool // the broadcast starts at a set time
}

func (g *Gateway) startData(ctx context.Context, f startForm) *startData {
	set := g.engine.Set()
	d := &startData{Form: f, Zone: set.Config.Location().String()}
	for _, a := range set.Automations() {
		if g.engine.Refusal(ctx, a) == nil {
			d.Automations = append(d.Automations, a)
		}
	}
	for _, grp := range set.Config.Groups {
		d.Groups = append(d.Groups, grp.ID)
	}
	return d
}

func (g *Gateway) dashStartPage(c *fiber.Ctx) error {
	return g.render(c, "start", "Start an automation", g.startData(c.UserContext(), readStartForm(c, c.Query)))
}

// startPlanned reads the start page's form and plans it. When the form
// has problems it answers with the form and them (422) and returns a nil
// plan.
func (g *Gateway) startPlanned(c *fiber.Ctx) (*startData, *startPlan, error) {
	f := readStartForm(c, c.FormValue)
	d := g.startData(c.UserContext(), f)
	p, problems := g.plan(c.UserContext(), f)
	if len(problems) > 0 {
		d.Problems = problems
		c.Status(fiber.StatusUnprocessableEntity)
		return nil, nil, g.render(c, "start", "Start an automation", d)
	}
	return d, p, nil
}

// dashStartConfirm checks the start page's form and shows how many
// contacts the start reaches, with a button that starts it.
func (g *Gateway) dashStartConfirm(c *fiber.Ctx) error {
	d, p, err := g.startPlanned(c)
	if p == nil {
		return err
	}
	d.Plan = p
	return g.render(c, "start", "Start "+p.Automation.ID+"?", d)
}

// dashStart starts what the confirmation page showed.
func (g *Gateway) dashStart(c *fiber.Ctx) error {
	d, p, err := g.startPlanned(c)
	if p == nil {
		return err
	}
	user := actor(c)
	res, err := g.startNow(c.UserContext(), p, user.Name)
	if err != nil {
		return err
	}
	g.log.Info().Str("automation", p.Automation.ID).Str("whom", p.Form.Target).Str("user", user.Name).Int("started", res.Started).
		Msg("dashboard: start")
	d.Plan, d.Result = p, res
	return g.render(c, "start", "Started "+p.Automation.ID, d)
}

// startNow starts p: a contact now through the engine's manual start;
// a group, a tag, or a contact at a later time as a broadcast, which goes
// on in the background (its page follows its progress) and names by as
// who started it.
func (g *Gateway) startNow(ctx context.Context, p *startPlan, by string) (*startResult, error) {
	if p.Phone != "" && p.At == nil {
		res, err := g.engine.Start(ctx, p.Automation.ID, []string{p.Addr})
		if err != nil {
			return nil, err
		}
		return &startResult{Started: len(res.Started), Skipped: res.Skipped}, nil
	}
	spec := broadcast.Spec{Automation: p.Automation.ID, Source: broadcast.SourceDashboard, By: by}
	switch {
	case p.Phone != "":
		spec.Contacts = []string{p.Addr}
	case p.Form.Target == "group":
		spec.Group = p.Form.Group
	default:
		spec.Tag = p.Form.Tag
	}
	if p.At != nil {
		spec.At = *p.At
	}
	b, err := g.bcasts.Start(ctx, spec)
	if err != nil {
		return nil, err
	}
	return &startResult{Broadcast: b, Later: p.At != nil}, nil
}
