package gateway

import (
	"context"
	"fmt"
	"strconv"
)

// overviewBroadcasts is how many broadcasts in progress the overview
// shows; the list of broadcasts has them all.
const overviewBroadcasts = 10

// overviewBroadcast is a broadcast in progress as the overview shows it:
// its row of the broadcasts' list, and its progress as a bar and in words.
type overviewBroadcast struct {
	broadcastRow
	// Percent is the share of its contacts gone through (enrolled or
	// skipped), 0 to 100.
	Percent int
	// BarW is the width of the progress bar's filled part, in the units of
	// the bar's viewBox (100 wide).
	BarW string
}

// readOverviewBroadcasts reads the broadcasts in progress (running or
// scheduled), oldest first, up to overviewBroadcasts, and reports whether
// there are more: the store keeps the open ones apart and counts their
// sends as it writes, so this costs the same however many broadcasts
// finished before.
func (g *Gateway) readOverviewBroadcasts(ctx context.Context) ([]overviewBroadcast, bool, error) {
	bs, err := g.bcasts.Open(ctx, overviewBroadcasts+1)
	if err != nil {
		return nil, false, fmt.Errorf("gateway: overview: %w", err)
	}
	more := len(bs) > overviewBroadcasts
	if more {
		bs = bs[:overviewBroadcasts]
	}
	out := make([]overviewBroadcast, 0, len(bs))
	for _, b := range bs {
		r := newBroadcastRow(b)
		pct := 0
		if b.Total > 0 {
			pct = r.Progress * 100 / r.Max
		}
		out = append(out, overviewBroadcast{broadcastRow: r, Percent: pct,
			BarW: strconv.FormatFloat(100*float64(r.Progress)/float64(r.Max), 'f', 1, 64)})
	}
	return out, more, nil
}
