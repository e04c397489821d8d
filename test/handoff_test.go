package test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

const handoffConfig = `
automations:
  - id: agent
    keywords: [AGENT]
    steps:
      - { type: handoff, to: ["+15550100100"], timeout: 1h }
      - { type: reply, text: "Thanks for talking to us!" }
  - id: quick
    keywords: [QUICK]
    steps:
      - { type: handoff, to: ["+15550100100"], timeout: 2s, on_timeout: gone }
      - { type: reply, text: "Closed by staff.", next: end }
      - { id: gone, type: reply, text: "Nobody was free; we will call you." }
  - id: support
    catch_all: true
    steps:
      - { type: reply, text: "catch-all answer" }
`

// openHandoff is a handoff as GET /api/v1/handoffs lists it.
type openHandoff struct {
	Contact    string     `json:"contact"`
	Automation string     `json:"automation"`
	Staff      []string   `json:"staff"`
	Ref        string     `json:"ref"`
	Since      time.Time  `json:"since"`
	Until      *time.Time `json:"until"`
}

func handoffs(t *testing.T, g *Gateway) []openHandoff {
	t.Helper()
	var out struct{ Handoffs []openHandoff }
	if code := g.Admin(http.MethodGet, "/api/v1/handoffs", nil, &out); code != http.StatusOK {
		t.Fatalf("GET /api/v1/handoffs: status %d", code)
	}
	return out.Handoffs
}

// A handoff: the contact's messages go to staff tagged with the reference
// instead of the catch-all, staff answers go to the contact, it survives a
// SIGKILL, the admin API lists it while open, and #done closes it and the
// enrollment goes on.
func TestHandoffBothWaysDoneAndKill(t *testing.T) {
	t.Parallel()
	g := StartGateway(t, handoffConfig)

	g.Text(Inbound{From: customerA, Body: "AGENT please"})
	fwd := waitSentTo(t, g, staffAnn, 1)[0]
	ref := refOf(t, fwd.Body)
	if !strings.HasPrefix(fwd.Body, "#"+ref+` From +15551230001: "AGENT please"`) {
		t.Errorf("handoff forward = %q", fwd.Body)
	}
	open := handoffs(t, g)
	if len(open) != 1 || open[0].Contact != customerA || open[0].Automation != "agent" || open[0].Ref != ref ||
		len(open[0].Staff) != 1 || open[0].Staff[0] != staffAnn || open[0].Since.IsZero() {
		t.Fatalf("open handoffs = %+v", open)
	}
	// The dashboard's handoffs page and /metrics show it too.
	dash := dashClient(t)
	if res, _ := dashDo(t, dash, http.MethodPost, g.URL+"/admin/login", url.Values{"token": {AdminToken}, "next": {"/admin/handoffs"}}); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("dashboard login: %d", res.StatusCode)
	}
	if res, page := dashDo(t, dash, http.MethodGet, g.URL+"/admin/handoffs", nil); res.StatusCode != http.StatusOK ||
		!strings.Contains(page, "#"+ref) || !strings.Contains(page, strings.ReplaceAll(customerA, "+", "&#43;")) || !strings.Contains(page, strings.ReplaceAll(staffAnn, "+", "&#43;")) {
		t.Errorf("dashboard handoffs page: %d\n%s", res.StatusCode, page)
	}
	if v, ok := metricValue(scrape(t, g), "keyway_handoffs_open"); !ok || v != 1 {
		t.Errorf("keyway_handoffs_open = %v (present %v), want 1", v, ok)
	}

	// The contact's message goes to staff, not to the catch-all.
	g.Text(Inbound{From: customerA, Body: "my order is late"})
	relay := waitSentTo(t, g, staffAnn, 2)[1]
	if relay.Body != "#"+ref+` From +15551230001: "my order is late"` {
		t.Errorf("relay = %q", relay.Body)
	}
	// Staff's answer goes to the contact.
	g.Text(Inbound{From: staffAnn, Body: "Sorry! It ships today."})
	if got := waitSentTo(t, g, customerA, 1)[0]; got.From != OurSMS || got.Body != "Sorry! It ships today." {
		t.Errorf("answer = from %s %q", got.From, got.Body)
	}

	// SIGKILL in the middle: after a restart the handoff is still open and
	// relaying.
	g.Kill()
	g.Start()
	if open := handoffs(t, g); len(open) != 1 || open[0].Ref != ref {
		t.Fatalf("after SIGKILL, open handoffs = %+v", open)
	}
	g.Text(Inbound{From: customerA, Body: "thanks, anything else?"})
	if relay := waitSentTo(t, g, staffAnn, 3)[2]; relay.Body != "#"+ref+` From +15551230001: "thanks, anything else?"` {
		t.Errorf("relay after restart = %q", relay.Body)
	}
	g.Text(Inbound{From: staffAnn, Body: "No, all good."})
	waitSentTo(t, g, customerA, 2)

	// #done closes it: the enrollment goes on to its next step.
	g.Text(Inbound{From: staffAnn, Body: "#done"})
	if got := waitSentTo(t, g, customerA, 3)[2]; got.Body != "Thanks for talking to us!" {
		t.Errorf("after #done the contact got %q", got.Body)
	}
	if note := waitSentTo(t, g, staffAnn, 4)[3]; note.Body != "#"+ref+": handoff closed." {
		t.Errorf("after #done staff got %q", note.Body)
	}
	if open := handoffs(t, g); len(open) != 0 {
		t.Errorf("after #done, open handoffs = %+v", open)
	}
	if v, _ := metricValue(scrape(t, g), "keyway_handoffs_open"); v != 0 {
		t.Errorf("after #done, keyway_handoffs_open = %v, want 0", v)
	}
	// Closed: the contact's messages are routed as usual again.
	g.Text(Inbound{From: customerA, Body: "hello"})
	if got := waitSentTo(t, g, customerA, 4)[3]; got.Body != "catch-all answer" {
		t.Errorf("after the handoff closed the contact got %q", got.Body)
	}
	g.Settled(t, customerA)
	if n := len(sentTo(g, staffAnn)); n != 4 {
		t.Errorf("staff got %d messages, want 4: %q", n, Bodies(sentTo(g, staffAnn)))
	}
}

