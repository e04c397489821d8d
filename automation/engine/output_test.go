package engine

import (
	"encoding/json"
	"testing"
	"time"
)

func TestWithOutputFilter(t *testing.T) {
	cases := []struct{ label, src, want string }{
		{"plain text", "/a/b", "/a/b"},
		{"one output", "/a/{{ x }}/b", "/a/{{ x | f }}/b"},
		{"filters stay before", "{{ x | upcase }}", "{{ x | upcase | f }}"},
		{"whitespace control", "{{- x -}}", "{{- x | f -}}"},
		{"braces in a string", `{{ x | append: "}}" }}`, `{{ x | append: "}}" | f }}`},
		{"tags are left alone", "{% if x %}{{ y }}{% endif %}", "{% if x %}{{ y | f }}{% endif %}"},
		{"raw blocks are left alone", "{% raw %}{{ x }}{% endraw %}{{ y }}", "{% raw %}{{ x }}{% endraw %}{{ y | f }}"},
		{"unterminated", "/a/{{ x", "/a/{{ x"},
	}
	for _, c := range cases {
		t.Run(c.label, func(t *testing.T) {
			if got := WithOutputFilter(c.src, "f"); got != c.want {
				t.Errorf("WithOutputFilter(%q) = %q, want %q", c.src, got, c.want)
			}
		})
	}
}

func TestOneOutput(t *testing.T) {
	cases := map[string]bool{
		"{{ http.json.customer }}":        true,
		"{{- vars.x | default: 'a}}' -}}": true,
		"{{ a }}{{ b }}":                  false,
		"id: {{ a }}":                     false,
		"{{ a }} ":                        false,
		"{% if a %}{{ a }}{% endif %}":    false,
		"{{ a }":                          false,
		"{{}}":                            true,
		"plain":                           false,
	}
	for src, want := range cases {
		if got := OneOutput(src); got != want {
			t.Errorf("OneOutput(%q) = %v, want %v", src, got, want)
		}
	}
}

// An object or a list read from JSON shows as compact JSON in a
// template's text, never as Go's map[...] syntax; keyway's own lists (tags,
// media) still run their items together, and other values are as before.
func TestTemplateOutputsJSONData(t *testing.T) {
	var response map[string]any
	if err := json.Unmarshal([]byte(`{"customer": {"id": 7, "name": "Zoë <z@x>", "tags": ["a", "b"], "vip": true, "score": 1.5, "note": null},
		"items": [{"sku": "A1"}, 2], "n": 1000000, "s": "007"}`), &response); err != nil {
		t.Fatal(err)
	}
	c := nameCompiler()
	b := map[string]any{
		"http":    jsonValue(map[string]any{"json": response}),
		"contact": map[string]any{"tags": []string{"vip", "gold"}, "fields": map[string]any{"plan": "gold"}},
		"now":     time.Date(2026, 12, 8, 9, 30, 0, 0, time.UTC),
	}
	cases := []struct{ src, want string }{
		{"{{ http.json.customer }}", `{"id":7,"name":"Zoë <z@x>","note":null,"score":1.5,"tags":["a","b"],"vip":true}`},
		{"c={{ http.json.customer.tags }}.", `c=["a","b"].`},
		{"{{ http.json.items }}", `[{"sku":"A1"},2]`},
		{"{% for i in http.json.items %}<{{ i }}>{% endfor %}", `<{"sku":"A1"}><2>`},
		{"{{ http.json.customer.id }} {{ http.json.n }} {{ http.json.s }} {{ http.json.customer.vip }}", "7 1000000 007 true"},
		{"{{ http.json.customer.tags | join: ', ' }}", "a, b"},
		{"{{ contact.tags }}", "vipgold"},
		{"{{ contact.fields }}", `{"plan":"gold"}`},
		{"{{ http.json.missing }}|{{ http.json.customer.note }}", "|"},
		{"{{ now }}", "2026-12-08 09:30:00 +0000"},
	}
	for _, tc := range cases {
		tpl, err := c.ParseTemplate(tc.src)
		if err != nil {
			t.Fatalf("%q: %v", tc.src, err)
		}
		got, err := tpl.Render(b)
		if err != nil {
			t.Fatalf("%q: %v", tc.src, err)
		}
		if got != tc.want {
			t.Errorf("%q renders %q, want %q", tc.src, got, tc.want)
		}
	}
}

func TestOutputText(t *testing.T) {
	cases := []struct {
		v    any
		want string
	}{
		{nil, ""},
		{"a b", "a b"},
		{[]string{"a", "b"}, "ab"},
		{[]any{"a", map[string]any{"k": 1}}, `["a",{"k":1}]`},
		{map[string]any{"k": "<v>"}, `{"k":"<v>"}`},
		{int64(7), "7"},
		{true, "true"},
		{time.Date(2026, 12, 8, 9, 30, 0, 0, time.UTC), "2026-12-08 09:30:00 +0000"},
	}
	for _, c := range cases {
		if got := OutputText(c.v); got != c.want {
			t.Errorf("OutputText(%#v) = %q, want %q", c.v, got, c.want)
		}
	}
}
