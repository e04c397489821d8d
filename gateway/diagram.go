package gateway

import (
	"fmt"
	"html"
	"html/template"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/keyway-sms/keyway/automation/engine"
	"github.com/keyway-sms/keyway/config"
)

// The diagram's geometry, in SVG user units.
const (
	diagBoxX    = 12
	diagBoxW    = 300
	diagBoxH    = 64
	diagGap     = 34
	diagTop     = 12
	diagLane    = 16 // horizontal room per jump arrow, right of the boxes
	diagLabelIn = 6
	diagChars   = 42 // characters of a summary line that fit a box
)

// diagramColors gives each kind of jump its colour, so that a reader tells
// a then from an else at a glance; every line also carries its label.
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

// flowLabel names the way down from a step to the one below it, when the
// step has other ways on: a condition's missing branch, else "next".
// It returns "" for a step with no branches (its arrow needs no label),
// and skip when nothing falls through: a condition with both a then and
// an else always jumps.
func flowLabel(st *engine.CompiledStep) (label string, skip bool) {
	has := map[string]bool{}
	for _, br := range st.Branches {
		has[br.Field] = true
	}
	switch {
	case has["then"] && has["else"]:
		return "", true
	case has["then"]:
		return "else", false
	case has["else"]:
		return "then", false
	case len(st.Branches) > 0:
		return "next", false
	}
	return "", false
}

// diagram draws automation a as an SVG flowchart: a start node (what
// starts it), one box per step in file order saying what the step does,
// an arrow down to the step that follows it unless the step always jumps,
// arrows on the right for every jump (next, then, else, on_error,
// on_timeout...), each line labelled with its field, and an end node.
// staffName names a staff number ("" when it has none).
func diagram(a *engine.Automation, staffName func(string) string) template.HTML {
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
	arrow := func(x1, y1, x2, y2 int, field, label string) {
		color := diagramColor(field)
		fmt.Fprintf(&b, `<g class="flow" data-field="%s"><line x1="%d" y1="%d" x2="%d" y2="%d" stroke="%s" stroke-width="1.6" marker-end="url(#arrow-%s)"/>`,
			html.EscapeString(label), x1, y1, x2, y2, color, strings.TrimPrefix(color, "#"))
		if label != "" {
			fmt.Fprintf(&b, `<text x="%d" y="%d" class="t3" fill="%s">%s</text>`, x1+diagLabelIn, (y1+y2)/2+4, color, html.EscapeString(label))
		}
		b.WriteString(`</g>`)
	}
	mid := diagBoxX + diagBoxW/2

	// The start node says what starts the automation.
	start := startLabel(a)
	fmt.Fprintf(&b, `<g class="node start"><title>%s</title><rect x="%d" y="%d" width="%d" height="%d" rx="23" fill="#e0f2fe" stroke="#0369a1"/>`,
		html.EscapeString(start), diagBoxX, rowY(0)+9, diagBoxW, diagBoxH-18)
	fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="middle" class="t1">%s</text></g>`, mid, rowY(0)+diagBoxH/2+5, html.EscapeString(clip(start, diagChars)))
	arrow(mid, rowY(0)+diagBoxH-9, mid, rowY(1)-2, "next", "")

	for _, st := range a.Steps {
		row := st.Index + 1
		y := rowY(row)
		fill, stroke := "#ffffff", "#334155"
		if st.Type == config.End {
			fill = "#f1f5f9"
		}
		lines := stepSummary(a, st, staffName)
		fmt.Fprintf(&b, `<g class="node step" data-step="%s"><title>%s</title><rect x="%d" y="%d" width="%d" height="%d" rx="6" fill="%s" stroke="%s"/>`,
			html.EscapeString(st.Key), html.EscapeString(stepTitle(st)+"\n"+strings.Join(lines, "\n")), diagBoxX, y, diagBoxW, diagBoxH, fill, stroke)
		fmt.Fprintf(&b, `<text x="%d" y="%d" class="t1">%s</text>`, diagBoxX+10, y+19, html.EscapeString(clip(stepTitle(st), diagChars)))
		for i, line := range lines {
			if i == 2 {
				break
			}
			fmt.Fprintf(&b, `<text x="%d" y="%d" class="t2">%s</text>`, diagBoxX+10, y+37+17*i, html.EscapeString(clip(line, diagChars+4)))
		}
		b.WriteString(`</g>`)

		// What follows: the step below, unless the step ends or jumps.
		label, skip := flowLabel(st)
		switch {
		case st.Type == config.End:
			jumps = append(jumps, jump{row, n + 1, "end"})
		case st.Next != "":
			jumps = append(jumps, jump{row, rowOf(st.Next), "next"})
		case skip:
		default:
			field := "next"
			if label != "" {
				field = label
			}
			arrow(mid, y+diagBoxH, mid, rowY(row+1)-2, field, label)
		}
		for _, br := range st.Branches {
			jumps = append(jumps, jump{row, rowOf(br.Target), br.Field})
		}
	}

	// The end node.
	yEnd := rowY(n + 1)
	fmt.Fprintf(&b, `<g class="node end"><rect x="%d" y="%d" width="%d" height="%d" rx="23" fill="#f1f5f9" stroke="#334155"/>`,
		diagBoxX, yEnd+9, diagBoxW, diagBoxH-18)
	fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="middle" class="t1">end</text></g>`, mid, yEnd+diagBoxH/2+5)

	// Jumps run in lanes right of the boxes, one lane each, and carry
	// their field as a label where they leave their box. Jumps leaving one
	// box start one below the other, so that their labels do not overlap.
	right := diagBoxX + diagBoxW
	outs := map[int]int{}
	lanes := 0
	for _, j := range jumps {
		if j.to < 0 {
			continue // a target the config no longer has; validation reports it
		}
		lanes++
		color := diagramColor(j.field)
		lane := right + 70 + diagLane*lanes
		y1 := rowY(j.from) + 16 + 15*outs[j.from]
		outs[j.from]++
		y2 := rowY(j.to) + diagBoxH/2 - 6
		fmt.Fprintf(&b, `<g class="jump" data-field="%s"><path d="M%d %d H%d V%d H%d" fill="none" stroke="%s" stroke-width="1.6" marker-end="url(#arrow-%s)"/>`,
			html.EscapeString(j.field), right, y1, lane, y2, right+2, color, strings.TrimPrefix(color, "#"))
		fmt.Fprintf(&b, `<text x="%d" y="%d" class="t3" fill="%s">%s</text></g>`, right+diagLabelIn, y1-5, color, html.EscapeString(j.field))
	}

	width := right + 70 + diagLane*(lanes+1)
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

