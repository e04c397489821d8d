package test

import (
	"net/http"
	"net/url"
	"testing"
)

// joinOnly is an automation with a keyword and nothing else: while it is
// paused, JOIN is stored and answered by nobody.
const joinOnly = `
automations:
  - id: join
    keywords: [JOIN]
    steps:
      - { type: reply, text: "Welcome" }
`

// An admin pauses an automation from one process's dashboard, and the
// other process, which read it as running before (and keeps what it read,
// to check at its commit), takes the pause at its next webhook: JOIN
// enrolls nobody there either. Resuming reaches it alike.
func TestPostgresPauseReachesEveryProcess(t *testing.T) {
	t.Parallel()
	gs := startShared(t, 2, joinOnly)
	a, b := gs[0], gs[1]
	const before, paused, resumed = "+15552230001", "+15552230002", "+15552230003"
	b.Text(Inbound{From: before, Body: "JOIN"})
	if got := repliesTo(t, b, before, 1); got[0] != "Welcome" {
		t.Fatalf("JOIN before the pause: replies %q", got)
	}

	c, csrf := dashLogin(t, a)
	pause := func(v string) {
		t.Helper()
		if res, body := dashDo(t, c, http.MethodPost, a.URL+"/admin/automations/join/pause", url.Values{"csrf": {csrf}, "paused": {v}}); res.StatusCode != http.StatusSeeOther {
			t.Fatalf("pause=%s from the dashboard: %d %s", v, res.StatusCode, body)
		}
	}
	pause("1")
	b.Text(Inbound{From: paused, Body: "JOIN"})
	b.Settled(t, paused)
	if got := repliesToNow(b, paused); len(got) != 0 {
		t.Errorf("JOIN at the other process after the pause: replies %q, want none", got)
	}
	if ens := b.Enrollments("join", paused); len(ens) != 0 {
		t.Errorf("JOIN at the other process after the pause: enrolled %+v, want nobody", ens)
	}

	pause("0")
	b.Text(Inbound{From: resumed, Body: "JOIN"})
	if got := repliesTo(t, b, resumed, 1); got[0] != "Welcome" {
		t.Errorf("JOIN at the other process after Resume: replies %q", got)
	}
}
