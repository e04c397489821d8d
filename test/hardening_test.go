package test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/keyway-sms/keyway/test/fakes"
)

// rawRequest sends head (request line and headers, without the blank
// line) and then sent bytes of body on a fresh connection to base, and
// reads the answer's status line and headers: it does not send the rest of
// the body the headers announce.
func rawRequest(t *testing.T, base, head string, sent int) (status int, closed bool) {
	t.Helper()
	return rawExchange(t, base, head+"\r\n\r\n"+strings.Repeat("x", sent), "no answer before the body was sent whole")
}

// rawExchange writes raw on a fresh connection to base and reads the
// answer's status line and headers; missing names what the test waited
// for when none comes.
func rawExchange(t *testing.T, base, raw, missing string) (status int, closed bool) {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := conn.SetDeadline(time.Now().Add(patience)); err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(conn, raw); err != nil {
		t.Fatal(err)
	}
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("%s: %v", missing, err)
	}
	res.Body.Close()
	return res.StatusCode, res.Close
}

// A body bigger than its route takes is refused from its Content-Length,
// before the server reads it: the client sends the headers and 8 KiB and
// 1 byte of a body announced as 2 MiB (over every route's limit, under the
// 5 MiB the server once read before answering), and gets 413 and a closed
// connection. (The server reads up to 8 KiB with the headers, so the
// answer never waits for more than this.) The admin routes take their own,
// bigger bodies, the webhooks do not.
func TestBodyRefusedBeforeItIsRead(t *testing.T) {
	t.Parallel()
	g := StartGateway(t, adminConfig)
	const big, sent = 2 << 20, 8<<10 + 1
	for _, path := range []string{"/webhooks/twilio", "/api/v1/contacts/+15552220090", "/admin/login", "/nowhere"} {
		method := http.MethodPost
		if strings.HasPrefix(path, "/api/") {
			method = http.MethodPut
		}
		head := fmt.Sprintf("%s %s HTTP/1.1\r\nHost: keyway\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: %d", method, path, big)
		code, closed := rawRequest(t, g.URL, head, sent)
		if code != http.StatusRequestEntityTooLarge || !closed {
			t.Errorf("%s %s with Content-Length %d: %d, connection closed %v; want 413 and close before the body is read", method, path, big, code, closed)
		}
	}
	// Over the webhooks' 64 KiB, under the admin API's 1 MiB: a contact
	// import with 200 KiB of JSON (the name padded with spaces).
	padded := `{"name": "Ann"` + strings.Repeat(" ", 200<<10) + `}`
	code, body := adminRaw(t, g.URL, http.MethodPut, "/api/v1/contacts/+15552220091", padded, bearer)
	if code != http.StatusOK && code != http.StatusCreated {
		t.Errorf("PUT a 200 KiB contact: %d %s, want 201", code, body)
	}
	if c := g.Contact("+15552220091"); c.Contact.Name != "Ann" {
		t.Errorf("contact after the big PUT: %+v", c.Contact)
	}
	// A compressed body could unpack to gigabytes: refused unread.
	code, _ = adminRaw(t, g.URL, http.MethodPut, "/api/v1/contacts/+15552220092", "x", map[string]string{
		"Authorization": "Bearer " + AdminToken, "Content-Type": "application/json", "Content-Encoding": "gzip"})
	if code != http.StatusUnsupportedMediaType {
		t.Errorf("a gzip body: %d, want 415", code)
	}
}

// rawChunked sends head (request line and headers, without the blank
// line) with Transfer-Encoding: chunked, then one chunk of sent bytes and
// never the last chunk, on a fresh connection to base, and reads the
// answer's status line and headers.
func rawChunked(t *testing.T, base, head string, sent int) (status int, closed bool) {
	t.Helper()
	chunk := fmt.Sprintf("%x\r\n%s\r\n", sent, strings.Repeat("x", sent))
	return rawExchange(t, base, head+"\r\nTransfer-Encoding: chunked\r\n\r\n"+chunk, "no answer before the chunked body ended")
}

