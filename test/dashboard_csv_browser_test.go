package test

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// The overview and the contacts CSV in a real Chromium, at a laptop's and
// a phone's width: the overview's charts are drawn and their numbers
// written beside them; a CSV chosen in the upload form is previewed with
// its bad row and its line, then applied; no page scrolls sideways.
func TestDashboardOverviewAndCSVInABrowser(t *testing.T) {
	g := StartGateway(t, browserConfig)
	ctx := browser(t)
	for i := range 3 {
		phone := fmt.Sprintf("+155522201%02d", i)
		g.Text(Inbound{From: phone, Body: "JOIN"})
		repliesTo(t, g, phone, 1)
	}
	g.Text(Inbound{From: "+15552220100", Body: "STOP"})
	g.Settled(t, "+15552220100")

	file := filepath.Join(t.TempDir(), "contacts.csv")
	if err := os.WriteFile(file, []byte("phone,name,groups,tags,opted_out,first_name,city\n"+
		"+15552220101,Ann Lee,newsletter,vip,,Ann,Lyon\n"+
		"+15552220150,Cleo Diaz,newsletter;vip,,,Cleo,Paris\n"+
		"+15552220151,Dan,gold,,,,\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	shots := newScreenshots(t, ctx)
	run(t, ctx, "log in",
		atWidth(wideWidth),
		chromedp.Navigate(g.URL+"/admin/"),
		chromedp.WaitVisible(`#token`, chromedp.ByID),
		chromedp.SendKeys(`#token`, AdminToken, chromedp.ByID),
		chromedp.Submit(`#token`, chromedp.ByID),
		chromedp.WaitVisible(`#overview-days`, chromedp.ByID),
	)
	var bars int
	var days, caption string
	run(t, ctx, "read the overview",
		chromedp.Evaluate(`document.querySelectorAll("#chart-messages svg rect.bar").length`, &bars),
		chromedp.Text(`#overview-days tfoot`, &days, chromedp.ByQuery),
		chromedp.Text(`#chart-optouts figcaption`, &caption, chromedp.ByQuery),
	)
	if bars != 60 || !strings.Contains(caption, "1 in all") || !strings.Contains(strings.Join(strings.Fields(days), " "), "30 days 4 ") {
		t.Errorf("overview: %d bars, opt-outs %q, totals %q", bars, caption, days)
	}

	// Upload, preview, apply.
	run(t, ctx, "upload a CSV",
		chromedp.Navigate(g.URL+"/admin/contacts"),
		chromedp.Click(`#import-link`, chromedp.ByID),
		chromedp.WaitVisible(`#import-form`, chromedp.ByID),
	)
	for _, width := range []int{wideWidth, phoneWidth} {
		run(t, ctx, "the import form", atWidth(width), chromedp.Reload(), chromedp.WaitVisible(`#import-form`, chromedp.ByID))
		fits(t, ctx, "import", width)
		shots.take(shotName("import", width))
	}
	var preview string
	run(t, ctx, "preview",
		atWidth(wideWidth),
		chromedp.SetUploadFiles(`#import-file`, []string{file}, chromedp.ByID),
		chromedp.Submit(`#import-file`, chromedp.ByID),
		chromedp.WaitVisible(`#import-problems`, chromedp.ByID),
		chromedp.Text(`main`, &preview, chromedp.ByQuery),
	)
	for _, want := range []string{"New contacts\n1", "Changed contacts\n1", "unknown group \"gold\"", "name: — → Ann Lee"} {
		if !strings.Contains(preview, want) {
			t.Errorf("the preview lacks %q:\n%s", want, preview)
		}
	}
	for _, width := range []int{wideWidth, phoneWidth} {
		run(t, ctx, "the preview", atWidth(width), chromedp.Reload(), chromedp.WaitVisible(`#import-problems`, chromedp.ByID))
		fits(t, ctx, "import preview", width)
		shots.take(shotName("import-preview", width))
	}
	var result string
	run(t, ctx, "apply",
		chromedp.Click(`#import-apply button`, chromedp.ByQuery),
		chromedp.WaitVisible(`//h1[text()="Import applied"]`, chromedp.BySearch),
		chromedp.Text(`#import-result`, &result, chromedp.ByID),
	)
	if !strings.Contains(result, "2 rows applied (1 new contacts), 1 bad rows skipped, of 3") {
		t.Errorf("result: %q", result)
	}
	var cleo struct {
		Contact struct{ Name string } `json:"contact"`
	}
	if g.Admin(http.MethodGet, "/api/v1/contacts/%2B15552220150", nil, &cleo); cleo.Contact.Name != "Cleo Diaz" {
		t.Errorf("cleo after the import: %+v", cleo)
	}
	for _, width := range []int{wideWidth, phoneWidth} {
		run(t, ctx, "the overview", atWidth(width), chromedp.Navigate(g.URL+"/admin/overview"), chromedp.WaitVisible(`#overview-days`, chromedp.ByID))
		fits(t, ctx, "overview", width)
		// Its screenshot, with broadcasts in progress, is
		// TestDashboardRolesInABrowser's.
	}
}

// shotName is a page's screenshot name at width.
func shotName(page string, width int) string {
	if width <= phoneWidth {
		return page + "-phone"
	}
	return page
}
