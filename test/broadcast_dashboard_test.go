package test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// The broadcasts page cancels a broadcast as DELETE /api/v1/broadcasts/{id}
// does: a scheduled one enrolls nobody, and asking to end the enrollments
// a broadcast started ends them.
func TestDashboardCancelsABroadcast(t *testing.T) {
	t.Parallel()
	g := StartGateway(t, broadcastsConfig)
	g.importContacts(t, map[string]any{"groups": []string{"news"}}, "+15554440031", "+15554440032")
	later := g.startBroadcast(t, map[string]any{"automation": "promo", "group": "news", "at": time.Now().Add(time.Hour).Format(time.RFC3339)})
	drip := g.startBroadcast(t, map[string]any{"automation": "drip", "group": "news"})
	Eventually(t, patience, "the drip broadcast done", func() bool { return g.broadcast(t, drip.ID).Status == "done" })

	c := dashClient(t)
	if res, _ := dashDo(t, c, http.MethodPost, g.URL+"/admin/login", url.Values{"token": {AdminToken}, "next": {"/admin/broadcasts"}}); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("login: %d", res.StatusCode)
	}
	_, page := dashDo(t, c, http.MethodGet, g.URL+"/admin/broadcasts", nil)
	m := csrfField.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no CSRF token on the broadcasts page:\n%s", page)
	}
	for _, id := range []string{later.ID, drip.ID} {
		if !strings.Contains(page, `action="/admin/broadcasts/`+id+`/cancel"`) {
			t.Errorf("the broadcasts page has no cancel form for %s:\n%s", id, page)
		}
	}

	// Cancel the scheduled one: it enrolls nobody.
	res, _ := dashDo(t, c, http.MethodPost, g.URL+"/admin/broadcasts/"+later.ID+"/cancel", url.Values{"csrf": {m[1]}})
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("cancel from the dashboard: %d", res.StatusCode)
	}
	if b := g.broadcast(t, later.ID); b.Status != "canceled" || b.Enrolled != 0 || b.CanceledBy != "admin" {
		t.Errorf("after cancel from the dashboard: %+v, want canceled with nobody enrolled, by admin (the token)", b)
	}
	_, page = dashDo(t, c, http.MethodGet, g.URL+res.Header.Get("Location"), nil)
	if !strings.Contains(page, `id="canceled"`) || !strings.Contains(page, "will not be") {
		t.Errorf("the page after a cancel does not say what was done:\n%s", page)
	}

	// End the enrollments the done one started.
	active := func() int {
		n := 0
		for _, p := range []string{"+15554440031", "+15554440032"} {
			for _, en := range g.Enrollments("drip", p) {
				if en.Status != "ended" {
					n++
				}
			}
		}
		return n
	}
	if n := active(); n != 2 {
		t.Fatalf("%d active drip enrollments before the cancel, want 2", n)
	}
	if res, _ := dashDo(t, c, http.MethodPost, g.URL+"/admin/broadcasts/"+drip.ID+"/cancel", url.Values{"csrf": {m[1]}, "end": {"1"}}); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("end from the dashboard: %d", res.StatusCode)
	}
	if n := active(); n != 0 {
		t.Errorf("%d drip enrollments still active after ending them from the dashboard", n)
	}
	if b := g.broadcast(t, drip.ID); !b.EndStarted || b.Ended != 2 || b.CanceledBy != "admin" {
		t.Errorf("after ending from the dashboard: %+v, want end_started and 2 ended, by admin", b)
	}
	if !strings.Contains(page, `<span class="by">admin</span>`) {
		t.Errorf("the broadcasts page does not say who canceled:\n%s", page)
	}

	// Without the CSRF token nothing happens.
	if res, _ := dashDo(t, c, http.MethodPost, g.URL+"/admin/broadcasts/"+drip.ID+"/cancel", url.Values{}); res.StatusCode != http.StatusForbidden {
		t.Errorf("cancel without the CSRF token: %d, want 403", res.StatusCode)
	}
}
