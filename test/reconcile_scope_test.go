package test

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

const scopeConfig = `
automations:
  - id: drip
    keywords: [DRIP]
    steps:
      - { type: reply, text: "drip one" }
      - { id: w, type: wait, duration: 1h }
      - { type: reply, text: "drip two" }
  - id: ask
    keywords: [ASK]
    steps:
      - { id: q, type: wait_for_reply, save_as: answer }
      - { type: reply, text: "thanks {{ vars.answer }}" }
`

// scopeNoWait is scopeConfig with drip's wait removed.
const scopeNoWait = `
automations:
  - id: drip
    keywords: [DRIP]
    steps:
      - { type: reply, text: "drip one" }
      - { type: reply, text: "drip two" }
  - id: ask
    keywords: [ASK]
    steps:
      - { id: q, type: wait_for_reply, save_as: answer }
      - { type: reply, text: "thanks {{ vars.answer }}" }
`

// A restart on a config that removed a step ends the enrollments standing
// at it (after ready, beside traffic), and only those: another
// automation's waiting contact goes on. A later reload that takes another
// step away ends its enrollments before the reload answers.
func TestRestartAndReloadEndEnrollmentsAtRemovedSteps(t *testing.T) {
	t.Parallel()
	g := StartGateway(t, scopeConfig)
	const dripper, asker = "+15554460001", "+15554460002"
	g.Text(Inbound{From: dripper, Body: "DRIP"})
	g.Text(Inbound{From: asker, Body: "ASK"})
	Eventually(t, 10*time.Second, "both wait", func() bool {
		d, a := g.Enrollments("drip", dripper), g.Enrollments("ask", asker)
		return len(d) == 1 && d[0].Status == "waiting" && len(a) == 1 && a[0].Status == "waiting_reply"
	})

	g.Stop()
	g.WriteConfig(scopeNoWait)
	g.Start()
	Eventually(t, 10*time.Second, "the enrollment at the removed wait ends", func() bool {
		d := g.Enrollments("drip", dripper)
		return len(d) == 1 && d[0].Status == "ended"
	})
	if d := g.Enrollments("drip", dripper); d[0].EndReason != `step w was removed from automation "drip"` {
		t.Errorf("end reason %q", d[0].EndReason)
	}
	if a := g.Enrollments("ask", asker); len(a) != 1 || a[0].Status != "waiting_reply" {
		t.Fatalf("the ask enrollment after the restart: %+v", a)
	}
	g.Text(Inbound{From: asker, Body: "Ann"})
	if got := repliesTo(t, g, asker, 1); got[0] != "thanks Ann" {
		t.Fatalf("the waiting contact's answer got %q", got)
	}

	// A reload that retypes ask's question ends a new asker's enrollment
	// before it answers.
	const asker2 = "+15554460003"
	g.Text(Inbound{From: asker2, Body: "ASK"})
	Eventually(t, 10*time.Second, "the second asker waits", func() bool {
		a := g.Enrollments("ask", asker2)
		return len(a) == 1 && a[0].Status == "waiting_reply"
	})
	g.WriteConfig(strings.Replace(scopeNoWait, "{ id: q, type: wait_for_reply, save_as: answer }", "{ id: q, type: wait, duration: 1h }", 1))
	if code := g.Admin(http.MethodPost, "/api/v1/reload", nil, nil); code != http.StatusOK {
		t.Fatalf("reload: %d", code)
	}
	if a := g.Enrollments("ask", asker2); len(a) != 1 || a[0].Status != "ended" || a[0].EndReason != `step q of automation "ask" changed type from wait_for_reply to wait` {
		t.Errorf("after the reload answered, the enrollment at the retyped step: %+v", a)
	}
}
