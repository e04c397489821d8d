package engine

import (
	"errors"
	"strings"
	"testing"

	"github.com/keyway-sms/keyway/config"
)

func nameCompiler() *Compiler {
	c := NewCompiler(&config.Config{File: "k.yaml", Fields: []string{"first_name", "plan"}})
	c.Automation = &config.Automation{ID: "a", Steps: []config.Step{{Path: "automations[0].steps[0]"}}}
	return c
}

// A template reads only the names templates see; a local name, a filter,
// Liquid's own words and what is below vars and http are free.
func TestTemplateNames(t *testing.T) {
	const contactHas = "contact has phone, name, channel, fields, tags, groups, opted_out"
	cases := []struct{ label, src, err string }{
		{"declared field", "Hi {{ contact.fields.first_name | default: 'there' }}!", ""},
		{"field by index", `{{ contact.fields["plan"] }}`, ""},
		{"liquid properties", "{{ contact.tags.size }} {{ message.body.first }}", ""},
		{"loop", "{% for t in contact.tags reversed limit:2 %}{{ t | upcase }}{{ forloop.index }}{% endfor %}", ""},
		{"assign and capture", "{% assign n = vars.count | plus: 1 %}{% capture hi %}Hi{% endcapture %}{{ hi }} {{ n }}", ""},
		{"free-form", "{{ http.json.items[0].name }} {{ vars.crm.status }} {{ http.error }}", ""},
		{"now", "{{ now | date: '%H' }} {{ now.Year }}", ""},
		{"conditions", "{% if message.body contains 'x' and contact.opted_out == false %}y{% elsif automation.id == 'a' %}{% else %}n{% endif %}", ""},
		{"case", "{% case message.body %}{% when 'a', vars.x %}a{% endcase %}", ""},
		{"raw and comment", "{% raw %}{{ nope }}{% endraw %}{% comment %}{{ nope }}{% endcomment %}", ""},
		{"literals", `{{ "contact.feilds" | append: 'mesage' }} {{ 3 | plus: 1.5 }} {{ nil }}`, ""},

		{"misspelt member", "Thanks {{ contact.feilds.first_name }}!",
			"template: unknown name contact.feilds (did you mean contact.fields? " + contactHas + ")"},
		{"misspelt root", "{{ mesage.body }}",
			"template: unknown name mesage (did you mean message? the names are contact, message, vars, http, automation, enrollment, now)"},
		{"undeclared field, close", "{{ contact.fields.frist_name }}",
			`template: contact.fields.frist_name: field "frist_name" is not declared under fields (did you mean contact.fields.first_name?)`},
		{"undeclared field", "{{ contact.fields.city }}",
			`template: contact.fields.city: field "city" is not declared under fields (declare it under fields)`},
		{"in a filter's argument", "{{ vars.x | default: contact.nmae }}",
			"template: unknown name contact.nmae (did you mean contact.name? " + contactHas + ")"},
		{"in a tag", "{% if mesage.body == 'x' %}{% endif %}{% for t in contact.tgas %}{% endfor %}",
			"template: unknown name mesage (did you mean message? the names are contact, message, vars, http, automation, enrollment, now); " +
				"unknown name contact.tgas (did you mean contact.tags? " + contactHas + ")"},
		{"below a text", "{{ message.body.x }}", "template: unknown name message.body.x (message.body has no names below it)"},
		{"below a list", "{{ contact.tags.vip }}", "template: unknown name contact.tags.vip (contact.tags has no names below it)"},
		{"below a field", "{{ contact.fields.plan.size }} {{ contact.fields.plan.gold }}",
			"template: unknown name contact.fields.plan.gold (contact.fields.plan has no names below it)"},
		{"below now", "{{ now.Yaer }}", "template: unknown name now.Yaer (did you mean Year? now has no field Yaer)"},
		{"unclosed output", "Hi {{ vars.name }, welcome",
			`template: "{{ vars.name }, welcome" is not closed by "}}": close it, or write {% raw %}{{{% endraw %} to send it as text`},
		{"unclosed tag", "Hi {% assign x = 1 %",
			`template: "{% assign x = 1 %" is not closed by "%}": close it, or write {% raw %}{%{% endraw %} to send it as text`},
	}
	for _, tc := range cases {
		t.Run(tc.label, func(t *testing.T) {
			_, err := nameCompiler().ParseTemplate(tc.src)
			got := ""
			if err != nil {
				got = err.Error()
			}
			if got != tc.err {
				t.Errorf("ParseTemplate(%q):\n got  %s\n want %s", tc.src, got, tc.err)
			}
		})
	}
}

