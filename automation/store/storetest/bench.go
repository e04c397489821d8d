package storetest

import (
	"errors"
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

// Sizes of BenchmarkOutboxClaim.
var benchBacklogs = []int{1_000, 10_000, 100_000}

const (
	benchClaim      = 16 // sends per claim, the outbox's default workers
	benchPerQueue   = 4  // sends queued to each recipient
	benchQueueBatch = 10_000
)

// BenchmarkOutboxClaim measures the outbox's pass on stores from open
// holding a backlog of 1,000, 10,000 and 100,000 queued sends, 4 to each
// recipient, the heads due over the last hour (a tenth of them in the
// next one). Its sub-benchmarks, per backlog:
//
//   - claim-16: one Update claiming 16 due sends; they are released,
//     untimed, after each run.
//   - claim-complete-16: one Update claiming 16 and dequeuing them, which
//     hands each queue to its next send; they are queued again, untimed.
//   - claim-16-rolled-back: the claim alone, in an Update rolled back: what
//     it costs without a commit (with bbolt, without an fsync).
//
// Both should cost what is claimed, not what is queued.
func BenchmarkOutboxClaim(b *testing.B, open func(b *testing.B) engine.Store) {
	for _, n := range benchBacklogs {
		b.Run(fmt.Sprintf("backlog=%d", n), func(b *testing.B) {
			s := open(b)
			rng := rand.New(rand.NewPCG(3, 4))
			msgs := make([]*engine.Message, n)
			for i := range msgs {
				to := fmt.Sprintf("+1555%07d", i/benchPerQueue)
				m := outbound(fmt.Sprintf("m%08d", i), to)
				m.NextAttempt = t0.Add(-time.Duration(rng.Int64N(int64(time.Hour))))
				if rng.IntN(10) == 0 {
					m.NextAttempt = t0.Add(time.Duration(rng.Int64N(int64(time.Hour))))
				}
				msgs[i] = m
			}
			// Queue them recipient by recipient interleaved, as they come.
			order := make([]*engine.Message, 0, n)
			for k := range benchPerQueue {
				for i := k; i < n; i += benchPerQueue {
					order = append(order, msgs[i])
				}
			}
			for first := 0; first < n; first += benchQueueBatch {
				batch := order[first:min(first+benchQueueBatch, n)]
				err := s.Update(b.Context(), func(tx engine.Tx) error {
					for _, m := range batch {
						if err := tx.Enqueue(m); err != nil {
							return err
						}
					}
					return nil
				})
				if err != nil {
					b.Fatalf("load the outbox: %v", err)
				}
			}
			byID := make(map[string]*engine.Message, n)
			for _, m := range msgs {
				byID[m.ID] = m
			}
			claim := func(b *testing.B, complete bool) []string {
				var ids []string
				err := s.Update(b.Context(), func(tx engine.Tx) error {
					var err error
					if ids, err = tx.ClaimSends(t0, time.Minute, "bench", benchClaim); err != nil {
						return err
					}
					if complete {
						for _, id := range ids {
							if err := tx.Dequeue(id); err != nil {
								return err
							}
						}
					}
					return nil
				})
				if err != nil {
					b.Fatalf("claim: %v", err)
				}
				if len(ids) != benchClaim {
					b.Fatalf("ClaimSends returned %d sends, want %d", len(ids), benchClaim)
				}
				return ids
			}
			putBack := func(b *testing.B, ids []string, complete bool) {
				err := s.Update(b.Context(), func(tx engine.Tx) error {
					for _, id := range ids {
						var err error
						if complete {
							err = tx.Enqueue(byID[id])
						} else {
							err = tx.ReleaseSend(id, "bench", byID[id].NextAttempt)
						}
						if err != nil {
							return err
						}
					}
					return nil
				})
				if err != nil {
					b.Fatalf("put back: %v", err)
				}
			}
			b.Run("claim-16-rolled-back", func(b *testing.B) {
				for b.Loop() {
					var n int
					err := s.Update(b.Context(), func(tx engine.Tx) error {
						ids, err := tx.ClaimSends(t0, time.Minute, "bench", benchClaim)
						if err != nil {
							return err
						}
						n = len(ids)
						return errBoom
					})
					if !errors.Is(err, errBoom) || n != benchClaim {
						b.Fatalf("claim: %d sends, %v", n, err)
					}
				}
			})
			for _, complete := range []bool{false, true} {
				name := "claim-16"
				if complete {
					name = "claim-complete-16"
				}
				b.Run(name, func(b *testing.B) {
					for b.Loop() {
						ids := claim(b, complete)
						b.StopTimer()
						putBack(b, ids, complete)
						b.StartTimer()
					}
				})
			}
		})
	}
}
