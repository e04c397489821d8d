package gateway

import (
	"errors"
	"os"
	"strconv"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/keyway-sms/keyway/automation/broadcast"
	"github.com/keyway-sms/keyway/automation/engine"
	"github.com/keyway-sms/keyway/config"
)

// newBroadcasts builds the gateway's broadcast runner, leasing broadcasts
// under owner (default: the host name, as the outbox's sends).
func newBroadcasts(g *Gateway, owner string) *broadcast.Runner {
	if owner == "" {
		owner, _ = os.Hostname()
	}
	return broadcast.NewRunner(g.engine, broadcast.Options{Owner: owner, Logger: g.log,
		// broadcast.done is stored in the commit that marks it done, and
		// posted after it.
		InDone: func(x engine.Enroller, b *broadcast.Broadcast) error {
			return g.engine.Emit(x.Tx(), engine.EventBroadcastDone, "", map[string]any{
				"broadcast_id": b.ID, "automation": b.Automation, "source": b.Source, "group": b.Group, "tag": b.Tag,
				"total": b.Total, "enrolled": b.Enrolled, "skipped": skippedCounts(b),
			})
		},
		OnDone: func(*broadcast.Broadcast) { g.engine.WakeEvents() },
	})
}

// Broadcasts returns the gateway's broadcast runner: Start starts a
// broadcast (what POST /api/v1/broadcasts does), Get, List and Cancel
// follow and stop them.
func (g *Gateway) Broadcasts() *broadcast.Runner { return g.bcasts }

// broadcastRoutes mounts the broadcasts' admin API on api.
func (g *Gateway) broadcastRoutes(api fiber.Router) {
	api.Post("/broadcasts", g.startBroadcast)
	api.Get("/broadcasts", g.listBroadcasts)
	api.Get("/broadcasts/:id", g.getBroadcast)
	api.Delete("/broadcasts/:id", g.cancelBroadcast)
}

// broadcastView is a broadcast as the admin API shows it.
type broadcastView struct {
	ID         string `json:"id"`
	Automation string `json:"automation"`
	Group      string `json:"group,omitempty"`
	Tag        string `json:"tag,omitempty"`
	// Listed is how many distinct addresses a list gave: not "contacts",
	// which in a request is the list itself.
	Listed   int            `json:"listed,omitempty"`
	Vars     map[string]any `json:"vars,omitempty"`
	At       time.Time      `json:"at"`
	Source   string         `json:"source"`
	By       string         `json:"by,omitempty"`
	Status   string         `json:"status"`
	Total    int            `json:"total"`
	Enrolled int            `json:"enrolled"`
	Skipped  map[string]int `json:"skipped"`
	broadcast.Counts
	EndStarted bool `json:"end_started,omitempty"`
	// Ending is true while the enrollments a cancel with end is to end
	// are not all ended yet; Ended counts those it ended.
	Ending bool   `json:"ending,omitempty"`
	Ended  int    `json:"ended,omitempty"`
	Reason string `json:"reason,omitempty"`
	// CanceledBy names who canceled it (or ended its enrollments).
	CanceledBy string `json:"canceled_by,omitempty"`
	// Owner names the process enrolling it, while it runs.
	Owner      string     `json:"owner,omitempty"`
	CreatedAt  time.Time  `json:"created_at"`
	FinishedAt *time.Time `json:"finished_at,omitempty"`
}

// skippedCounts returns b's skips with every reason named, 0 where none
// was skipped for it: the API and the broadcast.done event show the same
// keys whatever happened.
func skippedCounts(b *broadcast.Broadcast) map[string]int {
	skipped := map[string]int{engine.SkipOptedOut: 0, engine.SkipLeftGroup: 0, engine.SkipInvalid: 0, engine.SkipAlreadyEnrolled: 0}
	for k, n := range b.Skipped {
		skipped[k] += n
	}
	return skipped
}

func viewBroadcast(b *broadcast.Broadcast) broadcastView {
	skipped := skippedCounts(b)
	v := broadcastView{
		ID: b.ID, Automation: b.Automation, Group: b.Group, Tag: b.Tag, Listed: b.Listed, Vars: b.Vars,
		At: b.At, Source: b.Source, By: b.By, Status: string(b.Status), Total: b.Total, Enrolled: b.Enrolled, Skipped: skipped,
		Counts: b.Counts, EndStarted: b.EndStarted, Ending: b.Ending, Ended: b.Ended, Reason: b.Reason, CanceledBy: b.CanceledBy, CreatedAt: b.CreatedAt, FinishedAt: b.FinishedAt,
	}
	if b.Status == broadcast.StatusRunning {
		v.Owner = b.Owner
	}
	return v
}

type broadcastRequest struct {
	Automation string         `json:"automation"`
	Group      string         `json:"group"`
	Tag        string         `json:"tag"`
	Contacts   []string       `json:"contacts"`
	At         string         `json:"at"`
	Vars       map[string]any `json:"vars"`
}

