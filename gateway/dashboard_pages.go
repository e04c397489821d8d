package gateway

import (
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/keyway-sms/keyway/automation/engine"
)

// automationRow is an automation as the dashboard lists it.
type automationRow struct {
	A      *engine.Automation
	Active int
	Start  string
	// Pause is the dashboard's pause that stands for it, or nil.
	Pause *engine.Pause
}

func (g *Gateway) automationRows(c *fiber.Ctx) ([]automationRow, error) {
	var counts map[string]int
	err := g.view(c.UserContext(), func(tx adminTx) error {
		var err error
		counts, err = tx.CountActive()
		return err
	})
	if err != nil {
		return nil, err
	}
	var rows []automationRow
	for _, a := range g.engine.Set().Automations() {
		p, err := g.engine.PauseOf(c.UserContext(), a.ID)
		if err != nil {
			return nil, err
		}
		rows = append(rows, automationRow{A: a, Active: counts[a.ID], Start: startLabel(a), Pause: p})
	}
	return rows, nil
}

func (g *Gateway) dashAutomations(c *fiber.Ctx) error {
	rows, err := g.automationRows(c)
	if err != nil {
		return err
	}
	return g.render(c, "automations", "Automations", map[string]any{"Rows": rows, "Numbers": g.numberRows()})
}

func (g *Gateway) dashAutomation(c *fiber.Ctx) error {
	rows, err := g.automationRows(c)
	if err != nil {
		return err
	}
	id := pathParam(c, "id")
	for _, r := range rows {
		if r.A.ID == id {
			return g.render(c, "automation", "Automation "+r.A.ID, r)
		}
	}
	return fiber.NewError(fiber.StatusNotFound, "no automation "+id)
}

// enrollmentsPage returns up to limit enrollments that the filters keep,
// newest first, after the one with id after ("" for the first page), and
// the id to continue after ("" on the last page). The store lists
// enrollments newest first up to a count, with no place to start from: a
// page reads the ones before it again (skip is how many the cursor says
// were shown), and finds its place by the id, so that enrollments started
// since the last page do not show twice.
func (g *Gateway) enrollmentsPage(c *fiber.Ctx, automation, contact string, all bool, after string, skip, limit int) ([]*engine.Enrollment, string, error) {
	var list []*engine.Enrollment
	// Room for enrollments that started since the last page was read.
	want := skip + limit + 1 + pageScan
	err := g.view(c.UserContext(), func(tx adminTx) error {
		var err error
		list, err = tx.Enrollments(automation, contact, !all, want)
		return err
	})
	if err != nil {
		return nil, "", err
	}
	from := 0
	if after != "" {
		i := slices.IndexFunc(list, func(e *engine.Enrollment) bool { return e.ID == after })
		switch {
		case i >= 0:
			from = i + 1
		case skip < len(list):
			from = skip // the cursor's enrollment is gone: go on from its place
		default:
			from = len(list)
		}
	}
	list = list[from:]
	if len(list) <= limit {
		return list, "", nil
	}
	list = list[:limit]
	return list, list[limit-1].ID, nil
}

func (g *Gateway) dashEnrollments(c *fiber.Ctx) error {
	automation, contact, all := c.Query("automation"), queryContact(c), c.Query("all") == "1"
	problem := ""
	key := ""
	if contact != "" {
		var err error
		if key, err = g.phone(contact); err != nil {
			problem = "contact: " + err.Error()
		}
	}
	after, skip, err := decodeEnrollmentCursor(c.Query("cursor"))
	if err != nil {
		problem = "cursor: not a cursor this page gave"
	}
	var ens []*engine.Enrollment
	var next string
	if problem == "" {
		if ens, next, err = g.enrollmentsPage(c, automation, key, all, after, skip, dashPageSize); err != nil {
			return err
		}
	}
	var ids []string
	for _, a := range g.engine.Set().Automations() {
		ids = append(ids, a.ID)
	}
	phones := make([]string, 0, len(ens))
	for _, e := range ens {
		phones = append(phones, e.Contact)
	}
	if err := g.dashNames(c, phones); err != nil {
		return err
	}
	nextURL := ""
	if next != "" {
		q := url.Values{"automation": {automation}, "contact": {contact}, "cursor": {encodeEnrollmentCursor(next, skip+len(ens))}}
		if all {
			q.Set("all", "1")
		}
		nextURL = "/admin/enrollments?" + q.Encode()
	}
	return g.render(c, "enrollments", "Enrollments", map[string]any{
		"Enrollments": ens, "Automation": automation, "Contact": contact, "All": all, "Automations": ids, "Problem": problem,
		"NextURL": nextURL,
	})
}

