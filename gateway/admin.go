package gateway

import (
	"errors"
	"net/url"
	"regexp"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/keyway-sms/keyway/automation/broadcast"
	"github.com/keyway-sms/keyway/automation/engine"
	"github.com/keyway-sms/keyway/config"
)

// adminRoutes mounts the admin API under /api/v1. It is off (404) while
// admin.token is empty, and answers 401 without the right bearer token
// (429 to an address that failed too often, see failedLogins). Bodies are
// capped before they are read (guard), and read only once the token is
// checked.
func (g *Gateway) adminRoutes(app *fiber.App) {
	api := app.Group("/api/v1", g.limitStorageWait, g.adminAuth)
	api.Get("/automations", g.listAutomations)
	api.Post("/automations/:id/enrollments", g.startEnrollments)
	api.Get("/enrollments", g.listEnrollments)
	api.Delete("/enrollments/:id", g.cancelEnrollment)
	api.Get("/handoffs", g.listHandoffs)
	api.Get("/contacts", g.listContacts)
	api.Get("/contacts.csv", g.exportContactsCSV)
	api.Get("/contacts/:phone", g.getContact)
	api.Put("/contacts/:phone", g.putContact)
	api.Get("/contacts/:phone/messages", g.contactMessages)
	api.Get("/messages", g.listMessages)
	api.Post("/reload", g.reloadAPI)
	g.broadcastRoutes(api)
}

func (g *Gateway) adminAuth(c *fiber.Ctx) error {
	if g.cfg.Load().Admin.Token == "" {
		return fiber.NewError(fiber.StatusNotFound, "the admin API is off: set admin.token")
	}
	return g.checkBearer(c, authAPI)
}

type automationView struct {
	ID      string `json:"id"`
	Name    string `json:"name,omitempty"`
	Enabled bool   `json:"enabled"`
	// Dashboard is "paused" or "enabled" while an admin's override from
	// the dashboard stands against the file's enabled.
	Dashboard         string   `json:"dashboard,omitempty"`
	Keywords          []string `json:"keywords,omitempty"`
	Match             string   `json:"match,omitempty"`
	Channel           string   `json:"channel,omitempty"`
	CatchAll          bool     `json:"catch_all,omitempty"`
	Schedule          any      `json:"schedule,omitempty"`
	Steps             int      `json:"steps"`
	ActiveEnrollments int      `json:"active_enrollments"`
}

func (g *Gateway) listAutomations(c *fiber.Ctx) error {
	var counts map[string]int
	err := g.view(c.UserContext(), func(tx adminTx) error {
		var err error
		counts, err = tx.CountActive()
		return err
	})
	if err != nil {
		return err
	}
	out := []automationView{}
	for _, a := range g.engine.Set().Automations() {
		ca := a.Config
		v := automationView{ID: a.ID, Name: a.Name, Enabled: a.Enabled, Keywords: ca.Keywords, Channel: ca.Channel, CatchAll: ca.CatchAll,
			Steps: len(a.Steps), ActiveEnrollments: counts[a.ID]}
		if len(ca.Keywords) > 0 {
			v.Match = ca.Match
		}
		p, err := g.engine.PauseOf(c.UserContext(), a.ID)
		switch {
		case err != nil:
			return err
		case p != nil && p.Paused:
			v.Dashboard = "paused"
		case p != nil && p.Enabled:
			v.Dashboard = "enabled"
		}
		if ca.Schedule != nil {
			v.Schedule = fiber.Map{"cron": ca.Schedule.Cron, "group": ca.Schedule.Group, "timezone": ca.Schedule.Timezone}
		}
		out = append(out, v)
	}
	return c.JSON(fiber.Map{"automations": out, "config_hash": g.cfg.Load().Hash})
}

// queryContact reads the contact query parameter. A "+" written into a
// URL by hand ("?contact=+447700900123") arrives as a space, which is what
// a query string's "+" means: a value that starts with a space and a digit
// is read as starting with "+".
func queryContact(c *fiber.Ctx) string {
	v := c.Query("contact")
	if len(v) > 1 && v[0] == ' ' && v[1] >= '0' && v[1] <= '9' {
		return "+" + strings.TrimSpace(v[1:])
	}
	return strings.TrimSpace(v)
}

