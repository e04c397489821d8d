package test

import (
	"net/http"
	"net/url"
	"testing"

	"github.com/keyway-sms/keyway/automation/store/postgres/pgtest"
)

// A signed webhook whose Body holds a NUL character (U+0000), which
// PostgreSQL's jsonb refuses, gets its 200 on PostgreSQL as on bbolt, and
// its stored message, and its reply, read back the same on both: the NUL
// as U+FFFD. So does a contact name with a NUL set through the admin API.
func TestPostgresTakesNULLikeBolt(t *testing.T) {
	t.Parallel()
	const phone = "+15553100001"
	type seen struct{ in, out, name string }
	stores := map[string]seen{}
	for _, store := range []string{"bbolt", "postgres"} {
		dsn := ""
		if store == "postgres" {
			dsn = pgtest.NewDatabase(t)
		}
		g := startProcesses(t, 1, echoConfig, 0, dsn)[0]
		if err := postText(g, Inbound{From: phone, Body: "hi\x00there"}); err != nil {
			t.Fatalf("%s: %v", store, err)
		}
		msgs := g.Settled(t, phone)
		var s seen
		for _, m := range msgs {
			if m.Direction == "in" {
				s.in = m.Body
			} else {
				s.out = m.Body
			}
		}
		if code := g.Admin(http.MethodPut, "/api/v1/contacts/"+url.PathEscape(phone), map[string]any{"name": "A\x00nn"}, nil); code != http.StatusOK {
			t.Fatalf("%s: PUT a contact name with a NUL: status %d, want 200", store, code)
		}
		s.name = g.Contact(phone).Contact.Name
		stores[store] = s
	}
	want := seen{in: "hi\uFFFDthere", out: "got hi\uFFFDthere", name: "A\uFFFDnn"}
	for store, s := range stores {
		if s != want {
			t.Errorf("%s read back inbound %q, reply %q, name %q; want %q, %q, %q", store, s.in, s.out, s.name, want.in, want.out, want.name)
		}
	}
}
