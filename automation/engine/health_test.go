package engine_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/keyway-sms/keyway/automation/engine"
)

// A failed commit makes the store unhealthy until a probe succeeds; probes
// run only after a failure and at most once per Every, and a failure that
// happens while a probe runs is not cleared by it.
func TestCommitHealth(t *testing.T) {
	ctx := context.Background()
	clock := engine.NewFakeClock(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))
	probes := 0
	var probeErr error
	var during func()
	h := &engine.CommitHealth{Clock: clock, Probe: func(context.Context) error {
		probes++
		if during != nil {
			during()
		}
		return probeErr
	}}

	if err := h.Check(ctx); err != nil || probes != 0 {
		t.Fatalf("healthy store: Check = %v after %d probes; want nil without probing", err, probes)
	}
	h.Failed(errors.New("write keyway.db: no space left on device"))
	probeErr = errors.New("no room")
	err := h.Check(ctx)
	if err == nil || !strings.Contains(err.Error(), "no room") || probes != 1 {
		t.Fatalf("after a failure: Check = %v after %d probes; want the probe's error after 1", err, probes)
	}
	probeErr = nil
	for range 5 {
		if err := h.Check(ctx); err == nil {
			t.Fatal("healthy again before a second passed: the probe ran too often")
		}
	}
	if probes != 1 {
		t.Fatalf("%d probes within a second, want 1", probes)
	}

	// A commit fails while the probe runs: the probe does not clear it.
	clock.Advance(time.Second)
	during = func() { h.Failed(errors.New("write keyway.db: input/output error")) }
	if err := h.Check(ctx); err == nil || !strings.Contains(err.Error(), "last commit failed: write keyway.db: input/output error") {
		t.Fatalf("a failure during the probe: Check = %v, want that failure", err)
	}
	during = nil
	clock.Advance(time.Second)
	if err := h.Check(ctx); err != nil || probes != 3 {
		t.Fatalf("disk has room again: Check = %v after %d probes; want nil after 3", err, probes)
	}
	if err := h.Check(ctx); err != nil || probes != 3 {
		t.Fatalf("healthy: Check = %v after %d probes; want nil without probing", err, probes)
	}
}
