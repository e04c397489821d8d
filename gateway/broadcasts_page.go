package gateway

import (
	"fmt"
	"net/url"
	"sort"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/keyway-sms/keyway/automation/broadcast"
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
	return g.render(c, "broadcasts", "Broadcasts", map[string]any{"Broadcasts": rows, "NextURL": next})
}
