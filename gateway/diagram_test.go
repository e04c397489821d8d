package gateway

import (
	"encoding/xml"
	"io"
	"regexp"
	"strings"
	"testing"

	"github.com/keyway-sms/keyway/automation/engine"
	"github.com/keyway-sms/keyway/config"
)

func TestDiagramDrawsEveryStepAndJump(t *testing.T) {
	src := `
automations:
  - id: a
    keywords: [HI, "<b>"]
    steps:
      - { id: ask, name: "Ask & wait", type: wait_for_reply, timeout: 1h, save_as: x, on_timeout: late }
      - { type: condition, if: 'vars.x == "y"', then: yes, else: end }
      - { id: yes, type: reply, text: "yes", next: ask }
      - { id: late, type: reply, text: "late" }
      - { type: end }
`
	cfg, ps := config.Parse("t.yaml", []byte(src), nil)
	if err := ps.Err(); err != nil {
		t.Fatal(err)
	}
	set, ps := engine.Compile(cfg)
	if err := ps.Err(); err != nil {
		t.Fatal(err)
	}
	svg := string(diagram(set.Automation("a"), func(string) string { return "" }))

	// Well-formed XML, with names escaped.
	dec := xml.NewDecoder(strings.NewReader(svg))
	for {
		if _, err := dec.Token(); err == io.EOF {
			break
		} else if err != nil {
			t.Fatalf("the diagram is not well-formed XML: %v\n%s", err, svg)
		}
	}
	if strings.Contains(svg, "<b>") || !strings.Contains(svg, "&lt;b&gt;") || !strings.Contains(svg, "Ask &amp; wait") {
		t.Errorf("names are not escaped:\n%s", svg)
	}
	if n := strings.Count(svg, `class="node step"`); n != 5 {
		t.Errorf("%d step boxes, want 5", n)
	}
	for field, n := range map[string]int{"on_timeout": 1, "then": 1, "else": 1, "next": 1, "end": 1} {
		if got := strings.Count(svg, `class="jump" data-field="`+field+`"`); got != n {
			t.Errorf("%d %s jumps, want %d", got, field, n)
		}
	}
}

// TestDiagramSaysWhatEachStepDoes: a box holds the start of its text, the
// condition, the wait, the recipients (by name) and the timeout; a
// condition with both then and else has no arrow down, one with a single
// branch labels its way down with the other; every line has its label.
func TestDiagramSaysWhatEachStepDoes(t *testing.T) {
	src := `
staff:
  - { number: "+15550100100", name: "Sam" }
automations:
  - id: a
    keywords: [HI]
    steps:
      - { type: reply, text: "Welcome to Acme Coffee! What is your first name?" }
      - { id: ask, type: wait_for_reply, timeout: 24h, save_as: name, on_timeout: late }
      - { type: condition, if: 'vars.name == "no"', then: late, else: desk }
      - { type: condition, if: 'contact.opted_out', then: late }
      - { type: wait, duration: 2h }
      - { id: desk, type: handoff, to: ["+15550100100"], timeout: 2h, on_timeout: late }
      - { id: late, type: reply, text: "late" }
`
	cfg, ps := config.Parse("t.yaml", []byte(src), nil)
	if err := ps.Err(); err != nil {
		t.Fatal(err)
	}
	set, ps := engine.Compile(cfg)
	if err := ps.Err(); err != nil {
		t.Fatal(err)
	}
	svg := string(diagram(set.Automation("a"), set.StaffName))
	for _, want := range []string{
		"“Welcome to Acme Coffee! What is your first n…",
		"timeout 24h", "saved as vars.name",
		"if vars.name == &#34;no&#34;",
		"for 2h",
		"to Sam +15550100100", "timeout 2h",
	} {
		if !strings.Contains(svg, want) {
			t.Errorf("the diagram lacks %q:\n%s", want, svg)
		}
	}
	// Arrows down: from the start node, the reply, the wait_for_reply
	// (labelled next: it also has on_timeout), the one-branch condition
	// (labelled else), the wait and the handoff (next); none from the
	// condition with then and else.
	flows := regexp.MustCompile(`<g class="flow" data-field="([^"]*)"><line x1="\d+" y1="(\d+)"`).FindAllStringSubmatch(svg, -1)
	var labels []string
	for _, f := range flows {
		labels = append(labels, f[1])
	}
	if got := strings.Join(labels, ","); got != ",,next,else,,next," {
		t.Errorf("arrows down labelled %q, want %q", got, ",,next,else,,next,")
	}
	for _, f := range flows {
		if f[1] != "" && !strings.Contains(svg, `class="t3" fill="`) {
			t.Errorf("the arrow labelled %s has no text", f[1])
		}
	}
	// Every jump carries its field as text on its line.
	for _, field := range []string{"then", "else", "on_timeout"} {
		if !regexp.MustCompile(`<g class="jump" data-field="` + field + `"><path [^>]*/><text [^>]*>` + field + `</text></g>`).MatchString(svg) {
			t.Errorf("no %s jump with its label", field)
		}
	}
}
