// Package simtest holds the helpers that the tests of the engine, the
// steps, the http step and the scheduler share: compile a config, run the
// simulator at a given time, say lines to it, and empty its outbox. Each
// fails the test on an error.
package simtest

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/keyway-sms/keyway/automation/engine"
	"github.com/keyway-sms/keyway/automation/sim"
	"github.com/keyway-sms/keyway/config"
)

// Compile parses and compiles src with no environment; any problem fails
// the test.
func Compile(t testing.TB, src string) *engine.Set {
	t.Helper()
	cfg, problems := config.Parse("t.yaml", []byte(src), func(string) (string, bool) { return "", false })
	if err := problems.Err(); err != nil {
		t.Fatalf("config: %v\n%s", err, ProblemLines(problems))
	}
	set, problems := engine.Compile(cfg)
	if err := problems.Err(); err != nil {
		t.Fatalf("compile: %v\n%s", err, ProblemLines(problems))
	}
	return set
}

// At returns a simulator on set whose clock stands at start.
func At(t testing.TB, set *engine.Set, start time.Time) *sim.Simulator {
	t.Helper()
	s := sim.NewSimulator(set, nil)
	if start.Before(s.Clock.Now()) {
		t.Fatalf("start %v is before the simulator's clock %v", start, s.Clock.Now())
	}
	s.Clock.Advance(start.Sub(s.Clock.Now()))
	return s
}

// Simulate compiles src (with ${SERVER} replaced by server) and says each
// line; it returns the simulator and every trace line, in order.
func Simulate(t testing.TB, server, src string, lines ...string) (*sim.Simulator, []string) {
	t.Helper()
	s := sim.NewSimulator(Compile(t, strings.ReplaceAll(src, "${SERVER}", server)), nil)
	var trace []string
	for _, line := range lines {
		res, err := s.Say(context.Background(), line)
		if err != nil {
			t.Fatalf("say %q: %v", line, err)
		}
		for _, ev := range res.Events {
			trace = append(trace, ev.What)
		}
	}
	return s, trace
}

// DrainOutbox takes every queued message out of the outbox, oldest first,
// and returns them.
func DrainOutbox(t testing.TB, s engine.Store) []*engine.Message {
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

// MustZone loads the time zone name.
func MustZone(t testing.TB, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatalf("load zone %s: %v", name, err)
	}
	return loc
}

// ProblemLines lists problems one a line, for a failure message.
func ProblemLines(ps config.Problems) string {
	var b strings.Builder
	for _, p := range ps {
		b.WriteString("  " + p.String() + "\n")
	}
	return b.String()
}
