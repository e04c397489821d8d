package test

import (
	"fmt"
	"strings"
	"testing"
)

// Two bots answering each other: keyway's catch_all answers every message,
// and the other bot answers every answer. The loop guard lets 10 answers
// through and suppresses the next, with the reason, so the other bot has
// nothing left to answer and the loop stops. (The period is an hour rather
// than the default minute, so that a slow machine cannot let the window
// slide under the test.)
func TestLoopGuardStopsABotLoop(t *testing.T) {
	t.Parallel()
	g := StartGateway(t, `
compliance:
  loop_guard: { max: 10, per: 1h }
automations:
  - id: echo
    catch_all: true
    steps:
      - { type: reply, text: "You said: {{ message.body }}" }
`)
	const bot = "+15551238001"
	g.Text(Inbound{From: bot, Body: "hello"})
	for i := 1; ; i++ {
		if i > 30 {
			t.Fatal("the loop did not stop")
		}
		// Every message of the bot is committed before its 200, with the
		// answer it got: once settled, the answer is sent or suppressed.
		ms := g.Settled(t, bot)
		last := ms[0]
		if last.Direction != "out" {
			t.Fatalf("message %d got no answer stored: %+v", i, last)
		}
		if last.Status == "suppressed" {
			if i != 11 {
				t.Fatalf("answer %d suppressed, want the 11th", i)
			}
			if !strings.Contains(last.Error, "loop guard") {
				t.Fatalf("suppressed with %q, want the loop guard named", last.Error)
			}
			break
		}
		// The bot answers the answer.
		g.Text(Inbound{From: bot, Body: fmt.Sprintf("bot %d: %s", i, last.Body)})
	}
	if got := sentTo(g, bot); len(got) != 10 {
		t.Fatalf("the fake Twilio got %d answers for the bot, want 10", len(got))
	}

	// Compliance replies are never suppressed.
	g.Text(Inbound{From: bot, Body: "HELP"})
	Eventually(t, patience, "the help reply despite the loop guard", func() bool {
		return len(sentTo(g, bot)) == 11
	})
}
