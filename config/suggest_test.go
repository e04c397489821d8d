package config

import (
	"strings"
	"testing"
)

func TestSuggest(t *testing.T) {
	names := []string{"keywords", "match", "steps", "catch_all", "overwrite_if_exists", "reply", "wait_for_reply"}
	cases := map[string]string{
		"keywrods":  "keywords", // a swap
		"keyword":   "keywords",
		"Steps":     "steps",
		"step":      "steps",
		"catchall":  "catch_all",
		"repyl":     "reply",
		"wait_for":  "",
		"xyz":       "",
		"overwrite": "",
	}
	for word, want := range cases {
		if got := Suggest(word, names); got != want {
			t.Errorf("Suggest(%q) = %q, want %q", word, got, want)
		}
	}
}

func TestUnknownKeySuggests(t *testing.T) {
	src := "automations:\n  - id: a\n    keywrods: [A]\n    steps:\n      - { type: reply, txt: hi }\n"
	_, problems := Parse("k.yaml", []byte(src), func(string) (string, bool) { return "", false })
	all := ""
	for _, p := range problems {
		all += p.String() + "\n"
	}
	if !strings.Contains(all, `k.yaml:3:5: unknown key "keywrods"`) || !strings.Contains(all, `did you mean "keywords"?`) {
		t.Errorf("no suggestion for keywrods:\n%s", all)
	}
}