// A chunked body to the admin API or the dashboard is read only once the
// request is known to come from an admin or a user: without the token or
// a session it is refused before the server reads it, so that nobody
// unknown can make keyway hold up to a route's limit (64 MiB for a
// contacts import) per connection. The client sends 64 KiB of a body it
// never ends; the refusal must come anyway, with the connection closed. A
// chunked body with the token, or with a session, is read and taken.
func TestChunkedBodyNotReadBeforeAuthentication(t *testing.T) {
	t.Parallel()
	g := StartGateway(t, adminConfig)
	const sent = 64 << 10
	for _, tc := range []struct {
		head string
		want int
	}{
		{"POST /admin/contacts/import HTTP/1.1\r\nHost: keyway\r\nContent-Type: multipart/form-data; boundary=b", http.StatusForbidden},
		{"PUT /api/v1/contacts/+15552220093 HTTP/1.1\r\nHost: keyway\r\nContent-Type: application/json", http.StatusUnauthorized},
		{"PUT /api/v1/contacts/+15552220093 HTTP/1.1\r\nHost: keyway\r\nContent-Type: application/json\r\nAuthorization: Bearer not-the-token", http.StatusUnauthorized},
		// The router takes a path in any case, with or without a
		// trailing slash: so does the check.
		{"PUT /API/V1/Contacts/+15552220093 HTTP/1.1\r\nHost: keyway\r\nContent-Type: application/json", http.StatusUnauthorized},
		{"POST /Admin/Contacts/Import/ HTTP/1.1\r\nHost: keyway\r\nContent-Type: multipart/form-data; boundary=b", http.StatusForbidden},
	} {
		code, closed := rawChunked(t, g.URL, tc.head, sent)
		if code != tc.want || !closed {
			t.Errorf("%s\nwith an unfinished chunked body: %d, connection closed %v; want %d and close before the body is read",
				strings.SplitN(tc.head, "\r\n", 2)[0], code, closed, tc.want)
		}
	}
	// With the token, a chunked body (of unknown length, as io.Reader
	// bodies go) is read and taken; over the API's 1 MiB it gets 413.
	put := func(body string) int {
		req, err := http.NewRequest(http.MethodPut, g.URL+"/api/v1/contacts/+15552220094", io.MultiReader(strings.NewReader(body)))
		if err != nil {
			t.Fatal(err)
		}
		if req.ContentLength != 0 {
			t.Fatalf("the request has a Content-Length (%d): it would not go chunked", req.ContentLength)
		}
		req.Header.Set("Authorization", "Bearer "+AdminToken)
		req.Header.Set("Content-Type", "application/json")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	if code := put(`{"name": "Chunky"}`); code != http.StatusCreated {
		t.Errorf("a chunked PUT with the token: %d, want 201", code)
	}
	if c := g.Contact("+15552220094"); c.Contact.Name != "Chunky" {
		t.Errorf("contact after the chunked PUT: %+v", c.Contact)
	}
	if code := put(`{"name": "` + strings.Repeat("a", 1<<20) + `"}`); code != http.StatusRequestEntityTooLarge {
		t.Errorf("a chunked PUT over 1 MiB with the token: %d, want 413", code)
	}
	// With a session, the dashboard reads a chunked form and finds its
	// CSRF token in it: logging out answers 303 to the login page.
	c, csrf := dashLogin(t, g)
	req, err := http.NewRequest(http.MethodPost, g.URL+"/admin/logout", io.MultiReader(strings.NewReader(url.Values{"csrf": {csrf}}.Encode())))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	res, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusSeeOther {
		t.Errorf("a chunked logout form with the session's CSRF token: %d, want 303", res.StatusCode)
	}
}

// server.max_connections caps the connections served at once: one more
// is answered 503, and served again once a connection closes.
func TestConnectionsCapped(t *testing.T) {
	t.Parallel()
	g := startWithServer(t, "  max_connections: 3\n", AdminToken, adminConfig)
	http.DefaultClient.CloseIdleConnections()
	var held []net.Conn
	defer func() {
		for _, c := range held {
			c.Close()
		}
	}()
	refused := false
	for i := 0; i < 8 && !refused; i++ {
		conn, err := net.Dial("tcp", strings.TrimPrefix(g.URL, "http://"))
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, conn)
		_ = conn.SetDeadline(time.Now().Add(patience))
		if _, err := io.WriteString(conn, "GET /healthz HTTP/1.1\r\nHost: keyway\r\n\r\n"); err != nil {
			t.Fatal(err)
		}
		res, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatalf("connection %d: %v", i+1, err)
		}
		res.Body.Close()
		switch res.StatusCode {
		case http.StatusOK: // kept alive: it holds its place
		case http.StatusServiceUnavailable:
			refused = true
			if i+1 > 3+1 {
				t.Errorf("the 503 came at connection %d, want by the 4th (the harness may hold one idle)", i+1)
			}
		default:
			t.Fatalf("connection %d: %d", i+1, res.StatusCode)
		}
	}
	if !refused {
		t.Fatalf("%d connections held open, none refused; want 503 past max_connections: 3", len(held))
	}
	for _, c := range held {
		c.Close()
	}
	held = nil
	Eventually(t, patience, "the gateway serving again once the connections closed", func() bool {
		res, err := http.Get(g.URL + "/healthz")
		if err != nil {
			return false
		}
		res.Body.Close()
		return res.StatusCode == http.StatusOK
	})
}

