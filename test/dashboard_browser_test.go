package test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
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
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
	}
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(alloc)
	ctx, cancelTimeout := context.WithTimeout(ctx, 3*time.Minute)
	t.Cleanup(func() { cancelTimeout(); cancelCtx(); cancelAlloc() })
	if err := chromedp.Run(ctx); err != nil {
		t.Fatalf("start Chromium %s: %v", path, err)
	}
	return ctx
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

func TestDashboardInABrowser(t *testing.T) {
	g := StartGateway(t, adminConfig)
	ctx := browser(t) // closed before the gateway stops
	const ann, bob = "+15552220081", "+15552220082"

	// Ann joins and waits for a reply: an active enrollment with a timeout.
	g.Text(Inbound{From: ann, Body: "JOIN"})
	repliesTo(t, g, ann, 1)
	if code := g.Admin(http.MethodPut, "/api/v1/contacts/"+ann, map[string]any{
		"name": "Ann Lee", "fields": map[string]string{"city": "Lyon"}, "tags": []string{"vip"},
	}, nil); code != http.StatusOK {
		t.Fatalf("PUT ann: %d", code)
	}
	// Bob's welcome fails for good at Twilio.
	g.Twilio.FailNext(1, 400, 21211)
	g.Text(Inbound{From: bob, Body: "JOIN"})
	g.Settled(t, bob)
	// A refused reload, for its page.
	g.WriteConfig(adminConfig + "  - id: broken\n    keywords: [JOIN]\n    steps: [{ type: reply, text: x }]\n")
	if code := g.Admin(http.MethodPost, "/api/v1/reload", nil, nil); code != http.StatusUnprocessableEntity {
		t.Fatalf("reload of a broken config: %d", code)
	}

	shots := newScreenshots(t, ctx)
	// Log in once: the login page, then the automations.
	run(t, ctx, "open the dashboard",
		chromedp.Navigate(g.URL+"/admin/"),
		chromedp.WaitVisible(`#token`, chromedp.ByID),
	)
	shots.take("login")
	run(t, ctx, "log in",
		chromedp.SendKeys(`#token`, AdminToken, chromedp.ByID),
		chromedp.Submit(`#token`, chromedp.ByID),
		chromedp.WaitVisible(`#automations`, chromedp.ByID),
	)
	var list string
	run(t, ctx, "read the automations", chromedp.Text(`#automations`, &list, chromedp.ByID))
	for _, want := range []string{"join", "keyword JOIN", "enabled", "promo"} {
		if !strings.Contains(list, want) {
			t.Errorf("automations page lacks %q:\n%s", want, list)
		}
	}
	shots.take("automations")

	// An automation's diagram: an SVG with a box per step and its jumps.
	var boxes int
	run(t, ctx, "open the join automation",
		chromedp.Click(`a[href="/admin/automations/join"]`, chromedp.ByQuery),
		chromedp.WaitVisible(`svg.diagram`, chromedp.ByQuery),
		chromedp.Evaluate(`document.querySelectorAll("svg.diagram g.node.step").length`, &boxes),
	)
	var fields string
	run(t, ctx, "read the jumps", chromedp.Evaluate(`Array.from(document.querySelectorAll("svg.diagram g.jump")).map(j => j.dataset.field).sort().join(",")`, &fields))
	if boxes != 6 || fields != "else,next,on_timeout,then" {
		t.Errorf("diagram: %d step boxes and jumps %q, want 6 boxes and else,next,on_timeout,then", boxes, fields)
	}
	shots.take("automation")

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
	shots.take("contacts")
	var timeline, facts string
	run(t, ctx, "open Ann's timeline",
		chromedp.Click(`#contacts a[href^="/admin/contacts/"]`, chromedp.ByQuery),
		chromedp.WaitVisible(`#timeline`, chromedp.ByID),
		chromedp.Text(`#timeline`, &timeline, chromedp.ByID),
		chromedp.Text(`#contact`, &facts, chromedp.ByID),
	)
	for _, want := range []string{"JOIN", "Welcome! What is your first name?", "sent"} {
		if !strings.Contains(timeline, want) {
			t.Errorf("timeline lacks %q:\n%s", want, timeline)
		}
	}
	for _, want := range []string{"Ann Lee", "Lyon", "vip", "newsletter", "subscribed"} {
		if !strings.Contains(facts, want) {
			t.Errorf("contact facts lack %q:\n%s", want, facts)
		}
	}
	shots.take("contact")

	// Cancel Ann's enrollment from the enrollments page.
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
	if !strings.Contains(pending, "waiting_reply") || !strings.Contains(pending, "#3") || !strings.Contains(pending, "UTC") {
		t.Errorf("enrollment row lacks status, step or pending wait: %q", pending)
	}
	shots.take("enrollments")
	run(t, ctx, "cancel Ann's enrollment",
		chromedp.Click(row+` button.danger`, chromedp.ByQuery),
		chromedp.WaitNotPresent(row, chromedp.ByQuery),
	)
	Eventually(t, patience, "Ann's enrollment ended", func() bool {
		en := g.Enrollments("join", ann)
		return len(en) == 1 && en[0].Status == "ended" && en[0].EndReason == "cancelled in the dashboard"
	})

	// The failed send in the message log.
	var failed string
	run(t, ctx, "open the failed sends",
		chromedp.Navigate(g.URL+"/admin/messages"),
		chromedp.WaitVisible(`a[href="/admin/messages?status=failed"]`, chromedp.ByQuery),
		chromedp.Click(`a[href="/admin/messages?status=failed"]`, chromedp.ByQuery),
		chromedp.WaitReady(`select[name=status] option[value=failed][selected]`, chromedp.ByQuery),
		chromedp.WaitVisible(`#messages tr.st-failed`, chromedp.ByQuery),
		chromedp.Text(`#messages`, &failed, chromedp.ByID),
	)
	if !strings.Contains(failed, bob) || !strings.Contains(failed, "failed") || !strings.Contains(failed, "21211") || strings.Contains(failed, ann) {
		t.Errorf("failed sends:\n%s", failed)
	}
	run(t, ctx, "the whole log", chromedp.Navigate(g.URL+"/admin/messages"), chromedp.WaitVisible(`#messages`, chromedp.ByID))
	shots.take("messages")

	var refused string
	run(t, ctx, "open the reload page",
		chromedp.Navigate(g.URL+"/admin/reload"),
		chromedp.WaitVisible(`#refused`, chromedp.ByID),
		chromedp.Text(`#refused`, &refused, chromedp.ByID),
	)
	if !strings.Contains(refused, `automation "broken"`) {
		t.Errorf("reload page:\n%s", refused)
	}
	shots.take("reload")

	// On a phone: the contact page fits a narrow screen without a
	// horizontal scroll of the page.
	var overflow bool
	run(t, ctx, "the contact page on a phone",
		chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile),
		chromedp.Navigate(g.URL+"/admin/contacts/"+strings.ReplaceAll(ann, "+", "%2B")),
		chromedp.WaitVisible(`#timeline`, chromedp.ByID),
		chromedp.Evaluate(`document.documentElement.scrollWidth > window.innerWidth + 1`, &overflow),
	)
	if overflow {
		t.Errorf("the contact page is wider than a phone screen")
	}
	shots.take("phone")
}
