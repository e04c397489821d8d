package gateway

import (
	"fmt"
	"html"
	"html/template"
	"strings"

	"github.com/keyway-sms/keyway/automation/engine"
	"github.com/keyway-sms/keyway/config"
)

// The diagram's geometry, in SVG user units.
const (
	diagBoxX    = 16
	diagBoxW    = 250
	diagBoxH    = 46
	diagGap     = 34
	diagTop     = 12
	diagLane    = 18 // horizontal room per jump arrow, right of the boxes
	diagLabelIn = 6
)

// diagramColors gives each kind of jump its colour, so that a reader tells
// a then from an else at a glance; the legend repeats them.
var diagramColors = map[string]string{
	"next":       "#475569",
	"then":       "#15803d",
	"else":       "#b45309",
	"on_error":   "#b91c1c",
	"on_timeout": "#7c3aed",
}

func diagramColor(field string) string {
	if c, ok := diagramColors[field]; ok {
		return c
	}
	return "#0e7490"
}

// diagram draws automation a as an SVG flowchart: a start node (what
// starts it), one box per step in file order with an arrow to the step
// that follows it, arrows on the right for every jump (next, then, else,
// on_error, on_timeout...), labelled with its field, and an end node.
func diagram(a *engine.Automation) template.HTML {
	n := len(a.Steps)
	// Rows: 0 is the start node, 1..n the steps, n+1 the end node.
	rowY := func(row int) int { return diagTop + row*(diagBoxH+diagGap) }
	rowOf := func(target string) int {
		if target == config.End {
			return n + 1
		}
		for _, st := range a.Steps {
			if st.ID == target || st.Key == target {
				return st.Index + 1
			}
		}
		return -1
	}
	type jump struct {
		from, to int
		field    string
	}
	var jumps []jump
	var b strings.Builder
	arrow := func(x1, y1, x2, y2 int, color string) {
		fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="%s" stroke-width="1.6" marker-end="url(#arrow-%s)"/>`,
			x1, y1, x2, y2, color, strings.TrimPrefix(color, "#"))
	}
	mid := diagBoxX + diagBoxW/2

	// The start node says what starts the automation.
	fmt.Fprintf(&b, `<g class="node start"><rect x="%d" y="%d" width="%d" height="%d" rx="23" fill="#e0f2fe" stroke="#0369a1"/>`,
		diagBoxX, rowY(0), diagBoxW, diagBoxH)
	fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="middle" class="t1">%s</text></g>`, mid, rowY(0)+28, html.EscapeString(clip(startLabel(a), 34)))
	arrow(mid, rowY(0)+diagBoxH, mid, rowY(1)-2, diagramColor("next"))

	for _, st := range a.Steps {
		row := st.Index + 1
		y := rowY(row)
		fill, stroke := "#ffffff", "#334155"
		if st.Type == config.End {
			fill = "#f1f5f9"
		}
		fmt.Fprintf(&b, `<g class="node step" data-step="%s"><rect x="%d" y="%d" width="%d" height="%d" rx="6" fill="%s" stroke="%s"/>`,
			html.EscapeString(st.Key), diagBoxX, y, diagBoxW, diagBoxH, fill, stroke)
		title := fmt.Sprintf("%d. %s", st.Index+1, st.Type)
		fmt.Fprintf(&b, `<text x="%d" y="%d" class="t1">%s</text>`, diagBoxX+10, y+19, html.EscapeString(clip(title, 34)))
		sub := st.Name
		if st.ID != "" {
			sub = strings.TrimSpace("id: " + st.ID + "  " + st.Name)
		}
		if sub != "" {
			fmt.Fprintf(&b, `<text x="%d" y="%d" class="t2">%s</text>`, diagBoxX+10, y+36, html.EscapeString(clip(sub, 40)))
		}
		b.WriteString(`</g>`)

		// What follows: the step below, unless the step ends or jumps.
		switch {
		case st.Type == config.End:
			jumps = append(jumps, jump{row, n + 1, "end"})
		case st.Next != "":
			jumps = append(jumps, jump{row, rowOf(st.Next), "next"})
		default:
			arrow(mid, y+diagBoxH, mid, rowY(row+1)-2, diagramColor("next"))
		}
		for _, br := range st.Branches {
			jumps = append(jumps, jump{row, rowOf(br.Target), br.Field})
		}
	}

	// The end node.
	yEnd := rowY(n + 1)
	fmt.Fprintf(&b, `<g class="node end"><rect x="%d" y="%d" width="%d" height="%d" rx="23" fill="#f1f5f9" stroke="#334155"/>`,
		diagBoxX, yEnd, diagBoxW, diagBoxH)
	fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="middle" class="t1">end</text></g>`, mid, yEnd+28)

	// Jumps run in lanes right of the boxes, one lane each.
	// Jumps leaving one box start one below the other, so that their
	// labels do not overlap.
	right := diagBoxX + diagBoxW
	outs := map[int]int{}
	for i, j := range jumps {
		if j.to < 0 {
			continue // a target the config no longer has; validation reports it
		}
		color := diagramColor(j.field)
		lane := right + diagLane*(i+1)
		y1 := rowY(j.from) + 16 + 13*outs[j.from]
		outs[j.from]++
		y2 := rowY(j.to) + diagBoxH/2 - 6
		fmt.Fprintf(&b, `<g class="jump" data-field="%s"><path d="M%d %d H%d V%d H%d" fill="none" stroke="%s" stroke-width="1.6" marker-end="url(#arrow-%s)"/>`,
			html.EscapeString(j.field), right, y1, lane, y2, right+2, color, strings.TrimPrefix(color, "#"))
		fmt.Fprintf(&b, `<text x="%d" y="%d" class="t3" fill="%s">%s</text></g>`, right+diagLabelIn, y1-2, color, html.EscapeString(j.field))
	}

	width := right + diagLane*(len(jumps)+1) + 70
	height := yEnd + diagBoxH + diagTop
	var defs strings.Builder
	seen := map[string]bool{}
	colors := []string{diagramColor("next")}
	for _, j := range jumps {
		colors = append(colors, diagramColor(j.field))
	}
	for _, c := range colors {
		id := strings.TrimPrefix(c, "#")
		if seen[id] {
			continue
		}
		seen[id] = true
		fmt.Fprintf(&defs, `<marker id="arrow-%s" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0 0L10 5L0 10z" fill="%s"/></marker>`, id, c)
	}
	svg := fmt.Sprintf(`<svg class="diagram" xmlns="http://www.w3.org/2000/svg" role="img" aria-label="steps of automation %s" viewBox="0 0 %d %d" width="%d" height="%d"><defs>%s</defs>%s</svg>`,
		html.EscapeString(a.ID), width, height, width, height, defs.String(), b.String())
	return template.HTML(svg) // built from escaped parts above
}

// startLabel says what starts an automation, for its start node.
func startLabel(a *engine.Automation) string {
	ca := a.Config
	switch {
	case len(ca.Keywords) > 0:
		return "keyword " + strings.Join(ca.Keywords, ", ")
	case ca.CatchAll:
		return "catch-all: any other message"
	case ca.Schedule != nil:
		return "schedule " + ca.Schedule.Cron
	}
	return "started by another automation or the API"
}

// clip shortens s to at most n runes, with an ellipsis.
func clip(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}
