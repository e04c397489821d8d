package test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/keyway-sms/keyway/providers/vonage"
)

// browserPaths are where Debian's chromium (which .ci/run installs) and
// other Chromium builds live.
var browserPaths = []string{"chromium", "chromium-browser", "google-chrome", "headless-shell"}

// browser starts a headless Chromium for t, with a profile of its own and
// nothing that reaches out to the network. Without one the test is skipped,
// unless CI is set: CI must run the browser tests.
func browser(t *testing.T) context.Context {
	t.Helper()
	path := ""
	for _, name := range browserPaths {
		if p, err := exec.LookPath(name); err == nil {
			path = p
			break
		}
	}
	if path == "" {
		if os.Getenv("CI") != "" {
			t.Fatalf("no Chromium found (%v) and CI is set: .ci/run installs Debian's chromium", browserPaths)
		}
		t.Skip("no Chromium: the dashboard browser tests need one (apt-get install chromium)")
	}
	var err error
	for attempt := 1; attempt <= browserAttempts; attempt++ {
		var ctx context.Context
		if ctx, err = startBrowser(t, path); err == nil {
			return ctx
		}
		t.Logf("start Chromium %s, attempt %d of %d: %v", path, attempt, browserAttempts, err)
	}
	t.Fatalf("start Chromium %s: %v", path, err)
	return nil
}

// browserAttempts is how many times browser starts Chromium before it
// fails the test. A start on a fresh, busy machine can hang once.
const browserAttempts = 2

// browserStarts lets one Chromium start at a time: the browser tests run
// in parallel with the rest of the suite on two cores, and four browsers
// starting at once under the race detector's load each took longer than
// they need alone.
var browserStarts = make(chan struct{}, 1)

// startBrowser starts one headless Chromium and opens its first tab. On
// failure it stops what it started and says what Chromium printed.
func startBrowser(t *testing.T, path string) (context.Context, error) {
	t.Helper()
	// The profile is not t.TempDir: Chromium's helper processes may still
	// write to it for a moment after the browser is gone, and a folder left
	// behind in the temporary directory is no reason to fail a test.
	profile, err := os.MkdirTemp("", "keyway-chromium-")
	if err != nil {
		t.Fatal(err)
	}
	output := &tailBuffer{max: 8 << 10}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.Flag("headless", true),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.UserDataDir(profile),
		chromedp.WindowSize(1280, 900),
		// chromedp waits 20 s by default for the line that says where
		// the browser listens, too little on a loaded machine.
		chromedp.WSURLReadTimeout(2 * time.Minute),
		chromedp.CombinedOutput(output),
	}
	// The test's time with its browser counts from the browser's start,
	// not from its turn to start; a turn that does not come in 10 minutes
	// (starts ahead hanging) fails the test with a message, not the suite
	// at its timeout.
	select {
	case browserStarts <- struct{}{}:
	case <-time.After(10 * time.Minute):
		os.RemoveAll(profile)
		t.Fatal("start Chromium: the browser tests ahead of this one did not start theirs in 10 minutes")
	}
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(alloc)
	ctx, cancelTimeout := context.WithTimeout(ctx, 3*time.Minute)
	stop := func() {
		cancelTimeout()
		cancelCtx()
		cancelAlloc()
		if err := os.RemoveAll(profile); err != nil {
			if err = os.RemoveAll(profile); err != nil {
				t.Logf("Chromium profile %s left behind: %v", profile, err)
			}
		}
	}
	err = chromedp.Run(ctx)
	<-browserStarts
	if err != nil {
		stop()
		if out := output.String(); out != "" && !strings.Contains(err.Error(), out) {
			err = fmt.Errorf("%w; Chromium printed:\n%s", err, out)
		}
		return nil, err
	}
	t.Cleanup(stop)
	return ctx, nil
}

// tailBuffer keeps the last max bytes written to it. Chromium writes its
// output from a goroutine of chromedp's, for as long as it runs.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	buf []byte
}

func (b *tailBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf = append(b.buf, p...)
	if over := len(b.buf) - b.max; over > 0 {
		b.buf = append(b.buf[:0], b.buf[over:]...)
	}
	return len(p), nil
}

func (b *tailBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return string(b.buf)
}