// A handoff with no message either way for its timeout takes on_timeout,
// and its staff are told it closed.
func TestHandoffTimeout(t *testing.T) {
	t.Parallel()
	g := StartGateway(t, handoffConfig)
	g.Text(Inbound{From: customerB, Channel: "whatsapp", Body: "QUICK"})
	fwd := waitSentTo(t, g, staffAnn, 1)[0]
	if !strings.Contains(fwd.Body, `From +15551230002 on WhatsApp: "QUICK"`) {
		t.Errorf("handoff forward = %q", fwd.Body)
	}
	got := waitSentTo(t, g, "whatsapp:"+customerB, 1)[0]
	if got.Body != "Nobody was free; we will call you." || got.From != "whatsapp:"+OurWhatsApp {
		t.Errorf("after the timeout the contact got from %s %q", got.From, got.Body)
	}
	if open := handoffs(t, g); len(open) != 0 {
		t.Errorf("after the timeout, open handoffs = %+v", open)
	}
	// Staff are told, from the number the forward came from.
	if note := waitSentTo(t, g, staffAnn, 2)[1]; note.Body != "#"+refOf(t, fwd.Body)+": handoff closed: timed out." || note.From != fwd.From {
		t.Errorf("after the timeout staff got from %s %q", note.From, note.Body)
	}
	ens := g.Enrollments("quick", customerB)
	if len(ens) != 1 || ens[0].Status != "ended" || ens[0].EndReason != "completed" {
		t.Errorf("enrollment = %+v", ens)
	}
}

