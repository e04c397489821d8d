package bolt_test

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/keyway-sms/keyway/automation/store/bolt"
)

// A data file another Open holds is refused within about a second with
// ErrLocked and the path, not a bare timeout.
func TestOpenLockedFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keyway.db")
	first, err := bolt.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close()
	start := time.Now()
	second, err := bolt.Open(path)
	took := time.Since(start)
	if err == nil {
		second.Close()
		t.Fatal("a second Open of a held file succeeded")
	}
	if !errors.Is(err, bolt.ErrLocked) || !strings.Contains(err.Error(), path) {
		t.Errorf("second Open: %v; want ErrLocked naming %s", err, path)
	}
	if took > 5*time.Second {
		t.Errorf("second Open gave up after %v, want about a second", took)
	}
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	again, err := bolt.Open(path)
	if err != nil {
		t.Fatalf("Open once the first closed: %v", err)
	}
	again.Close()
}
