package gateway

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/keyway-sms/keyway/automation/broadcast"
	"github.com/keyway-sms/keyway/automation/engine"
)

// The overview shows the broadcasts in progress, running or scheduled,
// with a progress bar and the same in words, and leaves finished ones to
// the list of broadcasts; past overviewBroadcasts it says there are more.
func TestOverviewShowsBroadcastsInProgress(t *testing.T) {
	d := newDash(t, dashConfig)
	if page := text(d.get("/admin/overview")); !strings.Contains(page, "None: no broadcast is running or scheduled.") {
		t.Fatalf("the overview without broadcasts:\n%s", page)
	}
	now := time.Now()
	put := func(bs ...*broadcast.Broadcast) {
		t.Helper()
		err := d.tg.g.store.Update(t.Context(), func(tx engine.Tx) error {
			for _, b := range bs {
				if err := tx.(broadcast.Tx).PutBroadcast(b); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	bc := func(id string, status broadcast.Status) *broadcast.Broadcast {
		// Leased by another process, so that this one leaves it be.
		return &broadcast.Broadcast{ID: id, Automation: "join", Group: "vip", Status: status, At: now, Source: broadcast.SourceAPI,
			Total: 4, Enrolled: 2, Skipped: map[string]int{engine.SkipOptedOut: 1}, Counted: true,
			Owner: "elsewhere", LeaseUntil: now.Add(time.Hour), CreatedAt: now, UpdatedAt: now}
	}
	scheduled := bc("b3", broadcast.StatusScheduled)
	scheduled.At, scheduled.Enrolled, scheduled.Skipped, scheduled.Counted, scheduled.Total = now.Add(48*time.Hour), 0, nil, false, 0
	counted := bc("b4", broadcast.StatusScheduled)
	counted.At, counted.Enrolled, counted.Skipped = now.Add(72*time.Hour), 0, nil
	put(bc("b1", broadcast.StatusDone), bc("b2", broadcast.StatusRunning), scheduled, counted)
	// The group has 5 members now: a scheduled broadcast shows them, not
	// the 4 it counted when stored (nor nothing, when stored uncounted).
	err := d.tg.g.store.Update(t.Context(), func(tx engine.Tx) error {
		for i := range 5 {
			p := fmt.Sprintf("+1555888%04d", i)
			if err := tx.PutContact(&engine.Contact{Phone: p, Channel: "sms", Groups: []string{"vip"}, CreatedAt: now, UpdatedAt: now}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	page := d.get("/admin/overview")
	shown := text(page)
	for _, want := range []string{
		"Broadcasts in progress : 3 running or scheduled",
		"3 of 4 contacts gone through (75%) : 2 enrolled, 1 skipped; 0 sent, 0 delivered, 0 failed, 0 replied",
		"Starts", "5 contacts in it now.",
	} {
		if !strings.Contains(shown, want) {
			t.Errorf("the overview lacks %q:\n%s", want, shown)
		}
	}
	for _, want := range []string{`data-broadcast="b2"`, `<rect class="done" x="0" y="0" width="75.0"`, `data-broadcast="b3"`, `bc-scheduled`, `href="/admin/broadcasts"`} {
		if !strings.Contains(page, want) {
			t.Errorf("the overview lacks %s", want)
		}
	}
	if strings.Contains(page, `data-broadcast="b1"`) {
		t.Errorf("the overview shows the finished broadcast b1")
	}
	if n := strings.Count(shown, "5 contacts in it now."); n != 2 {
		t.Errorf("%d scheduled broadcasts show the group as it is now, want 2:\n%s", n, shown)
	}
	if strings.Contains(shown, "More are in progress") {
		t.Errorf("the overview says there are more than 2")
	}

	var many []*broadcast.Broadcast
	for i := range overviewBroadcasts {
		many = append(many, bc(fmt.Sprintf("c%02d", i), broadcast.StatusRunning))
	}
	put(many...)
	page = d.get("/admin/overview")
	if n := strings.Count(page, "<li data-broadcast="); n != overviewBroadcasts {
		t.Errorf("the overview shows %d broadcasts, want %d", n, overviewBroadcasts)
	}
	if shown := text(page); !strings.Contains(shown, "More are in progress: see them all") || !strings.Contains(shown, "10+ running or scheduled") {
		t.Errorf("the overview does not say there are more:\n%s", shown)
	}
}