// encodeEnrollmentCursor and decodeEnrollmentCursor keep the enrollments
// page's cursor opaque: the last id shown and how many were shown.
func encodeEnrollmentCursor(id string, shown int) string {
	return encodeCursor(fmt.Sprintf("%d/%s", shown, id))
}

func decodeEnrollmentCursor(cursor string) (id string, shown int, err error) {
	raw, err := decodeCursor(cursor)
	if err != nil || raw == "" {
		return "", 0, err
	}
	n, id, ok := strings.Cut(raw, "/")
	if _, serr := fmt.Sscanf(n, "%d", &shown); !ok || serr != nil || shown < 0 || id == "" {
		return "", 0, fmt.Errorf("gateway: enrollments cursor %q: not one this page gave", cursor)
	}
	return id, shown, nil
}

// cancelBack is where a cancel goes back to: the page it was asked from,
// else the enrollments.
func cancelBack(raw string) string {
	back := safeNext(raw)
	if back == "/admin/" {
		back = "/admin/enrollments"
	}
	return back
}

// dashCancelPage asks before cancelling an enrollment, and says what a
// cancel did (?done=1, where the cancel sends the browser).
func (g *Gateway) dashCancelPage(c *fiber.Ctx) error {
	var en *engine.Enrollment
	err := g.view(c.UserContext(), func(tx adminTx) error {
		var err error
		en, err = tx.Enrollment(c.Params("id"))
		return err
	})
	if errors.Is(err, engine.ErrNotFound) {
		return fiber.NewError(fiber.StatusNotFound, "no enrollment "+c.Params("id"))
	}
	if err != nil {
		return err
	}
	if err := g.dashNames(c, []string{en.Contact}); err != nil {
		return err
	}
	done := c.Query("done")
	title := "Cancel this enrollment?"
	switch {
	case done == "cancelled":
		title = "Enrollment cancelled"
	case done != "" || !en.Active():
		title = "This enrollment has ended"
	}
	return g.render(c, "cancel", title, map[string]any{
		"E": en, "Done": done, "Back": cancelBack(c.Query("back")),
	})
}

// dashCancel cancels an enrollment (the confirmation page's form) and
// sends the browser to the page that says what it did.
func (g *Gateway) dashCancel(c *fiber.Ctx) error {
	id := c.Params("id")
	var was *engine.Enrollment
	err := g.view(c.UserContext(), func(tx adminTx) error {
		var err error
		was, err = tx.Enrollment(id)
		return err
	})
	if err == nil {
		_, err = g.engine.Cancel(c.UserContext(), id, "cancelled in the dashboard")
	}
	if errors.Is(err, engine.ErrNotFound) {
		return fiber.NewError(fiber.StatusNotFound, "no enrollment "+id)
	}
	if err != nil {
		return err
	}
	done := "cancelled"
	if !was.Active() {
		done = "already"
	}
	g.log.Info().Str("enrollment", id).Str("automation", was.Automation).Str("done", done).Msg("dashboard: enrollment cancel")
	q := url.Values{"done": {done}, "back": {cancelBack(c.FormValue("back"))}}
	return c.Redirect("/admin/enrollments/"+url.PathEscape(id)+"/cancel?"+q.Encode(), fiber.StatusSeeOther)
}

func (g *Gateway) dashContacts(c *fiber.Ctx) error {
	f := g.contactSearch(c.Query("q"), c.Query("group"), strings.TrimSpace(c.Query("tag")))
	switch c.Query("opted_out") {
	case "true":
		f.OptedOut = new(bool)
		*f.OptedOut = true
	case "false":
		f.OptedOut = new(bool)
	}
	problem := ""
	if f.Group != "" && !g.engine.Set().Config.HasGroup(f.Group) {
		problem, f.Group = fmt.Sprintf("group: no group %q is declared", f.Group), ""
	}
	after, err := decodeCursor(c.Query("cursor"))
	if err != nil {
		problem, after = "cursor: not a cursor this page gave", ""
	}
	var list []*engine.Contact
	var next string
	if problem == "" {
		if list, next, err = g.contactsPage(c.UserContext(), f, after, dashPageSize); err != nil {
			return err
		}
	}
	q := url.Values{"q": {f.Q}, "group": {f.Group}, "tag": {f.Tag}, "opted_out": {c.Query("opted_out")}, "cursor": {encodeCursor(next)}}
	var groups []string
	for _, grp := range g.engine.Set().Config.Groups {
		groups = append(groups, grp.ID)
	}
	return g.render(c, "contacts", "Contacts", map[string]any{
		"Contacts": list, "Filter": f, "OptedOut": c.Query("opted_out"), "Groups": groups, "Problem": problem,
		"NextURL": nextURL(next, "/admin/contacts?", q),
	})
}

