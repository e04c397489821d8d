package test

import (
	"context"
	"errors"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// A second `keyway serve` on a data file another one holds exits at once
// and says why, instead of a bare "timeout" after seconds; the first one
// goes on serving.
func TestSecondServeOnLockedDataFile(t *testing.T) {
	g := StartGateway(t, hoursConfig)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	second := exec.CommandContext(ctx, binary, "serve", "--config", g.Config)
	second.Dir = g.Dir
	start := time.Now()
	out, err := second.CombinedOutput()
	took := time.Since(start)
	var exit *exec.ExitError
	if !errors.As(err, &exit) || ctx.Err() != nil {
		t.Fatalf("second serve: %v after %v, want a non-zero exit:\n%s", err, took, out)
	}
	t.Logf("second serve exited %d after %v:\n%s", exit.ExitCode(), took, out)
	if took > 10*time.Second {
		t.Errorf("second serve took %v to give up, want a second or two", took)
	}
	db := filepath.Join(g.Dir, "data", "keyway.db")
	for _, want := range []string{"the data file is in use by another keyway process", db} {
		if !strings.Contains(string(out), want) {
			t.Errorf("second serve's output lacks %q:\n%s", want, out)
		}
	}
	if code, body := get(t, g.URL+"/readyz"); code != http.StatusOK {
		t.Errorf("first gateway after the second gave up: readyz %d %s", code, body)
	}
}