// screenshots keeps a full-page PNG of each dashboard page as a test
// artifact, in a temporary folder the test names in its log; with
// KEYWAY_UPDATE_DOCS=1 it also writes them to docs/ for the README.
type screenshots struct {
	t   *testing.T
	ctx context.Context
	dir string
}

func newScreenshots(t *testing.T, ctx context.Context) *screenshots {
	dir := filepath.Join(os.TempDir(), "keyway-dashboard-screenshots")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Logf("dashboard screenshots in %s", dir)
	return &screenshots{t: t, ctx: ctx, dir: dir}
}

func (s *screenshots) take(name string) {
	s.t.Helper()
	var png []byte
	if err := chromedp.Run(s.ctx, chromedp.FullScreenshot(&png, 100)); err != nil {
		s.t.Fatalf("screenshot %s: %v", name, err)
	}
	file := "dashboard-" + name + ".png"
	if err := os.WriteFile(filepath.Join(s.dir, file), png, 0o644); err != nil {
		s.t.Fatal(err)
	}
	if os.Getenv("KEYWAY_UPDATE_DOCS") == "1" {
		if err := os.WriteFile(filepath.Join("..", "docs", file), png, 0o644); err != nil {
			s.t.Fatal(err)
		}
	}
}

// run runs browser actions, failing the test with what was going on.
func run(t *testing.T, ctx context.Context, what string, actions ...chromedp.Action) {
	t.Helper()
	if err := chromedp.Run(ctx, actions...); err != nil {
		var url, body string
		_ = chromedp.Run(ctx, chromedp.Location(&url), chromedp.Text("body", &body, chromedp.ByQuery))
		t.Fatalf("%s: %v\n(at %s)\n%s", what, err, url, body)
	}
}

// click clicks the element sel finds, as chromedp.Click does, once more
// when Chromium answers that the node it found is gone: a document still
// loading may be swapped between the query and the click. That answer
// comes before any mouse event goes out, so nothing is clicked twice.
func click(sel string) chromedp.Action {
	return chromedp.ActionFunc(func(ctx context.Context) error {
		for try := 1; ; try++ {
			err := chromedp.Click(sel, chromedp.ByQuery).Do(ctx)
			if err == nil || try == 3 || !strings.Contains(err.Error(), "Could not find node with given id") {
				return err
			}
		}
	})
}

// browserConfig is adminConfig at a practice in Chicago, with a named
// staff member and an automation that forwards to them.
const browserConfig = `defaults:
  timezone: America/Chicago
staff:
  - { number: "+15552220099", name: "Sam Staff" }
` + adminConfig + `  - id: desk
    keywords: [DESK]
    steps:
      - { type: forward_to_mobile, to: ["+15552220099"] }
`

// Widths the dashboard is checked at: a laptop and a phone.
const (
	wideWidth  = 1280
	phoneWidth = 390
)

// atWidth sets the browser's viewport to width (a phone's with touch and
// mobile emulation when narrow).
func atWidth(width int) chromedp.Action {
	if width <= phoneWidth {
		return chromedp.EmulateViewport(int64(width), 844, chromedp.EmulateMobile)
	}
	return chromedp.EmulateViewport(int64(width), 900)
}

// logIn fills the login form shown with a user's name and password and
// submits it.
func logIn(user, password string) chromedp.Action {
	return chromedp.Tasks{
		chromedp.SendKeys(`#user`, user, chromedp.ByID),
		chromedp.SendKeys(`#token`, password, chromedp.ByID),
		chromedp.Submit(`#token`, chromedp.ByID),
	}
}

// dashPage is a dashboard page to open: its name in the screenshots, its
// path, and what shows once it is ready (a CSS selector).
type dashPage struct{ name, path, ready string }

// openPages opens each page at width, checks that it fits (fits) and takes
// its screenshot, named with "-phone" at the phone's width.
func openPages(t *testing.T, ctx context.Context, g *Gateway, shots *screenshots, width int, pages []dashPage) {
	t.Helper()
	for _, p := range pages {
		run(t, ctx, fmt.Sprintf("open %s at %d px", p.name, width),
			atWidth(width),
			chromedp.Navigate(g.URL+p.path),
			chromedp.WaitVisible(p.ready, chromedp.ByQuery),
		)
		fits(t, ctx, p.name, width)
		name := p.name
		if width == phoneWidth {
			name += "-phone"
		}
		shots.take(name)
	}
}