func nextURL(next, base string, q url.Values) string {
	if next == "" {
		return ""
	}
	return base + q.Encode()
}

// timelineSize is how many of a contact's messages its page shows.
const timelineSize = 200

func (g *Gateway) dashContact(c *fiber.Ctx) error {
	phone, err := g.phone(c.Params("phone"))
	if err != nil {
		return badContact(err)
	}
	var contact *engine.Contact
	var msgs []*engine.Message
	var ens []*engine.Enrollment
	err = g.view(c.UserContext(), func(tx adminTx) error {
		var err error
		if contact, err = tx.Contact(phone); err != nil {
			return err
		}
		if msgs, err = tx.Messages(phone, timelineSize); err != nil {
			return err
		}
		ens, err = tx.Enrollments("", phone, false, 50)
		return err
	})
	if errors.Is(err, engine.ErrNotFound) {
		return fiber.NewError(fiber.StatusNotFound, "no contact "+phone)
	}
	if err != nil {
		return err
	}
	// The store gives the newest first; a timeline reads like a chat,
	// the oldest at the top.
	slices.Reverse(msgs)
	c.Locals("names", map[string]string{phone: contact.Name})
	title := "Contact " + phone
	if contact.Name != "" {
		title = contact.Name
	}
	return g.render(c, "contact", title, map[string]any{
		"Contact": contact, "Messages": msgs, "Enrollments": ens, "Back": "/admin/contacts/" + url.PathEscape(phone),
		"Staff": g.engine.Set().IsStaff(phone), "Clipped": len(msgs) == timelineSize,
	})
}

func (g *Gateway) dashMessages(c *fiber.Ctx) error {
	f := queryMessageFilter(c)
	problem := ""
	if f.Direction != "" && f.Direction != engine.Inbound && f.Direction != engine.Outbound {
		problem, f.Direction = "direction: must be in or out", ""
	}
	if f.Status != "" && !f.Status.Recorded() {
		problem, f.Status = "status: must be a message status ("+statusList()+")", ""
	}
	before, err := decodeMessageCursor(c.Query("cursor"))
	if err != nil {
		problem, before = "cursor: not a cursor this page gave", ""
	}
	var list []*engine.Message
	var next string
	if problem == "" {
		if list, next, err = g.messagesPage(c.UserContext(), f, before, dashPageSize); err != nil {
			return err
		}
	}
	phones := make([]string, 0, len(list))
	for _, m := range list {
		phones = append(phones, m.Contact)
	}
	if err := g.dashNames(c, phones); err != nil {
		return err
	}
	q := url.Values{"direction": {string(f.Direction)}, "status": {string(f.Status)}, "cursor": {encodeCursor(next)}}
	return g.render(c, "messages", "Message log", map[string]any{
		"Messages": list, "Direction": string(f.Direction), "Status": string(f.Status), "Problem": problem,
		"Statuses": engine.Statuses(),
		"NextURL":  nextURL(next, "/admin/messages?", q),
	})
}

func (g *Gateway) dashHandoffs(c *fiber.Ctx) error {
	list, err := g.engine.Handoffs(c.UserContext())
	if err != nil {
		return err
	}
	phones := make([]string, 0, len(list))
	for _, h := range list {
		phones = append(phones, h.Contact)
	}
	if err := g.dashNames(c, phones); err != nil {
		return err
	}
	return g.render(c, "handoffs", "Open handoffs", list)
}

func (g *Gateway) dashReload(c *fiber.Ctx) error {
	refused, loaded := g.lastRefused.Load(), g.loadedAt.Load()
	done := c.Query("done")
	if done != "reloaded" && done != "refused" {
		done = ""
	}
	return g.render(c, "reload", "Last refused reload", map[string]any{
		"Refused": refused, "Path": g.path, "Loaded": loaded,
		"Superseded": refused != nil && loaded != nil && loaded.After(refused.At),
		"Done":       done,
	})
}

// dashReloadNow reloads the config file as POST /api/v1/reload does, and
// shows the reload page with the outcome: a refused file's problems, and
// the running config kept.
func (g *Gateway) dashReloadNow(c *fiber.Ctx) error {
	done := "reloaded"
	if _, err := g.Reload(c.UserContext()); err != nil {
		done = "refused"
	}
	g.log.Info().Str("user", actor(c).Name).Str("done", done).Msg("dashboard: reload")
	return c.Redirect("/admin/reload?done="+done, fiber.StatusSeeOther)
}
