package gateway

import (
	"bytes"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// post sends a multipart upload of file as the import form does.
func (d *dash) upload(file string) *http.Response {
	d.tg.t.Helper()
	var body bytes.Buffer
	w := multipart.NewWriter(&body)
	w.WriteField("csrf", d.csrf)
	part, _ := w.CreateFormFile("file", "contacts.csv")
	part.Write([]byte(file))
	w.Close()
	req := httptest.NewRequest(http.MethodPost, "/admin/contacts/import", &body)
	req.Header.Set("Content-Type", w.FormDataContentType())
	req.AddCookie(&http.Cookie{Name: sessionCookie, Value: d.cookie})
	res, err := d.tg.g.app.Test(req, -1)
	if err != nil {
		d.tg.t.Fatal(err)
	}
	return res
}

// The contacts CSV is an admin's: staff neither see its links nor reach
// the import, its upload (with a good CSRF token) or the export. An admin
// user's upload says who uploaded it.
func TestContactsCSVIsForAdmins(t *testing.T) {
	tg := newGatewayWith(t, usersConfig(t))
	bob, _ := loginAs(tg, url.Values{"user": {"Bob"}, "password": {"bob's password"}})
	ann, _ := loginAs(tg, url.Values{"user": {"Ann"}, "password": {"ann's password"}})
	if bob.cookie == "" || ann.cookie == "" {
		t.Fatal("Ann or Bob could not log in")
	}
	if page := bob.get("/admin/contacts"); strings.Contains(page, "/admin/contacts/import") || strings.Contains(page, "/admin/contacts.csv") {
		t.Error("staff see the CSV links")
	}
	if page := ann.get("/admin/contacts"); !strings.Contains(page, `href="/admin/contacts/import"`) || !strings.Contains(page, `href="/admin/contacts.csv"`) {
		t.Error("an admin does not see the CSV links")
	}
	file := "phone,name\n+15550100001,Cleo\n"
	for _, path := range []string{"/admin/contacts/import", "/admin/contacts.csv"} {
		if res := bob.do(http.MethodGet, path, nil); res.StatusCode != http.StatusForbidden {
			t.Errorf("staff GET %s: %d, want 403", path, res.StatusCode)
		}
	}
	if res := bob.upload(file); res.StatusCode != http.StatusForbidden {
		t.Errorf("staff upload: %d, want 403", res.StatusCode)
	}
	res := ann.upload(file)
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("Ann's upload: %d %s", res.StatusCode, readBody(t, res))
	}
	loc := res.Header.Get("Location")
	if res := bob.do(http.MethodPost, loc+"/apply", url.Values{"csrf": {bob.csrf}}); res.StatusCode != http.StatusForbidden {
		t.Errorf("staff apply: %d, want 403", res.StatusCode)
	}
	if page := text(ann.get(loc)); !strings.Contains(page, "uploaded") || !strings.Contains(page, "by Ann") || !strings.Contains(page, "New contacts 1") {
		t.Errorf("the preview:\n%s", page)
	}
}
