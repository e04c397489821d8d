package test

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// dashClient is a browser-like client of the dashboard: it keeps cookies
// and does not follow redirects, so that tests see them.
func dashClient(t *testing.T) *http.Client {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

func dashDo(t *testing.T, c *http.Client, method, u string, form url.Values) (*http.Response, string) {
	t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, u, body)
	if err != nil {
		t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	res, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, u, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res, string(b)
}

var csrfField = regexp.MustCompile(`name="csrf" value="([0-9a-f]+)"`)

func TestDashboardSessionCookieAndCSRF(t *testing.T) {
	t.Parallel()
	g := StartGateway(t, adminConfig)
	c := dashClient(t)

	// Not logged in: pages send to the login page, POSTs are refused.
	for _, path := range []string{"/admin", "/admin/"} {
		res, _ := dashDo(t, c, http.MethodGet, g.URL+path, nil)
		if res.StatusCode != http.StatusSeeOther || !strings.HasPrefix(res.Header.Get("Location"), "/admin/login?next=") {
			t.Errorf("GET %s without a session: %d to %q, want 303 to the login page", path, res.StatusCode, res.Header.Get("Location"))
		}
	}
	res, _ := dashDo(t, c, http.MethodGet, g.URL+"/admin/contacts?q=ann", nil)
	if res.StatusCode != http.StatusSeeOther || !strings.HasPrefix(res.Header.Get("Location"), "/admin/login?next=") {
		t.Fatalf("GET a page without a session: %d to %q, want 303 to the login page", res.StatusCode, res.Header.Get("Location"))
	}
	if res, _ := dashDo(t, c, http.MethodPost, g.URL+"/admin/enrollments/x/cancel", url.Values{"csrf": {"x"}}); res.StatusCode != http.StatusForbidden {
		t.Errorf("POST without a session: %d, want 403", res.StatusCode)
	}

	// A wrong token: 401 and no session.
	res, body := dashDo(t, c, http.MethodPost, g.URL+"/admin/login", url.Values{"token": {"guess"}, "next": {"/admin/contacts"}})
	if res.StatusCode != http.StatusUnauthorized || !strings.Contains(body, "not the admin token") || len(res.Cookies()) != 0 {
		t.Fatalf("wrong token: %d cookies %v", res.StatusCode, res.Cookies())
	}

	// The right token: a session cookie, HttpOnly, SameSite=Strict (and
	// Secure over HTTPS: TestDashboardCookieSecureOverHTTPS), and back to
	// where the user was going.
	res, _ = dashDo(t, c, http.MethodPost, g.URL+"/admin/login", url.Values{"token": {AdminToken}, "next": {"/admin/contacts"}})
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/admin/contacts" {
		t.Fatalf("login: %d to %q", res.StatusCode, res.Header.Get("Location"))
	}
	setCookie := res.Header.Get("Set-Cookie")
	for _, attr := range []string{"keyway_session=", "HttpOnly", "SameSite=Strict", "Path=/admin"} {
		if !strings.Contains(strings.ToLower(setCookie), strings.ToLower(attr)) {
			t.Errorf("session cookie %q lacks %s", setCookie, attr)
		}
	}
	// Send the cookie by hand, as a browser would.
	session := res.Cookies()[0]
	authed := func(method, path string, form url.Values) (*http.Response, string) {
		req, _ := http.NewRequest(method, g.URL+path, nil)
		if form != nil {
			req, _ = http.NewRequest(method, g.URL+path, strings.NewReader(form.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		req.AddCookie(session)
		r, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Body.Close()
		b, _ := io.ReadAll(r.Body)
		return r, string(b)
	}
	// A login's "next" never leaves the dashboard.
	res, _ = dashDo(t, c, http.MethodPost, g.URL+"/admin/login", url.Values{"token": {AdminToken}, "next": {"//evil.example/x"}})
	if loc := res.Header.Get("Location"); loc != "/admin/" {
		t.Errorf("login with an outside next went to %q", loc)
	}

	g.Text(Inbound{From: "+15552220070", Body: "JOIN"})
	repliesTo(t, g, "+15552220070", 1)
	en := g.Enrollments("join", "+15552220070")
	if len(en) != 1 {
		t.Fatalf("enrollments: %+v", en)
	}
	for _, path := range []string{"/admin/automations", "/admin/automations/join", "/admin/enrollments", "/admin/contacts", "/admin/contacts/%2B15552220070", "/admin/messages", "/admin/reload"} {
		res, body := authed(http.MethodGet, path, nil)
		if res.StatusCode != http.StatusOK || !strings.Contains(res.Header.Get("Content-Type"), "text/html") || !strings.Contains(body, "</html>") {
			t.Errorf("GET %s: %d %s", path, res.StatusCode, res.Header.Get("Content-Type"))
		}
	}
	res, body = authed(http.MethodGet, "/admin/enrollments", nil)
	m := csrfField.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no CSRF token in the enrollments page:\n%s", body)
	}
	// Cancel without the CSRF token, or with another: refused, nothing ends.
	for _, form := range []url.Values{{}, {"csrf": {strings.Repeat("0", len(m[1]))}}} {
		if res, _ := authed(http.MethodPost, "/admin/enrollments/"+en[0].ID+"/cancel", form); res.StatusCode != http.StatusForbidden {
			t.Errorf("cancel with csrf %q: %d, want 403", form.Get("csrf"), res.StatusCode)
		}
	}
	if en := g.Enrollments("join", "+15552220070"); en[0].Status == "ended" {
		t.Fatal("a cancel without the CSRF token ended the enrollment")
	}
	res, _ = authed(http.MethodPost, "/admin/enrollments/"+en[0].ID+"/cancel", url.Values{"csrf": {m[1]}})
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("cancel with the CSRF token: %d", res.StatusCode)
	}
	if en := g.Enrollments("join", "+15552220070"); en[0].Status != "ended" || en[0].EndReason != "cancelled in the dashboard" {
		t.Errorf("after cancel: %+v", en[0])
	}

	// An unknown contact: a 404 page for people, in the dashboard's layout.
	res, body = authed(http.MethodGet, "/admin/contacts/%2B15559999999", nil)
	if res.StatusCode != http.StatusNotFound || !strings.Contains(res.Header.Get("Content-Type"), "text/html") || !strings.Contains(body, "no contact &#43;15559999999") {
		t.Errorf("unknown contact page: %d %s\n%s", res.StatusCode, res.Header.Get("Content-Type"), body)
	}

	// Log out: the session is gone.
	authed(http.MethodPost, "/admin/logout", url.Values{"csrf": {m[1]}})
	if res, _ := authed(http.MethodGet, "/admin/automations", nil); res.StatusCode != http.StatusSeeOther {
		t.Errorf("after logout a page answered %d, want 303 to login", res.StatusCode)
	}
}

func TestDashboardShowsTheLastRefusedReload(t *testing.T) {
	t.Parallel()
	g := StartGateway(t, adminConfig)
	g.WriteConfig(adminConfig + "  - id: broken\n    keywords: [JOIN]\n    steps: [{ type: reply, text: x }]\n")
	var out struct {
		Problems []string `json:"problems"`
	}
	if code := g.Admin(http.MethodPost, "/api/v1/reload", nil, &out); code != http.StatusUnprocessableEntity || len(out.Problems) == 0 {
		t.Fatalf("reload of a bad config: %d %v", code, out.Problems)
	}
	c := dashClient(t)
	res, _ := dashDo(t, c, http.MethodPost, g.URL+"/admin/login", url.Values{"token": {AdminToken}})
	req, _ := http.NewRequest(http.MethodGet, g.URL+"/admin/reload", nil)
	req.AddCookie(res.Cookies()[0])
	r, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Body.Close()
	b, _ := io.ReadAll(r.Body)
	page := string(b)
	errs := 0
	for _, p := range out.Problems {
		if strings.Contains(p, ": warning: ") {
			continue // the page lists what made the reload fail
		}
		errs++
		if !strings.Contains(page, htmlEscape(p)) {
			t.Errorf("the reload page lacks the problem %q:\n%s", p, page)
		}
	}
	if errs == 0 || !strings.Contains(page, `id="refused"`) || strings.Contains(page, "No reload has been refused") {
		t.Errorf("the reload page does not show the refused reload:\n%s", page)
	}
}

// An admin reloads the file from the reload page: a bad file is refused
// there with its problems and the running config stays; a good one goes
// live.
func TestDashboardReloadsTheConfig(t *testing.T) {
	t.Parallel()
	g := StartGateway(t, adminConfig)
	c := dashClient(t)
	if res, _ := dashDo(t, c, http.MethodPost, g.URL+"/admin/login", url.Values{"token": {AdminToken}, "next": {"/admin/reload"}}); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("login: %d", res.StatusCode)
	}
	_, page := dashDo(t, c, http.MethodGet, g.URL+"/admin/reload", nil)
	m := csrfField.FindStringSubmatch(page)
	if m == nil || !strings.Contains(page, `action="/admin/reload"`) {
		t.Fatalf("the reload page has no reload form:\n%s", page)
	}
	reload := func() string {
		t.Helper()
		res, _ := dashDo(t, c, http.MethodPost, g.URL+"/admin/reload", url.Values{"csrf": {m[1]}})
		if res.StatusCode != http.StatusSeeOther {
			t.Fatalf("reload from the dashboard: %d", res.StatusCode)
		}
		_, page := dashDo(t, c, http.MethodGet, g.URL+res.Header.Get("Location"), nil)
		return page
	}
	automations := func() []string {
		var out struct {
			Automations []struct {
				ID string `json:"id"`
			} `json:"automations"`
		}
		g.Admin(http.MethodGet, "/api/v1/automations", nil, &out)
		var ids []string
		for _, a := range out.Automations {
			ids = append(ids, a.ID)
		}
		return ids
	}

	g.WriteConfig(adminConfig + "  - id: broken\n    keywords: [JOIN]\n    steps: [{ type: reply, text: x }]\n")
	page = reload()
	if !strings.Contains(page, `id="reload-refused"`) || !strings.Contains(page, "broken") {
		t.Errorf("a bad file reloaded from the dashboard: the page does not say it was refused, with its problems:\n%s", page)
	}
	if slices.Contains(automations(), "broken") {
		t.Fatal("a refused file went live")
	}

	g.WriteConfig(adminConfig + "  - id: added\n    keywords: [ADDED]\n    steps: [{ type: reply, text: x }]\n")
	page = reload()
	if !strings.Contains(page, `id="reloaded"`) {
		t.Errorf("a good file reloaded from the dashboard: the page does not say so:\n%s", page)
	}
	if !slices.Contains(automations(), "added") {
		t.Errorf("after a reload from the dashboard the automations are %v, want added among them", automations())
	}
	if res, _ := dashDo(t, c, http.MethodPost, g.URL+"/admin/reload", url.Values{}); res.StatusCode != http.StatusForbidden {
		t.Errorf("reload without the CSRF token: %d, want 403", res.StatusCode)
	}
}

func htmlEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&#34;", "'", "&#39;").Replace(s)
}

// The session cookie is Secure when the browser came over HTTPS: through
// the host of the https public_url, or a proxy that says so. Reached over
// plain HTTP at another address (admin_listen on a private network, a
// tunnel, a script on loopback), it is not: a browser refuses a Secure
// cookie set over plain HTTP, and a client keeps it to itself, so the
// login would lead back to the login page.
func TestDashboardCookieSecureOverHTTPS(t *testing.T) {
	t.Parallel()
	g := StartGateway(t, adminConfig)
	login := func(host string, headers map[string]string) string {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, g.URL+"/admin/login", strings.NewReader(url.Values{"token": {AdminToken}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if host != "" {
			req.Host = host
		}
		for k, v := range headers {
			req.Header.Set(k, v)
		}
		res, err := dashClient(t).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusSeeOther {
			t.Fatalf("login via %q %v: %d", host, headers, res.StatusCode)
		}
		return strings.ToLower(res.Header.Get("Set-Cookie"))
	}
	if c := login("", nil); !strings.Contains(c, "keyway_session=") || strings.Contains(c, "secure") {
		t.Errorf("over plain HTTP at %s: %q, want a session cookie that is not Secure", g.URL, c)
	}
	u, _ := url.Parse(PublicURL)
	if c := login(u.Host, nil); !strings.Contains(c, "; secure") {
		t.Errorf("for the host of the https public_url: %q, want Secure", c)
	}
	if c := login("", map[string]string{"X-Forwarded-Proto": "https"}); !strings.Contains(c, "; secure") {
		t.Errorf("behind a proxy that says https: %q, want Secure", c)
	}

	// A client that keeps Secure cookies to HTTPS, as most do but Go's
	// (which makes an exception for loopback), gets its pages.
	res, _ := dashDo(t, dashClient(t), http.MethodPost, g.URL+"/admin/login", url.Values{"token": {AdminToken}})
	var session *http.Cookie
	for _, c := range res.Cookies() {
		if c.Name == "keyway_session" && !c.Secure {
			session = c
		}
	}
	if session == nil {
		t.Fatalf("no session cookie a plain-HTTP client would send back: %v", res.Cookies())
	}
	req, _ := http.NewRequest(http.MethodGet, g.URL+"/admin/contacts", nil)
	req.AddCookie(session)
	res, err := dashClient(t).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Errorf("the contacts page with that cookie: %d", res.StatusCode)
	}
}

// TestDashboardLoginRefusedFromAnotherSite checks that a login posted from
// another site's page (login CSRF: a hidden form logging the victim in as
// the attacker) is refused, with no session, as the browser tells it
// (Sec-Fetch-Site) or, from a browser without that header, as its Origin
// does; while a login from the dashboard's own page, from the public_url a
// proxy serves it under, or from a script (neither header) still opens a
// session.
func TestDashboardLoginRefusedFromAnotherSite(t *testing.T) {
	t.Parallel()
	g := StartGateway(t, adminConfig)
	own := strings.TrimSuffix(g.URL, "/")
	login := func(headers map[string]string) (*http.Response, string) {
		req, err := http.NewRequest(http.MethodPost, g.URL+"/admin/login",
			strings.NewReader(url.Values{"token": {AdminToken}, "next": {"/admin/contacts"}}.Encode()))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		for k, v := range headers {
			req.Header.Set(k, v)
		}
		res, err := dashClient(t).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res, string(b)
	}
	for _, headers := range []map[string]string{
		{"Sec-Fetch-Site": "cross-site", "Origin": "https://attacker.example"},
		{"Sec-Fetch-Site": "same-site", "Origin": "https://evil.keyway.test"},
		{"Sec-Fetch-Site": "cross-site"},
		{"Origin": "https://attacker.example"}, // a browser without Sec-Fetch-Site
		{"Origin": "null"},                     // a sandboxed frame's form
	} {
		res, body := login(headers)
		if res.StatusCode != http.StatusForbidden || len(res.Cookies()) != 0 || !strings.Contains(body, "sent from another site") {
			t.Errorf("login with %v: %d, cookies %v, want 403 with no session and the reason:\n%s", headers, res.StatusCode, res.Cookies(), body)
		}
	}
	if !strings.Contains(g.Logs(), "login refused: it was posted from another site") {
		t.Errorf("the refusals are not logged:\n%s", g.Logs())
	}
	for _, headers := range []map[string]string{
		{"Sec-Fetch-Site": "same-origin", "Origin": own},
		{"Origin": own},
		{"Origin": PublicURL}, // through the proxy that serves public_url
		{"Sec-Fetch-Site": "none"},
		{}, // a script
	} {
		res, _ := login(headers)
		if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/admin/contacts" || len(res.Cookies()) != 1 {
			t.Errorf("login with %v: %d to %q, cookies %v, want 303 to the page with a session", headers, res.StatusCode, res.Header.Get("Location"), res.Cookies())
		}
	}
}
