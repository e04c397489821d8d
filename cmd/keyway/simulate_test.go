package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A /wait without a duration, or with one that is none, says how to write
// it, and the chat goes on.
func TestSimulateWaitSaysHowToWriteIt(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "keyway.yaml")
	if err := os.WriteFile(cfg, []byte(testConfig), 0o644); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	code := run([]string{"simulate", cfg}, strings.NewReader("/wait\n/wait soon\n/wait  1h\n"), &out, &out)
	if code != 0 {
		t.Fatalf("exit %d:\n%s", code, out.String())
	}
	for _, want := range []string{
		"error: /wait needs how long, e.g. /wait 2h, /wait 90m or /wait 3d",
		`error: /wait: invalid duration "soon"`,
		"(clock now Mon 2026-01-05 10:00 EST)",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}
