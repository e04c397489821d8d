package automation

import (
	"os"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestNamesAreTheBindings keeps the one declaration of template names true:
// a run's bindings hold exactly the declared names, each map-valued name
// exactly its declared fields, and conditions and the trial render see the
// same names.
func TestNamesAreTheBindings(t *testing.T) {
	r := forwardRun("Ann", &Message{ID: "m1", Body: "hi", From: "+15550001111", To: []string{"+15005550006"}})
	r.Enrollment = &Enrollment{ID: "e1", Channel: "sms"}
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
	readme, err := os.ReadFile("../README.md")
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