// stepTitle is a step's first line: its number, type, id and name.
func stepTitle(st *engine.CompiledStep) string {
	title := fmt.Sprintf("%d. %s", st.Index+1, st.Type)
	if st.ID != "" {
		title += " " + st.ID
	}
	if st.Name != "" {
		title += ": " + st.Name
	}
	return title
}

// stepSummary says what a step does, in up to a few short lines, from its
// YAML as written (so ${NAME} references stay unexpanded and no secret
// from the environment shows): the start of its text, the condition, the
// wait, the recipients, the timeout.
func stepSummary(a *engine.Automation, st *engine.CompiledStep, staffName func(string) string) []string {
	if a.Config == nil || st.Index >= len(a.Config.Steps) {
		return nil
	}
	node := a.Config.Steps[st.Index].Node
	get := func(key string) string { return yamlText(yamlField(node, key)) }
	var out []string
	add := func(format string, args ...any) { out = append(out, fmt.Sprintf(format, args...)) }
	recipients := func() string {
		var names []string
		for _, to := range yamlList(yamlField(node, "to")) {
			if name := staffName(to); name != "" {
				to = name + " " + to
			}
			names = append(names, to)
		}
		return strings.Join(names, ", ")
	}
	quoted := func(key string) {
		if s := get(key); s != "" {
			add("“%s”", strings.Join(strings.Fields(s), " "))
		}
	}
	switch st.Type {
	case "reply":
		quoted("text")
		if sid := get("template.content_sid"); sid != "" {
			add("template %s", sid)
		}
		if m := yamlList(yamlField(node, "media")); len(m) > 0 {
			add("with %d media link(s)", len(m))
		}
	case "forward_to_mobile", "handoff":
		add("to %s", recipients())
		if t := get("timeout"); t != "" {
			add("timeout %s", t)
		}
		quoted("text")
	case "forward_to_email":
		add("to %s", recipients())
		if s := get("subject"); s != "" {
			add("subject “%s”", s)
		}
	case "add_to_group", "remove_from_group":
		add("groups: %s", strings.Join(yamlList(yamlField(node, "groups")), ", "))
	case "unsubscribe":
		scope := get("scope")
		if scope == "" {
			scope = "all"
		}
		if scope == "groups" {
			add("leave groups %s", strings.Join(yamlList(yamlField(node, "groups")), ", "))
		} else {
			add("opt out of everything")
		}
		quoted("text")
	case "set_field":
		if f := yamlField(node, "fields"); f != nil && f.Kind == yaml.MappingNode {
			for i := 0; i+1 < len(f.Content); i += 2 {
				add("%s = %s", f.Content[i].Value, yamlText(f.Content[i+1]))
			}
		}
	case "tag":
		if add_ := yamlList(yamlField(node, "add")); len(add_) > 0 {
			add("add %s", strings.Join(add_, ", "))
		}
		if rm := yamlList(yamlField(node, "remove")); len(rm) > 0 {
			add("remove %s", strings.Join(rm, ", "))
		}
	case "http":
		method := get("method")
		if method == "" {
			method = "GET"
		}
		add("%s %s", strings.ToUpper(method), get("url"))
		if s := get("save_as"); s != "" {
			add("saved as vars.%s", s)
		}
	case "condition":
		add("if %s", get("if"))
	case "wait":
		switch {
		case get("duration") != "":
			add("for %s", get("duration"))
		case get("until") != "":
			add("until %s", get("until"))
		case get("cron") != "":
			add("until cron %s", get("cron"))
		}
		if tz := get("timezone"); tz != "" {
			add("in %s", tz)
		}
	case "wait_for_reply":
		if t := get("timeout"); t != "" {
			add("timeout %s", t)
		} else {
			add("no timeout")
		}
		if s := get("save_as"); s != "" {
			add("saved as vars.%s", s)
		}
	case "start_automation":
		add("starts %s", get("automation"))
	case config.End:
		add("finishes the enrollment")
	}
	return out
}

