package gateway

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/keyway-sms/keyway/automation/engine"
)

// overviewDays is how many days the overview shows, today included.
const overviewDays = 30

// overviewTx is what the overview reads of the store: the counts the
// store keeps per hour as it writes, and the active enrollments per
// automation. Neither grows with the messages stored.
type overviewTx interface {
	Activity(from, to time.Time) ([]engine.Activity, error)
	CountActive() (map[string]int, error)
}

var _ overviewTx = engine.Tx(nil)

// overviewDay is one day of the overview, in defaults.timezone.
type overviewDay struct {
	Day                     time.Time
	In, Out, OptedOut, Fail int
}

// Label is the day as the overview writes it, e.g. "Dec 6".
func (d overviewDay) Label() string { return d.Day.Format("Jan 2") }

// overviewAutomation is one automation's enrollments in the overview.
type overviewAutomation struct {
	ID      string
	Started int // in the days shown
	Active  int // now
}

// overview is what the overview page shows.
type overview struct {
	Days        []overviewDay // oldest first
	Newest      []overviewDay // the same, newest first
	Zone        string        // defaults.timezone
	Total       overviewDay
	Automations []overviewAutomation
	Messages    chart
	OptOuts     chart
	Failed      chart
	Enrolled    chart
	// EventsFailed counts the events to other systems (`events:`) given
	// up and marked failed in the days shown.
	EventsFailed int
	// Broadcasts are the broadcasts in progress (dashboard_overview_broadcasts.go),
	// MoreBroadcasts set when there are more than shown.
	Broadcasts     []overviewBroadcast
	MoreBroadcasts bool
}

// readOverview reads the overview of the overviewDays days up to now, in
// loc, of the automations ids (those of the running config; others found
// in the counts follow them): one range of hourly counters and the active
// counts, whatever the number of messages stored.
func readOverview(tx overviewTx, now time.Time, loc *time.Location, ids []string) (*overview, error) {
	today := now.In(loc)
	first := time.Date(today.Year(), today.Month(), today.Day()-(overviewDays-1), 0, 0, 0, 0, loc)
	counts, err := tx.Activity(first, now.Add(time.Hour))
	if err != nil {
		return nil, err
	}
	active, err := tx.CountActive()
	if err != nil {
		return nil, err
	}
	o := &overview{}
	index := map[string]int{}
	for i := range overviewDays {
		d := time.Date(first.Year(), first.Month(), first.Day()+i, 0, 0, 0, 0, loc)
		o.Days = append(o.Days, overviewDay{Day: d})
		index[d.Format(time.DateOnly)] = i
	}
	started := map[string]int{}
	for _, a := range counts {
		i, ok := index[a.Hour.In(loc).Format(time.DateOnly)]
		if !ok {
			continue // an hour of a zone offset that is not whole hours, before the first day
		}
		d := &o.Days[i]
		switch a.Kind {
		case engine.ActivityIn:
			d.In += a.N
		case engine.ActivityOut:
			d.Out += a.N
		case engine.ActivityOptedOut:
			d.OptedOut += a.N
		case engine.ActivityFailed:
			d.Fail += a.N
		case engine.ActivityEnrolled:
			started[a.Automation] += a.N
		case engine.ActivityEventsFailed:
			o.EventsFailed += a.N
		}
	}
	o.Newest = slices.Clone(o.Days)
	slices.Reverse(o.Newest)
	o.Zone = loc.String()
	for _, d := range o.Days {
		o.Total.In += d.In
		o.Total.Out += d.Out
		o.Total.OptedOut += d.OptedOut
		o.Total.Fail += d.Fail
	}
	seen := map[string]bool{}
	for _, id := range ids {
		seen[id] = true
		o.Automations = append(o.Automations, overviewAutomation{ID: id, Started: started[id], Active: active[id]})
	}
	var gone []string
	for id := range started {
		if !seen[id] {
			gone = append(gone, id)
		}
	}
	for id := range active {
		if !seen[id] && started[id] == 0 {
			gone = append(gone, id)
		}
	}
	slices.Sort(gone)
	for _, id := range slices.Compact(gone) {
		o.Automations = append(o.Automations, overviewAutomation{ID: id, Started: started[id], Active: active[id]})
	}
	o.draw()
	return o, nil
}

// draw lays the charts out.
func (o *overview) draw() {
	labels := make([]string, len(o.Days))
	in, out, opted, failed := make([]int, len(o.Days)), make([]int, len(o.Days)), make([]int, len(o.Days)), make([]int, len(o.Days))
	for i, d := range o.Days {
		labels[i] = d.Label()
		in[i], out[i], opted[i], failed[i] = d.In, d.Out, d.OptedOut, d.Fail
	}
	o.Messages = columns(labels, series{"in", in}, series{"out", out})
	o.OptOuts = columns(labels, series{"opted-out", opted})
	o.Failed = columns(labels, series{"failed", failed})
	names, started := make([]string, len(o.Automations)), make([]int, len(o.Automations))
	for i, a := range o.Automations {
		names[i], started[i] = a.ID, a.Started
	}
	o.Enrolled = rows(names, started)
}

