package engine

import (
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/keyway-sms/keyway/config"
)

// TestNamesAreTheBindings keeps the one declaration of template names true:
// a run's bindings hold exactly the declared names, each map-valued name
// exactly its declared fields, and conditions and the trial render see the
// same names.
func TestNamesAreTheBindings(t *testing.T) {
	cfg := &config.Config{Defaults: config.Defaults{Timezone: "America/New_York"}}
	r := &RunView{
		Now:        time.Date(2026, 1, 5, 14, 30, 0, 0, time.UTC),
		Set:        &Set{Config: cfg, Location: cfg.Location()},
		Automation: &Automation{ID: "support"},
		Contact:    &Contact{Phone: "+15550001111", Name: "Ann"},
		Message:    &Message{ID: "m1", Body: "hi", From: "+15550001111", To: []string{"+15005550006"}},
		Enrollment: &Enrollment{ID: "e1", Channel: "sms"},
	}
	b := r.Bindings()
	if len(b) != len(Names) || len(exprEnv) != len(Names) || len(trialBindings) != len(Names) {
		t.Fatalf("bindings %d, expr env %d, trial %d: want %d names each", len(b), len(exprEnv), len(trialBindings), len(Names))
	}
	for _, n := range Names {
		v, ok := b[n.Key]
		if !ok {
			t.Errorf("Bindings has no %q", n.Key)
			continue
		}
		m, isMap := v.(map[string]any)
		if !isMap || n.Key == "vars" || n.Key == "http" {
			continue // free keys: filled by steps
		}
		var want []string
		for _, f := range n.Fields {
			want = append(want, strings.TrimSuffix(f, ".X"))
		}
		var got []string
		for k := range m {
			got = append(got, k)
		}
		slices.Sort(want)
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Errorf("%s: bindings give %v, Names declares %v", n.Key, got, want)
		}
	}
	if _, ok := b["now"].(time.Time); !ok {
		t.Errorf("now is %T, want time.Time", b["now"])
	}
}

// TestReadmeListsEveryName keeps the README's template names in step with
// Names.
func TestReadmeListsEveryName(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range Names {
		names := []string{n.Key}
		if len(n.Fields) > 0 {
			names = nil
			for _, f := range n.Fields {
				names = append(names, n.Key+"."+f)
			}
		}
		for _, name := range names {
			if !strings.Contains(string(readme), "`{{ "+name+" }}`") {
				t.Errorf("README does not list `{{ %s }}`", name)
			}
		}
	}
}