// A staff answer that comes after a handoff's timeout passed, even before
// keyway's timers (checked once a second) acted on it, finds the handoff
// timed out: the timeout's way runs first, then the answer reaches the
// contact as an answer to a closed conversation, and the handoff stays
// closed. On PostgreSQL too.
func TestStaffAnswerAfterTheHandoffTimeout(t *testing.T) {
	t.Parallel()
	staffAnswerAfterTheHandoffTimeout(t, StartGateway(t, handoffConfig))
}

func TestPostgresStaffAnswerAfterTheHandoffTimeout(t *testing.T) {
	t.Parallel()
	staffAnswerAfterTheHandoffTimeout(t, startShared(t, 1, handoffConfig)[0])
}

func staffAnswerAfterTheHandoffTimeout(t *testing.T, g *Gateway) {
	t.Helper()
	g.Text(Inbound{From: customerA, Body: "QUICK"})
	ref := refOf(t, waitSentTo(t, g, staffAnn, 1)[0].Body)
	var out struct {
		Handoffs []struct {
			Until *time.Time `json:"until"`
		}
	}
	if code := g.Admin(http.MethodGet, "/api/v1/handoffs", nil, &out); code != http.StatusOK || len(out.Handoffs) != 1 || out.Handoffs[0].Until == nil {
		t.Fatalf("GET /api/v1/handoffs: %d %+v, want one open with its timeout", code, out.Handoffs)
	}
	due := *out.Handoffs[0].Until
	Eventually(t, patience, "the handoff's timeout passed", func() bool { return time.Now().After(due) })
	g.Text(Inbound{From: staffAnn, Body: "#" + ref + " Sorry for the wait"})

	got := Bodies(waitSentTo(t, g, customerA, 2))
	if want := []string{"Nobody was free; we will call you.", "Sorry for the wait"}; strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("the contact got %q, want the timeout's reply, then the answer", got)
	}
	if open := handoffs(t, g); len(open) != 0 {
		t.Errorf("after the timeout and the answer, open handoffs = %+v", open)
	}
	if ens := g.Enrollments("quick", customerA); len(ens) != 1 || ens[0].Status != "ended" || ens[0].EndReason != "completed" {
		t.Errorf("enrollment = %+v, want ended by the timeout's way", ens)
	}
	g.Settled(t, customerA)
	if got := Bodies(sentTo(g, customerA)); len(got) != 2 {
		t.Errorf("the contact got %q, want the timeout's reply once and the answer", got)
	}
	g.Settled(t, staffAnn)
	if got := Bodies(sentTo(g, staffAnn)); len(got) != 2 || got[1] != "#"+ref+": handoff closed: timed out." {
		t.Errorf("staff got %q, want the handoff's forward and one note that it timed out", got)
	}
}

// A staff member's "#REF done" (or "#done") that comes after the handoff's
// timeout passed, before the timer loop fired it, finds the handoff timed
// out: they get the note that it timed out, and no second message that no
// handoff is open.
func TestAStaffDoneAfterTheHandoffTimeout(t *testing.T) {
	t.Parallel()
	for _, done := range []string{"#REF done", "#done"} {
		t.Run(done, func(t *testing.T) {
			t.Parallel()
			staffDoneAfterTheHandoffTimeout(t, StartGateway(t, handoffConfig), done)
		})
	}
}

