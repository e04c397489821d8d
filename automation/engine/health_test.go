package engine_test

import (
	"context"
	"errors"
	"runtime"
	"strings"
	"sync/atomic"
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

// A RecentCheck reuses its last answer, good or bad, for Every; callers
// while a check is under way take its answer rather than start another;
// an answer cut short by its caller's context is not kept.
func TestRecentCheck(t *testing.T) {
	ctx := context.Background()
	clock := engine.NewFakeClock(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))
	var checks atomic.Int64
	var answer error
	var hold chan struct{}
	r := &engine.RecentCheck{Clock: clock, Check: func(ctx context.Context) error {
		checks.Add(1)
		if hold != nil {
			select {
			case <-hold:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		return answer
	}}
	for range 3 {
		if err := r.Run(ctx); err != nil || checks.Load() != 1 {
			t.Fatalf("Run = %v after %d checks; want nil after 1", err, checks.Load())
		}
	}
	answer = errors.New("connection refused")
	clock.Advance(time.Second)
	for range 3 {
		if err := r.Run(ctx); err == nil || checks.Load() != 2 {
			t.Fatalf("Run = %v after %d checks; want the refusal after 2", err, checks.Load())
		}
	}

	// A check its caller gave up on tells nothing: the next one asks.
	answer = nil
	clock.Advance(time.Second)
	hold = make(chan struct{})
	gone, cancel := context.WithCancel(ctx)
	cancel()
	if err := r.Run(gone); !errors.Is(err, context.Canceled) || checks.Load() != 3 {
		t.Fatalf("Run with its context gone = %v after %d checks", err, checks.Load())
	}

	// Callers while a check is held take its answer: one check in all.
	errs := make(chan error, 10)
	for range 10 {
		go func() { errs <- r.Run(ctx) }()
	}
	for checks.Load() != 4 {
		runtime.Gosched()
	}
	close(hold)
	for range 10 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if n := checks.Load(); n != 4 {
		t.Fatalf("10 callers at once made %d checks in all, want 4", n)
	}
}