// Failed logins are slowed down per address: after 5, a try gets 429 with
// Retry-After, unchecked, even with the right token. A wrong API token is
// logged (without what was sent) and counted, and spends the same budget.
func TestFailedLoginsSlowedDown(t *testing.T) {
	t.Parallel()
	g := StartGateway(t, adminConfig)
	const guess = "wrong-token-guess-1234"
	code, _ := adminRaw(t, g.URL, http.MethodGet, "/api/v1/automations", "", map[string]string{"Authorization": "Bearer " + guess})
	if code != http.StatusUnauthorized {
		t.Fatalf("wrong API token: %d, want 401", code)
	}
	Eventually(t, patience, "the wrong API token logged", func() bool {
		return strings.Contains(g.Logs(), `"message":"admin token missing or wrong"`)
	})
	if strings.Contains(g.Logs(), guess) {
		t.Errorf("the log holds the token a client sent")
	}
	if v, _ := metricValue(scrape(t, g), `keyway_auth_failures_total{result="wrong",via="api"}`); v != 1 {
		t.Errorf("keyway_auth_failures_total{via=api,result=wrong} = %v, want 1", v)
	}

	c := dashClient(t)
	login := func(token string) *http.Response {
		res, _ := dashDo(t, c, http.MethodPost, g.URL+"/admin/login", url.Values{"token": {token}, "next": {"/admin/"}})
		return res
	}
	// 4 more failures spend the address's 5; the first of them may
	// still come back, slowly, so the 429 may take a few more tries.
	for i := 0; i < 4; i++ {
		if res := login(guess); res.StatusCode != http.StatusUnauthorized {
			t.Fatalf("wrong login %d: %d, want 401", i+2, res.StatusCode)
		}
	}
	var limited *http.Response
	for i := 0; i < 20 && limited == nil; i++ {
		if res := login(guess); res.StatusCode == http.StatusTooManyRequests {
			limited = res
		} else if res.StatusCode != http.StatusUnauthorized {
			t.Fatalf("wrong login: %d", res.StatusCode)
		}
	}
	if limited == nil {
		t.Fatal("25 wrong logins and no 429")
	}
	if s, err := strconv.Atoi(limited.Header.Get("Retry-After")); err != nil || s < 1 || s > 10 {
		t.Errorf("Retry-After %q, want 1 to 10 seconds", limited.Header.Get("Retry-After"))
	}
	// Until the next try is due, even the right token is not checked at
	// the login form.
	if res := login(AdminToken); res.StatusCode != http.StatusTooManyRequests || len(res.Cookies()) != 0 {
		t.Errorf("the right token while limited: %d, cookies %v; want 429 and no session", res.StatusCode, res.Cookies())
	}
	// The API's bearer token is another matter: the address may be a
	// proxy that others share, and a guesser must not lock out the
	// clients that hold the token. A wrong one is refused 401, as always.
	if code, _ := adminRaw(t, g.URL, http.MethodGet, "/api/v1/automations", "", bearer); code != http.StatusOK {
		t.Errorf("the API with the right token while the address is limited: %d, want 200", code)
	}
	wrong := map[string]string{"Authorization": "Bearer " + guess}
	if code, _ := adminRaw(t, g.URL, http.MethodGet, "/api/v1/automations", "", wrong); code != http.StatusUnauthorized {
		t.Errorf("the API with a wrong token while the address is limited at the login form: %d, want 401", code)
	}
}

