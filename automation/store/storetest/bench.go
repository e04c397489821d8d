package storetest

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/keyway-sms/keyway/automation/engine"
)

// Sizes of BenchmarkDueTimers.
const (
	benchPending = 1_000_000 // timers due over the next 30 days
	benchDue     = 10_000    // timers due now
	benchBatch   = 10_000    // timers per Update while loading
)

// BenchmarkDueTimers measures the engine's timer tick on a store from open
// holding 1,000,000 pending timers due over the next 30 days and 10,000
// due now, loaded 10,000 per Update. Its sub-benchmarks:
//
//   - fire-10000-due: one Update taking DueTimers(now, 10000) and deleting
//     each; the timers are put back, untimed, after each run.
//   - idle-tick: one View asking DueTimers when none is due.
//
// Both should cost what is due, not what is pending.
func BenchmarkDueTimers(b *testing.B, open func(b *testing.B) engine.Store) {
	s := open(b)
	now := t0
	rng := rand.New(rand.NewPCG(1, 2))
	const month = int64(30 * 24 * time.Hour)
	load := func(b *testing.B, ts []engine.Timer) {
		b.Helper()
		if err := s.Update(b.Context(), putTimers(ts...)); err != nil {
			b.Fatalf("load timers: %v", err)
		}
	}
	start := time.Now()
	for first := 0; first < benchPending; first += benchBatch {
		ts := make([]engine.Timer, benchBatch)
		for i := range ts {
			ts[i] = engine.Timer{
				Due:        now.Add(time.Second + time.Duration(rng.Int64N(month))),
				Enrollment: fmt.Sprintf("p%08d", first+i),
				Automation: fmt.Sprintf("a%02d", i%20),
				Epoch:      1,
				Kind:       engine.TimerWait,
			}
		}
		load(b, ts)
	}
	due := make([]engine.Timer, benchDue)
	for i := range due {
		due[i] = engine.Timer{
			Due:        now.Add(-time.Duration(rng.Int64N(int64(10 * time.Second)))),
			Enrollment: fmt.Sprintf("d%08d", i),
			Automation: fmt.Sprintf("a%02d", i%20),
			Epoch:      1,
			Kind:       engine.TimerWait,
		}
	}
	load(b, due)
	b.Logf("loaded %d timers in %v", benchPending+benchDue, time.Since(start).Round(time.Millisecond))

	b.Run("fire-10000-due", func(b *testing.B) {
		for b.Loop() {
			var fired []engine.Timer
			err := s.Update(b.Context(), func(tx engine.Tx) error {
				var err error
				if fired, err = tx.DueTimers(now, benchDue); err != nil {
					return err
				}
				for _, tm := range fired {
					if err := tx.DeleteTimer(tm); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				b.Fatalf("fire: %v", err)
			}
			b.StopTimer()
			if len(fired) != benchDue {
				b.Fatalf("DueTimers returned %d timers, want %d", len(fired), benchDue)
			}
			load(b, fired)
			b.StartTimer()
		}
	})

	b.Run("idle-tick", func(b *testing.B) {
		before := now.Add(-time.Minute) // before every timer
		for b.Loop() {
			var n int
			err := s.View(b.Context(), func(tx engine.Tx) error {
				ts, err := tx.DueTimers(before, benchDue)
				n = len(ts)
				return err
			})
			if err != nil {
				b.Fatalf("tick: %v", err)
			}
			if n != 0 {
				b.Fatalf("DueTimers returned %d timers, want none", n)
			}
		}
	})
}