func (g *Gateway) listEnrollments(c *fiber.Ctx) error {
	contact := queryContact(c)
	if contact != "" {
		var err error
		if contact, err = g.phone(contact); err != nil {
			return fiber.NewError(fiber.StatusBadRequest, err.Error())
		}
	}
	limit, err := limitUpTo(c, 100, 0)
	if err != nil {
		return err
	}
	active := false
	if raw := c.Query("active"); raw != "" {
		if active, err = strconv.ParseBool(raw); err != nil {
			return badRequest("active", "must be true or false, not %q", raw)
		}
	}
	var out []*engine.Enrollment
	err = g.view(c.UserContext(), func(tx adminTx) error {
		var err error
		out, err = tx.Enrollments(c.Query("automation"), contact, active, limit)
		return err
	})
	if err != nil {
		return err
	}
	if out == nil {
		out = []*engine.Enrollment{}
	}
	return c.JSON(fiber.Map{"enrollments": out})
}

func (g *Gateway) cancelEnrollment(c *fiber.Ctx) error {
	en, err := g.engine.Cancel(c.UserContext(), c.Params("id"), "cancelled through the admin API")
	if errors.Is(err, engine.ErrNotFound) {
		return fiber.NewError(fiber.StatusNotFound, "no enrollment "+c.Params("id"))
	}
	if err != nil {
		return err
	}
	return c.JSON(en)
}

type startRequest struct {
	Contacts []string       `json:"contacts"`
	Group    string         `json:"group"`
	Vars     map[string]any `json:"vars"`
}

// varName is what a key of a manual start's vars must look like, so that a
// template can name it as {{ vars.X }}.
var varName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

func (g *Gateway) startEnrollments(c *fiber.Ctx) error {
	id := pathParam(c, "id")
	var req startRequest
	// The admin API speaks JSON whatever the Content-Type says.
	if err := decodeStrict(c.Body(), &req); err != nil {
		return err
	}
	if (len(req.Contacts) == 0) == (req.Group == "") {
		return badRequest("contacts", "give exactly one of contacts (a list of phone numbers) or group")
	}
	for k := range req.Vars {
		if !varName.MatchString(k) {
			return badRequest("vars."+k, "a var name is letters, digits and _, not starting with a digit")
		}
	}
	if g.engine.Set().Automation(id) == nil {
		return fiber.NewError(fiber.StatusNotFound, "no automation "+strconv.Quote(id))
	}
	spec := broadcast.Spec{Automation: id, Group: req.Group, Vars: req.Vars, Source: broadcast.SourceManual, By: actor(c).Name}
	invalid := []string{}
	if req.Group != "" {
		if !g.engine.Set().Config.HasGroup(req.Group) {
			return badRequest("group", "no group %q is declared under groups", req.Group)
		}
	} else if spec.Contacts, invalid = g.listedContacts(req.Contacts); invalid == nil {
		invalid = []string{}
	}
	spec.Invalid = len(invalid)
	// A manual start is a broadcast enrolled before the answer: it is
	// listed with the others, and a crash mid-way leaves the rest to the
	// broadcast runner.
	b, err := g.bcasts.StartNow(c.UserContext(), spec)
	if err != nil {
		return broadcastError(err)
	}
	v := viewBroadcast(b)
	return c.Status(fiber.StatusAccepted).JSON(startView{Broadcast: b.ID, Status: v.Status, Total: v.Total, Started: b.Enrolled, Enrolled: b.Enrolled, Skipped: v.Skipped, Invalid: invalid})
}

// startView is the answer to a manual start: how many contacts it was for,
// enrolled (Started and Enrolled, the broadcast's word for it) and skipped
// (by reason), the values listed that were no address (as given), and the
// broadcast that did it, which GET /api/v1/broadcasts/{id} follows when it
// was not done by the answer.
type startView struct {
	Broadcast string         `json:"broadcast"`
	Status    string         `json:"status"`
	Total     int            `json:"total"`
	Started   int            `json:"started"`
	Enrolled  int            `json:"enrolled"`
	Skipped   map[string]int `json:"skipped"`
	Invalid   []string       `json:"invalid"`
}

