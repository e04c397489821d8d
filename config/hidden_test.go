package config

import (
	"strings"
	"testing"
	"time"
)

// TestDuplicateTopKeyShowsTheProblemsOfItsBlock checks that a top-level key
// written twice is a problem, and that the problems inside the block it
// hides are reported too, as if the block were moved into the first,
// without saying twice what the rest of the file's checks say. A key of
// the hidden block that the first has too (server's listen) is part of
// the block written twice, not a mistake of its own.
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

// TestDuplicateKeysBelowTopLevel checks that a key written twice at any
// depth is a problem at the later key, and that the later block's own
// problems are reported as well: its list items or keys as if moved into
// the first, a single value as if it replaced the first; a key written
// twice inside such a later block is reported in turn, and so are its
// later value's problems.
func TestDuplicateKeysBelowTopLevel(t *testing.T) {
	src := `automations:
  - id: a
    keywords: [A]
    steps:
      - { type: reply, text: "hi" }
    steps:
      - type: reply
        text: one
        text: two
        next: 7
        next: [x]
    expire_after: 1h
    expire_after: 2x
  - id: b
    keywords: [B]
    steps:
      - type: sample
        headers: { A: b, A: c }
        body: { json: { k: 1, k: 2 } }
server:
  listen: ":1"
  max_connections: 5
  max_connections: many
`
	c, ps := mustParse(t, src, nil)
	checkProblems(t, withoutHelpWarning(ps), []string{
		`k.yaml:6:5: duplicate key "steps" in automation "a" (first at k.yaml:4:5)`,
		`k.yaml:9:9: duplicate key "text" in automation "a" step 2 (first at k.yaml:8:9)`,
		`k.yaml:10:15: automation "a" step 2: next "7" is not a step of this automation`,
		`k.yaml:11:9: duplicate key "next" in automation "a" step 2 (first at k.yaml:10:9)`,
		`k.yaml:11:15: automation "a" step 2 field next: expected a string, got a list`,
		`k.yaml:13:5: duplicate key "expire_after" in automation "a" (first at k.yaml:12:5)`,
		`k.yaml:13:19: automation "a" field expire_after: invalid duration "2x" (use e.g. 90s, 15m, 2h, 3d)`,
		`k.yaml:18:26: duplicate key "A" in automation "b" step 1 field headers (first at k.yaml:18:20)`,
		`k.yaml:19:31: duplicate key "k" in automation "b" step 1 field body.json (first at k.yaml:19:25)`,
		`k.yaml:23:3: duplicate key "max_connections" in server (first at k.yaml:22:3)`,
		`k.yaml:23:20: server.max_connections: expected a whole number, got "many"`,
	})
	if len(c.Automations[0].Steps) != 1 || c.Automations[0].ExpireAfter.D() != time.Hour || c.Server.MaxConnections != 5 {
		t.Errorf("the first value of each key should hold: %d steps, expire_after %v, max_connections %d",
			len(c.Automations[0].Steps), c.Automations[0].ExpireAfter.D(), c.Server.MaxConnections)
	}

	// A step's decoding goes on past a key written twice, with the first
	// value, even inside a tree kept whole.
	var s sampleStep
	checkProblems(t, render(c.DecodeStep(&c.Automations[1].Steps[0], &s)), nil)
	if s.Headers["A"] != "b" || s.Body.(map[string]any)["json"].(map[string]any)["k"] != 1 {
		t.Errorf("got headers %v, body %v", s.Headers, s.Body)
	}
}

// TestBlockWrittenTwiceIsOneProblem checks that a whole block written twice
// (two template: blocks in a step) is one problem, its key: the keys of
// the hidden block that repeat the first block's, at any depth, are part
// of that one mistake. A key written twice inside the hidden block itself
// is a mistake of its own, and a bad value there is still found.
func TestBlockWrittenTwiceIsOneProblem(t *testing.T) {
	src := `automations:
  - id: a
    keywords: [A]
    steps:
      - type: reply
        template:
          content_sid: HX0123456789abcdef0123456789abcdef
          variables: { "1": a }
        template:
          content_sid: HX0123456789abcdef0123456789abcdef
          variables: { "1": a }
server:
  listen: ":1"
  max_connections: 5
server:
  listen: ":1"
  max_connections: many
  public_url: https://sms.example
  public_url: https://sms.example
`
	c, ps := mustParse(t, src, nil)
	checkProblems(t, withoutHelpWarning(ps), []string{
		`k.yaml:9:9: duplicate key "template" in automation "a" step 1 (first at k.yaml:6:9)`,
		`k.yaml:15:1: duplicate key "server" at top level (first at k.yaml:12:1)`,
		`k.yaml:17:20: server.max_connections: expected a whole number, got "many"`,
		`k.yaml:19:3: duplicate key "public_url" in server (first at k.yaml:18:3)`,
	})
	if c.Server.MaxConnections != 5 {
		t.Errorf("the first block should hold: max_connections %d", c.Server.MaxConnections)
	}
}

// TestKeyWrittenThreeTimesChecksEachValue checks that each value of a key
// written three times or more is checked, the middle ones too, and not
// only the last, which would have replaced them all at once.
func TestKeyWrittenThreeTimesChecksEachValue(t *testing.T) {
	src := `server:
  max_connections: 5
  max_connections: many
  max_connections: 6
  max_connections: lots
automations:
  - id: a
    keywords: [A]
    steps:
      - { type: reply, text: "hi" }
`
	c, ps := mustParse(t, src, nil)
	checkProblems(t, withoutHelpWarning(ps), []string{
		`k.yaml:3:3: duplicate key "max_connections" in server (first at k.yaml:2:3)`,
		`k.yaml:3:20: server.max_connections: expected a whole number, got "many"`,
		`k.yaml:4:3: duplicate key "max_connections" in server (first at k.yaml:2:3)`,
		`k.yaml:5:3: duplicate key "max_connections" in server (first at k.yaml:2:3)`,
		`k.yaml:5:20: server.max_connections: expected a whole number, got "lots"`,
	})
	if c.Server.MaxConnections != 5 {
		t.Errorf("the first value should hold: max_connections %d", c.Server.MaxConnections)
	}
}
