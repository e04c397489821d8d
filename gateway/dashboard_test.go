package gateway

import (
	"fmt"
	"html"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/keyway-sms/keyway/automation/engine"
)

// dashConfig is a practice in Chicago: a signup that asks a question, and
// a help desk that forwards to a named staff member.
const dashConfig = `server:
  public_url: "https://sms.example.com"
admin:
  token: "admin-token-for-tests"
defaults:
  timezone: America/Chicago
staff:
  - { number: "+15550100100", name: "Sam Staff" }
providers:
  twilio:
    account_sid: "AC6e5d4c3b2a1908f7e6d5c4b3a2918070"
    auth_token: "2b1f0e9d8c7b6a5f4e3d2c1b0a9f8e7d"
    numbers:
      - { number: "+15005550006", channel: sms }
automations:
  - id: join
    keywords: [JOIN]
    steps:
      - { type: reply, text: "Welcome to Acme!" }
      - { type: wait_for_reply, timeout: 24h, save_as: name, on_timeout: bye }
      - { type: reply, text: "Thanks!" }
      - { id: bye, type: end }
  - id: desk
    keywords: [DESK]
    steps:
      - { type: forward_to_mobile, to: ["+15550100100"] }
`

// dash is a logged-in dashboard session on a test gateway.
type dash struct {
	tg     *testGateway
	cookie string
	csrf   string
}

func newDash(t *testing.T, src string) *dash {
	t.Helper()
	d := &dash{tg: newGatewayWith(t, src)}
	res := d.do(http.MethodPost, "/admin/login", url.Values{"token": {adminToken}, "next": {"/admin/automations"}})
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("login: %d %s", res.StatusCode, readBody(t, res))
	}
	for _, c := range res.Cookies() {
		if c.Name == sessionCookie {
			d.cookie = c.Value
		}
	}
	page := d.get("/admin/automations")
	m := regexp.MustCompile(`name="csrf" value="([0-9a-f]+)"`).FindStringSubmatch(page)
	if d.cookie == "" || m == nil {
		t.Fatalf("no session after login:\n%s", page)
	}
	d.csrf = m[1]
	return d
}

