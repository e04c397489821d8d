package test

import (
	"net/http"
	"net/url"
	"reflect"
	"testing"
)

// TestAdminContactShowsEveryKey checks that the admin API shows a
// contact's name, fields, groups, tags and opted_out always, empty or
// false included: a client reading "opted_out" after a START, or "groups"
// after a PUT that emptied them, finds the key with its value rather
// than no key at all. It holds for one contact, the list and a PUT's
// answer alike.
func TestAdminContactShowsEveryKey(t *testing.T) {
	t.Parallel()
	g := StartGateway(t, adminConfig)
	const phone = "+15552230001"
	want := map[string]any{"name": "", "fields": map[string]any{}, "groups": []any{}, "tags": []any{}, "opted_out": false}
	check := func(what string, contact map[string]any) {
		t.Helper()
		for k, v := range want {
			got, ok := contact[k]
			if !ok {
				t.Errorf("%s: no %q in %v", what, k, contact)
				continue
			}
			if !reflect.DeepEqual(got, v) {
				t.Errorf("%s: %q is %#v, want %#v", what, k, got, v)
			}
		}
	}

	var put struct {
		Contact map[string]any `json:"contact"`
	}
	if code := g.Admin(http.MethodPut, "/api/v1/contacts/"+phone, map[string]any{}, &put); code != http.StatusCreated {
		t.Fatalf("PUT a bare contact: status %d, want 201", code)
	}
	check("PUT a bare contact", put.Contact)

	// A contact that opted out and back in, and left its groups and tags.
	g.Text(Inbound{From: phone, Body: "JOIN"})
	if code := g.Admin(http.MethodPut, "/api/v1/contacts/"+phone, map[string]any{"tags": []string{"vip"}}, nil); code != http.StatusOK {
		t.Fatalf("PUT tags: status %d", code)
	}
	g.Text(Inbound{From: phone, Body: "STOP"})
	g.Text(Inbound{From: phone, Body: "START"})
	if code := g.Admin(http.MethodPut, "/api/v1/contacts/"+phone, map[string]any{"groups": []string{}, "tags": []string{}}, &put); code != http.StatusOK {
		t.Fatalf("PUT empty groups and tags: status %d", code)
	}
	check("PUT that empties groups and tags", put.Contact)

	var one struct {
		Contact map[string]any `json:"contact"`
	}
	if code := g.Admin(http.MethodGet, "/api/v1/contacts/"+phone, nil, &one); code != http.StatusOK {
		t.Fatalf("GET the contact: status %d", code)
	}
	check("GET /api/v1/contacts/{phone} after STOP and START", one.Contact)

	var list struct {
		Contacts []map[string]any `json:"contacts"`
	}
	if code := g.Admin(http.MethodGet, "/api/v1/contacts?opted_out=false", nil, &list); code != http.StatusOK || len(list.Contacts) != 1 {
		t.Fatalf("GET /api/v1/contacts?opted_out=false: status %d, %d contacts, want 200 and 1", code, len(list.Contacts))
	}
	check("GET /api/v1/contacts", list.Contacts[0])
}

// TestAdminEnrollmentsByContactWithAPlusWrittenByHand checks that
// GET /api/v1/enrollments?contact=+447700900123, the "+" typed into the
// URL as it is (which a query string reads as a space), finds the
// contact's enrollments rather than refusing a number outside the
// default region.
func TestAdminEnrollmentsByContactWithAPlusWrittenByHand(t *testing.T) {
	t.Parallel()
	g := StartGateway(t, adminConfig)
	const uk = "+447700900123"
	if code := g.Admin(http.MethodPost, "/api/v1/automations/join/enrollments", map[string]any{"contacts": []string{uk}}, nil); code != http.StatusAccepted {
		t.Fatalf("manual start: status %d", code)
	}
	for _, q := range []string{"contact=" + uk, "contact=%2B447700900123"} {
		var out struct {
			Enrollments []struct {
				Contact    string `json:"contact"`
				Automation string `json:"automation"`
			} `json:"enrollments"`
		}
		if code := g.Admin(http.MethodGet, "/api/v1/enrollments?"+q, nil, &out); code != http.StatusOK {
			t.Errorf("GET /api/v1/enrollments?%s: status %d, want 200", q, code)
			continue
		}
		if len(out.Enrollments) != 1 || out.Enrollments[0].Contact != uk || out.Enrollments[0].Automation != "join" {
			t.Errorf("GET /api/v1/enrollments?%s: %+v, want the one join enrollment of %s", q, out.Enrollments, uk)
		}
	}
}

