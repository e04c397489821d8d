package gateway

import (
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/keyway-sms/keyway/automation/engine"
	"github.com/keyway-sms/keyway/automation/store/mem"
	"github.com/keyway-sms/keyway/config"
)

// usersConfig is dashConfig with two users: Ann the admin, Bob of staff.
func usersConfig(t *testing.T) string {
	t.Helper()
	hash := func(pw string) string {
		h, err := bcrypt.GenerateFromPassword([]byte(pw), bcrypt.MinCost) // cheap: only a warning
		if err != nil {
			t.Fatal(err)
		}
		return string(h)
	}
	users := "  users:\n" +
		"    - { name: Ann, password_hash: \"" + hash("ann's password") + "\", role: admin }\n" +
		"    - { name: Bob, password_hash: \"" + hash("bob's password") + "\", role: staff }\n"
	return strings.Replace(dashConfig, "  token: \"admin-token-for-tests\"\n", "  token: \"admin-token-for-tests\"\n"+users, 1)
}

// loginAs logs in to tg's dashboard with form, and returns the session
// (empty cookie when the login failed) and the answer's status.
func loginAs(tg *testGateway, form url.Values) (*dash, int) {
	tg.t.Helper()
	d := &dash{tg: tg}
	form.Set("next", "/admin/contacts")
	res := d.do(http.MethodPost, "/admin/login", form)
	readBody(tg.t, res)
	for _, c := range res.Cookies() {
		if c.Name == sessionCookie {
			d.cookie = c.Value
		}
	}
	if d.cookie != "" {
		m := regexp.MustCompile(`name="csrf" value="([0-9a-f]+)"`).FindStringSubmatch(d.get("/admin/contacts"))
		if m == nil {
			tg.t.Fatal("no CSRF token on the contacts page")
		}
		d.csrf = m[1]
	}
	return d, res.StatusCode
}

