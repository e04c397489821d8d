package steps_test

import (
	"context"
	"strings"
	"testing"

	"github.com/keyway-sms/keyway/automation/engine"
	"github.com/keyway-sms/keyway/automation/sim"
	"github.com/keyway-sms/keyway/config"
)

// simulate compiles src (with ${SERVER} replaced by server) and says each
// line; it returns the simulator and every trace line, in order. The http
// step's tests have the same helper.
func simulate(t *testing.T, server, src string, lines ...string) (*sim.Simulator, []string) {
	t.Helper()
	src = strings.ReplaceAll(src, "${SERVER}", server)
	cfg, problems := config.Parse("test.yaml", []byte(src), func(string) (string, bool) { return "", false })
	if problems.Err() != nil {
		t.Fatalf("config: %v", problems)
	}
	set, problems := engine.Compile(cfg)
	if set == nil {
		t.Fatalf("compile: %v", problems)
	}
	s := sim.NewSimulator(set, nil)
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
