package test

import (
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/keyway-sms/keyway/automation/broadcast"
	"github.com/keyway-sms/keyway/automation/engine"
	"github.com/keyway-sms/keyway/automation/store/bolt"
)

// putRunningBroadcast stores, while g is stopped, a broadcast of promo
// part way through its 40 contacts with the sends its enrollments made,
// leased to another process for an hour so that g leaves it as it is: a
// broadcast in progress for the overview to show, whatever the speed of
// the machine (a real one of this size finishes in a blink).
func putRunningBroadcast(t *testing.T, g *Gateway, id string) {
	t.Helper()
	g.Stop()
	s, err := bolt.Open(filepath.Join(g.Dir, "data", "keyway.db"))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	err = s.Update(context.Background(), func(tx engine.Tx) error {
		b := &broadcast.Broadcast{ID: id, Automation: "promo", Group: "newsletter", At: now.Add(-time.Minute), Source: broadcast.SourceAPI,
			Status: broadcast.StatusRunning, Total: 40, Enrolled: 23, Skipped: map[string]int{engine.SkipOptedOut: 2}, Counted: true,
			Owner: "keyway-elsewhere", LeaseUntil: now.Add(time.Hour), CreatedAt: now.Add(-time.Minute), UpdatedAt: now}
		if err := tx.(broadcast.Tx).PutBroadcast(b); err != nil {
			return err
		}
		for i := range 23 {
			status := engine.MessageStatus("delivered")
			switch {
			case i >= 21:
				status = engine.StatusFailed
			case i >= 17:
				status = engine.StatusSent
			}
			m := &engine.Message{ID: fmt.Sprintf("MB%04d", i), Direction: engine.Outbound, Contact: fmt.Sprintf("+1555333%04d", i),
				Body: "Our spring offer is on.", Status: status, Broadcast: id, CreatedAt: now, UpdatedAt: now}
			if err := tx.PutMessage(m); err != nil {
				return err
			}
		}
		return nil
	})
	if cerr := s.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatal(err)
	}
	g.Start()
}

// postFromPage posts form (URL-encoded, with the page's CSRF token in the body and
// the header) from the page the browser shows, as its session, and
// returns the answer's status.
func postFromPage(t *testing.T, ctx context.Context, path, form string) int {
	t.Helper()
	var status int
	run(t, ctx, "post "+path, chromedp.Evaluate(fmt.Sprintf(`(() => {
		const tok = document.querySelector('input[name=csrf]').value;
		return fetch(%q, {method: "POST", redirect: "manual", headers: {"Content-Type": "application/x-www-form-urlencoded", "X-CSRF-Token": tok},
			body: "csrf=" + encodeURIComponent(tok) + "&" + %q}).then(r => r.status);
	})()`, path, form), &status, func(p *runtime.EvaluateParams) *runtime.EvaluateParams { return p.WithAwaitPromise(true) }))
	return status
}

// adminControls are the links and forms of admin actions (and pages) that
// a staff member's pages must not show.
var adminControls = []string{
	`a[href^="/admin/start"]`, `form[action^="/admin/start"]`,
	`a[href^="/admin/contacts/import"]`, `form[action^="/admin/contacts/import"]`,
	`a[href$="/cancel"]`, `form[action$="/cancel"]`, `form[action$="/pause"]`,
	`a[href="/admin/reload"]`, `a[href="/admin/automations"]`, `a[href^="/admin/enrollments"]`,
	`a[href="/admin/overview"]`, `a[href="/admin/broadcasts"]`,
}

