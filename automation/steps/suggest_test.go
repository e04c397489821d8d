package steps_test

import (
	"strings"
	"testing"

	"github.com/keyway-sms/keyway/automation/engine"
	"github.com/keyway-sms/keyway/config"
)

// TestUnknownStepTypeSuggests checks that a misspelt step type is named
// with the registered type it is closest to.
func TestUnknownStepTypeSuggests(t *testing.T) {
	src := "automations:\n  - id: a\n    keywords: [A]\n    steps:\n      - { type: repyl, text: hi }\n      - { type: teleport }\n"
	cfg, problems := config.Parse("k.yaml", []byte(src), func(string) (string, bool) { return "", false })
	if problems.Err() != nil {
		t.Fatal(problems)
	}
	set, problems := engine.Compile(cfg)
	if set != nil {
		t.Fatal("unknown step types compiled")
	}
	all := ""
	for _, p := range problems {
		all += p.String() + "\n"
	}
	if !strings.Contains(all, `k.yaml:5:17: automation "a" step 1: unknown step type "repyl" (did you mean "reply"? known:`) {
		t.Errorf("no suggestion for repyl:\n%s", all)
	}
	if !strings.Contains(all, `unknown step type "teleport" (known:`) {
		t.Errorf("a type close to none must not get a suggestion:\n%s", all)
	}
}