// validate refuses an admin token shorter than 16 characters once Twilio
// credentials are set, and takes it in dev mode.
func TestValidateRefusesShortAdminToken(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	automations := "automations:\n  - id: hi\n    keywords: [HI]\n    steps:\n      - { type: reply, text: hi }\n"
	live := write("live.yaml", "admin:\n  token: \"a\"\nproviders:\n  twilio:\n    account_sid: AC123\n    auth_token: secret\n    numbers: [{ number: \"+15005550006\", channel: sms }]\n"+automations)
	code, out := Keyway(t, "", "validate", live)
	if code == 0 || !strings.Contains(out, "admin.token: too short to resist guessing (length 1)") {
		t.Errorf("validate with a 1-character token: exit %d\n%s", code, out)
	}
	dev := write("dev.yaml", "admin:\n  token: \"a\"\n"+automations)
	if code, out := Keyway(t, "", "validate", dev); code != 0 {
		t.Errorf("validate in dev mode with a short token: exit %d\n%s", code, out)
	}
}

// With PostgreSQL down, /readyz and the admin API say so in words a client
// may read, and the database's user, name, host and port stay in the log.
func TestPostgresOutageKeepsDetailsInTheLog(t *testing.T) {
	t.Parallel()
	proxy, u := proxiedDatabase(t)
	_, proxyPort, _ := net.SplitHostPort(proxy.Addr())
	g := startProcesses(t, 1, adminConfig, 0, u.String())[0]
	dbName := strings.TrimPrefix(u.Path, "/")

	proxy.Cut()
	// The pool's idle connections fail first ("conn closed"); later
	// probes dial, and the dial's error names the database: collect
	// enough answers to see both.
	var bodies []string
	Eventually(t, patience, "readyz 503 eight times with the database cut off", func() bool {
		code, body := get(t, g.URL+"/readyz")
		if code != http.StatusServiceUnavailable {
			bodies = nil
			return false
		}
		bodies = append(bodies, body)
		return len(bodies) >= 8
	})
	body := strings.Join(bodies, "\n")
	secrets := []string{"user=" + u.User.Username(), dbName, proxyPort, "127.0.0.1", "SELECT", "database="}
	leaks := func(what, text string) {
		for _, s := range secrets {
			if strings.Contains(text, s) {
				t.Errorf("%s names %q: %s", what, s, text)
			}
		}
	}
	leaks("readyz", body)
	if !strings.Contains(body, "storage unavailable") {
		t.Errorf("readyz does not say storage is unavailable: %s", body)
	}
	code, body := adminRaw(t, g.URL, http.MethodGet, "/api/v1/contacts", "", bearer)
	if code != http.StatusInternalServerError || !strings.Contains(body, "internal error") {
		t.Errorf("admin API with the database cut off: %d %s, want 500 internal error", code, body)
	}
	leaks("the admin API's 500", body)
	Eventually(t, patience, "the details in the log", func() bool {
		return strings.Contains(g.Logs(), `"message":"not ready: storage cannot commit"`) && strings.Contains(g.Logs(), "user="+u.User.Username())
	})
	proxy.Restore()
	Eventually(t, patience, "ready again once the database is back", func() bool {
		code, _ := get(t, g.URL+"/readyz")
		return code == http.StatusOK
	})
}