// The charts are SVG the server draws (html/template writes the elements
// a chart lists, no script): a viewBox as wide as a phone's screen, so
// that on a phone its text reads at its own size, and it scales up on a
// wider screen.
const (
	chartW     = 360.0
	chartH     = 150.0
	chartLeft  = 30.0  // room for the scale's numbers
	chartTop   = 8.0   // room above the highest bar
	chartBase  = 126.0 // the baseline
	chartRight = chartW - 4
)

// chart is an SVG chart: its size, bars, grid lines and texts.
type chart struct {
	W, H  float64
	Bars  []chartBar
	Lines []chartLine
	Texts []chartText
}

type chartBar struct {
	X, Y, W, H float64
	Class      string
	Title      string
}

type chartLine struct{ X1, Y1, X2, Y2 float64 }

type chartText struct {
	X, Y   float64
	Anchor string
	Class  string
	Text   string
}

// series is one set of bars: a class for its colour, a value per label.
type series struct {
	class  string
	values []int
}

// scaleTop is the top of a chart's scale: the largest value rounded up
// to 1, 2 or 5 times a power of ten, at least 1.
func scaleTop(largest int) int {
	for p := 1; ; p *= 10 {
		for _, m := range []int{1, 2, 5} {
			if m*p >= largest {
				return m * p
			}
		}
	}
}

// columns draws a bar per label and series, the series side by side.
func columns(labels []string, ss ...series) chart {
	c := chart{W: chartW, H: chartH}
	largest := 0
	for _, s := range ss {
		largest = max(largest, slices.Max(append([]int{0}, s.values...)))
	}
	top := scaleTop(largest)
	height := chartBase - chartTop
	marks := []int{0, top / 2, top}
	if top == 1 {
		marks = []int{0, 1}
	}
	for _, v := range marks {
		y := chartBase - height*float64(v)/float64(top)
		c.Lines = append(c.Lines, chartLine{X1: chartLeft, Y1: y, X2: chartRight, Y2: y})
		c.Texts = append(c.Texts, chartText{X: chartLeft - 4, Y: y + 4, Anchor: "end", Class: "scale", Text: strconv.Itoa(v)})
	}
	slot := (chartRight - chartLeft) / float64(max(len(labels), 1))
	barW := (slot - 1.5) / float64(len(ss))
	for i, label := range labels {
		x := chartLeft + slot*float64(i) + 0.75
		for j, s := range ss {
			v := s.values[i]
			h := height * float64(v) / float64(top)
			if v > 0 && h < 1 {
				h = 1
			}
			c.Bars = append(c.Bars, chartBar{X: x + barW*float64(j), Y: chartBase - h, W: barW, H: h, Class: s.class,
				Title: fmt.Sprintf("%s: %d %s", label, v, s.class)})
		}
	}
	// The first, middle and last days under the axis.
	if n := len(labels); n > 0 {
		for _, i := range []int{0, n / 2, n - 1} {
			anchor := "middle"
			switch i {
			case 0:
				anchor = "start"
			case n - 1:
				anchor = "end"
			}
			x := chartLeft + slot*(float64(i)+0.5)
			if anchor == "start" {
				x = chartLeft
			} else if anchor == "end" {
				x = chartRight
			}
			c.Texts = append(c.Texts, chartText{X: x, Y: chartH - 6, Anchor: anchor, Class: "day", Text: labels[i]})
		}
	}
	return c
}

// rows draws a horizontal bar per name, its value written after it.
func rows(names []string, values []int) chart {
	const rowH, barH, nameW = 22.0, 12.0, 120.0
	c := chart{W: chartW, H: max(rowH*float64(len(names))+4, rowH)}
	top := scaleTop(slices.Max(append([]int{0}, values...)))
	room := chartRight - nameW - 40 // room for the count after the bar
	for i, name := range names {
		y := 4 + rowH*float64(i)
		w := room * float64(values[i]) / float64(top)
		if values[i] > 0 && w < 1 {
			w = 1
		}
		label := name
		if len([]rune(label)) > 18 {
			label = string([]rune(label)[:17]) + "…"
		}
		c.Texts = append(c.Texts, chartText{X: nameW - 6, Y: y + barH - 2, Anchor: "end", Class: "name", Text: label},
			chartText{X: nameW + w + 4, Y: y + barH - 2, Anchor: "start", Class: "count", Text: strconv.Itoa(values[i])})
		c.Bars = append(c.Bars, chartBar{X: nameW, Y: y, W: w, H: barH, Class: "enrolled", Title: fmt.Sprintf("%s: %d started", name, values[i])})
	}
	return c
}

// overviewView reads the overview in a read-only transaction.
func (g *Gateway) overviewView(ctx context.Context, now time.Time) (*overview, error) {
	set := g.engine.Set()
	var ids []string
	for _, a := range set.Automations() {
		ids = append(ids, a.ID)
	}
	var o *overview
	err := g.store.View(ctx, func(tx engine.Tx) error {
		var err error
		o, err = readOverview(tx, now, set.Config.Location(), ids)
		return err
	})
	return o, err
}

// dashOverview answers GET /admin/overview.
func (g *Gateway) dashOverview(c *fiber.Ctx) error {
	o, err := g.overviewView(c.UserContext(), time.Now())
	if err != nil {
		return fmt.Errorf("gateway: overview: %w", err)
	}
	if o.Broadcasts, o.MoreBroadcasts, err = g.readOverviewBroadcasts(c.UserContext()); err != nil {
		return err
	}
	return g.render(c, "overview", "Overview", o)
}