func (g *Gateway) startBroadcast(c *fiber.Ctx) error {
	var req broadcastRequest
	if err := decodeStrict(c.Body(), &req); err != nil {
		return err
	}
	if req.Automation == "" {
		return badRequest("automation", "name the automation to start")
	}
	given := 0
	for _, ok := range []bool{req.Group != "", req.Tag != "", req.Contacts != nil} {
		if ok {
			given++
		}
	}
	if given != 1 {
		return badRequest("group", "give exactly one of group, tag or contacts (a list of phone numbers)")
	}
	if req.Contacts != nil && len(req.Contacts) == 0 {
		return badRequest("contacts", "an empty list reaches nobody: list at least one phone number")
	}
	for k := range req.Vars {
		if !varName.MatchString(k) {
			return badRequest("vars."+k, "a var name is letters, digits and _, not starting with a digit")
		}
	}
	spec := broadcast.Spec{Automation: req.Automation, Group: req.Group, Tag: req.Tag, Vars: req.Vars, By: actor(c).Name}
	if req.At != "" {
		at, err := time.Parse(time.RFC3339, req.At)
		if err != nil {
			return badRequest("at", "not an RFC 3339 time such as 2026-12-24T10:00:00-05:00: %q", req.At)
		}
		spec.At = at
	}
	if req.Contacts != nil {
		var invalid []string
		spec.Contacts, invalid = g.listedContacts(req.Contacts)
		spec.Invalid = len(invalid)
	}
	b, err := g.bcasts.Start(c.UserContext(), spec)
	if err != nil {
		return broadcastError(err)
	}
	return c.Status(fiber.StatusCreated).JSON(viewBroadcast(b))
}

// listedContacts reads the contacts a broadcast or manual start lists:
// their addresses, each once, and the values given that were no address a
// text can go to (an alphanumeric sender id may write to us but cannot be
// written to), as given.
func (g *Gateway) listedContacts(given []string) (addrs, invalid []string) {
	addrs = make([]string, 0, len(given))
	seen := make(map[string]bool, len(given))
	for _, p := range given {
		phone, addr, err := g.address(p)
		if err != nil || config.KindOf(phone) == config.AddressAlphanumeric {
			invalid = append(invalid, p)
			continue
		}
		if !seen[phone] { // a contact listed twice is started once
			seen[phone] = true
			addrs = append(addrs, addr)
		}
	}
	return addrs, invalid
}

// broadcastLookupError is the answer to a Get or Cancel of the broadcast
// id that failed: 404 naming the id when there is none (not in the
// store's words, which name the store), else as broadcastError.
func broadcastLookupError(err error, id string) error {
	if errors.Is(err, engine.ErrNotFound) {
		return fiber.NewError(fiber.StatusNotFound, "no broadcast "+strconv.Quote(id))
	}
	return broadcastError(err)
}

// broadcastError maps what Start refused to an HTTP status: 422 for an
// automation or group the config lacks, 409 for a paused automation.
func broadcastError(err error) error {
	switch {
	case errors.Is(err, broadcast.ErrUnknownAutomation), errors.Is(err, broadcast.ErrUnknownGroup):
		return fiber.NewError(fiber.StatusUnprocessableEntity, err.Error())
	case errors.Is(err, engine.ErrPaused):
		return fiber.NewError(fiber.StatusConflict, err.Error())
	case errors.Is(err, engine.ErrNotFound):
		return fiber.NewError(fiber.StatusNotFound, err.Error())
	}
	return err
}

func (g *Gateway) listBroadcasts(c *fiber.Ctx) error {
	limit, err := pageLimit(c, 50)
	if err != nil {
		return err
	}
	// cursor, as the other lists take it, or before, its first name: a
	// broadcast's id.
	after := c.Query("cursor", c.Query("before"))
	if after != "" && !engine.IsID(after) {
		return errBadCursor()
	}
	bs, err := g.bcasts.List(c.UserContext(), after, limit+1) // one more: is there a next page?
	if err != nil {
		return err
	}
	more := len(bs) > limit
	bs = bs[:min(len(bs), limit)]
	out := make([]broadcastView, 0, len(bs))
	for _, b := range bs {
		out = append(out, viewBroadcast(b))
	}
	res := fiber.Map{"broadcasts": out}
	if more {
		last := bs[len(bs)-1].ID
		res["next_cursor"], res["next"] = last, last
	}
	return c.JSON(res)
}

func (g *Gateway) getBroadcast(c *fiber.Ctx) error {
	b, err := g.bcasts.Get(c.UserContext(), c.Params("id"))
	if err != nil {
		return broadcastLookupError(err, c.Params("id"))
	}
	return c.JSON(viewBroadcast(b))
}

func (g *Gateway) cancelBroadcast(c *fiber.Ctx) error {
	end := false
	if s := c.Query("end"); s != "" {
		v, err := strconv.ParseBool(s)
		if err != nil {
			return badRequest("end", "true or false, not %q", s)
		}
		end = v
	}
	b, err := g.bcasts.Cancel(c.UserContext(), c.Params("id"), end)
	if err != nil {
		return broadcastLookupError(err, c.Params("id"))
	}
	return c.JSON(viewBroadcast(b))
}