// yamlField returns the value under a dotted key of a mapping node.
func yamlField(node *yaml.Node, dotted string) *yaml.Node {
	for _, key := range strings.Split(dotted, ".") {
		if node == nil || node.Kind != yaml.MappingNode {
			return nil
		}
		var found *yaml.Node
		for i := 0; i+1 < len(node.Content); i += 2 {
			if node.Content[i].Value == key {
				found = node.Content[i+1]
				break
			}
		}
		node = found
	}
	return node
}

// yamlText is a node as one line of text: a scalar's value, a list's
// items joined, a mapping's keys and values.
func yamlText(node *yaml.Node) string {
	if node == nil {
		return ""
	}
	switch node.Kind {
	case yaml.ScalarNode:
		return node.Value
	case yaml.SequenceNode:
		return strings.Join(yamlList(node), ", ")
	case yaml.MappingNode:
		var parts []string
		for i := 0; i+1 < len(node.Content); i += 2 {
			parts = append(parts, node.Content[i].Value+": "+yamlText(node.Content[i+1]))
		}
		return strings.Join(parts, ", ")
	}
	return ""
}

// yamlList is a sequence's scalar items, or a scalar alone.
func yamlList(node *yaml.Node) []string {
	if node == nil {
		return nil
	}
	if node.Kind == yaml.ScalarNode {
		return []string{node.Value}
	}
	var out []string
	for _, item := range node.Content {
		out = append(out, yamlText(item))
	}
	return out
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
