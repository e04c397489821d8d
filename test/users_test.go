package test

import (
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"github.com/keyway-sms/keyway/test/fakes"
)

// StartGatewayUsers is StartGateway with users, YAML lines under admin
// ("  users:\n    - {...}\n").
func StartGatewayUsers(t *testing.T, users, body string) *Gateway {
	t.Helper()
	g := &Gateway{t: t, Dir: t.TempDir(), Twilio: fakes.NewTwilio(t), AdminUsers: users}
	g.Config = filepath.Join(g.Dir, "keyway.yaml")
	g.WriteConfig(body)
	g.startUntilEnd()
	return g
}

// usersYAML returns admin.users lines for name:role:password triples,
// hashed at bcrypt's lowest cost (validate only warns about it).
func usersYAML(t *testing.T, users ...string) string {
	t.Helper()
	out := "  users:\n"
	for _, u := range users {
		parts := strings.SplitN(u, ":", 3)
		h, err := bcrypt.GenerateFromPassword([]byte(parts[2]), bcrypt.MinCost)
		if err != nil {
			t.Fatal(err)
		}
		out += "    - { name: " + parts[0] + ", role: " + parts[1] + ", password_hash: " + string(h) + " }\n"
	}
	return out
}

// loginUser logs in to g's dashboard as user (empty: the admin token) and
// returns the client, with its session, and the session's CSRF token.
func loginUser(t *testing.T, g *Gateway, user, password string) (*http.Client, string) {
	t.Helper()
	c := dashClient(t)
	res, body := dashDo(t, c, http.MethodPost, g.URL+"/admin/login", url.Values{"user": {user}, "password": {password}, "next": {"/admin/contacts"}})
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("login as %q: %d %s", user, res.StatusCode, body)
	}
	_, page := dashDo(t, c, http.MethodGet, g.URL+"/admin/contacts", nil)
	m := csrfField.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no CSRF token after logging in as %q:\n%s", user, page)
	}
	return c, m[1]
}

