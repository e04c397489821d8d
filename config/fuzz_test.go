package config_test

import (
	"os"
	"testing"

	"github.com/keyway-sms/keyway/config"
)

// FuzzParse feeds arbitrary bytes to Parse: it never panics, every problem
// names the file and a place at or after 1:1, and a file with no error
// gives a config.
func FuzzParse(f *testing.F) {
	for _, path := range []string{"testdata/spec_example.yaml", "examples/starter.yaml", "examples/appointments.yaml"} {
		data, err := os.ReadFile(path)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	for _, s := range []string{
		"", "# only a comment\n", "~\n", "automations: []\n", "server: {listen: 8080}\n",
		"automations:\n  - id: a\n    keywords: [A]\n    steps: [{type: reply, text: \"${X:-${Y}}\"}]\n",
		"server:\n  public_url: ${UNSET\n", "a: &x [*x]\n", "\t- :\n", "automations:\n  - id: a\n    steps: [{type: wait, duration: 99999999999d}]\n",
		"providers:\n  twilio:\n    numbers: [{number: \"+1\", mps: -1}]\n  other: {}\n",
	} {
		f.Add([]byte(s))
	}
	env := func(name string) (string, bool) {
		v, ok := map[string]string{"X": "x", "EMPTY": "", "TOKEN": "t0k3n"}[name]
		return v, ok
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, problems := config.Parse("k.yaml", data, env)
		for _, p := range problems {
			if p.File != "k.yaml" || p.Pos.Line < 1 || p.Pos.Col < 1 {
				t.Fatalf("problem without a place in the file: %q (file %q, %d:%d)", p.String(), p.File, p.Pos.Line, p.Pos.Col)
			}
		}
		if problems.Err() == nil && cfg == nil {
			t.Fatalf("no error and no config for %q", data)
		}
	})
}