// Every answer says nosniff; the admin API's and the dashboard's say
// no-store.
func TestSecurityHeaders(t *testing.T) {
	t.Parallel()
	g := StartGateway(t, adminConfig)
	check := func(what string, res *http.Response, noStore bool) {
		t.Helper()
		if got := res.Header.Get("X-Content-Type-Options"); got != "nosniff" {
			t.Errorf("%s: X-Content-Type-Options %q, want nosniff", what, got)
		}
		if got := res.Header.Get("Cache-Control"); noStore && got != "no-store" {
			t.Errorf("%s: Cache-Control %q, want no-store", what, got)
		}
	}
	do := func(method, path string, headers map[string]string, body string) *http.Response {
		req, _ := http.NewRequest(method, g.URL+path, strings.NewReader(body))
		for k, v := range headers {
			req.Header.Set(k, v)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		return res
	}
	form := g.Form(Inbound{From: "+15552220093", Body: "hello"})
	code, _ := g.PostSigned("/webhooks/twilio", form)
	if code != http.StatusOK {
		t.Fatalf("webhook: %d", code)
	}
	check("webhook 403", do(http.MethodPost, "/webhooks/twilio", map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, "Body=x"), false)
	for _, path := range []string{"/healthz", "/readyz", "/nowhere"} {
		check("GET "+path, do(http.MethodGet, path, nil, ""), false)
	}
	check("GET /metrics", do(http.MethodGet, "/metrics", bearer, ""), false)
	check("API 200", do(http.MethodGet, "/api/v1/automations", bearer, ""), true)
	check("API 401", do(http.MethodGet, "/api/v1/automations", nil, ""), true)
	check("API 404", do(http.MethodGet, "/api/v1/contacts/+15559990000", bearer, ""), true)
	// The router takes a path in any case, with or without a trailing
	// slash: so do the headers.
	check("API 200 in capitals", do(http.MethodGet, "/API/V1/Automations/", bearer, ""), true)
	check("dashboard login", do(http.MethodGet, "/admin/login", nil, ""), true)
	check("dashboard style", do(http.MethodGet, "/admin/style.css", nil, ""), true)
}

// A POST's CSRF token counts from the form body or the X-CSRF-Token
// header, never from the query string.
func TestDashboardCSRFNotFromTheQuery(t *testing.T) {
	t.Parallel()
	g := StartGateway(t, adminConfig)
	c := dashClient(t)
	res, _ := dashDo(t, c, http.MethodPost, g.URL+"/admin/login", url.Values{"token": {AdminToken}, "next": {"/admin/automations"}})
	if res.StatusCode != http.StatusSeeOther || len(res.Cookies()) == 0 {
		t.Fatalf("login: %d", res.StatusCode)
	}
	session := res.Cookies()[0]
	send := func(method, path string, headers map[string]string, body string) (*http.Response, string) {
		req, _ := http.NewRequest(method, g.URL+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		for k, v := range headers {
			req.Header.Set(k, v)
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
	_, page := send(http.MethodGet, "/admin/automations", nil, "")
	m := regexp.MustCompile(`name="csrf" value="([0-9a-f]+)"`).FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no CSRF token on the page:\n%s", page)
	}
	if res, _ := send(http.MethodPost, "/admin/logout?csrf="+m[1], nil, ""); res.StatusCode != http.StatusForbidden {
		t.Errorf("logout with the CSRF token in the query string: %d, want 403", res.StatusCode)
	}
	if res, _ := send(http.MethodGet, "/admin/automations", nil, ""); res.StatusCode != http.StatusOK {
		t.Fatalf("the session did not survive a refused logout: %d", res.StatusCode)
	}
	if res, _ := send(http.MethodPost, "/admin/logout", map[string]string{"X-CSRF-Token": m[1]}, ""); res.StatusCode != http.StatusSeeOther {
		t.Errorf("logout with the CSRF token in the header: %d, want 303", res.StatusCode)
	}
	if res, _ := send(http.MethodGet, "/admin/automations", nil, ""); res.StatusCode != http.StatusSeeOther {
		t.Errorf("still logged in after logout: %d", res.StatusCode)
	}
}

// /metrics on the public listener answers only the admin token as a bearer
// token, and is off while there is none.
func TestMetricsOnThePublicListenerNeedTheToken(t *testing.T) {
	t.Parallel()
	g := StartGateway(t, adminConfig)
	if code, _ := adminRaw(t, g.URL, http.MethodGet, "/metrics", "", nil); code != http.StatusUnauthorized {
		t.Errorf("/metrics without a token: %d, want 401", code)
	}
	if code, body := adminRaw(t, g.URL, http.MethodGet, "/metrics", "", bearer); code != http.StatusOK || !strings.Contains(body, "keyway_build_info") {
		t.Errorf("/metrics with the token: %d", code)
	}
	off := startWithServer(t, "", "", adminConfig)
	if code, _ := adminRaw(t, off.URL, http.MethodGet, "/metrics", "", nil); code != http.StatusNotFound {
		t.Errorf("/metrics without admin.token: %d, want 404", code)
	}
}

// A SIGHUP while keyway starts (here: while it waits for its database) is
// held, then acted on once keyway is ready, instead of killing it.
func TestSIGHUPWhileStartingIsHeld(t *testing.T) {
	t.Parallel()
	proxy, u := proxiedDatabase(t)
	proxy.Hold()
	g := &Gateway{t: t, Dir: t.TempDir(), Twilio: fakes.NewTwilio(t), postgres: u.String()}
	g.Config = filepath.Join(g.Dir, "keyway.yaml")
	g.WriteConfig(adminConfig)
	g.launch()
	t.Cleanup(g.Stop)
	select {
	case <-proxy.Accepted(): // keyway is opening storage: not ready yet
	case <-time.After(patience):
		t.Fatalf("keyway never connected to its database:\n%s", g.Logs())
	}
	g.Signal(syscall.SIGHUP)
	proxy.Release()
	g.waitReady() // fails the test if the SIGHUP ended keyway
	Eventually(t, patience, "the held SIGHUP acted on once ready", func() bool {
		return strings.Contains(g.Logs(), "SIGHUP: reloading config")
	})
}

// http.allow_hosts with a port allows that port only, also after a
// redirect; a bare name allows every port.
func TestHTTPStepAllowHostsPort(t *testing.T) {
	t.Parallel()
	other := newHTTPSink(t)
	_, otherPort, _ := net.SplitHostPort(strings.TrimPrefix(other.srv.URL, "http://"))
	allowed := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/hop" {
			http.Redirect(w, r, "http://localhost:"+otherPort+"/secret", http.StatusFound)
			return
		}
		_, _ = io.WriteString(w, "ok")
	}))
	t.Cleanup(allowed.Close)
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(allowed.URL, "http://"))
	g := StartGateway(t, `
http: { allow_hosts: ["localhost:`+port+`"] }
automations:
  - id: call
    keywords: [CALL]
    steps:
      - { type: http, url: "http://localhost:`+port+`/ok", on_error: sorry }
      - { type: reply, text: "ok {{ http.status }}", next: end }
      - { id: sorry, type: reply, text: "refused: {{ http.error }}" }
  - id: hop
    keywords: [HOP]
    steps:
      - { type: http, url: "http://localhost:`+port+`/hop", on_error: sorry }
      - { type: reply, text: "ok {{ http.status }}", next: end }
      - { id: sorry, type: reply, text: "refused: {{ http.error }}" }
  - id: direct
    keywords: [DIRECT]
    steps:
      - { type: http, url: "http://localhost:`+otherPort+`/direct", on_error: sorry }
      - { type: reply, text: "ok {{ http.status }}", next: end }
      - { id: sorry, type: reply, text: "refused: {{ http.error }}" }
`)
	g.Text(Inbound{From: "+15552220094", Body: "CALL"})
	g.Text(Inbound{From: "+15552220095", Body: "HOP"})
	g.Text(Inbound{From: "+15552220096", Body: "DIRECT"})
	if got := repliesTo(t, g, "+15552220094", 1); got[0] != "ok 200" {
		t.Errorf("the allowed port: %q", got[0])
	}
	for _, to := range []string{"+15552220095", "+15552220096"} {
		if got := repliesTo(t, g, to, 1); !strings.Contains(got[0], "refused by the address guard") {
			t.Errorf("%s: another port of an allowed host: %q, want refused", to, got[0])
		}
	}
	if reqs := other.received(); len(reqs) != 0 {
		t.Errorf("the port not allowed was reached: %+v", reqs)
	}
}