// Staff see the contacts, the messages and the handoffs, and neither the
// admin pages nor their links nor cancel buttons: an admin page or action
// answers 403. Admins (a user or the token) reach everything.
func TestRolesOnTheDashboard(t *testing.T) {
	tg := newGatewayWith(t, usersConfig(t))
	bob, code := loginAs(tg, url.Values{"user": {"Bob"}, "password": {"bob's password"}})
	if code != http.StatusSeeOther || bob.cookie == "" {
		t.Fatalf("Bob's login: %d", code)
	}
	ann, _ := loginAs(tg, url.Values{"user": {"Ann"}, "password": {"ann's password"}})
	token, _ := loginAs(tg, url.Values{"token": {adminToken}}) // the form before users came
	if ann.cookie == "" || token.cookie == "" {
		t.Fatal("Ann or the token could not log in")
	}
	ann.inbound("SM0000000000000000000000000000b001", customer, "JOIN")

	for _, path := range []string{"/admin/contacts", "/admin/messages", "/admin/handoffs", "/admin/inbox"} {
		page := bob.get(path)
		if strings.Contains(page, `href="/admin/automations"`) || strings.Contains(page, `href="/admin/reload"`) {
			t.Errorf("staff see admin links on %s", path)
		}
		if !strings.Contains(text(page), "Bob staff") {
			t.Errorf("%s does not say who is logged in:\n%s", path, text(page))
		}
	}
	for _, path := range []string{"/admin/automations", "/admin/automations/join", "/admin/enrollments", "/admin/enrollments/x/cancel", "/admin/reload", "/admin/overview", "/admin/start"} {
		res := bob.do(http.MethodGet, path, nil)
		if body := text(readBody(t, res)); res.StatusCode != http.StatusForbidden || !strings.Contains(body, "only an admin may do this; you are logged in as Bob (staff)") {
			t.Errorf("staff GET %s: %d %s; want 403 saying why", path, res.StatusCode, body)
		}
		for _, admin := range []*dash{ann, token} {
			if res := admin.do(http.MethodGet, path, nil); res.StatusCode == http.StatusForbidden {
				t.Errorf("admin GET %s: 403", path)
			}
		}
	}
	res := bob.do(http.MethodPost, "/admin/enrollments/x/cancel", url.Values{"csrf": {bob.csrf}})
	if res.StatusCode != http.StatusForbidden {
		t.Errorf("staff cancel with the CSRF token: %d, want 403", res.StatusCode)
	}
	for _, path := range []string{"/admin/start/confirm", "/admin/start", "/admin/reload", "/admin/broadcasts/x/cancel"} {
		form := url.Values{"csrf": {bob.csrf}, "automation": {"join"}, "target": {"contact"}, "contact": {customer}}
		if res := bob.do(http.MethodPost, path, form); res.StatusCode != http.StatusForbidden {
			t.Errorf("staff POST %s with the CSRF token: %d, want 403", path, res.StatusCode)
		}
	}
	if res := ann.do(http.MethodPost, "/admin/enrollments/x/cancel", url.Values{"csrf": {ann.csrf}}); res.StatusCode != http.StatusNotFound {
		t.Errorf("admin cancel of no enrollment: %d, want 404", res.StatusCode)
	}
	// Ann cancels the enrollment; the records and the pages say she did.
	ens := regexp.MustCompile(`data-enrollment="([0-9a-f]+)"`).FindStringSubmatch(ann.get("/admin/contacts/" + url.PathEscape(customer)))
	if ens == nil {
		t.Fatal("no enrollment on the contact's page")
	}
	if page := bob.get("/admin/contacts/" + url.PathEscape(customer)); strings.Contains(page, "/cancel") || strings.Contains(page, "/admin/start") {
		t.Error("staff see a cancel or start button on the contact's page")
	}
	if res := ann.do(http.MethodPost, "/admin/enrollments/"+ens[1]+"/cancel", url.Values{"csrf": {ann.csrf}}); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("Ann's cancel: %d", res.StatusCode)
	}
	if page := text(ann.get("/admin/contacts/" + url.PathEscape(customer))); !strings.Contains(page, "ended by Ann") {
		t.Errorf("the contact's page does not say Ann ended the enrollment:\n%s", page)
	}
	if page := text(ann.get("/admin/enrollments/" + ens[1] + "/cancel?done=cancelled")); !strings.Contains(page, "cancelled by Ann") {
		t.Errorf("the cancel page does not say Ann cancelled:\n%s", page)
	}
	if res := bob.do(http.MethodGet, "/admin/", nil); res.Header.Get("Location") != "/admin/inbox" {
		t.Errorf("staff's home: %d to %q, want the inbox", res.StatusCode, res.Header.Get("Location"))
	}
	if res := ann.do(http.MethodGet, "/admin/", nil); res.Header.Get("Location") != "/admin/overview" {
		t.Errorf("admin's home: %d to %q, want the overview", res.StatusCode, res.Header.Get("Location"))
	}
	if page := ann.get("/admin/contacts"); !strings.Contains(page, `href="/admin/automations"`) || !strings.Contains(text(page), "Ann admin") {
		t.Errorf("an admin user's page lacks the admin links or their name:\n%s", text(page))
	}
	if page := token.get("/admin/contacts"); !strings.Contains(text(page), "admin admin") {
		t.Errorf("the token's page does not say it is the admin:\n%s", text(page))
	}
}

// A wrong password, an unknown user and a user name with the token are
// refused alike; a user's failures slow down that user whatever the
// address, and a right password is not even checked while they wait.
func TestUserLoginFailures(t *testing.T) {
	tg := newGatewayWith(t, usersConfig(t))
	frozen := time.Now() // no budget comes back while the test runs, however slowly
	tg.g.logins = newFailedLogins(func() time.Time { return frozen })
	for _, form := range []url.Values{
		{"user": {"Bob"}, "password": {"wrong"}},
		{"user": {"Nobody"}, "password": {"bob's password"}},
		{"user": {"Bob"}, "password": {adminToken}},
		{"user": {"bob"}, "password": {"wrong"}}, // Bob's, in another case
		{"password": {"bob's password"}},         // no name: the token
	} {
		if d, code := loginAs(tg, form); code != http.StatusUnauthorized || d.cookie != "" {
			t.Errorf("login %v: %d, cookie %q; want 401 and no session", form, code, d.cookie)
		}
	}
	// Spend the rest of the address's budget and Bob's: both wait.
	tg.g.logins.failed(addrKey("0.0.0.0"), userKey("Bob"), userKey("Bob"), userKey("Bob"))
	if _, code := loginAs(tg, url.Values{"user": {"Bob"}, "password": {"bob's password"}}); code != http.StatusTooManyRequests {
		t.Fatalf("Bob out of budget, right password: %d, want 429", code)
	}
	// A new address (its budget forgotten): Bob still waits, Ann does not.
	tg.g.logins.mu.Lock()
	for k := range tg.g.logins.by {
		if strings.HasPrefix(k, "addr ") {
			delete(tg.g.logins.by, k)
		}
	}
	tg.g.logins.mu.Unlock()
	res := (&dash{tg: tg}).do(http.MethodPost, "/admin/login", url.Values{"user": {"Bob"}, "password": {"bob's password"}})
	if body := text(readBody(t, res)); res.StatusCode != http.StatusTooManyRequests || res.Header.Get("Retry-After") == "" ||
		!strings.Contains(body, "Too many failed logins as Bob or from your address: try again in") {
		t.Errorf("Bob from a fresh address: %d %s; want 429 with Retry-After, saying why", res.StatusCode, body)
	}
	if d, code := loginAs(tg, url.Values{"user": {"Ann"}, "password": {"ann's password"}}); code != http.StatusSeeOther || d.cookie == "" {
		t.Errorf("Ann from that address: %d, want a session", code)
	}
}