// The dashboard as an admin and as a staff member, in one Chromium: the
// login page; the overview with a broadcast in progress and the list of
// broadcasts; an automation
// paused from its page and one the file disables enabled from its page
// (each page saying so); then, logged in as staff, the inbox, a
// conversation answered (the timeline says who answered), the contacts
// and the messages, with no admin control on any page at either width,
// and every admin action posted from the staff session refused (403).
func TestDashboardRolesInABrowser(t *testing.T) {
	t.Parallel()
	users := usersYAML(t, "Ann:admin:ann-password", "Sue:staff:sue-password")
	g := StartGatewayUsers(t, users, browserConfig+vipOff)
	const cy, dan = "+15552220071", "+15552220072"
	g.Text(Inbound{From: cy, Body: "JOIN"})
	repliesTo(t, g, cy, 1)
	g.Text(Inbound{From: dan, Body: "DESK where is my order?"})
	g.Settled(t, dan)
	en := g.Enrollments("join", cy)
	if len(en) != 1 {
		t.Fatalf("Cy's enrollments: %+v", en)
	}
	at := time.Now().Add(26 * time.Hour).Format(time.RFC3339)
	if code := g.Admin(http.MethodPost, "/api/v1/broadcasts", map[string]any{"automation": "promo", "group": "newsletter", "at": at}, nil); code != http.StatusAccepted && code != http.StatusCreated {
		t.Fatalf("schedule a broadcast: %d", code)
	}
	putRunningBroadcast(t, g, "01BROADCASTRUNNING00000000")

	ctx := browser(t) // closed before the gateway stops
	shots := newScreenshots(t, ctx)
	for _, width := range []int{wideWidth, phoneWidth} {
		run(t, ctx, fmt.Sprintf("the login page at %d px", width),
			atWidth(width),
			chromedp.Navigate(g.URL+"/admin/login"),
			chromedp.WaitVisible(`#user`, chromedp.ByID),
		)
		fits(t, ctx, "login", width)
		shots.take(shotName("login", width))
	}

	// As Ann, an admin: the overview shows both broadcasts in progress.
	run(t, ctx, "log in as Ann",
		atWidth(wideWidth),
		logIn("Ann", "ann-password"),
		chromedp.WaitVisible(`#overview-broadcasts`, chromedp.ByID), // where an admin lands
	)
	for _, width := range []int{wideWidth, phoneWidth} {
		var progress string
		var bars int
		run(t, ctx, fmt.Sprintf("the overview at %d px", width),
			atWidth(width),
			chromedp.Navigate(g.URL+"/admin/overview"),
			chromedp.WaitVisible(`#overview-broadcasts`, chromedp.ByID),
			chromedp.Text(`#overview-broadcasts`, &progress, chromedp.ByID),
			chromedp.Evaluate(`document.querySelectorAll("#overview-broadcasts svg.bar-progress rect.done").length`, &bars),
		)
		for _, want := range []string{"2 running or scheduled", "25 of 40 contacts gone through (62%)", "23 enrolled, 2 skipped; 21 sent, 17 delivered, 2 failed", "scheduled", "Starts", "1 contact in it now"} {
			if !strings.Contains(progress, want) {
				t.Errorf("the overview at %d px lacks %q:\n%s", width, want, progress)
			}
		}
		if bars != 2 {
			t.Errorf("the overview at %d px draws %d progress bars, want 2", width, bars)
		}
		fits(t, ctx, "overview", width)
		shots.take(shotName("overview", width))
	}

	// The list of broadcasts, for its screenshots.
	for _, width := range []int{wideWidth, phoneWidth} {
		openPages(t, ctx, g, shots, width, []dashPage{{"broadcasts", "/admin/broadcasts", "#broadcasts"}})
	}

	// Pause join from its page; enable vip, which the file disables.
	var note string
	run(t, ctx, "pause join",
		atWidth(wideWidth),
		chromedp.Navigate(g.URL+"/admin/automations/join"),
		chromedp.WaitVisible(`#pause`, chromedp.ByID),
		click(`#pause`),
		chromedp.WaitVisible(`#resume`, chromedp.ByID),
		chromedp.Text(`#state`, &note, chromedp.ByID),
	)
	if !strings.Contains(note, "Paused from the dashboard by Ann") || !strings.Contains(note, "the file says enabled") {
		t.Errorf("join's state after Pause: %q", note)
	}
	run(t, ctx, "enable vip",
		chromedp.Navigate(g.URL+"/admin/automations/vip"),
		chromedp.WaitVisible(`#enable`, chromedp.ByID),
		click(`#enable`),
		chromedp.WaitVisible(`#pause`, chromedp.ByID),
		chromedp.Text(`#state`, &note, chromedp.ByID),
	)
	if !strings.Contains(note, "Enabled from the dashboard by Ann") || !strings.Contains(note, "the file says enabled: false") {
		t.Errorf("vip's state after Enable: %q", note)
	}
	g.Text(Inbound{From: dan, Body: "VIP"})
	if got := repliesTo(t, g, dan, 1); got[len(got)-1] != "Welcome to the VIP list" {
		t.Errorf("VIP once enabled from the browser: replies %q", got)
	}
	openPages(t, ctx, g, shots, wideWidth, []dashPage{
		{"automation-paused", "/admin/automations/join", "#resume"},
		{"automation-enabled", "/admin/automations/vip", "#pause-note"},
	})
	openPages(t, ctx, g, shots, phoneWidth, []dashPage{
		{"automation-paused", "/admin/automations/join", "#resume"},
		{"automation-enabled", "/admin/automations/vip", "#pause-note"},
	})
	run(t, ctx, "log out",
		click(`form.logout button`),
		chromedp.WaitVisible(`#user`, chromedp.ByID),
	)

	// As Sue, staff: she lands on the inbox and answers Dan.
	run(t, ctx, "log in as Sue",
		atWidth(wideWidth),
		chromedp.Navigate(g.URL+"/admin/"),
		chromedp.WaitVisible(`#user`, chromedp.ByID),
		logIn("Sue", "sue-password"),
		chromedp.WaitVisible(`#inbox li[data-contact="`+dan+`"]`, chromedp.ByQuery),
	)
	var answered string
	run(t, ctx, "answer Dan",
		click(`#inbox li[data-contact="`+dan+`"] a`),
		chromedp.WaitVisible(`#answer`, chromedp.ByID),
		chromedp.SendKeys(`#answer`, "It left the warehouse today.", chromedp.ByID),
		click(`#send-answer`),
		chromedp.WaitVisible(`#done`, chromedp.ByID),
		chromedp.WaitVisible(`//ol[@id="chat"]//li[contains(., "It left the warehouse today.")]`, chromedp.BySearch),
		chromedp.Text(`//ol[@id="chat"]//li[contains(., "It left the warehouse today.")]`, &answered, chromedp.BySearch),
	)
	if !strings.Contains(answered, "by Sue") {
		t.Errorf("the answer in the timeline does not say who answered: %q", answered)
	}
	if got := waitSentTo(t, g, dan, 2); got[len(got)-1].Body != "It left the warehouse today." {
		t.Errorf("Dan got %q, want Sue's answer", got[len(got)-1].Body)
	}

	// Sue's pages at both widths: no admin control on any.
	staffPages := []dashPage{
		{"inbox", "/admin/inbox", "#inbox"},
		{"conversation", "/admin/inbox/%2B" + strings.TrimPrefix(dan, "+"), "#chat"},
		{"contacts", "/admin/contacts", "#contacts"},
		{"contact", "/admin/contacts/%2B" + strings.TrimPrefix(cy, "+"), "#timeline"},
		{"messages", "/admin/messages", "#messages"},
	}
	for _, width := range []int{wideWidth, phoneWidth} {
		for _, p := range staffPages {
			var shown []string
			run(t, ctx, fmt.Sprintf("Sue's %s at %d px", p.name, width),
				atWidth(width),
				chromedp.Navigate(g.URL+p.path),
				chromedp.WaitVisible(p.ready, chromedp.ByQuery),
				chromedp.Evaluate(fmt.Sprintf(`%s.filter(s => document.querySelector(s))`, jsList(adminControls)), &shown),
			)
			if len(shown) > 0 {
				t.Errorf("Sue's %s at %d px shows admin controls %q", p.name, width, shown)
			}
			fits(t, ctx, "staff "+p.name, width)
			if p.name == "contacts" { // staff see Download CSV, not Import (an admin control)
				var download bool
				run(t, ctx, "the Download CSV link", chromedp.Evaluate(`!!document.querySelector('a[href="/admin/contacts.csv"]')`, &download))
				if !download {
					t.Errorf("Sue's contacts at %d px offer no Download CSV", width)
				}
				shots.take(shotName("staff-contacts", width))
			}
		}
	}

	// Admin actions posted from Sue's session, with her CSRF token: 403.
	run(t, ctx, "back to the inbox", chromedp.Navigate(g.URL+"/admin/inbox"), chromedp.WaitVisible(`#inbox`, chromedp.ByID))
	for _, c := range []struct{ path, form string }{
		{"/admin/automations/join/pause", "paused=0"},
		{"/admin/automations/promo/pause", "paused=1"},
		{"/admin/enrollments/" + en[0].ID + "/cancel", ""},
		{"/admin/start/confirm", "automation=promo&target=group&group=newsletter"},
		{"/admin/start", "automation=promo&target=group&group=newsletter"},
		{"/admin/contacts/import", ""},
	} {
		if got := postFromPage(t, ctx, c.path, c.form); got != http.StatusForbidden {
			t.Errorf("Sue posting %s: %d, want 403", c.path, got)
		}
	}
	if got := postFromPage(t, ctx, "/api/v1/reload", ""); got != http.StatusUnauthorized {
		t.Errorf("Sue posting a reload to the API: %d, want 401 (the API takes the admin token only)", got)
	}
	var reload string
	run(t, ctx, "open the reload page as Sue", chromedp.Navigate(g.URL+"/admin/reload"), chromedp.WaitReady(`body`, chromedp.ByQuery),
		chromedp.Text(`body`, &reload, chromedp.ByQuery))
	if !strings.Contains(reload, "only an admin may do this") {
		t.Errorf("the reload page as Sue: %q", reload)
	}
	// Nothing Sue posted took effect.
	if en := g.Enrollments("join", cy); len(en) != 1 || en[0].Status != "waiting_reply" {
		t.Errorf("Cy's enrollment after Sue's cancel: %+v", en)
	}
	g.Text(Inbound{From: "+15552220073", Body: "JOIN"})
	g.Settled(t, "+15552220073")
	if got := repliesToNow(g, "+15552220073"); len(got) != 0 {
		t.Errorf("JOIN answered after Sue's resume: %q; join stays paused", got)
	}
}

// jsList writes ss as a JavaScript array of strings.
func jsList(ss []string) string {
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = fmt.Sprintf("%q", s)
	}
	return "[" + strings.Join(q, ", ") + "]"
}
