package postgres

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keyway-sms/keyway/automation/engine"
	"github.com/keyway-sms/keyway/automation/store/postgres/pgtest"
)

// A flood of readiness checks asks the database once a second, not once
// each: the checks within a second take the answer of the first. A failed
// commit makes the store unhealthy at once all the same.
func TestHealthyAsksTheDatabaseOnceASecond(t *testing.T) {
	s, err := Open(t.Context(), pgtest.NewDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	clock := engine.NewFakeClock(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))
	var asked atomic.Int64
	s.reach.Clock = clock
	s.reach.Check = func(ctx context.Context) error {
		asked.Add(1)
		return s.answers(ctx)
	}
	flood := func() {
		t.Helper()
		var wg sync.WaitGroup
		errs := make(chan error, 50)
		for range 50 {
			wg.Go(func() { errs <- s.Healthy(t.Context()) })
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatalf("Healthy: %v", err)
			}
		}
	}
	flood()
	if n := asked.Load(); n != 1 {
		t.Fatalf("50 checks asked the database %d times, want once", n)
	}
	clock.Advance(999 * time.Millisecond)
	flood()
	if n := asked.Load(); n != 1 {
		t.Fatalf("50 more checks within the second asked %d times in all, want once", n)
	}
	clock.Advance(time.Millisecond)
	flood()
	if n := asked.Load(); n != 2 {
		t.Fatalf("checks a second later asked %d times in all, want twice", n)
	}

	// The disk is full: the commit fails, and so does the probe it calls
	// for (TestHealthyOnlyWhileWritesCommit does this with a database).
	s.health.Probe = func(context.Context) error { return errors.New("could not extend file: no space left on device") }
	s.health.Failed(errors.New("could not write block: no space left on device"))
	if err := s.Healthy(t.Context()); err == nil || !strings.Contains(err.Error(), "no space left") {
		t.Fatalf("Healthy right after a failed commit: %v, want the failure", err)
	}
}

// A database that answers but cannot commit (read-only, as a standby is
// after a failover) makes the store unhealthy at its first failed write,
// and healthy again by itself at a probe once it takes writes: a probe at
// most once a second, on the store's clock.
func TestHealthyOnlyWhileWritesCommit(t *testing.T) {
	dsn := pgtest.NewDatabase(t)
	s, err := Open(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	clock := engine.NewFakeClock(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))
	s.health.Clock = clock
	write := func() error {
		return s.Update(t.Context(), func(tx engine.Tx) error { return tx.PutMeta("test/w", []byte("x")) })
	}
	if err := s.Healthy(t.Context()); err != nil {
		t.Fatalf("Healthy at first: %v", err)
	}
	pgtest.ReadOnly(t, dsn, true)
	if err := write(); err == nil {
		t.Fatal("a write to a read-only database committed")
	}
	if err := s.Healthy(t.Context()); err == nil || !strings.Contains(err.Error(), "read-only") {
		t.Fatalf("Healthy after a write the read-only database refused: %v, want its refusal", err)
	}
	pgtest.ReadOnly(t, dsn, false)
	if err := s.health.Check(t.Context()); err == nil {
		t.Fatal("healthy again before the next probe was due")
	}
	// Each probe a second apart on the store's clock. The pool may hand a
	// probe a connection the database ended, which fails it and is dropped:
	// healthy at the latest once every such connection is gone.
	for probes := 1; ; probes++ {
		clock.Advance(engine.DefaultProbeEvery)
		err := s.health.Check(t.Context())
		if err == nil {
			break
		}
		if probes > int(s.pool.Config().MaxConns) {
			t.Fatalf("still unhealthy after %d probes once the database took writes again: %v", probes, err)
		}
	}
	if err := write(); err != nil {
		t.Fatalf("a write once healthy again: %v", err)
	}
}