func (d *dash) do(method, path string, form url.Values) *http.Response {
	d.tg.t.Helper()
	var req *http.Request
	if form != nil {
		req = httptest.NewRequest(method, path, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	} else {
		req = httptest.NewRequest(method, path, nil)
	}
	if d.cookie != "" {
		req.AddCookie(&http.Cookie{Name: sessionCookie, Value: d.cookie})
	}
	res, err := d.tg.g.app.Test(req, -1)
	if err != nil {
		d.tg.t.Fatalf("%s %s: %v", method, path, err)
	}
	return res
}

// get returns a page that must answer 200.
func (d *dash) get(path string) string {
	d.tg.t.Helper()
	res := d.do(http.MethodGet, path, nil)
	body := readBody(d.tg.t, res)
	if res.StatusCode != http.StatusOK {
		d.tg.t.Fatalf("GET %s: %d\n%s", path, res.StatusCode, body)
	}
	return body
}

// text is what a page shows: its HTML without tags and attributes.
func text(page string) string {
	return strings.Join(strings.Fields(html.UnescapeString(regexp.MustCompile(`<[^>]*>`).ReplaceAllString(page, " "))), " ")
}

// inbound posts a signed SMS from phone to our number.
func (d *dash) inbound(sid, phone, body string) {
	d.tg.t.Helper()
	form := url.Values{"MessageSid": {sid}, "AccountSid": {testSID}, "From": {phone}, "To": {ourSMS}, "Body": {body}}
	res := d.tg.post(inboundURL, form.Encode(), signed)
	if res.StatusCode != http.StatusOK {
		d.tg.t.Fatalf("webhook %s: %d %s", body, res.StatusCode, readBody(d.tg.t, res))
	}
}

func (d *dash) name(phone, name string) {
	d.tg.t.Helper()
	err := d.tg.store.Update(d.tg.t.Context(), func(tx engine.Tx) error {
		c, err := tx.Contact(phone)
		if err != nil {
			return err
		}
		c.Name = name
		return tx.PutContact(c)
	})
	if err != nil {
		d.tg.t.Fatal(err)
	}
}

// TestDashboardSpeaksToPeople checks what the pages say: times in
// defaults.timezone with the zone's abbreviation, contacts by name, staff
// marked, statuses in words, attempts counted only when more than one,
// and a timeline that reads like a chat with forwards set apart.
func TestDashboardSpeaksToPeople(t *testing.T) {
	d := newDash(t, dashConfig)
	d.inbound("SM0000000000000000000000000000a001", customer, "JOIN")
	d.inbound("SM0000000000000000000000000000a002", customer, "DESK please")
	d.inbound("SM0000000000000000000000000000a003", "+15550100100", "on it")
	d.tg.settled()
	d.name(customer, "Ann Lee")

	enrollments := text(d.get("/admin/enrollments"))
	for _, want := range []string{"Ann Lee", "waiting for a reply", "CST"} {
		if !strings.Contains(enrollments, want) {
			t.Errorf("enrollments page lacks %q:\n%s", want, enrollments)
		}
	}
	for _, bad := range []string{"waiting_reply", "UTC"} {
		if strings.Contains(enrollments, bad) {
			t.Errorf("enrollments page shows %q:\n%s", bad, enrollments)
		}
	}

	log := text(d.get("/admin/messages"))
	for _, want := range []string{"Ann Lee", "forward to staff Sam Staff", "Sam Staff +15550100100 staff", "CST"} {
		if !strings.Contains(log, want) {
			t.Errorf("message log lacks %q:\n%s", want, log)
		}
	}
	for _, bad := range []string{"attempt(s)", "1 attempts", "UTC"} {
		if strings.Contains(log, bad) {
			t.Errorf("message log shows %q:\n%s", bad, log)
		}
	}

	contacts := text(d.get("/admin/contacts"))
	if !strings.Contains(contacts, "Sam Staff +15550100100 staff") {
		t.Errorf("the staff number is not marked as staff on the contacts page:\n%s", contacts)
	}

	page := d.get("/admin/contacts/" + url.PathEscape(customer))
	timeline := text(page[strings.Index(page, `id="timeline"`):])
	join, welcome, help := strings.Index(timeline, "JOIN"), strings.Index(timeline, "Welcome to Acme!"), strings.Index(timeline, "DESK please")
	if join < 0 || welcome < join || help < welcome {
		t.Errorf("the timeline is not oldest first (JOIN at %d, Welcome at %d, DESK at %d):\n%s", join, welcome, help, timeline)
	}
	if !regexp.MustCompile(`(?s)<li class="msg fwd[^"]*" data-purpose="forward">\s*<div class="meta">forwarded to staff <span class="name">Sam Staff</span>`).MatchString(page) {
		t.Errorf("the forward to staff is not set apart from messages to the contact:\n%s", page)
	}
	if !strings.Contains(timeline, "from the contact") || !strings.Contains(timeline, "to the contact") {
		t.Errorf("the timeline does not say which way each message went:\n%s", timeline)
	}
}

// TestDashboardAttemptsInWords counts a send's attempts only past one.
func TestDashboardAttemptsInWords(t *testing.T) {
	for n, want := range map[int]string{0: "", 1: "", 2: "2 attempts", 12: "12 attempts"} {
		if got := attemptsWords(n); got != want {
			t.Errorf("attemptsWords(%d) = %q, want %q", n, got, want)
		}
	}
}

// TestDashboardCancelAsksFirst: the cancel button leads to a question; the
// enrollment ends only when the question's form is sent, and the page
// then says what was done.
func TestDashboardCancelAsksFirst(t *testing.T) {
	d := newDash(t, dashConfig)
	d.inbound("SM0000000000000000000000000000b001", customer, "JOIN")
	d.tg.settled()
	d.name(customer, "Ann Lee")
	var en *engine.Enrollment
	err := d.tg.store.View(t.Context(), func(tx engine.Tx) error {
		ens, err := tx.Enrollments("join", customer, true, 1)
		if err == nil && len(ens) == 1 {
			en = ens[0]
		}
		return err
	})
	if err != nil || en == nil {
		t.Fatalf("no active enrollment: %v", err)
	}
	cancel := "/admin/enrollments/" + url.PathEscape(en.ID) + "/cancel"
	if list := d.get("/admin/enrollments"); !strings.Contains(list, `href="`+cancel+`?back=`) || strings.Contains(list, `action="`+cancel+`"`) {
		t.Errorf("the enrollments page cancels at once instead of asking first:\n%s", list)
	}
	ask := d.get(cancel)
	if !strings.Contains(text(ask), "Cancel Ann Lee +14155552671 ’s enrollment in join") || !strings.Contains(ask, `action="`+cancel+`"`) {
		t.Errorf("the question page:\n%s", text(ask))
	}
	active := func() bool {
		var e *engine.Enrollment
		_ = d.tg.store.View(t.Context(), func(tx engine.Tx) error { e, _ = tx.Enrollment(en.ID); return nil })
		return e != nil && e.Active()
	}
	if !active() {
		t.Fatal("asking ended the enrollment")
	}
	if res := d.do(http.MethodPost, cancel, url.Values{"back": {"/admin/enrollments"}}); res.StatusCode != http.StatusForbidden || !active() {
		t.Fatalf("a cancel without the CSRF token: %d, active %v", res.StatusCode, active())
	}
	res := d.do(http.MethodPost, cancel, url.Values{"csrf": {d.csrf}, "back": {"/admin/enrollments"}})
	where := res.Header.Get("Location")
	if res.StatusCode != http.StatusSeeOther || !strings.HasPrefix(where, cancel+"?") || active() {
		t.Fatalf("cancel: %d to %q, active %v", res.StatusCode, where, active())
	}
	done := text(d.get(where))
	if !strings.Contains(done, "Cancelled Ann Lee +14155552671 ’s enrollment in join") || !strings.Contains(done, "cancelled in the dashboard") {
		t.Errorf("the page after the cancel does not say what it did:\n%s", done)
	}
	// Cancelling again says it had already ended.
	res = d.do(http.MethodPost, cancel, url.Values{"csrf": {d.csrf}})
	if again := text(d.get(res.Header.Get("Location"))); !strings.Contains(again, "had already ended") {
		t.Errorf("a second cancel:\n%s", again)
	}
}

// TestDashboardEnrollmentsPage pages through enrollments with a cursor,
// as the contacts and the message log do: every enrollment once.
func TestDashboardEnrollmentsPage(t *testing.T) {
	d := newDash(t, dashConfig)
	const n = dashPageSize + 7
	for i := range n {
		d.inbound(fmt.Sprintf("SM%032d", i), fmt.Sprintf("+1415555%04d", i), "JOIN")
	}
	d.tg.settled()
	row := regexp.MustCompile(`<tr data-enrollment="([^"]+)">`)
	more := regexp.MustCompile(`<a class="more" href="([^"]+)">`)
	seen := map[string]bool{}
	path, pages := "/admin/enrollments?automation=join", 0
	for path != "" {
		page := d.get(path)
		pages++
		for _, m := range row.FindAllStringSubmatch(page, -1) {
			if seen[m[1]] {
				t.Errorf("enrollment %s shown twice", m[1])
			}
			seen[m[1]] = true
		}
		path = ""
		if m := more.FindStringSubmatch(page); m != nil {
			path = strings.ReplaceAll(m[1], "&amp;", "&")
		}
		if pages > 5 {
			t.Fatal("the pages do not end")
		}
	}
	if len(seen) != n || pages != 2 {
		t.Errorf("%d enrollments on %d pages, want %d on 2", len(seen), pages, n)
	}
	if res := d.do(http.MethodGet, "/admin/enrollments?cursor=bm9wZQ", nil); !strings.Contains(readBody(t, res), "not a cursor this page gave") {
		t.Error("a bad cursor is not named")
	}
}

// TestDashboardOffSaysHowToTurnItOn: without admin.token the dashboard is
// a page that says how to turn it on, not JSON.
func TestDashboardOffSaysHowToTurnItOn(t *testing.T) {
	d := &dash{tg: newGatewayWith(t, strings.Replace(dashConfig, `  token: "admin-token-for-tests"`, `  token: ""`, 1))}
	res := d.do(http.MethodGet, "/admin/", nil)
	body := readBody(t, res)
	if res.StatusCode != http.StatusNotFound || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("/admin/ with no token: %d %s", res.StatusCode, res.Header.Get("Content-Type"))
	}
	// A variable exported after keyway started is not seen by a reload:
	// the page must not send a newcomer to reload for it.
	for _, want := range []string{"The dashboard is off", "admin.token", "KEYWAY_ADMIN_TOKEN", "start keyway again", "not a variable exported since"} {
		if !strings.Contains(body, want) {
			t.Errorf("the page lacks %q:\n%s", want, body)
		}
	}
	if res := d.do(http.MethodGet, "/admin/style.css", nil); res.StatusCode != http.StatusOK {
		t.Errorf("the off page's stylesheet: %d", res.StatusCode)
	}
}

