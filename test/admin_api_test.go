package test

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

const adminConfig = `
groups:
  - { id: newsletter, name: "Newsletter" }
  - { id: vip, name: "VIP" }
fields: [first_name, city]
automations:
  - id: join
    keywords: [JOIN]
    steps:
      - { type: add_to_group, groups: [newsletter] }
      - { id: ask, type: reply, text: "Welcome! What is your first name?" }
      - { type: wait_for_reply, timeout: 24h, save_as: name, on_timeout: bye }
      - { type: condition, if: 'vars.name matches "(?i)^no"', then: bye, else: thanks }
      - { id: thanks, type: reply, text: "Thanks {{ vars.name }}!", next: end }
      - { id: bye, type: reply, text: "No worries, you are on the list." }
  - id: promo
    steps:
      - { type: reply, text: "Hi {{ vars.name }}, your code is {{ vars.code }}." }
`

// adminRaw sends an admin request with a raw body and the headers given
// (no token unless headers carry one); it returns the status and body.
func adminRaw(t *testing.T, base, method, path, body string, headers map[string]string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, base+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

var bearer = map[string]string{"Authorization": "Bearer " + AdminToken, "Content-Type": "application/json"}

// wantError checks a 4xx answer: its status and a JSON {"error"} that
// contains each of the words given (the field at fault first).
func wantError(t *testing.T, what string, code int, body string, wantCode int, words ...string) {
	t.Helper()
	var e struct{ Error string }
	if err := json.Unmarshal([]byte(body), &e); err != nil || e.Error == "" {
		t.Errorf("%s: body %q is not JSON {\"error\": ...}", what, body)
	}
	if code != wantCode {
		t.Errorf("%s: status %d, want %d (%s)", what, code, wantCode, body)
	}
	for _, w := range words {
		if !strings.Contains(e.Error, w) {
			t.Errorf("%s: error %q does not mention %q", what, e.Error, w)
		}
	}
}

type contactList struct {
	Contacts []struct {
		Phone    string            `json:"phone"`
		Name     string            `json:"name"`
		Fields   map[string]string `json:"fields"`
		Groups   []string          `json:"groups"`
		Tags     []string          `json:"tags"`
		OptedOut bool              `json:"opted_out"`
	} `json:"contacts"`
	NextCursor *string `json:"next_cursor"`
}

func (l contactList) phones() []string {
	var out []string
	for _, c := range l.Contacts {
		out = append(out, c.Phone)
	}
	return out
}

func listContacts(t *testing.T, g *Gateway, q url.Values) contactList {
	t.Helper()
	var out contactList
	if code := g.Admin(http.MethodGet, "/api/v1/contacts?"+q.Encode(), nil, &out); code != http.StatusOK {
		t.Fatalf("GET /api/v1/contacts?%s: status %d", q.Encode(), code)
	}
	if out.NextCursor == nil {
		t.Fatalf("GET /api/v1/contacts?%s: no next_cursor in the answer", q.Encode())
	}
	return out
}

func TestAdminContactsImportListAndSearch(t *testing.T) {
	t.Parallel()
	g := StartGateway(t, adminConfig)
	people := []struct {
		phone string
		body  map[string]any
	}{
		{"+15552220003", map[string]any{"name": "Carla Diaz", "fields": map[string]string{"city": "Lyon"}, "groups": []string{"newsletter"}, "tags": []string{"lead"}}},
		{"+15552220001", map[string]any{"name": "Ann Lee", "fields": map[string]string{"first_name": "Ann", "city": "Paris"}, "groups": []string{"newsletter", "vip"}}},
		{"+15552220002", map[string]any{"name": "Bob Stone", "tags": []string{"lead", "vip"}, "opted_out": true}},
		{"+15552220004", map[string]any{"name": "Dee Park", "groups": []string{"vip"}}},
		{"(555) 222-0005", map[string]any{"name": "Eve Moss"}}, // the default region makes it E.164
	}
	for _, p := range people {
		var out struct {
			Created bool `json:"created"`
			Contact struct {
				CreatedAt time.Time `json:"created_at"`
				UpdatedAt time.Time `json:"updated_at"`
			} `json:"contact"`
		}
		if code := g.Admin(http.MethodPut, "/api/v1/contacts/"+url.PathEscape(p.phone), p.body, &out); code != http.StatusCreated || !out.Created {
			t.Fatalf("PUT %s: status %d created %v, want 201 and created", p.phone, code, out.Created)
		}
		// The answer shows when the contact was made, not year 1.
		if c := out.Contact; c.CreatedAt.IsZero() || !c.UpdatedAt.Equal(c.CreatedAt) {
			t.Errorf("PUT %s: created_at %v, updated_at %v; want both set, and equal", p.phone, c.CreatedAt, c.UpdatedAt)
		}
	}
	// An update keeps what it does not name and merges fields.
	var upd struct {
		Created bool `json:"created"`
	}
	if code := g.Admin(http.MethodPut, "/api/v1/contacts/+15552220001", map[string]any{"fields": map[string]string{"city": "Rome"}}, &upd); code != http.StatusOK || upd.Created {
		t.Fatalf("PUT existing contact: status %d created %v, want 200 and not created", code, upd.Created)
	}
	ann := g.Contact("+15552220001").Contact
	if ann.Name != "Ann Lee" || ann.Fields["city"] != "Rome" || ann.Fields["first_name"] != "Ann" || !slices.Equal(ann.Groups, []string{"newsletter", "vip"}) {
		t.Errorf("after a partial update: %+v", ann)
	}
	if bob := g.Contact("+15552220002").Contact; !bob.OptedOut {
		t.Errorf("opted_out: true through the API did not opt Bob out: %+v", bob)
	}

	all := []string{"+15552220001", "+15552220002", "+15552220003", "+15552220004", "+15552220005"}
	tests := []struct {
		q    url.Values
		want []string
	}{
		{url.Values{}, all},
		{url.Values{"q": {"stone"}}, []string{"+15552220002"}},   // name, any case
		{url.Values{"q": {"rome"}}, []string{"+15552220001"}},    // a field value
		{url.Values{"q": {"2220004"}}, []string{"+15552220004"}}, // part of the phone
		// The phone as people write it, whole or in part.
		{url.Values{"q": {"(555) 222-0004"}}, []string{"+15552220004"}},
		{url.Values{"q": {"+1 555 222 0004"}}, []string{"+15552220004"}},
		{url.Values{"q": {"222.0004"}}, []string{"+15552220004"}},
		{url.Values{"group": {"vip"}}, []string{"+15552220001", "+15552220004"}},
		{url.Values{"tag": {"lead"}}, []string{"+15552220002", "+15552220003"}},
		{url.Values{"opted_out": {"true"}}, []string{"+15552220002"}},
		{url.Values{"opted_out": {"false"}, "tag": {"lead"}}, []string{"+15552220003"}},
		{url.Values{"q": {"nobody"}}, nil},
	}
	for _, tt := range tests {
		if got := listContacts(t, g, tt.q).phones(); !slices.Equal(got, tt.want) {
			t.Errorf("contacts?%s = %v, want %v", tt.q.Encode(), got, tt.want)
		}
	}

	// Pages of 2 walk every contact once, in phone order.
	var walked []string
	cursor := ""
	for pages := 0; ; pages++ {
		if pages > 5 {
			t.Fatalf("paging does not end: %v", walked)
		}
		l := listContacts(t, g, url.Values{"limit": {"2"}, "cursor": {cursor}})
		walked = append(walked, l.phones()...)
		if *l.NextCursor == "" {
			break
		}
		cursor = *l.NextCursor
	}
	if !slices.Equal(walked, all) {
		t.Errorf("paged through %v, want %v", walked, all)
	}
	// A filtered walk pages over what the filter keeps.
	l := listContacts(t, g, url.Values{"limit": {"1"}, "group": {"vip"}})
	if !slices.Equal(l.phones(), []string{"+15552220001"}) || *l.NextCursor == "" {
		t.Fatalf("first vip page: %v next %q", l.phones(), *l.NextCursor)
	}
	l = listContacts(t, g, url.Values{"limit": {"1"}, "group": {"vip"}, "cursor": {*l.NextCursor}})
	if !slices.Equal(l.phones(), []string{"+15552220004"}) || *l.NextCursor != "" {
		t.Errorf("second vip page: %v next %q, want the last one and no cursor", l.phones(), *l.NextCursor)
	}

	for _, bad := range []struct{ query, field string }{
		{"opted_out=maybe", "opted_out"},
		{"group=nosuch", "group"},
		{"cursor=%25%25", "cursor"},
		{"limit=0", "limit"},
	} {
		code, body := adminRaw(t, g.URL, http.MethodGet, "/api/v1/contacts?"+bad.query, "", bearer)
		wantError(t, bad.query, code, body, http.StatusBadRequest, bad.field)
	}
}

func TestAdminPutContactRefusesBadInput(t *testing.T) {
	t.Parallel()
	g := StartGateway(t, adminConfig)
	tests := []struct {
		name, body, field string
	}{
		{"unknown field", `{"name": "Ann", "nmae": "x"}`, "nmae"},
		{"undeclared field", `{"fields": {"shoe_size": "9"}}`, "fields.shoe_size"},
		{"undeclared group", `{"groups": ["newsletter", "gold"]}`, "groups[1]"},
		{"wrong type", `{"tags": "vip"}`, "tags"},
		{"empty tag", `{"tags": ["ok", " "]}`, "tags[1]"},
		{"force without reason", `{"opted_out": false, "force": true}`, "reason"},
		{"not JSON", `name=Ann`, "body"},
		{"two objects", `{"name": "A"} {"name": "B"}`, "body"},
		{"a list for a body", `[]`, "body: "},
		{"a list for a field", `{"fields": {"city": ["Lyon"]}}`, "fields.city: "},
		{"an object for a field", `{"fields": {"city": {"name": "Lyon"}}}`, "fields.city: "},
	}
	for _, tt := range tests {
		code, body := adminRaw(t, g.URL, http.MethodPut, "/api/v1/contacts/+15552220010", tt.body, bearer)
		wantError(t, tt.name, code, body, http.StatusBadRequest, tt.field)
	}
	code, body := adminRaw(t, g.URL, http.MethodPut, "/api/v1/contacts/not-a-phone!", `{"name": "x"}`, bearer)
	wantError(t, "bad phone", code, body, http.StatusBadRequest, `phone: "not-a-phone!" is not a phone number`)
	// A number or true/false from a CRM's export is kept as written;
	// null removes a field as "" does.
	code, body = adminRaw(t, g.URL, http.MethodPut, "/api/v1/contacts/+15552220011",
		`{"fields": {"first_name": "Ann", "city": 12345678901234567890}}`, bearer)
	if code != http.StatusCreated || !strings.Contains(body, `"city":"12345678901234567890"`) {
		t.Errorf("a number for a field: %d %s", code, body)
	}
	code, body = adminRaw(t, g.URL, http.MethodPut, "/api/v1/contacts/+15552220011", `{"fields": {"first_name": null, "city": true}}`, bearer)
	if code != http.StatusOK || !strings.Contains(body, `"fields":{"city":"true"}`) {
		t.Errorf("true and null for fields: %d %s", code, body)
	}
	// Nothing was created by refused requests.
	if code := g.Admin(http.MethodGet, "/api/v1/contacts/+15552220010", nil, nil); code != http.StatusNotFound {
		t.Errorf("a refused PUT created the contact: GET answered %d", code)
	}
	// Without the token: 401, and an oversized body gets 413 before the
	// token is even looked at.
	code, _ = adminRaw(t, g.URL, http.MethodPut, "/api/v1/contacts/+15552220010", `{"name": "x"}`, nil)
	if code != http.StatusUnauthorized {
		t.Errorf("PUT without a token: %d, want 401", code)
	}
	// The server answers 413 and closes without reading the rest, so a
	// client still writing may see the connection reset instead of the
	// answer (README "HTTP routes"); either way nothing is stored.
	big := `{"name": "` + strings.Repeat("x", 2<<20) + `"}`
	for _, h := range []map[string]string{nil, {"Authorization": "Bearer wrong"}, bearer} {
		req, err := http.NewRequest(http.MethodPut, g.URL+"/api/v1/contacts/+15552220010", strings.NewReader(big))
		if err != nil {
			t.Fatal(err)
		}
		for k, v := range h {
			req.Header.Set(k, v)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			if !strings.Contains(err.Error(), "connection reset") && !strings.Contains(err.Error(), "broken pipe") {
				t.Errorf("oversized body: %v", err)
			}
			continue
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		wantError(t, "oversized body", res.StatusCode, string(b), http.StatusRequestEntityTooLarge, "too large")
	}
	if code, _ := adminRaw(t, g.URL, http.MethodGet, "/api/v1/contacts/+15552220010", "", bearer); code != http.StatusNotFound {
		t.Errorf("an oversized PUT created the contact: GET answered %d", code)
	}
}

func TestAdminOptInOfAContactThatTextedStopNeedsForce(t *testing.T) {
	t.Parallel()
	g := StartGateway(t, adminConfig)
	const stopper, admined = "+15552220020", "+15552220021"
	g.Text(Inbound{From: stopper, Body: "STOP"})
	repliesTo(t, g, stopper, 1)

	code, body := adminRaw(t, g.URL, http.MethodPut, "/api/v1/contacts/"+stopper, `{"opted_out": false}`, bearer)
	wantError(t, "opt in without force", code, body, http.StatusConflict, "opted_out", "force", "reason")
	if !g.Contact(stopper).Contact.OptedOut {
		t.Fatal("a refused opt-in lifted the opt-out")
	}
	// A refused opt-in changes nothing else in the request either.
	code, body = adminRaw(t, g.URL, http.MethodPut, "/api/v1/contacts/"+stopper, `{"opted_out": false, "name": "Sneaky"}`, bearer)
	wantError(t, "opt in with a name", code, body, http.StatusConflict, "opted_out")
	if c := g.Contact(stopper).Contact; c.Name == "Sneaky" {
		t.Error("a refused opt-in still changed the name")
	}

	var out struct {
		Contact struct {
			OptedOut    bool `json:"opted_out"`
			ForcedOptIn struct {
				Reason string `json:"reason"`
			} `json:"forced_opt_in"`
		} `json:"contact"`
	}
	if code := g.Admin(http.MethodPut, "/api/v1/contacts/"+stopper, map[string]any{"opted_out": false, "force": true, "reason": "signed paper consent form 2026-11-30"}, &out); code != http.StatusOK {
		t.Fatalf("forced opt-in: status %d", code)
	}
	if out.Contact.OptedOut || out.Contact.ForcedOptIn.Reason != "signed paper consent form 2026-11-30" {
		t.Errorf("forced opt-in: %+v, want opted in with the reason recorded", out.Contact)
	}
	// Automations reach the contact again.
	g.Text(Inbound{From: stopper, Body: "JOIN"})
	if got := repliesTo(t, g, stopper, 2); got[1] != "Welcome! What is your first name?" {
		t.Errorf("after the forced opt-in: %q", got)
	}

	// An opt-out made through the API ends the contact's enrollments, and
	// the API may lift it again without force.
	g.Text(Inbound{From: admined, Body: "JOIN"})
	repliesTo(t, g, admined, 1)
	if code := g.Admin(http.MethodPut, "/api/v1/contacts/"+admined, map[string]any{"opted_out": true}, nil); code != http.StatusOK {
		t.Fatalf("API opt-out: status %d", code)
	}
	if c := g.Contact(admined); !c.Contact.OptedOut || len(c.Enrollments) != 0 {
		t.Fatalf("after the API opt-out: %+v", c)
	}
	if code := g.Admin(http.MethodPut, "/api/v1/contacts/"+admined, map[string]any{"opted_out": false}, nil); code != http.StatusOK {
		t.Errorf("lifting an API opt-out without force: status %d, want 200", code)
	}
}

type messageLog struct {
	Messages   []Message `json:"messages"`
	NextCursor *string   `json:"next_cursor"`
}

func TestAdminMessageLog(t *testing.T) {
	t.Parallel()
	g := StartGateway(t, adminConfig)
	const a, b = "+15552220030", "+15552220031"
	g.Text(Inbound{From: a, Body: "JOIN"})
	g.Twilio.WaitSent(t, 1, patience)
	g.Twilio.FailNext(1, 400, 21211) // a permanent error: not retried
	g.Text(Inbound{From: b, Body: "JOIN"})
	g.Settled(t, b)

	var failed messageLog
	if code := g.Admin(http.MethodGet, "/api/v1/messages?status=failed", nil, &failed); code != http.StatusOK {
		t.Fatalf("status=failed: %d", code)
	}
	if len(failed.Messages) != 1 || failed.Messages[0].To[0] != b || failed.Messages[0].Error == "" || failed.Messages[0].Direction != "out" {
		t.Fatalf("failed sends: %+v, want the one reply to %s with its error", failed.Messages, b)
	}
	// A send the provider reports undelivered failed too; asked for by its
	// own status, it is the only one.
	Eventually(t, patience, "a's reply recorded as sent", func() bool {
		ms := storedMessages(t, g, a)
		return len(ms) == 2 && ms[0].Status == "sent" && ms[0].ProviderID != ""
	})
	sid := storedMessages(t, g, a)[0].ProviderID
	form := map[string][]string{"MessageSid": {sid}, "MessageStatus": {"undelivered"}, "ErrorCode": {"30005"}, "AccountSid": {g.Twilio.AccountSID}}
	if code, body := g.PostSigned("/webhooks/twilio/status", form); code != http.StatusOK {
		t.Fatalf("status callback: %d %s", code, body)
	}
	g.Admin(http.MethodGet, "/api/v1/messages?status=failed", nil, &failed)
	if len(failed.Messages) != 2 || failed.Messages[0].To[0] != b || failed.Messages[1].To[0] != a || failed.Messages[1].Status != "undelivered" {
		t.Fatalf("failed sends after an undelivered report: %+v, want b's failed reply then a's undelivered one", failed.Messages)
	}
	var undelivered messageLog
	g.Admin(http.MethodGet, "/api/v1/messages?status=undelivered", nil, &undelivered)
	if len(undelivered.Messages) != 1 || undelivered.Messages[0].To[0] != a {
		t.Fatalf("status=undelivered: %+v, want a's reply alone", undelivered.Messages)
	}

	var all messageLog
	g.Admin(http.MethodGet, "/api/v1/messages", nil, &all)
	if len(all.Messages) != 4 || all.NextCursor == nil || *all.NextCursor != "" {
		t.Fatalf("log: %d messages, next %v; want 4 and no more", len(all.Messages), all.NextCursor)
	}
	// Newest first: b's failed reply, b's JOIN, a's undelivered reply, a's JOIN.
	var order []string
	for _, m := range all.Messages {
		order = append(order, m.Direction+":"+m.Status)
	}
	if want := []string{"out:failed", "in:received", "out:undelivered", "in:received"}; !slices.Equal(order, want) {
		t.Errorf("log order %v, want %v", order, want)
	}
	// A direction in the words people use, in any case, is the same filter.
	for _, q := range []string{"direction=in", "direction=inbound", "direction=IN", "direction=Inbound"} {
		var in messageLog
		if code := g.Admin(http.MethodGet, "/api/v1/messages?"+q, nil, &in); code != http.StatusOK {
			t.Errorf("%s: status %d, want 200", q, code)
			continue
		}
		if len(in.Messages) != 2 || in.Messages[0].From != b || in.Messages[1].From != a {
			t.Errorf("%s: %+v", q, in.Messages)
		}
	}
	for _, q := range []string{"direction=outbound&status=FAILED", "direction=OUT&status=failed"} {
		var out messageLog
		if code := g.Admin(http.MethodGet, "/api/v1/messages?"+q, nil, &out); code != http.StatusOK || len(out.Messages) != 2 || out.Messages[0].Direction != "out" {
			t.Errorf("%s: status %d, %+v; want 200 and the two failed sends", q, code, out.Messages)
		}
	}
	// Pages of 3 then 1.
	var p1, p2 messageLog
	g.Admin(http.MethodGet, "/api/v1/messages?limit=3", nil, &p1)
	if len(p1.Messages) != 3 || *p1.NextCursor == "" {
		t.Fatalf("page 1: %d messages, next %q", len(p1.Messages), *p1.NextCursor)
	}
	g.Admin(http.MethodGet, "/api/v1/messages?limit=3&cursor="+url.QueryEscape(*p1.NextCursor), nil, &p2)
	if len(p2.Messages) != 1 || p2.Messages[0].ID != all.Messages[3].ID || *p2.NextCursor != "" {
		t.Errorf("page 2: %+v next %q, want the oldest message and no more", p2.Messages, *p2.NextCursor)
	}
	code, body := adminRaw(t, g.URL, http.MethodGet, "/api/v1/messages?direction=sideways", "", bearer)
	wantError(t, "bad direction", code, body, http.StatusBadRequest, "direction")
	// A status keyway does not record, or a cursor it did not give, is
	// refused, not read as no messages or the first page.
	code, body = adminRaw(t, g.URL, http.MethodGet, "/api/v1/messages?status=bogus", "", bearer)
	wantError(t, "bad status", code, body, http.StatusBadRequest, "status", `"bogus"`, "undelivered")
	code, body = adminRaw(t, g.URL, http.MethodGet, "/api/v1/messages?cursor=garbage", "", bearer)
	wantError(t, "bad cursor", code, body, http.StatusBadRequest, "cursor")
	code, body = adminRaw(t, g.URL, http.MethodGet, "/api/v1/messages?cursor="+base64.RawURLEncoding.EncodeToString([]byte(a)), "", bearer)
	wantError(t, "a contact's cursor", code, body, http.StatusBadRequest, "cursor")
	var none messageLog
	if code := g.Admin(http.MethodGet, "/api/v1/messages?status=accepted", nil, &none); code != http.StatusOK || len(none.Messages) != 0 {
		t.Errorf("status=accepted, which no message holds: %d, %d messages; want 200 and none", code, len(none.Messages))
	}
}

func TestAdminManualStartWithVarsSkipsInvalidNumbers(t *testing.T) {
	t.Parallel()
	g := StartGateway(t, adminConfig)
	var res struct {
		Started int            `json:"started"`
		Skipped map[string]int `json:"skipped"`
		Invalid []string       `json:"invalid"`
	}
	body := map[string]any{
		"contacts": []string{"+15552220040", "not a number!", "+15552220041"},
		"vars":     map[string]any{"name": "friend", "code": "SAVE10"},
	}
	if code := g.Admin(http.MethodPost, "/api/v1/automations/promo/enrollments", body, &res); code != http.StatusAccepted {
		t.Fatalf("manual start: status %d", code)
	}
	if res.Started != 2 || res.Skipped["invalid"] != 1 || res.Skipped["opted_out"] != 0 {
		t.Fatalf("manual start: %+v, want two started and the invalid number counted as skipped", res)
	}
	// The answer names the value that was skipped as no number, as given.
	if !slices.Equal(res.Invalid, []string{"not a number!"}) {
		t.Errorf("manual start: invalid %q, want the value given that is no number", res.Invalid)
	}
	sent := g.Twilio.WaitSent(t, 2, patience)
	for _, m := range sent {
		if m.Body != "Hi friend, your code is SAVE10." {
			t.Errorf("message to %s: %q, want the vars filled in", m.To, m.Body)
		}
	}
	for _, bad := range []struct{ name, body, field string }{
		{"unknown field", `{"contacts": ["+15552220042"], "var": {}}`, "var"},
		{"bad var name", `{"contacts": ["+15552220042"], "vars": {"first name": "x"}}`, "vars.first name"},
		{"contacts not a list", `{"contacts": "+15552220042"}`, "contacts"},
		{"neither contacts nor group", `{}`, "contacts"},
		{"undeclared group", `{"group": "gold"}`, "group"},
	} {
		code, out := adminRaw(t, g.URL, http.MethodPost, "/api/v1/automations/promo/enrollments", bad.body, bearer)
		wantError(t, bad.name, code, out, http.StatusBadRequest, bad.field)
	}
}

// startWithServer starts a gateway whose server section gets the extra
// lines given (e.g. admin_listen), and whose admin token is token.
func startWithServer(t *testing.T, serverLines, token, body string) *Gateway {
	t.Helper()
	g := newGateway(t, body)
	raw, err := os.ReadFile(g.Config)
	if err != nil {
		t.Fatal(err)
	}
	cfg := strings.Replace(string(raw), "server:\n", "server:\n"+serverLines, 1)
	cfg = strings.Replace(cfg, fmt.Sprintf("token: %q", AdminToken), fmt.Sprintf("token: %q", token), 1)
	if err := os.WriteFile(g.Config, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	g.startUntilEnd()
	return g
}

var adminListening = regexp.MustCompile(`"admin_listen":"([^"]+)"`)

func TestAdminListenMovesAdminRoutesOffListen(t *testing.T) {
	t.Parallel()
	g := startWithServer(t, "  admin_listen: \"127.0.0.1:0\"\n", AdminToken, adminConfig)
	m := adminListening.FindStringSubmatch(g.Logs())
	if m == nil {
		t.Fatalf("no admin_listen address in the start log:\n%s", g.Logs())
	}
	admin := "http://" + m[1]
	for _, path := range []string{"/api/v1/automations", "/api/v1/contacts", "/api/v1/messages", "/metrics", "/admin/login", "/admin/automations"} {
		if code, _ := adminRaw(t, g.URL, http.MethodGet, path, "", bearer); code != http.StatusNotFound {
			t.Errorf("GET %s on listen: %d, want 404", path, code)
		}
	}
	for _, path := range []string{"/api/v1/automations", "/api/v1/contacts", "/api/v1/messages", "/metrics", "/admin/login", "/healthz"} {
		if code, body := adminRaw(t, admin, http.MethodGet, path, "", bearer); code != http.StatusOK {
			t.Errorf("GET %s on admin_listen: %d, want 200: %s", path, code, body)
		}
	}
	// Webhooks stay on listen only.
	g.Text(Inbound{From: "+15552220050", Body: "JOIN"})
	if code, _ := adminRaw(t, admin, http.MethodPost, "/webhooks/twilio", "", nil); code != http.StatusNotFound {
		t.Errorf("POST /webhooks/twilio on admin_listen: %d, want 404", code)
	}
	var c Contact
	req := bearer
	code, body := adminRaw(t, admin, http.MethodGet, "/api/v1/contacts/+15552220050", "", req)
	if code != http.StatusOK || json.Unmarshal([]byte(body), &c) != nil || c.Contact.Phone != "+15552220050" {
		t.Errorf("the admin listener does not see what listen stored: %d %s", code, body)
	}
}

func TestDashboardAndAPIOffWithoutToken(t *testing.T) {
	t.Parallel()
	g := startWithServer(t, "", "", adminConfig)
	for _, path := range []string{"/admin/", "/admin/login", "/admin/automations", "/api/v1/automations", "/api/v1/contacts"} {
		if code, _ := adminRaw(t, g.URL, http.MethodGet, path, "", nil); code != http.StatusNotFound {
			t.Errorf("GET %s with admin.token empty: %d, want 404", path, code)
		}
	}
	// The dashboard's pages say how to turn it on, with their stylesheet.
	if _, body := adminRaw(t, g.URL, http.MethodGet, "/admin/", "", nil); !strings.Contains(body, "admin.token") || !strings.Contains(body, "KEYWAY_ADMIN_TOKEN") {
		t.Errorf("/admin/ with admin.token empty does not say how to turn it on:\n%s", body)
	}
	if code, _ := adminRaw(t, g.URL, http.MethodGet, "/admin/style.css", "", nil); code != http.StatusOK {
		t.Errorf("the off page's stylesheet: %d", code)
	}
	if code, _ := adminRaw(t, g.URL, http.MethodPost, "/admin/login", "token=", map[string]string{"Content-Type": "application/x-www-form-urlencoded"}); code != http.StatusNotFound {
		t.Errorf("POST /admin/login with admin.token empty: %d, want 404", code)
	}
}

// The enrollments list and a contact's messages take a limit from 1;
// zero, a negative number or a word is a 400 naming the limit, not the
// whole list.
func TestAdminLimitsAreChecked(t *testing.T) {
	t.Parallel()
	g := StartGateway(t, adminConfig)
	g.Text(Inbound{From: "+15552220099", Body: "hello"})
	for _, path := range []string{"/api/v1/enrollments", "/api/v1/contacts/%2B15552220099/messages"} {
		for _, bad := range []string{"0", "-1", "many"} {
			code, body := adminRaw(t, g.URL, http.MethodGet, path+"?limit="+bad, "", bearer)
			wantError(t, path+" limit="+bad, code, body, http.StatusBadRequest, "limit")
		}
		if code, body := adminRaw(t, g.URL, http.MethodGet, path+"?limit=100000", "", bearer); code != http.StatusOK {
			t.Errorf("%s limit=100000: %d %s", path, code, body)
		}
	}
}

// TestAdminEnrollmentsRefusesBadActive: active= is true or false, as
// opted_out= is on the contacts; another value is a 400 that names it, not
// read as false (which listed ended enrollments to a script that asked for
// active ones with active=yes).
func TestAdminEnrollmentsRefusesBadActive(t *testing.T) {
	t.Parallel()
	g := StartGateway(t, adminConfig)
	for _, bad := range []string{"yes", "maybe", "on"} {
		code, body := adminRaw(t, g.URL, http.MethodGet, "/api/v1/enrollments?active="+bad, "", bearer)
		wantError(t, "active="+bad, code, body, http.StatusBadRequest, "active")
	}
	for _, good := range []string{"true", "false", "1", ""} {
		if code, body := adminRaw(t, g.URL, http.MethodGet, "/api/v1/enrollments?active="+good, "", bearer); code != http.StatusOK {
			t.Errorf("active=%s: %d %s", good, code, body)
		}
	}
}
