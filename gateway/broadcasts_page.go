package gateway

import (
	"errors"
	"fmt"
	"net/url"
	"sort"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/keyway-sms/keyway/automation/broadcast"
	"github.com/keyway-sms/keyway/automation/engine"
)

// broadcastRow is a broadcast as the dashboard's list shows it: its
// progress (contacts gone through of its total) and its counts.
type broadcastRow struct {
	*broadcast.Broadcast
	Progress, Max int
	SkippedTotal  int
	SkippedWhy    string
}

func newBroadcastRow(b *broadcast.Broadcast) broadcastRow {
	r := broadcastRow{Broadcast: b, Max: max(b.Total, 1)}
	var why []string
	for reason, n := range b.Skipped {
		if n > 0 {
			r.SkippedTotal += n
			why = append(why, fmt.Sprintf("%s %d", strings.ReplaceAll(reason, "_", " "), n))
		}
	}
	sort.Strings(why)
	r.SkippedWhy = strings.Join(why, ", ")
	r.Progress = min(b.Enrolled+r.SkippedTotal, r.Max)
	if b.Status == broadcast.StatusDone {
		r.Progress = r.Max
	}
	return r
}

// dashBroadcasts lists broadcasts, newest first, a page at a time.
func (g *Gateway) dashBroadcasts(c *fiber.Ctx) error {
	bs, err := g.bcasts.List(c.UserContext(), c.Query("before"), dashPageSize)
	if err != nil {
		return err
	}
	rows := make([]broadcastRow, 0, len(bs))
	for _, b := range bs {
		rows = append(rows, newBroadcastRow(b))
	}
	next := ""
	if len(bs) == dashPageSize {
		next = "/admin/broadcasts?" + url.Values{"before": {bs[len(bs)-1].ID}}.Encode()
	}
	var done *broadcast.Broadcast
	if id := c.Query("canceled"); id != "" {
		if b, err := g.bcasts.Get(c.UserContext(), id); err == nil {
			done = b
		}
	}
	return g.render(c, "broadcasts", "Broadcasts", map[string]any{"Broadcasts": rows, "NextURL": next, "Canceled": done})
}

// dashCancelBroadcast cancels a broadcast from the list, as DELETE
// /api/v1/broadcasts/{id} does: the contacts not enrolled yet are not, and
// with the form's end set the enrollments it started end too.
func (g *Gateway) dashCancelBroadcast(c *fiber.Ctx) error {
	id := c.Params("id")
	end := c.FormValue("end") != ""
	b, err := g.bcasts.Cancel(c.UserContext(), id, end)
	if errors.Is(err, engine.ErrNotFound) {
		return fiber.NewError(fiber.StatusNotFound, "no broadcast "+id)
	}
	if err != nil {
		return err
	}
	g.log.Info().Str("broadcast", id).Str("automation", b.Automation).Str("status", string(b.Status)).Bool("end", end).
		Str("user", actor(c).Name).Msg("dashboard: broadcast cancel")
	return c.Redirect("/admin/broadcasts?"+url.Values{"canceled": {id}}.Encode(), fiber.StatusSeeOther)
}