// staffDoneAfterTheHandoffTimeout sends done (with REF for the reference)
// from staff once a handoff's timeout passed. When the timer loop fired
// the timeout first (keyway_timers_fired_total says so), the close did not
// come through the staff member's message: it tries again with another
// contact.
func staffDoneAfterTheHandoffTimeout(t *testing.T, g *Gateway, done string) {
	t.Helper()
	contacts := []string{"+15551230071", "+15551230072", "+15551230073", "+15551230074", "+15551230075"}
	for i, contact := range contacts {
		fired, _ := metricValue(scrape(t, g), "keyway_timers_fired_total")
		g.Text(Inbound{From: contact, Body: "QUICK"})
		fwd := waitSentTo(t, g, staffAnn, i+1)[i]
		ref := refOf(t, fwd.Body)
		var due time.Time
		for _, h := range handoffs(t, g) {
			if h.Ref == ref && h.Until != nil {
				due = *h.Until
			}
		}
		if due.IsZero() {
			t.Fatalf("handoff #%s is not listed open with its timeout", ref)
		}
		Eventually(t, patience, "the handoff's timeout passed", func() bool { return time.Now().After(due) })
		before := len(sentTo(g, staffAnn))
		g.Text(Inbound{From: staffAnn, Body: strings.Replace(done, "REF", ref, 1)})
		if got := waitSentTo(t, g, contact, 1)[0]; got.Body != "Nobody was free; we will call you." {
			t.Errorf("the contact got %q, want the timeout's reply", got.Body)
		}
		g.Settled(t, staffAnn)
		if now, _ := metricValue(scrape(t, g), "keyway_timers_fired_total"); now > fired {
			t.Logf("the timer loop fired the timeout of #%s first: again with another contact", ref)
			continue
		}
		if got := Bodies(sentTo(g, staffAnn)[before:]); len(got) != 1 || got[0] != "#"+ref+": handoff closed: timed out." {
			t.Errorf("after %q staff got %q, want one note that the handoff timed out", done, got)
		}
		if open := handoffs(t, g); len(open) != 0 {
			t.Errorf("open handoffs = %+v", open)
		}
		return
	}
	t.Fatalf("the timer loop fired each of %d timeouts before the staff message", len(contacts))
}

// A handoff ended by a cancel through the admin API, or by a reload that
// removed its automation, tells its staff once each, with the reference
// and why; the contact gets nothing.
func TestHandoffEndedByCancelOrReloadTellsStaff(t *testing.T) {
	t.Parallel()
	g := StartGateway(t, handoffConfig)
	g.Text(Inbound{From: customerA, Body: "AGENT"})
	refA := refOf(t, waitSentTo(t, g, staffAnn, 1)[0].Body)
	g.Text(Inbound{From: customerB, Body: "AGENT"})
	refB := refOf(t, waitSentTo(t, g, staffAnn, 2)[1].Body)

	ens := g.Enrollments("agent", customerA)
	if len(ens) != 1 {
		t.Fatalf("enrollments of A = %+v", ens)
	}
	if code := g.Admin(http.MethodDelete, "/api/v1/enrollments/"+ens[0].ID, nil, nil); code != http.StatusOK {
		t.Fatalf("cancel: %d", code)
	}
	if note := waitSentTo(t, g, staffAnn, 3)[2]; note.Body != "#"+refA+": handoff closed: cancelled through the admin API." || note.From != OurSMS {
		t.Errorf("after the cancel staff got from %s %q", note.From, note.Body)
	}

	g.WriteConfig(strings.Replace(handoffConfig, "id: agent\n    keywords: [AGENT]", "id: agent2\n    keywords: [AGENT2]", 1))
	if code := g.Admin(http.MethodPost, "/api/v1/reload", nil, nil); code != http.StatusOK {
		t.Fatalf("reload: %d", code)
	}
	if note := waitSentTo(t, g, staffAnn, 4)[3]; note.Body != "#"+refB+`: handoff closed: automation "agent" was removed from the config.` {
		t.Errorf("after the reload staff got %q", note.Body)
	}
	if open := handoffs(t, g); len(open) != 0 {
		t.Errorf("open handoffs = %+v", open)
	}
	g.Settled(t, staffAnn)
	if got := Bodies(sentTo(g, staffAnn)); len(got) != 4 {
		t.Errorf("staff got %q, want two forwards and one note for each", got)
	}
	if n := len(sentTo(g, customerA)) + len(sentTo(g, "whatsapp:"+customerB)) + len(sentTo(g, customerB)); n != 0 {
		t.Errorf("the contacts got %d messages, want none", n)
	}
}