// The message log's filters: a bad direction, status or cursor is named
// on the page, which lists nothing rather than what was not asked for; a
// status keyway records, even one no message holds yet, is a filter.
func TestDashboardMessagesBadFilters(t *testing.T) {
	d := newDash(t, dashConfig)
	d.inbound("SM0000000000000000000000000000b001", customer, "JOIN")
	d.tg.settled()
	for _, c := range []struct{ query, problem string }{
		{"direction=sideways", "direction: must be in or out"},
		{"status=bogus", "status: must be a message status (received, queued"},
		{"status=failed&cursor=garbage", "cursor: not a cursor this page gave"},
		{"cursor=" + encodeCursor("+15550001111"), "cursor: not a cursor this page gave"},
	} {
		page := d.get("/admin/messages?" + c.query)
		if !strings.Contains(page, `<p class="problem">`+c.problem) || strings.Contains(page, `id="messages"`) {
			t.Errorf("%s: the page does not say %q, or lists messages:\n%s", c.query, c.problem, text(page))
		}
	}
	for query, listed := range map[string]bool{"status=received": true, "status=accepted": false, "status=failed": false} {
		page := d.get("/admin/messages?" + query)
		if strings.Contains(page, `class="problem"`) || strings.Contains(page, `id="messages"`) != listed {
			t.Errorf("%s: listed %v, want %v, or a problem:\n%s", query, !listed, listed, text(page))
		}
	}
}

