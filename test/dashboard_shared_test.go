package test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// Two keyway processes on one PostgreSQL database, as behind a load
// balancer that sends each click where it will: a session opened on one
// works on the other, and logging out on one ends it on both; a contacts
// CSV uploaded to one is previewed and applied from the other, and the
// first follows the result.
func TestDashboardAcrossProcesses(t *testing.T) {
	t.Parallel()
	gs := startShared(t, 2, adminConfig)
	a, b := gs[0], gs[1]

	s := csvLogin(t, a) // logged in on a
	s.g = b
	res, page := s.get("/admin/contacts")
	if res.StatusCode != http.StatusOK || !strings.Contains(page, `name="csrf" value="`+s.csrf+`"`) {
		t.Fatalf("the session opened on one process, on the other: %d, want 200 with the same CSRF token\n%s", res.StatusCode, page)
	}

	const cleo, dan = "+15552230301", "+15552230302"
	s.g = a
	_, loc, page := s.upload("phone,name,groups\n"+cleo+",Cleo,vip\n"+dan+",Dan,\nnot a phone,X,\n", s.csrf)
	if !strings.HasPrefix(loc, "/admin/contacts/import/") {
		t.Fatalf("upload went to %q:\n%s", loc, page)
	}
	s.g = b
	res, page = s.get(loc)
	if res.StatusCode != http.StatusOK || csvCount(page, "New contacts") != "2" || csvCount(page, "Bad rows") != "1" {
		t.Fatalf("the preview, on the process that did not take the upload: %d, new %s, bad %s\n%s",
			res.StatusCode, csvCount(page, "New contacts"), csvCount(page, "Bad rows"), page)
	}
	res, _ = dashDo(t, s.c, http.MethodPost, b.URL+loc+"/apply", url.Values{"csrf": {s.csrf}})
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("apply on the other process: %d, want 303", res.StatusCode)
	}
	s.g = a
	Eventually(t, patience, "the first process showing the import applied", func() bool {
		_, page = s.get(loc)
		return strings.Contains(page, "rows applied")
	})
	if !strings.Contains(page, "<strong>2</strong> rows applied (2 new contacts), <strong>1</strong> bad rows skipped") {
		t.Errorf("the result, on the process that took the upload:\n%s", page)
	}
	var got struct {
		Contact struct {
			Name   string   `json:"name"`
			Groups []string `json:"groups"`
		} `json:"contact"`
	}
	if code := a.Admin(http.MethodGet, "/api/v1/contacts/"+url.PathEscape(cleo), nil, &got); code != http.StatusOK ||
		got.Contact.Name != "Cleo" || len(got.Contact.Groups) != 1 || got.Contact.Groups[0] != "vip" {
		t.Errorf("Cleo after the import: %d %+v", code, got.Contact)
	}

	// Logging out on one process ends the session on the other, even for
	// a client that kept the cookie.
	u, _ := url.Parse(a.URL + "/admin/")
	var cookie *http.Cookie
	for _, c := range s.c.Jar.Cookies(u) {
		if c.Name == "keyway_session" {
			cookie = c
		}
	}
	if cookie == nil {
		t.Fatal("no session cookie")
	}
	if res, _ := dashDo(t, s.c, http.MethodPost, b.URL+"/admin/logout", url.Values{"csrf": {s.csrf}}); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("logout: %d", res.StatusCode)
	}
	req, _ := http.NewRequest(http.MethodGet, a.URL+"/admin/contacts", nil)
	req.AddCookie(cookie)
	res, err := dashClient(t).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusSeeOther || !strings.HasPrefix(res.Header.Get("Location"), "/admin/login") {
		t.Errorf("the session after logging out on the other process: %d to %q, want 303 to the login page", res.StatusCode, res.Header.Get("Location"))
	}
}