// phone reads a contact's key from a URL or body, as address does, and
// also as an inbound message's sender id kept beyond the rule
// (config.InboundAddress), so that its contact can be read and managed; a
// "whatsapp:" prefix is dropped.
func (g *Gateway) phone(raw string) (string, error) {
	n, _, err := g.addressAs(raw, config.InboundAddress)
	return n, err
}

// contactToWrite reads the key of a contact that PUT creates or updates:
// as address does, or, for a contact that exists already (an inbound
// message made it), as phone does. A new contact's key must be an address
// by the rule: "not-a-phone!" is a mistake, not a sender id.
// A key that is no address gets a 400 naming the phone. channel is the
// one the key names ("whatsapp:+1555…", or a WhatsApp user id), else "".
func (g *Gateway) contactToWrite(c *fiber.Ctx) (key, channel string, err error) {
	raw := c.Params("phone")
	key, addr, strictErr := g.address(raw)
	if strictErr == nil {
		_, channel = engine.SplitChannel(addr)
		return key, channel, nil
	}
	key, err = g.phone(raw)
	if err != nil {
		return "", "", badRequest("phone", "%s", strings.TrimPrefix(strictErr.Error(), "config: "))
	}
	err = g.store.View(c.UserContext(), func(tx engine.Tx) error {
		_, err := tx.Contact(key)
		return err
	})
	if errors.Is(err, engine.ErrNotFound) {
		return "", "", badRequest("phone", "%s", strings.TrimPrefix(strictErr.Error(), "config: "))
	}
	return key, "", err
}

// pathParam returns the route parameter name as the client meant it:
// Fiber hands it over as written in the path, still URL-escaped, so that
// an automation "spring sale" arrives as "spring%20sale". A parameter that
// does not unescape is returned as written.
func pathParam(c *fiber.Ctx, name string) string {
	raw := c.Params(name)
	if s, err := url.PathUnescape(raw); err == nil {
		return s
	}
	return raw
}

// address reads a contact address, URL-escaped or not: a phone number (in
// E.164 or the default region), a short code, an alphanumeric sender id or
// a WhatsApp user id, with or without a "whatsapp:" prefix. It returns the
// contact's key (the E.164 number, or the address as written) and the
// address in keyway's form: "whatsapp:" and the key to reach the contact on
// WhatsApp (always so for a WhatsApp user id), else the key alone.
func (g *Gateway) address(raw string) (key, addr string, err error) {
	return g.addressAs(raw, config.Address)
}

// addressAs is address, reading the address with read (config.Address,
// or config.InboundAddress to find a contact an inbound message made).
func (g *Gateway) addressAs(raw string, read func(raw, region, channel string) (string, config.AddressKind, error)) (key, addr string, err error) {
	if u, uerr := url.PathUnescape(raw); uerr == nil {
		raw = u
	}
	raw, channel := engine.SplitChannel(strings.TrimSpace(raw))
	key, kind, err := read(raw, g.cfg.Load().Defaults.Region, channel)
	if err != nil {
		return "", "", err
	}
	if kind == config.AddressWhatsAppUser {
		channel = config.ChannelWhatsApp
	}
	if channel != "" {
		return key, channel + ":" + key, nil
	}
	return key, key, nil
}

// contactView is a contact as the admin API shows it: the stored contact,
// with its name, fields, groups, tags and opt-out always present (empty or
// false included), so that a client reads "opted_out": false after a
// START rather than finding no key. (The stored form leaves them out when
// empty.)
type contactView struct {
	*engine.Contact
	Name     string            `json:"name"`
	Fields   map[string]string `json:"fields"`
	Groups   []string          `json:"groups"`
	Tags     []string          `json:"tags"`
	OptedOut bool              `json:"opted_out"`
}