// TestDashboardAutomationIDsInPaths reaches an automation whose id needs
// escaping in a path (a space, an accent) by its escaped link, pauses it
// and resumes it there and starts it through the API; a page for an id that does not
// exist names the id as written, not escaped.
func TestDashboardAutomationIDsInPaths(t *testing.T) {
	d := newDash(t, strings.Replace(dashConfig, "  - id: desk\n", `  - id: "spring sale"
    steps:
      - { type: reply, text: "Spring is here" }
  - id: desk
`, 1))
	self := "/admin/automations/" + url.PathEscape("spring sale")
	if page := text(d.get(self)); !strings.Contains(page, "Automation spring sale") {
		t.Errorf("the page of the automation spring sale:\n%s", page)
	}
	res := d.do(http.MethodPost, self+"/pause", url.Values{"csrf": {d.csrf}, "paused": {"1"}})
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != self {
		t.Errorf("pause spring sale: %d to %q, want 303 to %q", res.StatusCode, res.Header.Get("Location"), self)
	}
	if page := text(d.get(self)); !strings.Contains(page, "paused") {
		t.Errorf("spring sale after the pause:\n%s", page)
	}
	if res := d.do(http.MethodPost, self+"/pause", url.Values{"csrf": {d.csrf}, "paused": {"0"}}); res.StatusCode != http.StatusSeeOther {
		t.Errorf("resume spring sale: %d", res.StatusCode)
	}

	res = d.do(http.MethodGet, "/admin/automations/"+url.PathEscape("café x"), nil)
	if page := text(readBody(t, res)); res.StatusCode != http.StatusNotFound || !strings.Contains(page, "no automation café x") {
		t.Errorf("a page for no automation: %d\n%s", res.StatusCode, page)
	}

	req := httptest.NewRequest(http.MethodPost, "/api/v1/automations/"+url.PathEscape("spring sale")+"/enrollments",
		strings.NewReader(`{"contacts": ["+14155552671"]}`))
	req.Header.Set("Authorization", "Bearer "+adminToken)
	api, err := d.tg.g.app.Test(req, -1)
	if err != nil {
		t.Fatal(err)
	}
	if body := readBody(t, api); api.StatusCode != http.StatusAccepted {
		t.Errorf("start spring sale through the API: %d %s", api.StatusCode, body)
	}
}

