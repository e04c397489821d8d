package gateway

import (
	"strings"
	"testing"

	"github.com/keyway-sms/keyway/automation/broadcast"
	"github.com/keyway-sms/keyway/automation/engine"
)

func TestDashboardListsBroadcastsWithProgress(t *testing.T) {
	d := newDash(t, dashConfig)
	if page := text(d.get("/admin/broadcasts")); !strings.Contains(page, "No broadcasts yet.") {
		t.Fatalf("empty list:\n%s", page)
	}
	r := d.tg.g.Broadcasts()
	done, err := r.StartNow(t.Context(), broadcast.Spec{Automation: "join", Contacts: []string{"+15551230001", "+15551230002"}, Invalid: 1})
	if err != nil || done.Status != broadcast.StatusDone {
		t.Fatalf("StartNow: %+v, %v", done, err)
	}
	err = d.tg.g.store.Update(t.Context(), func(tx engine.Tx) error {
		for _, p := range []string{"+15551230003", "+15551230004"} {
			if err := tx.PutContact(&engine.Contact{Phone: p, Tags: []string{"vip"}}); err != nil {
				return err
			}
		}
		// A scheduled one stored by a keyway that counted a tag's contacts
		// when it started.
		return tx.(broadcast.Tx).PutBroadcast(&broadcast.Broadcast{ID: "b-uncounted", Automation: "desk", Tag: "vip",
			Status: broadcast.StatusScheduled, At: done.CreatedAt.Add(48 * 3600e9), Source: broadcast.SourceAPI, CreatedAt: done.CreatedAt, UpdatedAt: done.CreatedAt})
	})
	if err != nil {
		t.Fatal(err)
	}
	later, err := r.Start(t.Context(), broadcast.Spec{Automation: "desk", Tag: "vip", At: done.CreatedAt.Add(24 * 3600e9)})
	if err != nil {
		t.Fatal(err)
	}
	page := d.get("/admin/broadcasts")
	for _, want := range []string{
		`data-broadcast="` + done.ID + `"`, `<progress value="3" max="3">`, "2 enrolled of 3", "invalid 1", "2 listed",
		// A tag's contacts are counted when it is stored, scheduled or not.
		`data-broadcast="` + later.ID + `"`, `<progress value="0" max="2">`, "tag vip", `bc-scheduled`, "0 enrolled of 2", `href="/admin/start"`,
		`data-broadcast="b-uncounted"`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("the list lacks %q:\n%s", want, page)
		}
	}
	// One stored uncounted shows the tag as it is now, as a counted one does.
	if n := strings.Count(page, "0 enrolled of 2"); n != 2 {
		t.Errorf("%d scheduled broadcasts show the tag's 2 contacts, want 2:\n%s", n, page)
	}
	if strings.Index(page, later.ID) > strings.Index(page, done.ID) {
		t.Errorf("the list is not newest first")
	}
	if !strings.Contains(page, `href="/admin/broadcasts" aria-current="page"`) {
		t.Errorf("the navigation does not mark the page")
	}
}
