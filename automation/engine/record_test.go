package engine

import (
	"encoding/json"
	"testing"
)

// A NUL character becomes U+FFFD wherever it is in a record's strings; a
// backslash followed by the text "u0000" stays text.
func TestRecordJSONReplacesNUL(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"a\x00b", "a\uFFFDb"},
		{"\x00", "\uFFFD"},
		{"\x00\x00", "\uFFFD\uFFFD"},
		{`\u0000`, `\u0000`},
		{"\\\x00", "\\\uFFFD"},
		{`\\u0000` + "\x00", `\\u0000` + "\uFFFD"},
		{"plain", "plain"},
	} {
		raw, err := RecordJSON(map[string]string{"k\x00": c.in})
		if err != nil {
			t.Fatal(err)
		}
		var got map[string]string
		if err := json.Unmarshal(raw, &got); err != nil {
			t.Fatalf("%q: %v", raw, err)
		}
		if v, ok := got["k\uFFFD"]; !ok || v != c.want {
			t.Errorf("RecordJSON(%q) read back %q, want key %q = %q", c.in, got, "k\uFFFD", c.want)
		}
	}
}
