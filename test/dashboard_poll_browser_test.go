package test

import (
	"net/http"
	"testing"

	"github.com/chromedp/chromedp"
)

// When the session behind an open inbox ends (here a reload removes the
// user), the page's next refresh does not paste the login page into the
// list: the browser goes to the login page, which leads back to the inbox.
func TestDashboardPollAfterTheSessionEnds(t *testing.T) {
	t.Parallel()
	g := StartGatewayUsers(t, usersYAML(t, "Bob:staff:bob-password"), inboxConfig)
	ctx := browser(t) // closed before the gateway stops
	g.Text(Inbound{From: customerA, Body: "Where is my parcel?"})
	waitSentTo(t, g, staffAnn, 1)

	run(t, ctx, "log in as Bob",
		atWidth(wideWidth),
		chromedp.Navigate(g.URL+"/admin/inbox"),
		chromedp.WaitVisible(`#token`, chromedp.ByID),
		logIn("Bob", "bob-password"),
		chromedp.WaitVisible(`#inbox`, chromedp.ByID),
	)

	g.AdminUsers = ""
	g.WriteConfig(inboxConfig)
	if code := g.Admin(http.MethodPost, "/api/v1/reload", nil, nil); code != http.StatusOK {
		t.Fatalf("reload: %d", code)
	}
	// The page navigates away under the check's feet: ask again until
	// it has.
	Eventually(t, patience, "the browser on the login page", func() bool {
		var path string
		return chromedp.Run(ctx, chromedp.Evaluate(`location.pathname`, &path)) == nil && path == "/admin/login"
	})
	var nested int
	run(t, ctx, "read the login page",
		chromedp.WaitVisible(`#token`, chromedp.ByID),
		chromedp.Evaluate(`document.querySelectorAll("#inbox-box form, #inbox-box h1").length`, &nested),
	)
	if nested != 0 {
		t.Errorf("the login page went into the inbox's list (%d elements)", nested)
	}
	var next string
	run(t, ctx, "read where the login leads", chromedp.Value(`input[name="next"]`, &next, chromedp.ByQuery))
	if next != "/admin/inbox" {
		t.Errorf("the login leads to %q, want /admin/inbox", next)
	}
}
