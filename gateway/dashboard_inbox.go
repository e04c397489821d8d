package gateway

import (
	"errors"
	"net/url"
	"slices"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/keyway-sms/keyway/automation/engine"
	"github.com/keyway-sms/keyway/config"
)

// The inbox is where staff work from the dashboard: the conversations
// forwarded to staff in the last 24 hours and the open handoffs, each
// with a page that reads like a chat and a box to answer. The list and
// the timeline refresh themselves: poll.js fetches the part of the page
// named by its data-poll attribute (the same URL with ?part=...) every
// few seconds, a static script the Content-Security-Policy allows.

// inboxRoutes mounts the inbox, the one-off send and the start pages on
// the dashboard group d; in lets a request with a session through, admin
// only an admin's.
func (g *Gateway) inboxRoutes(d fiber.Router, in, admin fiber.Handler) {
	d.Get("/poll.js", func(c *fiber.Ctx) error {
		js, err := web.ReadFile("web/poll.js")
		if err != nil {
			return err
		}
		c.Set(fiber.HeaderContentType, "text/javascript; charset=utf-8")
		return c.Send(js)
	})
	d.Get("/inbox", in, g.dashInbox)
	d.Get("/inbox/:phone", in, g.dashConversation)
	d.Post("/inbox/:phone/answer", in, g.dashAnswer)
	d.Post("/inbox/:phone/close", in, g.dashCloseHandoff)
	d.Get("/contacts/:phone/send", in, g.dashSendPage)
	d.Post("/contacts/:phone/send", in, g.dashSend)
	d.Get("/start", in, admin, g.dashStartPage)
	d.Post("/start/confirm", in, admin, g.dashStartConfirm)
	d.Post("/start", in, admin, g.dashStart)
}

func (g *Gateway) dashInbox(c *fiber.Ctx) error {
	list, err := g.engine.Inbox(c.UserContext())
	if err != nil {
		return err
	}
	phones := make([]string, 0, len(list))
	waiting := 0
	for _, en := range list {
		phones = append(phones, en.Contact)
		if en.Unanswered {
			waiting++
		}
	}
	if err := g.dashNames(c, phones); err != nil {
		return err
	}
	data := map[string]any{"Entries": list, "Waiting": waiting}
	if c.Query("part") == "list" {
		return g.renderPart(c, "inbox", "inbox-list", data)
	}
	return g.render(c, "inbox", "Inbox", data)
}

// conversationView is what the conversation page shows.
type conversationView struct {
	Contact  *engine.Contact
	Messages []*engine.Message
	Clipped  bool
	Entry    *engine.InboxEntry // nil when the inbox does not list it now
	Handoff  *engine.Enrollment // the open handoff, nil when none
	Channel  engine.OneOffChannel
	Text     string // the answer typed, kept when it could not go
	NotSent  string
	Done     string // what the last action did: "sent", "closed", "none"
	Poll     string
	Self     string
}

// conversation reads what the conversation page of the contact with
// phone shows; with chatOnly, only what its chat part shows (the contact
// and its messages), which poll.js asks for every few seconds.
func (g *Gateway) conversation(c *fiber.Ctx, phone string, chatOnly bool) (*conversationView, error) {
	v := &conversationView{Self: "/admin/inbox/" + url.PathEscape(phone)}
	v.Poll = v.Self + "?part=timeline"
	var ens []*engine.Enrollment
	err := g.view(c.UserContext(), func(tx adminTx) error {
		var err error
		if v.Contact, err = tx.Contact(phone); err != nil {
			return err
		}
		if v.Messages, err = tx.Messages(phone, timelineSize); err != nil || chatOnly {
			return err
		}
		ens, err = tx.ActiveEnrollments(phone)
		return err
	})
	if errors.Is(err, engine.ErrNotFound) {
		return nil, fiber.NewError(fiber.StatusNotFound, "no contact "+phone)
	}
	if err != nil {
		return nil, err
	}
	v.Clipped = len(v.Messages) == timelineSize
	slices.Reverse(v.Messages) // a chat: the oldest at the top
	c.Locals("names", map[string]string{phone: v.Contact.Name})
	if chatOnly {
		return v, nil
	}
	for _, en := range ens {
		if en.Status == engine.EnrollmentHandoff && en.Handoff != nil {
			v.Handoff = en
		}
	}
	list, err := g.engine.Inbox(c.UserContext())
	if err != nil {
		return nil, err
	}
	for i := range list {
		if list[i].Contact == phone {
			v.Entry = &list[i]
		}
	}
	if v.Channel, err = g.engine.SendChannel(c.UserContext(), phone); err != nil {
		return nil, err
	}
	return v, nil
}

func (g *Gateway) renderConversation(c *fiber.Ctx, v *conversationView) error {
	title := v.Contact.Phone
	if v.Contact.Name != "" {
		title = v.Contact.Name
	}
	return g.render(c, "conversation", title, v)
}

func (g *Gateway) dashConversation(c *fiber.Ctx) error {
	phone, err := g.phone(c.Params("phone"))
	if err != nil {
		return badContact(err)
	}
	chatOnly := c.Query("part") == "timeline"
	v, err := g.conversation(c, phone, chatOnly)
	if err != nil {
		return err
	}
	if chatOnly {
		return g.renderPart(c, "conversation", "chat", v)
	}
	v.Done = c.Query("done")
	return g.renderConversation(c, v)
}

// dashAnswer sends the answer typed on a conversation page, as a staff
// "#REF text" answer goes. When it cannot go the page shows why, with the
// text kept in the box (422); when it went, the browser is sent back to
// the page (303), which says so.
func (g *Gateway) dashAnswer(c *fiber.Ctx) error {
	phone, err := g.phone(c.Params("phone"))
	if err != nil {
		return badContact(err)
	}
	text := strings.TrimSpace(c.FormValue("text"))
	user := actor(c)
	d, err := g.engine.Answer(c.UserContext(), phone, text)
	if err != nil {
		return err
	}
	g.log.Info().Str("contact", config.MaskAddress(phone)).Str("user", user.Name).Str("ref", d.Ref).Bool("sent", d.NotSent == "").
		Msg("dashboard: answer")
	if d.NotSent == "" {
		return c.Redirect("/admin/inbox/"+url.PathEscape(phone)+"?done=sent", fiber.StatusSeeOther)
	}
	v, err := g.conversation(c, phone, false)
	if err != nil {
		return err
	}
	v.Text, v.NotSent = text, d.NotSent
	c.Status(fiber.StatusUnprocessableEntity)
	return g.renderConversation(c, v)
}

// dashCloseHandoff closes the contact's open handoff, as "#done" does.
func (g *Gateway) dashCloseHandoff(c *fiber.Ctx) error {
	phone, err := g.phone(c.Params("phone"))
	if err != nil {
		return badContact(err)
	}
	user := actor(c)
	closed, err := g.engine.CloseHandoff(c.UserContext(), phone)
	if err != nil {
		return err
	}
	g.log.Info().Str("contact", config.MaskAddress(phone)).Str("user", user.Name).Bool("closed", closed).Msg("dashboard: close handoff")
	done := "closed"
	if !closed {
		done = "none"
	}
	return c.Redirect("/admin/inbox/"+url.PathEscape(phone)+"?done="+done, fiber.StatusSeeOther)
}

// badContact is a dashboard page's answer (400) to an address in its path
// that is no contact keyway could have: what is wrong with it, in the
// words of the check, without the package it ran in.
func badContact(err error) error {
	return fiber.NewError(fiber.StatusBadRequest, strings.TrimPrefix(err.Error(), "config: "))
}
