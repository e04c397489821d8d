package engine_test

import (
	"testing"
	"time"

	"github.com/keyway-sms/keyway/automation/sim"
)

const lapseConfig = `
staff: [ { number: "+15550100100", name: "Ann" } ]
automations:
  - id: quick
    keywords: [QUICK]
    steps:
      - { type: reply, text: "quick?" }
      - { type: wait_for_reply, timeout: 2s, on_timeout: late }
      - { type: reply, text: "got {{ vars.reply }}", next: end }
      - { id: late, type: reply, text: "too late" }
  - id: slow
    keywords: [SLOW]
    expire_after: 1h
    steps:
      - { type: reply, text: "slow?" }
      - { type: wait_for_reply, save_as: a }
      - { type: reply, text: "slow got {{ vars.a }}" }
  - id: agent
    keywords: [AGENT]
    steps:
      - { type: handoff, to: ["+15550100100"], timeout: 1h, on_timeout: closed }
      - { id: closed, type: reply, text: "handoff over" }
  - id: support
    catch_all: true
    steps:
      - { type: reply, text: "catch {{ message.body }}" }
`

// A message that comes after a reply timeout fell due, before the timer
// loop fired it, is not the answer: the timeout's way runs first, then the
// message is routed as if nothing waited for it. The same holds for an
// expiry and for a handoff's timeout (the message does not reach staff).
func TestAMessageAfterTheTimeoutIsNotTheAnswer(t *testing.T) {
	set := timeSet(t, lapseConfig)
	for _, tt := range []struct {
		name, keyword string
		after         time.Duration
		want          []string
	}{
		{"before the timeout", "QUICK", time.Second, []string{"got answer"}},
		{"wait_for_reply timeout", "QUICK", 2 * time.Second, []string{"too late", "catch answer"}},
		{"expire_after", "SLOW", time.Hour, []string{"catch answer"}},
		{"handoff timeout", "AGENT", time.Hour + time.Minute, []string{"#2W33: handoff closed: timed out.", "handoff over", "catch answer"}},
	} {
		s := sim.NewSimulator(set, nil)
		say(t, s, tt.keyword)
		s.Clock.Advance(tt.after) // the clock only: no timer fires
		res := say(t, s, "answer")
		wantBodies(t, tt.name, res.Sent, tt.want...)
	}
}

// What the lapsed timeout's way sends is no answer to the message: quiet
// hours hold it, while the message's own answer goes out at once.
func TestALapsedTimeoutIsHeldForQuietHours(t *testing.T) {
	set := timeSet(t, `
compliance: { quiet_hours: { start: "08:00", end: "10:00", timezone: UTC } }
`+lapseConfig)
	s := sim.NewSimulator(set, nil) // Monday 09:00 UTC: quiet
	say(t, s, "QUICK")
	s.Clock.Advance(3 * time.Second)
	res := say(t, s, "answer")
	wantBodies(t, "in quiet hours", res.Sent, "catch answer")
	en := enrollmentOf(t, s.Store, s.From, "quick")
	if en.Step != "late" || en.Held == "" || en.WaitUntil == nil || en.WaitUntil.UTC().Hour() != 10 {
		t.Fatalf("enrollment at %s held %q until %v, want held at late until 10:00", en.Step, en.Held, en.WaitUntil)
	}
}
