package test

import (
	"fmt"
	"net/http"
	"net/url"
	"testing"
	"time"
)

// heldEnrollment is an enrollment as the admin API shows it, with its hold.
type heldEnrollment struct {
	Automation string     `json:"automation"`
	Status     string     `json:"status"`
	Step       string     `json:"step"`
	Held       string     `json:"held"`
	WaitUntil  *time.Time `json:"wait_until"`
}

// quietAroundNow writes quiet hours that began an hour ago and end in two
// hours, in UTC, and returns their end.
func quietAroundNow() (string, time.Time) {
	now := time.Now().UTC().Truncate(time.Minute)
	start, end := now.Add(-time.Hour), now.Add(2*time.Hour)
	cfg := fmt.Sprintf("compliance:\n  quiet_hours: { start: %q, end: %q, timezone: UTC }\n", start.Format("15:04"), end.Format("15:04"))
	return cfg, end
}

// A manual start inside quiet hours is held until they end, durably; an
// answer to a keyword in the same hours goes out at once.
func TestQuietHoursHoldAManualStartNotAnAnswer(t *testing.T) {
	t.Parallel()
	quiet, end := quietAroundNow()
	g := StartGateway(t, quiet+`
automations:
  - id: promo
    steps:
      - { id: deal, type: reply, text: "Deal of the day" }
  - id: hi
    keywords: [HI]
    steps:
      - { type: reply, text: "Hi!" }
`)
	const held, asker = "+15551239001", "+15551239002"
	startBy(t, g, "promo", held)

	check := func() {
		t.Helper()
		var out struct{ Enrollments []heldEnrollment }
		q := url.Values{"automation": {"promo"}, "contact": {held}}
		if code := g.Admin(http.MethodGet, "/api/v1/enrollments?"+q.Encode(), nil, &out); code != http.StatusOK || len(out.Enrollments) != 1 {
			t.Fatalf("enrollments: %d %+v", code, out.Enrollments)
		}
		en := out.Enrollments[0]
		// The end can be a day off when the test runs across midnight UTC
		// (the end written as HH:MM is then tomorrow's): compare clocks.
		if en.Status != "waiting" || en.Step != "deal" || en.Held != "quiet hours" || en.WaitUntil == nil ||
			en.WaitUntil.UTC().Format("15:04") != end.Format("15:04") {
			t.Fatalf("enrollment %+v, want waiting at deal, held for quiet hours until %s", en, end.Format("15:04"))
		}
	}
	check()

	// The answer to a keyword is not held.
	g.Text(Inbound{From: asker, Body: "HI"})
	sent := g.Twilio.WaitSent(t, 1, patience)
	if sent[0].To != asker || sent[0].Body != "Hi!" {
		t.Fatalf("sent %+v, want the answer to HI", sent[0])
	}
	// The start committed before the admin API answered, and the answer
	// went out after it: the held send, had it been queued, would show.
	if ms := g.Messages(held); len(ms) != 0 {
		t.Fatalf("messages to the held contact: %+v", ms)
	}
	if got := sentTo(g, held); len(got) != 0 {
		t.Fatalf("sent during quiet hours: %+v", got)
	}

	// The hold is stored: it survives a restart.
	g.Kill()
	g.Restart()
	check()
}
