package schedule_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/keyway-sms/keyway/automation/engine"
	"github.com/keyway-sms/keyway/automation/sim"
	"github.com/keyway-sms/keyway/config"
)

// The helpers below are those of the engine's tests (waits_test.go,
// timers_test.go) that the scheduler's tests use.

// timeSet compiles a config for the tests of waits, timers and schedules;
// it fails the test on any problem.
func timeSet(t *testing.T, src string) *engine.Set {
	t.Helper()
	cfg, problems := config.Parse("t.yaml", []byte(src), func(string) (string, bool) { return "", false })
	if err := problems.Err(); err != nil {
		t.Fatalf("config: %v\n%s", err, problemLines(problems))
	}
	set, problems := engine.Compile(cfg)
	if err := problems.Err(); err != nil {
		t.Fatalf("compile: %v\n%s", err, problemLines(problems))
	}
	return set
}

// timeSim returns a simulator on set whose clock stands at start.
func timeSim(t *testing.T, set *engine.Set, start time.Time) *sim.Simulator {
	t.Helper()
	s := sim.NewSimulator(set, nil)
	if start.Before(s.Clock.Now()) {
		t.Fatalf("start %v is before the simulator's clock %v", start, s.Clock.Now())
	}
	s.Clock.Advance(start.Sub(s.Clock.Now()))
	return s
}

func mustZone(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatalf("load zone %s: %v", name, err)
	}
	return loc
}

func drainOutbox(t *testing.T, s engine.Store) []*engine.Message {
	t.Helper()
	var out []*engine.Message
	err := s.Update(context.Background(), func(tx engine.Tx) error {
		out = out[:0]
		ids, err := tx.Outbox("", 100000)
		if err != nil {
			return err
		}
		for _, id := range ids {
			m, err := tx.Message(id)
			if err != nil {
				return err
			}
			out = append(out, m)
			if err := tx.Dequeue(id); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func problemLines(ps config.Problems) string {
	var b strings.Builder
	for _, p := range ps {
		b.WriteString("  " + p.String() + "\n")
	}
	return b.String()
}
