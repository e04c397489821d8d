package broadcast_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/keyway-sms/keyway/automation/broadcast"
	"github.com/keyway-sms/keyway/automation/engine"
	"github.com/keyway-sms/keyway/automation/sim/simtest"
)

// leave has the contact with phone unsubscribe from group news, as an
// unsubscribe step does: out of the group, the group in its LeftGroups.
func leave(t *testing.T, s engine.Store, phone string) {
	t.Helper()
	changeContact(t, s, phone, func(c *engine.Contact) {
		c.Groups = slices.DeleteFunc(c.Groups, func(g string) bool { return g == "news" })
		c.LeftGroups = append(c.LeftGroups, "news")
	})
}

// leavers has some of phones, the members of news, leave it, at the
// batch boundaries, and one contact never a member unsubscribe from it; it
// returns the phones of those that left and have not joined again, and
// those that are to be enrolled.
func leavers(t *testing.T, s engine.Store, phones []string) (left, enrolled []string) {
	t.Helper()
	// A contact never in the group that unsubscribed from it (the
	// dashboard's edit of an earlier keyway), between two members.
	outsider := phones[broadcast.Batch-1] + "5"
	err := s.Update(t.Context(), func(tx engine.Tx) error {
		return tx.PutContact(&engine.Contact{Phone: outsider, Channel: "sms", LeftGroups: []string{"news"}, CreatedAt: start, UpdatedAt: start})
	})
	if err != nil {
		t.Fatal(err)
	}
	left = []string{phones[0], phones[broadcast.Batch-1], outsider, phones[broadcast.Batch], phones[2*broadcast.Batch+6]}
	for _, p := range left {
		if p != outsider {
			leave(t, s, p)
		}
	}
	// One left and joined again: a member like any other.
	leave(t, s, phones[3])
	changeContact(t, s, phones[3], func(c *engine.Contact) {
		c.Groups, c.LeftGroups = append(c.Groups, "news"), slices.DeleteFunc(c.LeftGroups, func(g string) bool { return g == "news" })
	})
	// One left and opted out: counted as opted out.
	optedOut := phones[5]
	leave(t, s, optedOut)
	changeContact(t, s, optedOut, func(c *engine.Contact) { c.OptedOut = true })
	// One taken out of the group by an admin did not unsubscribe: it is
	// no longer among those the broadcast is for.
	changeContact(t, s, phones[7], func(c *engine.Contact) { c.Groups = nil })
	for _, p := range phones {
		if !slices.Contains(left, p) && p != optedOut && p != phones[7] {
			enrolled = append(enrolled, p)
		}
	}
	return left, enrolled
}

func TestAGroupBroadcastCountsThoseThatLeftTheGroup(t *testing.T) {
	sim := simtest.At(t, simtest.Compile(t, promoConfig), start)
	r := broadcast.NewRunner(sim.Engine, broadcast.Options{Owner: "p1", Logger: zerolog.Nop()})
	// Scheduled while everyone is still in the group.
	all := members(t, sim.Store, 2*broadcast.Batch+7)
	b, err := r.Start(t.Context(), broadcast.Spec{Automation: "promo", Group: "news", At: start.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if b.Total != len(all) {
		t.Fatalf("scheduled: total %d, want %d", b.Total, len(all))
	}
	left, enrolled := leavers(t, sim.Store, all)

	sim.Clock.Advance(time.Hour)
	got := runUntilDone(t, r, b.ID)
	want := map[string]int{engine.SkipLeftGroup: len(left), engine.SkipOptedOut: 1}
	if got.Enrolled != len(enrolled) || fmt.Sprint(got.Skipped) != fmt.Sprint(want) || got.Total != len(enrolled)+len(left)+1 {
		t.Fatalf("done: total %d enrolled %d skipped %v; want %d, %d, %v", got.Total, got.Enrolled, got.Skipped, len(enrolled)+len(left)+1, len(enrolled), want)
	}
	per, tagged := enrollments(t, sim.Store, "promo", b.ID)
	if tagged != len(enrolled) {
		t.Errorf("%d enrollments of the broadcast, want %d", tagged, len(enrolled))
	}
	for _, p := range enrolled {
		if per[p] != 1 {
			t.Errorf("member %s enrolled %d times, want once", p, per[p])
		}
	}
	if len(per) != len(enrolled) {
		t.Errorf("%d contacts enrolled, want %d", len(per), len(enrolled))
	}

	// A broadcast counted now counts those that left in its total.
	again, err := r.Start(t.Context(), broadcast.Spec{Automation: "promo", Group: "news", At: start.Add(2 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if want := len(enrolled) + len(left) + 1; again.Total != want {
		t.Errorf("counted at start: total %d, want %d (members and those that left)", again.Total, want)
	}
}