// Staff log in with their own name, reach the contacts, may download them
// as CSV (logged with their name), and are refused every admin page and
// action (403) even with their CSRF token; a form
// without the token is refused too. The admin token still logs in and
// still works as the API's bearer token. A reload that removes a user
// ends their session; one that changes a hash ends that user's.
func TestUsersRolesAndReload(t *testing.T) {
	t.Parallel()
	users := usersYAML(t, "Ann:admin:ann-password", "Bob:staff:bob-password")
	g := StartGatewayUsers(t, users, adminConfig)
	bob, bobCSRF := loginUser(t, g, "Bob", "bob-password")
	ann, _ := loginUser(t, g, "Ann", "ann-password")
	token, _ := loginUser(t, g, "", AdminToken)

	if res, _ := dashDo(t, bob, http.MethodGet, g.URL+"/admin/contacts", nil); res.StatusCode != http.StatusOK {
		t.Errorf("staff's contacts: %d", res.StatusCode)
	}
	// Staff see every contact, so they may download them too.
	g.Text(Inbound{From: "+15552220077", Body: "JOIN"})
	g.Settled(t, "+15552220077")
	res, body := dashDo(t, bob, http.MethodGet, g.URL+"/admin/contacts.csv", nil)
	if res.StatusCode != http.StatusOK || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/csv") ||
		!strings.HasPrefix(body, "phone,name,") || !strings.Contains(body, "\n+15552220077,") {
		t.Errorf("staff's contacts CSV: %d %q\n%s", res.StatusCode, res.Header.Get("Content-Type"), body)
	}
	Eventually(t, patience, "the download logged with who made it", func() bool {
		for _, line := range strings.Split(g.Logs(), "\n") {
			if strings.Contains(line, "contacts CSV downloaded") && strings.Contains(line, `"by":"Bob"`) {
				return true
			}
		}
		return false
	})
	for _, try := range []struct {
		method, path string
		form         url.Values
	}{
		{http.MethodGet, "/admin/automations", nil},
		{http.MethodGet, "/admin/enrollments", nil},
		{http.MethodGet, "/admin/reload", nil},
		{http.MethodPost, "/admin/automations/join/pause", url.Values{"csrf": {bobCSRF}, "paused": {"1"}}},
		{http.MethodPost, "/admin/enrollments/0000/cancel", url.Values{"csrf": {bobCSRF}}},
		{http.MethodGet, "/admin/start", nil},
		{http.MethodPost, "/admin/start/confirm", url.Values{"csrf": {bobCSRF}, "automation": {"join"}, "target": {"group"}, "group": {"newsletter"}}},
		{http.MethodPost, "/admin/start", url.Values{"csrf": {bobCSRF}, "automation": {"join"}, "target": {"group"}, "group": {"newsletter"}}},
		{http.MethodGet, "/admin/contacts/import", nil},
		{http.MethodPost, "/admin/contacts/import", url.Values{"csrf": {bobCSRF}}},
		{http.MethodPost, "/admin/contacts/import/0000/apply", url.Values{"csrf": {bobCSRF}}},
		{http.MethodGet, "/admin/broadcasts", nil},
		{http.MethodGet, "/admin/overview", nil},
	} {
		res, body := dashDo(t, bob, try.method, g.URL+try.path, try.form)
		if res.StatusCode != http.StatusForbidden || !strings.Contains(body, "only an admin may do this") {
			t.Errorf("staff %s %s: %d, want 403 saying why", try.method, try.path, res.StatusCode)
		}
	}
	if res, _ := dashDo(t, ann, http.MethodPost, g.URL+"/admin/automations/join/pause", url.Values{"paused": {"1"}}); res.StatusCode != http.StatusForbidden {
		t.Errorf("admin pause without the CSRF token: %d, want 403", res.StatusCode)
	}
	if res, _ := dashDo(t, ann, http.MethodGet, g.URL+"/admin/automations", nil); res.StatusCode != http.StatusOK {
		t.Errorf("admin user's automations: %d", res.StatusCode)
	}
	if code := g.Admin(http.MethodGet, "/api/v1/automations", nil, nil); code != http.StatusOK {
		t.Errorf("the API with the token: %d", code)
	}

	// Bob leaves the config; Ann gets a new password hash.
	g.AdminUsers = usersYAML(t, "Ann:admin:new-password")
	g.WriteConfig(adminConfig)
	if code := g.Admin(http.MethodPost, "/api/v1/reload", nil, nil); code != http.StatusOK {
		t.Fatalf("reload: %d", code)
	}
	for who, c := range map[string]*http.Client{"Bob (removed)": bob, "Ann (new hash)": ann} {
		if res, _ := dashDo(t, c, http.MethodGet, g.URL+"/admin/contacts", nil); res.StatusCode != http.StatusSeeOther || !strings.HasPrefix(res.Header.Get("Location"), "/admin/login") {
			t.Errorf("%s after the reload: %d to %q, want the login page", who, res.StatusCode, res.Header.Get("Location"))
		}
	}
	if res, _ := dashDo(t, token, http.MethodGet, g.URL+"/admin/contacts", nil); res.StatusCode != http.StatusOK {
		t.Errorf("the token's session after a reload that kept the token: %d", res.StatusCode)
	}
	if res, _ := dashDo(t, dashClient(t), http.MethodPost, g.URL+"/admin/login", url.Values{"user": {"Bob"}, "password": {"bob-password"}}); res.StatusCode != http.StatusUnauthorized {
		t.Errorf("removed Bob's login: %d, want 401", res.StatusCode)
	}
	loginUser(t, g, "Ann", "new-password")
}