// TestAdminContactSearchIgnoresAccents checks that the contact search
// finds a name or field written with accents when they are typed without
// them, or in other case, as keywords are matched.
func TestAdminContactSearchIgnoresAccents(t *testing.T) {
	t.Parallel()
	g := StartGateway(t, adminConfig)
	const zoe = "+15552230011"
	if code := g.Admin(http.MethodPut, "/api/v1/contacts/"+zoe, map[string]any{"name": "Zoë Ångström", "fields": map[string]string{"city": "Zürich"}}, nil); code != http.StatusCreated {
		t.Fatalf("PUT: status %d", code)
	}
	if code := g.Admin(http.MethodPut, "/api/v1/contacts/+15552230012", map[string]any{"name": "Zoltan"}, nil); code != http.StatusCreated {
		t.Fatalf("PUT: status %d", code)
	}
	for q, want := range map[string]int{"zoe": 1, "ZOË": 1, "angstrom": 1, "zoe angstrom": 1, "zurich": 1, "Zur": 1, "zo": 2, "zoex": 0} {
		got := listContacts(t, g, url.Values{"q": {q}}).phones()
		if len(got) != want || (want == 1 && got[0] != zoe) {
			t.Errorf("q=%q found %v, want %d contact(s)", q, got, want)
		}
	}
}

// TestAdminContactSearchByANationalNumber checks that a number written as
// people of the default region write it, with its trunk prefix, finds its
// contact: "07700 900123" is +447700900123 where the region is GB.
func TestAdminContactSearchByANationalNumber(t *testing.T) {
	t.Parallel()
	g := StartGateway(t, "defaults:\n  region: GB\n"+adminConfig)
	const uk = "+447700900123"
	for _, p := range []string{uk, "+447700900124"} {
		if code := g.Admin(http.MethodPut, "/api/v1/contacts/"+url.PathEscape(p), map[string]any{"name": "Someone"}, nil); code != http.StatusCreated {
			t.Fatalf("PUT %s: status %d", p, code)
		}
	}
	for _, q := range []string{"07700 900123", "07700900123", "(07700) 900-123", "+44 7700 900123"} {
		if got := listContacts(t, g, url.Values{"q": {q}}).phones(); len(got) != 1 || got[0] != uk {
			t.Errorf("q=%q found %v, want %s alone", q, got, uk)
		}
	}
}

// TestAdminPutContactTrimsSpaces checks that PUT reads a name, groups and
// tags without the spaces around them, as a CSV import does: " vip " is
// the tag vip, which ?tag=vip then finds.
func TestAdminPutContactTrimsSpaces(t *testing.T) {
	t.Parallel()
	g := StartGateway(t, adminConfig)
	const phone = "+15552230021"
	body := map[string]any{"name": "  Ann Lee ", "groups": []string{" newsletter"}, "tags": []string{" vip ", "vip"}}
	if code := g.Admin(http.MethodPut, "/api/v1/contacts/"+phone, body, nil); code != http.StatusCreated {
		t.Fatalf("PUT: status %d, want 201", code)
	}
	c := g.Contact(phone).Contact
	if c.Name != "Ann Lee" || !reflect.DeepEqual(c.Groups, []string{"newsletter"}) || !reflect.DeepEqual(c.Tags, []string{"vip"}) {
		t.Errorf("stored name %q, groups %q, tags %q; want Ann Lee, [newsletter], [vip]", c.Name, c.Groups, c.Tags)
	}
	if got := listContacts(t, g, url.Values{"tag": {"vip"}}).phones(); !reflect.DeepEqual(got, []string{phone}) {
		t.Errorf("?tag=vip found %v", got)
	}
}