// A client that asks the admin API without any token guesses nothing: it
// gets 401 every time, however often. One with a wrong token gets 401
// every time too (the right token would pass anyway, so a 429 would guard
// nothing), is logged while its address has budget and counted as limited
// after; and wrong API tokens never keep the address from logging in to
// the dashboard.
func TestAdminAPIWithoutTokenIsNeverSlowedDown(t *testing.T) {
	t.Parallel()
	g := StartGateway(t, adminConfig)
	routes := [][2]string{{http.MethodGet, "/api/v1/automations"}, {http.MethodGet, "/api/v1/enrollments"}, {http.MethodGet, "/api/v1/contacts"},
		{http.MethodGet, "/api/v1/messages"}, {http.MethodGet, "/api/v1/handoffs"}, {http.MethodPost, "/api/v1/reload"},
		{http.MethodDelete, "/api/v1/enrollments/x"}, {http.MethodGet, "/api/v1/broadcasts"}, {http.MethodGet, "/metrics"}}
	for range 2 {
		for _, r := range routes {
			if code, body := adminRaw(t, g.URL, r[0], r[1], "", nil); code != http.StatusUnauthorized {
				t.Fatalf("%s %s without a token: %d %s, want 401", r[0], r[1], code, body)
			}
		}
	}
	if v, _ := metricValue(scrape(t, g), `keyway_auth_failures_total{result="missing",via="api"}`); v != 16 {
		t.Errorf(`keyway_auth_failures_total{via="api",result="missing"} = %v, want 16`, v)
	}
	// A wrong token on every route, twice over: 401 each time.
	wrong := map[string]string{"Authorization": "Bearer wrong-token-guess-5678"}
	for range 2 {
		for _, r := range routes {
			if code, body := adminRaw(t, g.URL, r[0], r[1], "", wrong); code != http.StatusUnauthorized {
				t.Fatalf("%s %s with a wrong token: %d %s, want 401", r[0], r[1], code, body)
			}
		}
	}
	m := scrape(t, g)
	var wrongs, limited float64
	for _, via := range []string{"api", "metrics"} {
		w, _ := metricValue(m, `keyway_auth_failures_total{result="wrong",via="`+via+`"}`)
		l, _ := metricValue(m, `keyway_auth_failures_total{result="limited",via="`+via+`"}`)
		wrongs, limited = wrongs+w, limited+l
	}
	// The budget comes back one try in 10 s, so a slow run may log one or
	// two more than the first five.
	if wrongs < 5 || wrongs > 7 || wrongs+limited != 18 {
		t.Errorf("wrong tokens counted %v wrong and %v limited; want 18 in all, about 5 of them wrong (logged)", wrongs, limited)
	}
	if n := strings.Count(g.Logs(), "admin token missing or wrong"); float64(n) != wrongs {
		t.Errorf("%d wrong tokens logged, want %v (the ones counted wrong)", n, wrongs)
	}
	// The address may still log in to the dashboard.
	res, _ := dashDo(t, dashClient(t), http.MethodPost, g.URL+"/admin/login", url.Values{"token": {AdminToken}, "next": {"/admin/"}})
	if res.StatusCode != http.StatusSeeOther || len(res.Cookies()) == 0 {
		t.Errorf("dashboard login with the right token after wrong API tokens: %d, want 303 and a session", res.StatusCode)
	}
}
