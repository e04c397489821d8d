package test

import (
	"html"
	"net/http"
	"regexp"
	"strings"
	"testing"
)

// hrefPattern finds the dashboard links of a page.
var hrefPattern = regexp.MustCompile(`href="(/admin/[^"]*)"`)

// A staff member sees no link to a page beyond their role: following every
// link of the pages they reach, from the inbox (a conversation in an open
// handoff, one forwarded by the catch-all, a contact with an enrollment),
// never leads to a 403.
func TestStaffLinksStayWithinTheirRole(t *testing.T) {
	t.Parallel()
	g := StartGatewayUsers(t, usersYAML(t, "Bob:staff:bob-password"), inboxConfig)
	g.Text(Inbound{From: customerA, Body: "AGENT please"})
	g.Text(Inbound{From: customerB, Body: "JOIN"})
	g.Text(Inbound{From: customerB, Body: "Is the shop open?"})
	waitSentTo(t, g, staffAnn, 2)
	g.Settled(t, customerB)

	bob, _ := loginUser(t, g, "Bob", "bob-password")
	seen := map[string]bool{"/admin/inbox": true}
	queue := []string{"/admin/inbox"}
	for len(queue) > 0 {
		if len(seen) > 80 {
			t.Fatalf("staff reach more than 80 pages from the inbox; the test follows at most that many: %v", seen)
		}
		path := queue[0]
		queue = queue[1:]
		res, page := dashDo(t, bob, http.MethodGet, g.URL+path, nil)
		if res.StatusCode == http.StatusForbidden {
			t.Errorf("staff follow a link to %s: 403", path)
			continue
		}
		if res.StatusCode != http.StatusOK || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/html") {
			continue
		}
		for _, m := range hrefPattern.FindAllStringSubmatch(page, -1) {
			link := html.UnescapeString(m[1])
			if !seen[link] {
				seen[link] = true
				queue = append(queue, link)
			}
		}
	}
	for _, want := range []string{"/admin/inbox/" + customerA, "/admin/contacts/" + customerB, "/admin/handoffs"} {
		if !seen[want] {
			t.Errorf("staff never reached %s; links followed: %v", want, seen)
		}
	}
}