// fits checks that the page reads without sideways scrolling at width.
func fits(t *testing.T, ctx context.Context, page string, width int) {
	t.Helper()
	var scroll int
	run(t, ctx, "measure "+page, chromedp.Evaluate(`document.documentElement.scrollWidth`, &scroll))
	if scroll > width {
		t.Errorf("%s at %d px is %d px wide: it scrolls sideways", page, width, scroll)
	}
	// A column title wraps between its words, never inside one: a range
	// over its text has no more line boxes than it has words.
	var broken []string
	run(t, ctx, "column titles of "+page, chromedp.Evaluate(`Array.from(document.querySelectorAll("thead th")).filter(th => {
		const r = document.createRange();
		r.selectNodeContents(th);
		return r.getClientRects().length > th.textContent.trim().split(/\s+/).length;
	}).map(th => th.textContent.trim())`, &broken))
	if len(broken) > 0 {
		t.Errorf("%s at %d px breaks the column titles %q inside a word", page, width, broken)
	}
}

func TestDashboardInABrowser(t *testing.T) {
	t.Parallel()
	// A Vonage number in dev mode beside Twilio's: the numbers list names
	// each number's provider, and only Twilio's ids link to a console.
	vonageDev := fmt.Sprintf("  vonage:\n    numbers:\n      - { number: %q }\n", vonageNumber)
	g := StartGateway(t, vonageDev+browserConfig)
	ctx := browser(t) // closed before the gateway stops
	const ann, bob, cy = "+15552220081", "+15552220082", "+447700900777"
	const cyUUID = "55555555-0000-4000-8000-000000000001"
	if code := postVonage(t, g, vonage.InboundPath, "", vonageInbound(cyUUID, cy, "hello from Vonage")); code != http.StatusOK {
		t.Fatalf("Vonage inbound in dev mode: %d", code)
	}

	// Ann joins and waits for a reply: an active enrollment with a timeout.
	g.Text(Inbound{From: ann, Body: "JOIN"})
	repliesTo(t, g, ann, 1)
	if code := g.Admin(http.MethodPut, "/api/v1/contacts/"+ann, map[string]any{
		"name": "Ann Lee", "fields": map[string]string{"city": "Lyon"}, "tags": []string{"vip"},
	}, nil); code != http.StatusOK {
		t.Fatalf("PUT ann: %d", code)
	}
	// Ann asks for a person: a forward to Sam, on her timeline.
	g.Text(Inbound{From: ann, Body: "DESK my order is late"})
	g.Settled(t, ann)
	// Bob's welcome fails for good at Twilio.
	g.Twilio.FailNext(1, 400, 21211)
	g.Text(Inbound{From: bob, Body: "JOIN"})
	g.Settled(t, bob)
	// A refused reload, for its page.
	g.WriteConfig(vonageDev + browserConfig + "  - id: broken\n    keywords: [JOIN]\n    steps: [{ type: reply, text: x }]\n")
	if code := g.Admin(http.MethodPost, "/api/v1/reload", nil, nil); code != http.StatusUnprocessableEntity {
		t.Fatalf("reload of a broken config: %d", code)
	}

	shots := newScreenshots(t, ctx)
	// Log in once: the login page, the overview, then the automations.
	run(t, ctx, "open the dashboard",
		atWidth(wideWidth),
		chromedp.Navigate(g.URL+"/admin/"),
		chromedp.WaitVisible(`#token`, chromedp.ByID),
	)
	// The login page's screenshot, with users, is
	// TestDashboardRolesInABrowser's.
	run(t, ctx, "log in",
		chromedp.SendKeys(`#token`, AdminToken, chromedp.ByID),
		chromedp.Submit(`#token`, chromedp.ByID),
		chromedp.WaitVisible(`#overview-days`, chromedp.ByID), // the landing page
		chromedp.Navigate(g.URL+"/admin/automations"),
		chromedp.WaitVisible(`#automations`, chromedp.ByID),
	)
	var list string
	run(t, ctx, "read the automations", chromedp.Text(`#automations`, &list, chromedp.ByID))
	for _, want := range []string{"join", "keyword JOIN", "enabled", "promo"} {
		if !strings.Contains(list, want) {
			t.Errorf("automations page lacks %q:\n%s", want, list)
		}
	}
	var numbers string
	run(t, ctx, "read the numbers", chromedp.Text(`#numbers`, &numbers, chromedp.ByID))
	for _, want := range []string{OurSMS, OurWhatsApp, "twilio", vonageNumber, "vonage", "dev mode"} {
		if !strings.Contains(numbers, want) {
			t.Errorf("numbers list lacks %q:\n%s", want, numbers)
		}
	}
	if strings.Count(numbers, "dev mode") != 1 {
		t.Errorf("only Vonage's number runs in dev mode:\n%s", numbers)
	}

	// An automation's diagram: an SVG with a box per step saying what it
	// does, and a labelled line for each way on.
	var boxes int
	var fields, steps string
	run(t, ctx, "open the join automation",
		click(`a[href="/admin/automations/join"]`),
		chromedp.WaitVisible(`svg.diagram`, chromedp.ByQuery),
		chromedp.Evaluate(`document.querySelectorAll("svg.diagram g.node.step").length`, &boxes),
		chromedp.Evaluate(`Array.from(document.querySelectorAll("svg.diagram g.jump")).map(j => j.dataset.field + ":" + j.textContent).sort().join(",")`, &fields),
		chromedp.Evaluate(`Array.from(document.querySelectorAll("svg.diagram g.node.step")).map(n => n.textContent).join("\n")`, &steps),
	)
	if boxes != 6 || fields != "else:else,next:next,on_timeout:on_timeout,then:then" {
		t.Errorf("diagram: %d step boxes and labelled jumps %q, want 6 boxes and else,next,on_timeout,then", boxes, fields)
	}
	for _, want := range []string{"groups: newsletter", "“Welcome! What is your first name?”", "timeout 24h", `if vars.name matches "(?i)^no"`} {
		if !strings.Contains(steps, want) {
			t.Errorf("the diagram's boxes lack %q:\n%s", want, steps)
		}
	}
	var fallThrough int
	run(t, ctx, "arrows down from the condition", chromedp.Evaluate(`(() => {
		const box = document.querySelector('svg.diagram g.node.step[data-step="#4"] rect');
		const bottom = +box.getAttribute("y") + +box.getAttribute("height");
		return Array.from(document.querySelectorAll("svg.diagram g.flow line")).filter(l => +l.getAttribute("y1") === bottom).length;
	})()`, &fallThrough))
	if fallThrough != 0 {
		t.Errorf("the condition with then and else has %d arrow(s) down to the next step", fallThrough)
	}

	// Search a contact by name, open its timeline.
	run(t, ctx, "search contacts",
		chromedp.Navigate(g.URL+"/admin/contacts"),
		chromedp.WaitVisible(`#contact-search input[name=q]`, chromedp.ByQuery),
		chromedp.SendKeys(`#contact-search input[name=q]`, "ann", chromedp.ByQuery),
		chromedp.Submit(`#contact-search input[name=q]`, chromedp.ByQuery),
		// The results page, not the list it was typed on: its field holds
		// the search as an attribute.
		chromedp.WaitReady(`#contact-search input[name=q][value="ann"]`, chromedp.ByQuery),
		chromedp.WaitVisible(`#contacts`, chromedp.ByID),
	)
	var found string
	run(t, ctx, "read the results", chromedp.Text(`#contacts`, &found, chromedp.ByID))
	if !strings.Contains(found, ann) || !strings.Contains(found, "Ann Lee") || strings.Contains(found, bob) {
		t.Errorf("search for ann found:\n%s", found)
	}
	var timeline, facts, order string
	run(t, ctx, "open Ann's timeline",
		click(`#contacts a[href^="/admin/contacts/"]`),
		chromedp.WaitVisible(`#timeline`, chromedp.ByID),
		chromedp.Text(`#timeline`, &timeline, chromedp.ByID),
		chromedp.Text(`#contact`, &facts, chromedp.ByID),
		chromedp.Evaluate(`Array.from(document.querySelectorAll("#timeline li")).map(li => li.className.split(" ").slice(0, 2).join(" ") + ":" + li.querySelector(".body").textContent).join("|")`, &order),
	)
	for _, want := range []string{"JOIN", "Welcome! What is your first name?", "sent", "CST", "forwarded to staff Sam Staff"} {
		if !strings.Contains(timeline, want) {
			t.Errorf("timeline lacks %q:\n%s", want, timeline)
		}
	}
	if !strings.HasPrefix(order, "msg in:JOIN|msg out:Welcome! What is your first name?|msg in:DESK my order is late|msg fwd:") {
		t.Errorf("the timeline is not oldest first with the forward set apart: %s", order)
	}
	for _, want := range []string{"Ann Lee", "Lyon", "vip", "newsletter", "subscribed", "CST"} {
		if !strings.Contains(facts, want) {
			t.Errorf("contact facts lack %q:\n%s", want, facts)
		}
	}

	// The enrollments: Ann by name, her status in words, her pending wait
	// in Chicago's time.
	en := g.Enrollments("join", ann)
	if len(en) != 1 || en[0].Status != "waiting_reply" {
		t.Fatalf("Ann's enrollments: %+v", en)
	}
	row := fmt.Sprintf(`tr[data-enrollment=%q]`, en[0].ID)
	var pending string
	run(t, ctx, "open the enrollments",
		chromedp.Navigate(g.URL+"/admin/enrollments?automation=join"),
		chromedp.WaitVisible(row, chromedp.ByQuery),
		chromedp.Text(row, &pending, chromedp.ByQuery),
	)
	for _, want := range []string{"Ann Lee", "waiting for a reply", "#3", "CST"} {
		if !strings.Contains(pending, want) {
			t.Errorf("enrollment row lacks %q: %q", want, pending)
		}
	}
	if strings.Contains(pending, "waiting_reply") || strings.Contains(pending, "UTC") {
		t.Errorf("enrollment row shows a status code or UTC: %q", pending)
	}

	// Provider ids: Twilio's link to its console, Vonage's are plain text.
	var ids []string
	run(t, ctx, "read the provider ids",
		chromedp.Navigate(g.URL+"/admin/messages"),
		chromedp.WaitVisible(`#messages`, chromedp.ByID),
		chromedp.Evaluate(`Array.from(document.querySelectorAll("#messages .provider")).map(e => e.textContent.trim() + " -> " + (e.querySelector("a") ? e.querySelector("a").href : "no link"))`, &ids),
	)
	var twilioLinks, vonagePlain int
	for _, id := range ids {
		switch {
		case strings.HasPrefix(id, "twilio SM") && strings.Contains(id, " -> https://www.twilio.com/console/sms/logs/"+g.Twilio.AccountSID+"/SM"):
			twilioLinks++
		case id == "vonage "+cyUUID+" -> no link":
			vonagePlain++
		default:
			t.Errorf("provider id %q: want Twilio's linked to its console, Vonage's plain", id)
		}
	}
	if twilioLinks == 0 || vonagePlain != 1 {
		t.Errorf("%d Twilio ids linked, %d Vonage ids plain; want some and 1: %q", twilioLinks, vonagePlain, ids)
	}

	// The failed send in the message log.
	var failed string
	run(t, ctx, "open the failed sends",
		chromedp.Navigate(g.URL+"/admin/messages"),
		chromedp.WaitVisible(`a[href="/admin/messages?status=failed"]`, chromedp.ByQuery),
		click(`a[href="/admin/messages?status=failed"]`),
		chromedp.WaitReady(`select[name=status] option[value=failed][selected]`, chromedp.ByQuery),
		chromedp.WaitVisible(`#messages tr.st-failed`, chromedp.ByQuery),
		chromedp.Text(`#messages`, &failed, chromedp.ByID),
	)
	if !strings.Contains(failed, bob) || !strings.Contains(failed, "failed") || !strings.Contains(failed, "21211") || strings.Contains(failed, ann) {
		t.Errorf("failed sends:\n%s", failed)
	}
	if strings.Contains(failed, "attempt(s)") {
		t.Errorf("the message log says attempt(s):\n%s", failed)
	}

	var refused string
	run(t, ctx, "open the reload page",
		chromedp.Navigate(g.URL+"/admin/reload"),
		chromedp.WaitVisible(`#refused`, chromedp.ByID),
		chromedp.Text(`#refused`, &refused, chromedp.ByID),
	)
	if !strings.Contains(refused, `automation "broken"`) || !strings.Contains(refused, "CST") {
		t.Errorf("reload page:\n%s", refused)
	}

	// Every page at both widths: no sideways scrolling, and a screenshot
	// for the README.
	pages := []dashPage{
		{"automations", "/admin/automations", "#automations"},
		{"automation", "/admin/automations/join", "svg.diagram"},
		{"enrollments", "/admin/enrollments", "#enrollments"},
		{"cancel", "/admin/enrollments/" + en[0].ID + "/cancel", "#cancel"},
		{"contacts", "/admin/contacts", "#contacts"},
		{"contact", "/admin/contacts/" + strings.ReplaceAll(ann, "+", "%2B"), "#timeline"},
		{"messages", "/admin/messages", "#messages"},
		{"handoffs", "/admin/handoffs", "#handoffs"},
		{"reload", "/admin/reload", "#refused"},
	}
	for _, width := range []int{wideWidth, phoneWidth} {
		openPages(t, ctx, g, shots, width, pages)
	}

	// On a phone: the pages sit behind one menu, so the header is one
	// line; the message log's text gets the card's width, and a row stays
	// short.
	var header, bodyWidth, tallest, average float64
	run(t, ctx, "the message log on a phone",
		atWidth(phoneWidth),
		chromedp.Navigate(g.URL+"/admin/messages"),
		chromedp.WaitVisible(`#messages`, chromedp.ByID),
		chromedp.Evaluate(`document.querySelector("header").getBoundingClientRect().height`, &header),
		chromedp.Evaluate(`Math.min(...Array.from(document.querySelectorAll("#messages td.body")).map(td => td.getBoundingClientRect().width))`, &bodyWidth),
		chromedp.Evaluate(`Math.max(...Array.from(document.querySelectorAll("#messages tbody tr")).map(tr => tr.getBoundingClientRect().height))`, &tallest),
		chromedp.Evaluate(`document.querySelector("#messages tbody").getBoundingClientRect().height / document.querySelectorAll("#messages tbody tr").length`, &average),
	)
	if header > 60 {
		t.Errorf("the header is %.0f px tall on a phone: the nav wraps", header)
	}
	if bodyWidth < 300 {
		t.Errorf("a message's text is %.0f px wide on a phone", bodyWidth)
	}
	// A failed send carries its error; others take a few lines each (50
	// messages took 11,920 px when the text was squeezed to 45 px).
	if tallest > 260 || average > 150 {
		t.Errorf("on a phone a message takes up to %.0f px of height, %.0f px on average", tallest, average)
	}
	var menu string
	run(t, ctx, "open the pages menu",
		click(`details.menu summary`),
		chromedp.WaitVisible(`details.menu nav a[href="/admin/contacts"]`, chromedp.ByQuery),
		chromedp.Text(`details.menu nav`, &menu, chromedp.ByQuery),
	)
	if !strings.Contains(menu, "Enrollments") || !strings.Contains(menu, "Reload") {
		t.Errorf("the pages menu: %q", menu)
	}

	// Cancel asks first, then says what it did (on the phone).
	var done string
	run(t, ctx, "cancel Ann's enrollment",
		chromedp.Navigate(g.URL+"/admin/enrollments?automation=join"),
		chromedp.WaitVisible(row, chromedp.ByQuery),
		click(row+` a.danger`),
		chromedp.WaitVisible(`#confirm-cancel`, chromedp.ByID),
	)
	if en := g.Enrollments("join", ann); en[0].Status != "waiting_reply" {
		t.Fatalf("the cancel button ended the enrollment before asking: %+v", en[0])
	}
	run(t, ctx, "confirm the cancel",
		click(`#confirm-cancel`),
		chromedp.WaitVisible(`#cancel .done`, chromedp.ByQuery),
		chromedp.Text(`#cancel`, &done, chromedp.ByQuery),
	)
	if !strings.Contains(done, "Cancelled Ann Lee") || !strings.Contains(done, "join") {
		t.Errorf("after the cancel: %q", done)
	}
	Eventually(t, patience, "Ann's enrollment ended", func() bool {
		en := g.Enrollments("join", ann)
		return len(en) == 1 && en[0].Status == "ended" && en[0].EndReason == "cancelled in the dashboard"
	})
}