// TestDashboardSaysAReportedFailureInWords shows a delivery report that
// gives Twilio's error code alone by the code's name and the code, on the
// message log and the contact's timeline.
func TestDashboardSaysAReportedFailureInWords(t *testing.T) {
	d := newDash(t, dashConfig)
	d.inbound("SM0000000000000000000000000000c001", customer, "JOIN")
	msgs := d.tg.settled()
	reply := msgs[len(msgs)-1]
	form := url.Values{"MessageSid": {reply.ProviderID}, "AccountSid": {testSID}, "MessageStatus": {"undelivered"}, "ErrorCode": {"30003"},
		"From": {ourSMS}, "To": {customer}}
	if res := d.tg.post(statusURL+"?msg="+reply.ID, form.Encode(), signed); res.StatusCode != http.StatusOK {
		t.Fatalf("status callback: %d %s", res.StatusCode, readBody(t, res))
	}
	const want = "Unreachable destination handset (error 30003)"
	if log := text(d.get("/admin/messages?status=failed")); !strings.Contains(log, want) {
		t.Errorf("the message log does not say %q:\n%s", want, log)
	}
	if page := text(d.get("/admin/contacts/" + url.PathEscape(customer))); !strings.Contains(page, want) {
		t.Errorf("the contact's timeline does not say %q:\n%s", want, page)
	}
}

// TestDashboardFindsAWhatsAppAddress finds a contact by its WhatsApp
// address as Twilio's logs write it, in any case.
func TestDashboardFindsAWhatsAppAddress(t *testing.T) {
	d := newDash(t, dashConfig)
	d.inbound("SM0000000000000000000000000000d001", customer, "hello")
	d.tg.settled()
	for _, q := range []string{"whatsapp:" + customer, "WhatsApp:" + customer, "whatsapp: " + customer[2:]} {
		page := d.get("/admin/contacts?q=" + url.QueryEscape(q))
		if !strings.Contains(page, `href="/admin/contacts/`+url.PathEscape(customer)+`"`) && !strings.Contains(page, `href="/admin/contacts/&#43;`+customer[1:]+`"`) {
			t.Errorf("searching %q does not find %s:\n%s", q, customer, text(page))
		}
	}
}

// TestDashboardSaysWhatIsWrongWithAnAddress answers a page for an address
// that is no contact with what is wrong with it, in plain words.
func TestDashboardSaysWhatIsWrongWithAnAddress(t *testing.T) {
	d := newDash(t, dashConfig)
	for _, path := range []string{"/admin/inbox/", "/admin/contacts/", "/admin/contacts/%s/send"} {
		p := path + url.PathEscape("+1555")
		if strings.Contains(path, "%s") {
			p = fmt.Sprintf(path, url.PathEscape("+1555"))
		}
		res := d.do(http.MethodGet, p, nil)
		page := text(readBody(t, res))
		if res.StatusCode != http.StatusBadRequest || !strings.Contains(page, `"+1555" is not a phone number`) || strings.Contains(page, "config:") {
			t.Errorf("GET %s: %d\n%s", p, res.StatusCode, page)
		}
	}
}
