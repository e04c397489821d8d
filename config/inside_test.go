package config

import (
	"strings"
	"testing"
)

// A problem about a part of a value stands on that part where the file
// shows the value as written, and at the value otherwise.
func TestProblemInside(t *testing.T) {
	const at = "{{ x"
	cases := []struct {
		label, yaml string
		want        Pos
	}{
		{"literal block", "compliance:\n  help:\n    reply: |\n      Acme help.\n\n      Text é {{ x }} to us\n", Pos{Line: 6, Col: 14}},
		{"literal block, CRLF", "compliance:\r\n  help:\r\n    reply: |\r\n      Acme help.\r\n      Text {{ x }}\r\n", Pos{Line: 5, Col: 12}},
		{"plain", "compliance:\n  help:\n    reply: Acme é {{ x }}\n", Pos{Line: 3, Col: 19}},
		{"double-quoted", "compliance:\n  help: { reply: \"Acme {{ x }}\" }\n", Pos{Line: 2, Col: 24}},
		{"single-quoted", "compliance:\n  help:\n    reply: 'Acme {{ x }}'\n", Pos{Line: 3, Col: 18}},
		// Where the file does not show the value as written: at the value.
		{"an escape before it", "compliance:\n  help:\n    reply: \"Acme\\t{{ x }}\"\n", Pos{Line: 3, Col: 12}},
		{"a variable before it", "compliance:\n  help:\n    reply: \"${BRAND} {{ x }}\"\n", Pos{Line: 3, Col: 12}},
		{"folded block", "compliance:\n  help:\n    reply: >\n      Acme help,\n      text {{ x }}\n", Pos{Line: 3, Col: 12}},
		{"a plain value on two lines", "compliance:\n  help:\n    reply: Acme help,\n      text {{ x }}\n", Pos{Line: 3, Col: 12}},
	}
	for _, tc := range cases {
		t.Run(tc.label, func(t *testing.T) {
			c, _ := mustParse(t, tc.yaml, map[string]string{"BRAND": "Acme"})
			src := c.Compliance.Help.Reply
			offset := strings.Index(src, at)
			if offset < 0 {
				t.Fatalf("the reply %q holds no %q", src, at)
			}
			p := c.ProblemInside("compliance.help.reply", src, offset, "bad %s", "markup")
			if p.Pos != tc.want || p.Message != "bad markup" || p.Warning {
				t.Errorf("ProblemInside: %+v, want at %+v", p, tc.want)
			}
			if p := c.ProblemInside("compliance.help.reply", src, -1, "bad"); p.Pos != c.At("compliance.help.reply") {
				t.Errorf("no offset: at %+v, want the value's place %+v", p.Pos, c.At("compliance.help.reply"))
			}
		})
	}
}
