package gateway

import (
	"encoding/xml"
	"io"
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
	svg := string(diagram(set.Automation("a")))

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