// A pause from the dashboard stops JOIN from enrolling (the word reaches
// nothing, as text no keyword matched) and holds Ann's enrollment, started
// before, still; it survives a restart, and Resume lifts it: Ann's
// enrollment then takes her answer.
func TestPauseSurvivesARestart(t *testing.T) {
	t.Parallel()
	g := StartGatewayUsers(t, usersYAML(t, "Ann:admin:ann-password"), adminConfig)
	const ann, bob = "+15552220091", "+15552220092"
	g.Text(Inbound{From: ann, Body: "JOIN"})
	repliesTo(t, g, ann, 1)

	c, csrf := loginUser(t, g, "Ann", "ann-password")
	if res, body := dashDo(t, c, http.MethodPost, g.URL+"/admin/automations/join/pause", url.Values{"csrf": {csrf}, "paused": {"1"}}); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("pause: %d %s", res.StatusCode, body)
	}
	g.Restart()
	g.Text(Inbound{From: bob, Body: "JOIN"})
	g.Settled(t, bob)
	if got := repliesToNow(g, bob); len(got) != 0 {
		t.Errorf("JOIN after the pause and a restart: replies %q", got)
	}
	if en := g.Enrollments("join", bob); len(en) != 0 {
		t.Errorf("JOIN while paused enrolled Bob: %+v", en)
	}
	// Her answer while paused: her enrollment holds still, as under the
	// file's enabled: false, and takes no answer.
	g.Text(Inbound{From: ann, Body: "Ann"})
	g.Settled(t, ann)
	if got := repliesToNow(g, ann); len(got) != 1 {
		t.Errorf("Ann's answer while paused: replies %q, want only the welcome (her enrollment holds still)", got)
	}

	c, csrf = loginUser(t, g, "Ann", "ann-password") // the restart ended the session
	_, page := dashDo(t, c, http.MethodGet, g.URL+"/admin/automations/join", nil)
	if !strings.Contains(page, "Paused from the dashboard by") || !strings.Contains(page, "the file says enabled") {
		t.Errorf("the automation's page after the restart does not say it is paused:\n%s", page)
	}
	if res, _ := dashDo(t, c, http.MethodPost, g.URL+"/admin/automations/join/pause", url.Values{"csrf": {csrf}, "paused": {"0"}}); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("resume: %d", res.StatusCode)
	}
	g.Text(Inbound{From: bob, Body: "JOIN"})
	repliesTo(t, g, bob, 1)
	g.Text(Inbound{From: ann, Body: "Ann"}) // resumed: her enrollment takes her answer
	if got := repliesTo(t, g, ann, 2); got[1] != "Thanks Ann!" {
		t.Errorf("Ann's answer once resumed: replies %q", got)
	}
}

// A user may be named admin, as the admin token's actions are recorded:
// the config is valid (a warning says the two read alike), the user logs
// in by name with their password and gets admin pages, and the token
// still logs in with the name left empty.
func TestUserNamedAdmin(t *testing.T) {
	t.Parallel()
	g := StartGatewayUsers(t, usersYAML(t, "admin:admin:the admin's password", "desk:staff:the desk's password"), adminConfig)
	c, _ := loginUser(t, g, "admin", "the admin's password")
	if res, _ := dashDo(t, c, http.MethodGet, g.URL+"/admin/automations", nil); res.StatusCode != http.StatusOK {
		t.Errorf("the user named admin on an admin page: %d", res.StatusCode)
	}
	c, _ = loginUser(t, g, "desk", "the desk's password")
	if res, _ := dashDo(t, c, http.MethodGet, g.URL+"/admin/automations", nil); res.StatusCode != http.StatusForbidden {
		t.Errorf("staff on an admin page: %d", res.StatusCode)
	}
	loginUser(t, g, "", AdminToken)
	if logs := g.Logs(); !strings.Contains(logs, `is also what the admin token is recorded as`) {
		t.Errorf("no warning about the name in the log:\n%s", logs)
	}
}

// A user logs in with their name in any case, and acts as the name the
// file writes.
func TestUserLogsInInAnyCase(t *testing.T) {
	t.Parallel()
	g := StartGatewayUsers(t, usersYAML(t, "Ann:admin:ann-password"), adminConfig)
	c, _ := loginUser(t, g, "aNN", "ann-password")
	if _, page := dashDo(t, c, http.MethodGet, g.URL+"/admin/contacts", nil); !strings.Contains(page, `id="whoami">Ann <span`) {
		t.Errorf("logged in as aNN, the page does not show Ann:\n%s", page)
	}
	if !strings.Contains(g.Logs(), `"user":"Ann","time"`) {
		t.Errorf("the login is not logged under Ann:\n%s", g.Logs())
	}
}
