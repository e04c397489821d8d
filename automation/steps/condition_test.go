package steps_test

import (
	"slices"
	"strings"
	"testing"
)

func TestConditionRuntimeErrorIsTracedAndTakesElse(t *testing.T) {
	_, trace := simulate(t, "", `
automations:
  - id: c
    keywords: [GO]
    steps:
      - { type: condition, if: 'message.body > 3', then: yes, else: no }
      - { id: yes, type: reply, text: "yes", next: end }
      - { id: no, type: reply, text: "no" }
`, "GO")
	i := slices.IndexFunc(trace, func(s string) bool { return strings.HasPrefix(s, "condition failed, taking else: ") })
	if i < 0 || !strings.Contains(trace[i], `expression "message.body > 3": invalid operation`) {
		t.Errorf("trace %q lacks the failed condition", trace)
	}
}
