package steps_test

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/keyway-sms/keyway/automation/engine"
	"github.com/keyway-sms/keyway/config"
)

// FuzzTemplate parses arbitrary template sources with every registered
// filter, and renders those that parse with values like a turn's: neither
// ever panics, and a source without markup renders as itself.
func FuzzTemplate(f *testing.F) {
	for _, s := range []string{
		"plain text", "Hi {{ contact.name | default: \"there\" }}!", "{{ message.body | upcase }}",
		"{% if vars.reply contains \"y\" %}yes{% else %}no{% endif %}", "{{ contact.tags | join: \", \" }}",
		"{{ http.json.items[0].name }}", "{{ now | date: \"%H:%M\" }}", "{% for t in contact.tags %}{{ t }}{% endfor %}",
		"{{", "{% if %}", "{{ x | nosuchfilter }}", "{% raw %}{{{% endraw %}", "{{ 1 | divided_by: 0 }}",
	} {
		f.Add(s, "JOIN now")
	}
	c := engine.NewCompiler(&config.Config{})
	f.Fuzz(func(t *testing.T, src, body string) {
		tpl, err := c.ParseTemplate(src)
		if err != nil {
			return
		}
		out, err := tpl.Render(map[string]any{
			"contact": map[string]any{"phone": "+15551230001", "name": "Ann", "channel": "sms",
				"fields": map[string]string{"first_name": body}, "tags": []string{"vip", body}, "groups": []string{}, "opted_out": false},
			"message":    map[string]any{"id": "m1", "body": body, "from": "+15551230001", "to": "+15005550006", "channel": "sms", "media": []string{}},
			"vars":       map[string]any{"reply": body, "n": 3},
			"http":       map[string]any{"status": 200, "headers": map[string]string{}, "body": body, "json": map[string]any{"items": []any{map[string]any{"name": body}}}},
			"automation": map[string]any{"id": "a", "name": "A"},
			"enrollment": map[string]any{"id": "e", "channel": "sms"},
			"now":        time.Date(2026, 3, 8, 9, 30, 0, 0, time.UTC),
		})
		if tpl.Static() && (err != nil || out != src) {
			t.Fatalf("static template %q rendered %q, %v", src, out, err)
		}
	})
}

// FuzzCompile loads arbitrary bytes as a config and compiles what parses:
// neither ever panics, and every problem has a place in the file.
func FuzzCompile(f *testing.F) {
	for _, path := range []string{"../../config/examples/starter.yaml", "../../config/examples/appointments.yaml"} {
		data, err := os.ReadFile(path)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte("automations:\n  - id: a\n    keywords: [A]\n    steps:\n      - {type: condition, if: 'vars.x matches \"(\"', then: end}\n      - {type: reply, text: \"{{ x | nope }}\"}\n"))
	f.Add([]byte("automations:\n  - id: a\n    keywords: [A, a]\n    steps: [{type: start_automation, automation: a}, {type: wait, cron: \"61 * * * *\"}]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, problems := config.Parse("k.yaml", data, func(string) (string, bool) { return "", false })
		if problems.Err() != nil {
			return
		}
		set, problems := engine.Compile(cfg)
		for _, p := range problems {
			if p.Pos.Line < 1 || p.Pos.Col < 1 {
				t.Fatalf("problem without a place in the file: %q", p.String())
			}
		}
		if set == nil && problems.Err() == nil {
			t.Fatalf("no set and no error for %q", data)
		}
	})
}

// TestTemplateTooLargeInteger is what FuzzTemplate found: Liquid panics on an
// integer literal too large for int64. The config must be refused with the
// problem at the template's place, not crash validate, start or reload.
func TestTemplateTooLargeInteger(t *testing.T) {
	src := "automations:\n  - id: a\n    keywords: [A]\n    steps:\n      - { type: reply, text: \"{{ 10000000000000000000 }}\" }\n"
	cfg, problems := config.Parse("k.yaml", []byte(src), func(string) (string, bool) { return "", false })
	if problems.Err() != nil {
		t.Fatalf("parse: %v", problems)
	}
	set, problems := engine.Compile(cfg)
	if set != nil || problems.Err() == nil {
		t.Fatalf("compiled a template Liquid cannot parse; problems %v", problems)
	}
	if got := problems.Err().Error(); !strings.Contains(got, "k.yaml:5:") || !strings.Contains(got, "out of range") {
		t.Fatalf("problem %q, want it at k.yaml:5 saying the number is out of range", got)
	}
}
