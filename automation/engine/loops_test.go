package engine_test

import (
	"strings"
	"testing"

	"github.com/keyway-sms/keyway/automation/engine"
	"github.com/keyway-sms/keyway/config"
)

// compileSteps compiles one automation with steps (YAML flow mappings, one
// a line, from line 7 of the file) and returns its problems.
func compileSteps(t *testing.T, steps ...string) config.Problems {
	t.Helper()
	src := "groups: [{ id: g }]\nfields: [f]\nautomations:\n  - id: a\n    keywords: [A]\n    steps:\n"
	for _, s := range steps {
		src += "      - " + s + "\n"
	}
	cfg, problems := config.Parse("k.yaml", []byte(src), func(string) (string, bool) { return "", false })
	if problems.Err() != nil {
		t.Fatalf("config problems:\n%s", problemLines(problems))
	}
	_, more := engine.Compile(cfg)
	return append(problems, more...)
}

// TestLoopThatNeverStopsIsRefused checks that a loop of steps with no wait
// and no way out is a problem placed at the jump that closes it, naming
// the steps it goes through.
func TestLoopThatNeverStopsIsRefused(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		steps []string
		want  string
	}{
		"next to itself": {
			[]string{`{ id: again, type: reply, text: hi, next: again }`},
			`k.yaml:7:51: automation "a" step 1: next "again" closes a loop that never stops (again → again)`,
		},
		"a cycle through next": {
			[]string{
				`{ id: hello, type: reply, text: hi }`,
				`{ type: tag, add: [x] }`,
				`{ type: add_to_group, groups: [g], next: hello }`,
			},
			`k.yaml:9:50: automation "a" step 3: next "hello" closes a loop that never stops (hello → #2 → #3 → hello)`,
		},
		"a condition whose branches both stay": {
			[]string{
				`{ id: ask, type: condition, if: 'vars.n == "3"', then: one, else: two }`,
				`{ id: one, type: reply, text: one, next: ask }`,
				`{ id: two, type: set_field, fields: { f: x }, next: ask }`,
			},
			`automation "a" step 2: next "ask" closes a loop that never stops (ask → one → ask)`,
		},
		"an http call that only its failure leaves": {
			[]string{
				`{ id: call, type: http, url: "https://crm.example.com/x", next: call }`,
			},
			`automation "a" step 1: next "call" closes a loop that never stops (call → call)`,
		},
		"an http call whose failure stays": {
			[]string{
				`{ id: call, type: http, url: "https://crm.example.com/x", on_error: call, next: call }`,
			},
			`automation "a" step 1: next "call" closes a loop that never stops (call → call)`,
		},
		"a window path that stays": {
			[]string{
				`{ id: r, type: reply, text: hi, on_error: f }`,
				`{ id: f, type: forward_to_email, to: [a@example.com], next: r }`,
			},
			`automation "a" step 2: next "r" closes a loop that never stops (r → f → r)`,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			problems := compileSteps(t, tc.steps...)
			var found []string
			for _, p := range problems.Errors() {
				if strings.Contains(p.Message, "closes a loop") {
					found = append(found, p.String())
				}
			}
			if len(found) != 1 || !strings.Contains(found[0], tc.want) {
				t.Fatalf("want one loop problem containing\n  %s\ngot:\n%s", tc.want, problemLines(problems))
			}
		})
	}
}

// TestLoopThatMayStopPasses checks the loops that are not refused: one
// through a step that waits (a reminder), one a condition may leave (a
// counter), one an opt-out ends, and a loop no enrollment can reach.
func TestLoopThatMayStopPasses(t *testing.T) {
	t.Parallel()
	cases := map[string][]string{
		"a reminder": {
			`{ id: r, type: reply, text: reminder }`,
			`{ type: wait, duration: 1d, next: r }`,
		},
		"a wait for a reply": {
			`{ id: ask, type: reply, text: "name?" }`,
			`{ type: wait_for_reply, timeout: 1h, on_timeout: ask, save_as: name, next: ask }`,
		},
		"a handoff": {
			`{ id: h, type: handoff, to: ["+15550100"], on_timeout: h, timeout: 1h, next: h }`,
		},
		"a counter": {
			`{ id: c, type: set_field, fields: { f: "{{ contact.fields.f }}x" } }`,
			`{ type: condition, if: 'contact.fields.f == "xxx"', then: end, else: c }`,
		},
		"a condition that goes on": {
			`{ id: c, type: reply, text: hi }`,
			`{ type: condition, if: 'vars.n == "3"', then: c }`,
			`{ type: reply, text: bye }`,
		},
		"an opt-out": {
			`{ id: u, type: unsubscribe, scope: all, next: u }`,
		},
		"a loop nothing reaches": {
			`{ type: end }`,
			`{ id: dead, type: reply, text: hi, next: dead }`,
		},
	}
	for name, steps := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			problems := compileSteps(t, steps...)
			for _, p := range problems {
				if strings.Contains(p.Message, "loop") {
					t.Fatalf("a loop that may stop was reported:\n%s", problemLines(problems))
				}
			}
		})
	}
}
