package test

import (
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
)

const leftGroupConfig = `
groups: [ { id: news } ]
automations:
  - id: promo
    steps:
      - { type: reply, text: "Deal {{ vars.code }}" }
  - id: less
    keywords: [LESS]
    steps:
      - { type: unsubscribe, scope: groups, groups: [news], text: "You left the news." }
`

// A contact that unsubscribed from a group is neither enrolled by a
// broadcast to it nor lost from its counts: it is counted in its total and
// skipped as left_group, on the broadcasts page too; one that left and
// joined again is enrolled. On the bbolt file and on PostgreSQL alike. (A
// contact that leaves after the broadcast was scheduled is counted the
// same way: automation/broadcast's TestAGroupBroadcastCountsThoseThatLeftTheGroup,
// on a clock of its own.)
func TestBroadcastCountsWhoLeftTheGroup(t *testing.T) {
	t.Parallel()
	t.Run("bolt", func(t *testing.T) {
		t.Parallel()
		broadcastCountsWhoLeft(t, StartGateway(t, leftGroupConfig))
	})
	t.Run("postgres", func(t *testing.T) {
		t.Parallel()
		broadcastCountsWhoLeft(t, startShared(t, 1, leftGroupConfig)[0])
	})
}

func broadcastCountsWhoLeft(t *testing.T, g *Gateway) {
	const (
		ann, bob = "+15554440041", "+15554440042"
		cat      = "+15554440043" // leaves
		dan      = "+15554440044" // leaves and joins again
	)
	g.importContacts(t, map[string]any{"groups": []string{"news"}}, ann, bob, cat, dan)

	// Cat and Dan unsubscribe from the group; Dan is put back in it.
	g.Text(Inbound{From: cat, Body: "less"})
	g.Text(Inbound{From: dan, Body: "less"})
	for _, m := range g.Twilio.WaitSent(t, 2, patience) {
		if m.Body != "You left the news." {
			t.Fatalf("sent %+v, want the unsubscribe step's text", m)
		}
	}
	g.importContacts(t, map[string]any{"groups": []string{"news"}}, dan)
	if c := g.Contact(cat).Contact; len(c.Groups) != 0 || !slices.Equal(c.LeftGroups, []string{"news"}) {
		t.Fatalf("cat after less: groups %v left_groups %v, want none and [news]", c.Groups, c.LeftGroups)
	}
	if c := g.Contact(dan).Contact; !slices.Equal(c.Groups, []string{"news"}) || len(c.LeftGroups) != 0 {
		t.Fatalf("dan back in the group: groups %v left_groups %v", c.Groups, c.LeftGroups)
	}
	b := g.startBroadcast(t, map[string]any{"automation": "promo", "group": "news", "vars": map[string]any{"code": "NEWS"}})
	if b.Total != 4 {
		t.Fatalf("started: %+v, want a total of 4: the 3 members and the one that left", b)
	}

	var done broadcastView
	Eventually(t, patience, "the broadcast done", func() bool {
		done = g.broadcast(t, b.ID)
		return done.Status == "done"
	})
	want := map[string]int{"opted_out": 0, "left_group": 1, "invalid": 0, "already_enrolled": 0}
	if done.Total != 4 || done.Enrolled != 3 || !maps.Equal(done.Skipped, want) {
		t.Fatalf("done: total %d enrolled %d skipped %v; want 4, 3, %v", done.Total, done.Enrolled, done.Skipped, want)
	}
	for _, m := range g.Twilio.WaitSent(t, 5, patience)[2:] {
		if m.Body != "Deal NEWS" || m.To == cat {
			t.Fatalf("sent %+v, want the deal to ann, bob and dan only", m)
		}
	}
	if ens := g.Enrollments("promo", cat); len(ens) != 0 {
		t.Errorf("cat, who left, was enrolled: %+v", ens)
	}

	// The broadcasts page says why one was skipped.
	c, csrf := dashLogin(t, g)
	_, page := dashDo(t, c, http.MethodGet, g.URL+"/admin/broadcasts", nil)
	if !strings.Contains(page, `<td data-label="Skipped">1<div class="sub">left group 1</div></td>`) {
		t.Errorf("the broadcasts page does not show the contact that left the group:\n%s", page)
	}
	// The start page's count before a group start says so too.
	form := url.Values{"csrf": {csrf}, "automation": {"promo"}, "target": {"group"}, "group": {"news"}}
	res, page := dashDo(t, c, http.MethodPost, g.URL+"/admin/start/confirm", form)
	if res.StatusCode != http.StatusOK || !strings.Contains(page, `<strong id="reach">3</strong> contacts (1 left the group, passed over)`) {
		t.Errorf("confirm a group start: %d\n%s", res.StatusCode, page)
	}
}