// A condition reads only the names conditions see, with a hint.
func TestConditionNames(t *testing.T) {
	cases := []struct{ label, src, problem string }{
		{"known", `message.body matches "(?i)^y" && "vip" in contact.tags && contact.fields.plan == "gold" && now.Hour() > 8`, ""},
		{"free-form and variables", `vars.crm.json.score > 3 || http.status == 200 || any(contact.tags, # == "x") || (let t = contact; t.anything == 1)`, ""},
		{"misspelt root", `mesage.body == "x"`, `unknown name mesage (did you mean message?)`},
		{"misspelt member", `contact.feilds.plan == "gold"`, "unknown name contact.feilds (did you mean contact.fields? contact has phone, name, channel, fields, tags, groups, opted_out)"},
		{"undeclared field", `contact.fields["city"] == "x"`, `contact.fields.city: field "city" is not declared under fields (declare it under fields)`},
		{"below a text", `message.body.x == "a"`, "unknown name message.body.x (message.body has no names below it)"},
		{"below a field", `contact.fields.plan.tier == "a"`, "unknown name contact.fields.plan.tier (contact.fields.plan has no names below it)"},
		{"below a list", `contact.tags.size > 1`, "unknown name contact.tags.size (contact.tags has no names below it)"},
	}
	for _, tc := range cases {
		t.Run(tc.label, func(t *testing.T) {
			c := nameCompiler()
			x := c.Expr(&c.Automation.Steps[0], "if", tc.src)
			var got string
			if len(c.problems) > 0 {
				got = c.problems[0].Message
			}
			want := ""
			if tc.problem != "" {
				want = `automation "a" step 1: ` + tc.problem
			}
			if got != want || (x == nil) != (want != "") {
				t.Errorf("Expr(%q):\n got  %s\n want %s", tc.src, got, want)
			}
			if strings.Count(got, "unknown name") > 1 {
				t.Errorf("told twice: %s", got)
			}
		})
	}
}

// A template's problem says where in the template it is: at the name a
// check refused, at the markup left open, or at the markup Liquid's own
// error names.
func TestTemplateProblemOffsets(t *testing.T) {
	cases := []struct {
		label, src, at string // at: the source from the place on
	}{
		{"name", "Thanks {{ contact.feilds.first_name }}!", "contact.feilds.first_name }}!"},
		{"name on a later line", "Hi,\n\n{{ vars.x }} and {{ mesage.body }}\nbye", "mesage.body }}\nbye"},
		{"the first of two", "{% if mesage.body == 'x' %}{% endif %}{% for t in contact.tgas %}{% endfor %}", "mesage.body == 'x' %}{% endif %}{% for t in contact.tgas %}{% endfor %}"},
		{"the same markup twice", "{{ mesage }} {{ mesage }}", "mesage }} {{ mesage }}"},
		{"open markup", "Hi {{ vars.name }, welcome", "{{ vars.name }, welcome"},
		{"open markup after closed", "{{ vars.a }}\n{{ vars.a }", "{{ vars.a }"},
		{"Liquid's syntax error", "Hello,\n{% if %}yes{% endif %}", "{% if %}yes{% endif %}"},
		{"an unknown filter", "x\n{{ vars.x | upcse }}", "{{ vars.x | upcse }}"},
	}
	for _, tc := range cases {
		t.Run(tc.label, func(t *testing.T) {
			_, err := nameCompiler().ParseTemplate(tc.src)
			var te *TemplateError
			if !errors.As(err, &te) {
				t.Fatalf("ParseTemplate(%q): %v, want a TemplateError", tc.src, err)
			}
			if te.Offset < 0 || tc.src[te.Offset:] != tc.at {
				t.Errorf("ParseTemplate(%q): offset %d, want %d", tc.src, te.Offset, len(tc.src)-len(tc.at))
			}
			if strings.Contains(err.Error(), "(line") {
				t.Errorf("ParseTemplate(%q): %v; Liquid's line is not the markup's, leave it out", tc.src, err)
			}
		})
	}
}

// A condition's names come with where each stands in the expression, in
// bytes, though expr counts runes.
func TestExprNameOffsets(t *testing.T) {
	const src = `message.body == "é" && contact.feilds.plan == "gold"`
	paths, offsets := exprNames(src)
	want := []string{"message.body", "contact.feilds", "contact.feilds.plan"}
	if len(paths) != len(want) || len(offsets) != len(want) {
		t.Fatalf("exprNames: %v at %v, want %v", paths, offsets, want)
	}
	for i, w := range want {
		if got := strings.Join(paths[i], "."); got != w || !strings.HasPrefix(src[offsets[i]:], w) {
			t.Errorf("name %d: %s at %d (%q), want %s there", i, got, offsets[i], src[offsets[i]:], w)
		}
	}
}