// A user logs in by name in any case ("ANN" is Ann, as no two names
// differ by case alone), acts under the name as the file writes it, and a
// guesser gets one failed-login budget per user however the name is
// written.
func TestUserNameInAnyCase(t *testing.T) {
	tg := newGatewayWith(t, usersConfig(t))
	frozen := time.Now()
	tg.g.logins = newFailedLogins(func() time.Time { return frozen })
	d, code := loginAs(tg, url.Values{"user": {"ANN"}, "password": {"ann's password"}})
	if code != http.StatusSeeOther || d.cookie == "" {
		t.Fatalf("login as ANN: %d, want a session", code)
	}
	if page := d.get("/admin/contacts"); !strings.Contains(page, `id="whoami">Ann <span`) {
		t.Errorf("the session of ANN should act as Ann:\n%s", page)
	}
	for _, name := range []string{"bob", "BOB", "bOb", "Bob", "boB"} {
		if _, code := loginAs(tg, url.Values{"user": {name}, "password": {"wrong"}}); code != http.StatusUnauthorized {
			t.Fatalf("wrong password as %s: %d, want 401", name, code)
		}
	}
	tg.g.logins.mu.Lock()
	for k := range tg.g.logins.by {
		if strings.HasPrefix(k, "addr ") {
			delete(tg.g.logins.by, k)
		}
	}
	tg.g.logins.mu.Unlock()
	if _, code := loginAs(tg, url.Values{"user": {"Bob"}, "password": {"bob's password"}}); code != http.StatusTooManyRequests {
		t.Errorf("Bob after five failures written five ways: %d, want 429", code)
	}
}