// viewContact is c as the admin API shows it.
func viewContact(c *engine.Contact) contactView {
	v := contactView{Contact: c, Name: c.Name, Fields: c.Fields, Groups: c.Groups, Tags: c.Tags, OptedOut: c.OptedOut}
	if v.Fields == nil {
		v.Fields = map[string]string{}
	}
	if v.Groups == nil {
		v.Groups = []string{}
	}
	if v.Tags == nil {
		v.Tags = []string{}
	}
	return v
}

// viewContacts is viewContact of each of cs.
func viewContacts(cs []*engine.Contact) []contactView {
	out := make([]contactView, 0, len(cs))
	for _, c := range cs {
		out = append(out, viewContact(c))
	}
	return out
}

func (g *Gateway) getContact(c *fiber.Ctx) error {
	phone, err := g.phone(c.Params("phone"))
	if err != nil {
		return fiber.NewError(fiber.StatusBadRequest, err.Error())
	}
	var contact *engine.Contact
	var ens []*engine.Enrollment
	err = g.view(c.UserContext(), func(tx adminTx) error {
		var err error
		if contact, err = tx.Contact(phone); err != nil {
			return err
		}
		ens, err = tx.ActiveEnrollments(phone)
		return err
	})
	if errors.Is(err, engine.ErrNotFound) {
		return fiber.NewError(fiber.StatusNotFound, "no contact "+phone)
	}
	if err != nil {
		return err
	}
	if ens == nil {
		ens = []*engine.Enrollment{}
	}
	return c.JSON(fiber.Map{"contact": viewContact(contact), "enrollments": ens})
}

func (g *Gateway) contactMessages(c *fiber.Ctx) error {
	phone, err := g.phone(c.Params("phone"))
	if err != nil {
		return fiber.NewError(fiber.StatusBadRequest, err.Error())
	}
	limit, err := limitUpTo(c, 100, 0)
	if err != nil {
		return err
	}
	var msgs []*engine.Message
	err = g.view(c.UserContext(), func(tx adminTx) error {
		if _, err := tx.Contact(phone); err != nil {
			return err
		}
		var err error
		msgs, err = tx.Messages(phone, limit)
		return err
	})
	if errors.Is(err, engine.ErrNotFound) {
		return fiber.NewError(fiber.StatusNotFound, "no contact "+phone)
	}
	if err != nil {
		return err
	}
	if msgs == nil {
		msgs = []*engine.Message{}
	}
	return c.JSON(fiber.Map{"messages": msgs})
}

func (g *Gateway) reloadAPI(c *fiber.Ctx) error {
	// The route takes no body: it reloads the file keyway runs with. A
	// body (a config sent to be loaded) is refused rather than ignored,
	// so that nobody takes a reload of the old file for their upload. An
	// empty JSON object, or null, which some clients send with every
	// POST, passes.
	switch strings.TrimSpace(string(c.Body())) {
	case "", "{}", "null":
	default:
		return badRequest("body", "POST /api/v1/reload takes no body: it reloads the config file keyway was started with; to change the config, write that file, then reload")
	}
	problems, err := g.Reload(c.UserContext())
	warnings := problemLines(problems.Warnings())
	if err != nil {
		// problems are what made the file invalid, as the log and the
		// dashboard list them; its warnings come apart.
		return c.Status(fiber.StatusUnprocessableEntity).JSON(fiber.Map{"error": err.Error(),
			"problems": problemLines(problems.Errors()), "warnings": warnings})
	}
	return c.JSON(fiber.Map{"reloaded": true, "warnings": warnings})
}

// problemLines writes each problem as FILE:LINE:COL: message.
func problemLines(ps config.Problems) []string {
	lines := make([]string, 0, len(ps))
	for _, p := range ps {
		lines = append(lines, p.String())
	}
	return lines
}

// listHandoffs lists the open handoffs: contact, automation, staff, the
// conversation's reference and since when, newest first.
func (g *Gateway) listHandoffs(c *fiber.Ctx) error {
	out, err := g.engine.Handoffs(c.UserContext())
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"handoffs": out})
}
