package test

import (
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
)

const waitAtConfig = `
automations:
  - id: visit
    steps:
      - { type: reply, text: "booked" }
      - { type: wait, at: "{{ vars.visit_at }}", offset: -1s, on_error: no_date }
      - { id: remind, type: reply, text: "see you soon" }
      - { type: end }
      - { id: no_date, type: reply, text: "we have no date for your visit" }
`

// A manual start passes the visit time in vars: a moment a few seconds
// ahead fires the reminder when it comes, a past one at once (local date
// read in the default time zone), and a value that is not a date takes
// on_error; through the real binary, its timer loop and the fake Twilio.
func TestWaitAtVisitTimeFromManualStartVars(t *testing.T) {
	t.Parallel()
	g := StartGateway(t, waitAtConfig)
	start := func(phone, at string) {
		t.Helper()
		body := map[string]any{"contacts": []string{phone}, "vars": map[string]any{"visit_at": at}}
		if code := g.Admin(http.MethodPost, "/api/v1/automations/visit/enrollments", body, nil); code != http.StatusAccepted {
			t.Fatalf("manual start of %s: status %d", phone, code)
		}
	}
	const soon, past, bad = "+15552230001", "+15552230002", "+15552230003"
	begun := time.Now()
	ahead := begun.Add(3 * time.Second).UTC().Format(time.RFC3339)
	start(soon, ahead)
	start(past, "2020-01-02 10:00")
	start(bad, "next tuesday")

	Eventually(t, patience, "the past visit's reminder", func() bool {
		return count(repliesToNow(g, past), "see you soon") == 1
	})
	Eventually(t, patience, "the bad date's on_error reply", func() bool {
		return count(repliesToNow(g, bad), "we have no date for your visit") == 1
	})
	Eventually(t, patience, "the coming visit's reminder", func() bool {
		return count(repliesToNow(g, soon), "see you soon") == 1
	})
	// The reminder waited for its moment (minus the one second offset):
	// RFC 3339 has whole seconds, so it fired no sooner than 1 s after
	// the start, and the wait was stored, not skipped.
	reminded := false
	for _, m := range g.Messages(soon) {
		if m.Body != "see you soon" {
			continue
		}
		reminded = true
		if m.CreatedAt.Before(begun.Add(time.Second)) {
			t.Fatalf("the reminder was made at %s, before the visit time %s less the offset", m.CreatedAt, ahead)
		}
	}
	if !reminded {
		t.Fatal("the reminder is not among the stored messages: its time was not checked")
	}
	for phone, want := range map[string][]string{
		soon: {"booked", "see you soon"},
		past: {"booked", "see you soon"},
		bad:  {"booked", "we have no date for your visit"},
	} {
		en := ended(t, g, "visit", phone)
		if en.EndReason != "completed" {
			t.Errorf("%s: enrollment %+v, want it completed", phone, en)
		}
		// The enrollment that took on_error keeps why; the others have
		// no error to show.
		if wantErr := phone == bad; strings.HasPrefix(en.LastError, "step #2 (wait): wait at: ") != wantErr || (en.LastError != "") != wantErr {
			t.Errorf("%s: last error %q", phone, en.LastError)
		}
		got := g.Settled(t, phone) // newest first
		var bodies []string
		for _, m := range slices.Backward(got) {
			if m.Direction == "out" {
				bodies = append(bodies, m.Body)
			}
		}
		if !slices.Equal(bodies, want) {
			t.Errorf("%s: sent %q, want %q", phone, bodies, want)
		}
	}
}