// A session stands on its user's password hash (or the token): a config
// without the user, or with a new hash, ends it; a new role applies at
// the next request; pruning (what a reload does) drops the dead ones.
func TestSessionsFollowTheConfig(t *testing.T) {
	ctx := t.Context()
	ann := config.User{Name: "Ann", PasswordHash: "$2a$04$one", Role: config.RoleAdmin}
	admin := config.Admin{Token: "t", Users: []config.User{ann}}
	s := sessions{store: mem.NewMemStore()}
	get := func(id string, admin config.Admin) *session {
		t.Helper()
		se, err := s.get(ctx, id, admin)
		if err != nil {
			t.Fatal(err)
		}
		return se
	}
	open := func(admin config.Admin, user string) string {
		t.Helper()
		id, err := s.open(ctx, admin, user)
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	id := open(admin, "Ann")
	tokenID := open(admin, "")
	if got := get(id, admin); got == nil || got.csrf != csrfOf(id) || sessionActor(got, admin) != (Actor{"Ann", config.RoleAdmin}) {
		t.Fatalf("get = %+v", got)
	}
	if got := get(tokenID, admin); got == nil || got.csrf == csrfOf(id) {
		t.Fatalf("the token's session: %+v", got)
	}
	demoted := config.Admin{Token: "t", Users: []config.User{{Name: "Ann", PasswordHash: ann.PasswordHash, Role: config.RoleStaff}}}
	if a := sessionActor(get(id, demoted), demoted); a.IsAdmin() {
		t.Errorf("Ann demoted to staff acts as %+v", a)
	}
	rehashed := config.Admin{Token: "t", Users: []config.User{{Name: "Ann", PasswordHash: "$2a$04$two", Role: config.RoleAdmin}}}
	if n, err := s.prune(ctx, rehashed); err != nil || n != 1 || get(id, admin) != nil {
		t.Errorf("after a new password hash: pruned %d (%v), session %v; want Ann's ended", n, err, get(id, admin))
	}
	if get(tokenID, rehashed) == nil {
		t.Error("the token's session ended with Ann's password")
	}
	id = open(admin, "Ann")
	if get(id, config.Admin{Token: "t"}) != nil {
		t.Error("Ann's session lives on with Ann removed")
	}
	if get(tokenID, config.Admin{Token: "u", Users: admin.Users}) != nil {
		t.Error("the token's session lives on with a new token")
	}
	if err := s.close(ctx, id); err != nil || get(id, admin) != nil {
		t.Errorf("a closed session: %v, %v", err, get(id, admin))
	}
	if get("", admin) != nil || get("nobody's", admin) != nil {
		t.Error("a session from nothing")
	}
	// The store holds no session id, only hashes of them.
	err := s.store.View(ctx, func(tx engine.Tx) error {
		raw, err := tx.Meta(sessionsKey)
		if err == nil && strings.Contains(string(raw), tokenID) {
			t.Errorf("the store holds a session id: %s", raw)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	// Past maxSessions, the ones closest to expiring go first.
	for range maxSessions {
		open(admin, "")
	}
	if get(tokenID, admin) != nil {
		t.Error("the oldest session outlived maxSessions newer ones")
	}
}

// An admin pauses an automation from its page (a CSRF-protected POST);
// the page then says who paused it, when, and that the file says
// enabled, and JOIN enrolls nobody until Resume. Staff cannot, nor can a
// form without the token.
func TestPauseFromTheAutomationPage(t *testing.T) {
	tg := newGatewayWith(t, usersConfig(t))
	ann, _ := loginAs(tg, url.Values{"user": {"Ann"}, "password": {"ann's password"}})
	bob, _ := loginAs(tg, url.Values{"user": {"Bob"}, "password": {"bob's password"}})
	if page := ann.get("/admin/automations/join"); !strings.Contains(page, `id="pause"`) {
		t.Fatalf("no Pause button on the automation's page:\n%s", text(page))
	}
	if res := bob.do(http.MethodPost, "/admin/automations/join/pause", url.Values{"csrf": {bob.csrf}, "paused": {"1"}}); res.StatusCode != http.StatusForbidden {
		t.Errorf("staff pause: %d, want 403", res.StatusCode)
	}
	if res := ann.do(http.MethodPost, "/admin/automations/join/pause", url.Values{"paused": {"1"}}); res.StatusCode != http.StatusForbidden {
		t.Errorf("pause without the CSRF token: %d, want 403", res.StatusCode)
	}
	if got, _ := tg.g.engine.PauseOf(t.Context(), "join"); got != nil {
		t.Fatalf("refused posts paused join: %+v", got)
	}
	res := ann.do(http.MethodPost, "/admin/automations/join/pause", url.Values{"csrf": {ann.csrf}, "paused": {"1"}})
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/admin/automations/join" {
		t.Fatalf("Ann's pause: %d to %q", res.StatusCode, res.Header.Get("Location"))
	}
	page := text(ann.get("/admin/automations/join"))
	if !regexp.MustCompile(`Paused from the dashboard by Ann on \d{4}-\d\d-\d\d \d\d:\d\d C[SD]T; the file says enabled\. .*enrollments under way hold still until it is resumed`).MatchString(page) {
		t.Errorf("the page does not say who paused it, when, and what it means:\n%s", page)
	}
	if list := text(ann.get("/admin/automations")); !strings.Contains(list, "paused from the dashboard") {
		t.Errorf("the list does not show the pause:\n%s", list)
	}
	ann.inbound("SM0000000000000000000000000000c001", customer, "JOIN")
	for _, m := range tg.messages() {
		if m.Direction == engine.Outbound {
			t.Errorf("JOIN while paused sent %q", m.Body)
		}
	}
	if res := ann.do(http.MethodPost, "/admin/automations/join/pause", url.Values{"csrf": {ann.csrf}, "paused": {"0"}}); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("Ann's resume: %d", res.StatusCode)
	}
	if page := text(ann.get("/admin/automations/join")); strings.Contains(page, "Paused from the dashboard") || !strings.Contains(page, "enabled") {
		t.Errorf("after Resume:\n%s", page)
	}
	ann.inbound("SM0000000000000000000000000000c002", customer, "JOIN")
	if !slices.ContainsFunc(tg.settled(), func(m *engine.Message) bool { return m.Direction == engine.Outbound }) {
		t.Error("JOIN after Resume sent nothing")
	}
}
