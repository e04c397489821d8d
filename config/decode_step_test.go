package config

import (
	"maps"
	"slices"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

// sampleStep is a step type's fields, of every kind the decoder supports.
type sampleStep struct {
	Text    string            `yaml:"text"`
	To      []string          `yaml:"to"`
	Timeout Duration          `yaml:"timeout"`
	Retries int               `yaml:"retries"`
	Headers map[string]string `yaml:"headers"`
	Body    any               `yaml:"body"`
	Raw     *yaml.Node        `yaml:"raw"`
	Wait    struct {
		Until string   `yaml:"until"`
		Days  []string `yaml:"days"`
	} `yaml:"wait"`
	Opt *struct {
		Until string `yaml:"until"`
	} `yaml:"opt"`
}

const sampleSteps = `automations:
  - id: a
    keywords: [A]
    steps:
      - id: s1
        type: sample
        text: "hi ${NAME}"
        to: ["+1", "${PHONE}"]
        timeout: 2x
        retries: many
        headers: { X-Key: "${KEY}", n: 1 }
        body:
          amount: ${AMOUNT}
          note: ${LITERAL}
        raw: [a, "${NAME}"]
        wait: { until: "09:00", days: [mon, tue], at: noon }
        colour: red
        text: again
        next: end
        opt: { until: [x] }
      - type: sample
        timeout: 90m
        wait: { until: "10:00" }
`

func TestDecodeStep(t *testing.T) {
	vars := map[string]string{"NAME": "Bob", "PHONE": "+15550100", "KEY": "k1", "AMOUNT": "12", "LITERAL": "${KEY}"}
	c, ps := mustParse(t, sampleSteps, vars)
	// Parse tells a key written twice in a step; DecodeStep goes on past
	// it with the first value.
	checkProblems(t, withoutHelpWarning(ps), []string{
		`k.yaml:18:9: duplicate key "text" in automation "a" step 1 (first at k.yaml:7:9)`,
	})

	var got sampleStep
	ps = c.DecodeStep(&c.Automations[0].Steps[0], &got)
	checkProblems(t, render(ps), []string{
		`k.yaml:9:18: automation "a" step 1 field timeout: invalid duration "2x" (use e.g. 90s, 15m, 2h, 3d)`,
		`k.yaml:10:18: automation "a" step 1 field retries: expected a whole number, got "many"`,
		`k.yaml:16:51: unknown key "at" in automation "a" step 1 field wait (allowed: until, days)`,
		`k.yaml:17:9: unknown key "colour" in automation "a" step 1 (step type "sample") (allowed: text, to, timeout, retries, headers, body, raw, wait, opt)`,
		`k.yaml:20:23: automation "a" step 1 field opt.until: expected a string, got a list`,
	})

	checks := []struct {
		name string
		ok   bool
	}{
		{"text expanded", got.Text == "hi Bob"},
		{"list expanded", slices.Equal(got.To, []string{"+1", "+15550100"})},
		{"map of strings", maps.Equal(got.Headers, map[string]string{"X-Key": "k1", "n": "1"})},
		{"any typed after expansion", got.Body.(map[string]any)["amount"] == 12},
		{"a variable's value is not expanded again", got.Body.(map[string]any)["note"] == "${KEY}"},
		{"raw node expanded", got.Raw != nil && got.Raw.Kind == yaml.SequenceNode && got.Raw.Content[1].Value == "Bob"},
		{"raw node placed", got.Raw != nil && got.Raw.Line == 15},
		{"nested struct", got.Wait.Until == "09:00" && slices.Equal(got.Wait.Days, []string{"mon", "tue"})},
		// A struct behind a pointer keeps what could be read of it, so that
		// the step can check the rest; the refused value is left unset.
		{"pointer with a problem keeps the rest", got.Opt != nil && got.Opt.Until == ""},
		{"refused values known", c.Refused("automations[0].steps[0].timeout") && c.Refused("automations[0].steps[0].retries") &&
			c.Refused("automations[0].steps[0].opt.until")},
		{"the value a refused one is in, and one inside it, known", c.Refused("automations[0].steps[0].opt") &&
			c.Refused("automations[0].steps[0].timeout.x")},
		{"values read are not refused", !c.Refused("automations[0].steps[0].text") && !c.Refused("automations[0].steps[0].wait") &&
			!c.Refused("automations[0].steps[0].time") && !c.Refused("automations[0].steps[1].timeout")},
		{"list item placed", c.At("automations[0].steps[0].to[1]") == Pos{8, 20}},
		{"nested list item placed", c.At("automations[0].steps[0].wait.days[1]") == Pos{16, 45}},
		{"map value placed", c.At("automations[0].steps[0].headers.X-Key") == Pos{11, 27}},
		{"any placed", c.At("automations[0].steps[0].body") == Pos{13, 11}},
	}
	for _, tc := range checks {
		t.Run(tc.name, func(t *testing.T) {
			if !tc.ok {
				t.Errorf("got %+v", got)
			}
		})
	}

	t.Run("second step", func(t *testing.T) {
		var s sampleStep
		checkProblems(t, render(c.DecodeStep(&c.Automations[0].Steps[1], &s)), nil)
		if s.Timeout.D() != 90*time.Minute || s.Wait.Until != "10:00" || s.Text != "" {
			t.Errorf("got %+v", s)
		}
	})
}

func TestDecodeStepWithoutParse(t *testing.T) {
	var n yaml.Node
	if err := yaml.Unmarshal([]byte("type: sample\ntext: hi\nbogus: 1\n"), &n); err != nil {
		t.Fatal(err)
	}
	c := &Config{File: "hand.yaml"}
	var got sampleStep
	ps := c.DecodeStep(&Step{Type: "sample", Path: "x.steps[0]", Node: n.Content[0]}, &got)
	checkProblems(t, render(ps), []string{
		`hand.yaml:3:1: unknown key "bogus" in x.steps[0] (step type "sample") (allowed: text, to, timeout, retries, headers, body, raw, wait, opt)`,
	})
	if got.Text != "hi" || c.At("x.steps[0].text") != (Pos{2, 7}) {
		t.Errorf("got text %q at %v", got.Text, c.At("x.steps[0].text"))
	}
}

// An unknown key that reads as a misspelt field stands for that field: the
// step does not then find it missing. Next to the field itself, it does not.
func TestDecodeStepMisspeltKeyRefusesItsField(t *testing.T) {
	src := `automations:
  - id: a
    keywords: [A]
    steps:
      - { type: sample, txet: hi }
      - { type: sample, text: hi, txet: again }
`
	c, _ := mustParse(t, src, nil)
	for i := range 2 {
		var s sampleStep
		if ps := c.DecodeStep(&c.Automations[0].Steps[i], &s); len(ps) != 1 {
			t.Fatalf("step %d: got %v, want the unknown key", i+1, render(ps))
		}
	}
	if !c.Refused("automations[0].steps[0].text") || c.Refused("automations[0].steps[1].text") {
		t.Errorf("text refused: step 1 %v (want true), step 2 %v (want false)",
			c.Refused("automations[0].steps[0].text"), c.Refused("automations[0].steps[1].text"))
	}
}

func TestDecodeStepEdges(t *testing.T) {
	t.Run("no node", func(t *testing.T) {
		if ps := (&Config{}).DecodeStep(&Step{Type: "end"}, &struct{}{}); ps != nil {
			t.Errorf("got %v", render(ps))
		}
	})
	t.Run("type without fields", func(t *testing.T) {
		c, _ := mustParse(t, "automations:\n  - id: a\n    keywords: [A]\n    steps: [{type: end, foo: 1}]\n", nil)
		checkProblems(t, render(c.DecodeStep(&c.Automations[0].Steps[0], &struct{}{})), []string{
			`k.yaml:4:25: unknown key "foo" in automation "a" step 1 (step type "end") (it takes no keys)`,
		})
	})
	t.Run("not a struct pointer", func(t *testing.T) {
		defer func() {
			if recover() == nil {
				t.Errorf("DecodeStep should panic")
			}
		}()
		(&Config{}).DecodeStep(&Step{}, sampleStep{})
	})
}

// tree is a recursive step field, which an alias can make endless.
type tree struct {
	Kids []tree `yaml:"kids"`
}

func TestDecodeStepAnchorInsideItself(t *testing.T) {
	src := `automations:
  - id: a
    keywords: [A]
    steps:
      - type: tree
        tree: &t { kids: [*t] }
        body: &b { a: *b }
`
	c, ps := mustParse(t, src, nil)
	checkProblems(t, withoutHelpWarning(ps), nil)
	var got struct {
		Tree tree `yaml:"tree"`
		Body any  `yaml:"body"`
	}
	checkProblems(t, render(c.DecodeStep(&c.Automations[0].Steps[0], &got)), []string{
		`k.yaml:6:27: automation "a" step 1 field tree.kids[0].kids[0].kids[0]: alias *t is inside its own anchor`,
		`k.yaml:7:15: automation "a" step 1 field body: yaml: anchor 'b' value contains itself`,
	})
}
