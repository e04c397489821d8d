package test

import (
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

// pageText is a page's text as a reader sees it: tags dropped, entities
// decoded, runs of space made one.
func pageText(page string) string {
	return strings.Join(strings.Fields(html.UnescapeString(regexp.MustCompile(`<[^>]*>`).ReplaceAllString(page, " "))), " ")
}

// vipOff is an automation the file disables, beside adminConfig's.
const vipOff = `  - id: vip
    keywords: [VIP]
    enabled: false
    steps:
      - { type: reply, text: "Welcome to the VIP list" }
`

// An admin enables from the dashboard an automation the file disables:
// its keyword then answers through the provider, the page says it is
// enabled from the dashboard against the file, a reload of the same file
// keeps it so, and a reload that changes the automation ends it (the file
// rules again: the keyword enrolls nobody).
func TestEnableFromTheDashboardUntilTheFileChanges(t *testing.T) {
	g := StartGatewayUsers(t, usersYAML(t, "Ann:admin:ann-password"), adminConfig+vipOff)
	const bob, cy, dee = "+15552220093", "+15552220094", "+15552220095"
	g.Text(Inbound{From: bob, Body: "VIP"})
	g.Settled(t, bob)
	if got := repliesToNow(g, bob); len(got) != 0 {
		t.Fatalf("VIP while the file disables vip: replies %q", got)
	}

	c, csrf := loginUser(t, g, "Ann", "ann-password")
	_, page := dashDo(t, c, http.MethodGet, g.URL+"/admin/automations/vip", nil)
	if !strings.Contains(page, `id="enable"`) || !strings.Contains(pageText(page), "in the file ( enabled: false )") {
		t.Fatalf("the page of a file-disabled automation offers no Enable:\n%s", page)
	}
	if res, body := dashDo(t, c, http.MethodPost, g.URL+"/admin/automations/vip/pause", url.Values{"csrf": {csrf}, "paused": {"0"}}); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("enable: %d %s", res.StatusCode, body)
	}
	_, page = dashDo(t, c, http.MethodGet, g.URL+"/admin/automations/vip", nil)
	if shown := pageText(page); !strings.Contains(shown, "Enabled from the dashboard by Ann") || !strings.Contains(shown, "the file says enabled: false") {
		t.Errorf("the page does not say vip is enabled from the dashboard against the file:\n%s", shown)
	}
	_, page = dashDo(t, c, http.MethodGet, g.URL+"/admin/automations", nil)
	if !strings.Contains(pageText(page), "enabled from the dashboard; the file says paused") {
		t.Errorf("the automations list does not say vip is enabled from the dashboard:\n%s", pageText(page))
	}
	if got := apiOverride(t, g, "vip"); got != "enabled" {
		t.Errorf("the API's dashboard for vip: %q, want enabled", got)
	}
	g.Text(Inbound{From: bob, Body: "VIP"})
	if got := repliesTo(t, g, bob, 1); got[0] != "Welcome to the VIP list" {
		t.Fatalf("VIP once enabled from the dashboard: replies %q", got)
	}

	// The same file again keeps it enabled.
	if code := g.Admin(http.MethodPost, "/api/v1/reload", nil, nil); code != http.StatusOK {
		t.Fatalf("reload of the same file: %d", code)
	}
	g.Text(Inbound{From: cy, Body: "VIP"})
	repliesTo(t, g, cy, 1)

	// A reload that changes vip (still disabled) ends the override.
	g.WriteConfig(adminConfig + strings.Replace(vipOff, "Welcome to the VIP list", "Welcome, VIP", 1))
	if code := g.Admin(http.MethodPost, "/api/v1/reload", nil, nil); code != http.StatusOK {
		t.Fatalf("reload of a changed vip: %d", code)
	}
	g.Text(Inbound{From: dee, Body: "VIP"})
	g.Settled(t, dee)
	if got := repliesToNow(g, dee); len(got) != 0 {
		t.Errorf("VIP after a reload that changed vip: replies %q, want none (the file disables it)", got)
	}
	if got := apiOverride(t, g, "vip"); got != "" {
		t.Errorf("the API's dashboard for vip after the reload: %q, want none", got)
	}
	_, page = dashDo(t, c, http.MethodGet, g.URL+"/admin/automations/vip", nil)
	if shown := pageText(page); strings.Contains(shown, "Enabled from the dashboard") || !strings.Contains(page, `id="enable"`) {
		t.Errorf("after the reload the page still says enabled from the dashboard:\n%s", shown)
	}
}

// apiOverride returns the admin API's dashboard field of automation id.
func apiOverride(t *testing.T, g *Gateway, id string) string {
	t.Helper()
	var out struct {
		Automations []struct{ ID, Dashboard string }
	}
	if code := g.Admin(http.MethodGet, "/api/v1/automations", nil, &out); code != http.StatusOK {
		t.Fatalf("GET automations: %d", code)
	}
	for _, a := range out.Automations {
		if a.ID == id {
			return a.Dashboard
		}
	}
	t.Fatalf("no automation %s in the API's list", id)
	return ""
}
