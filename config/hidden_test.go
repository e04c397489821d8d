package config

import (
	"strings"
	"testing"
)

// TestDuplicateTopKeyShowsTheProblemsOfItsBlock checks that a top-level key
// written twice is a problem, and that the problems inside the block it
// hides are reported too, as if the block were moved into the first,
// without saying twice what the rest of the file's checks say.
func TestDuplicateTopKeyShowsTheProblemsOfItsBlock(t *testing.T) {
	src := `automations:
  - id: join
    keywords: [JOIN]
    steps:
      - { type: reply, text: "hi" }
server:
  listen: ":1"
automations:
  - id: second
    keywrds: [TWO]
    steps:
      - { type: reply, text: "x" }
server:
  listen: ":2"
  colour: blue
`
	c, ps := mustParse(t, src, nil)
	checkProblems(t, withoutHelpWarning(ps), []string{
		`k.yaml:8:1: duplicate key "automations" at top level (first at k.yaml:1:1)`,
		`k.yaml:9:5: warning: automation "second" has no keywords, no schedule and is not catch_all: only a start_automation step or the admin API can start it`,
		`k.yaml:10:5: unknown key "keywrds" in automation "second" (did you mean "keywords"? allowed: id, name, enabled, keywords, match, channel, overwrite_if_exists, catch_all, schedule, expire_after, steps)`,
		`k.yaml:13:1: duplicate key "server" at top level (first at k.yaml:6:1)`,
		`k.yaml:14:3: duplicate key "listen" in server (first at k.yaml:7:3)`,
		`k.yaml:15:3: unknown key "colour" in server (allowed: listen, public_url, max_body_bytes, admin_listen, max_connections)`,
	})
	if n := len(render(ps)) - len(withoutHelpWarning(ps)); n != 1 {
		t.Errorf("the help warning is said %d times, want once:\n%s", n, strings.Join(render(ps), "\n"))
	}
	if len(c.Automations) != 1 || c.Server.Listen != ":1" {
		t.Errorf("the first block of each key should hold: %d automations, listen %q", len(c.Automations), c.Server.Listen)
	}
	if h := c.Hidden(); h == nil || len(h.Config.Automations) != 2 {
		t.Errorf("Hidden should read both automations blocks: %+v", h)
	}
}
