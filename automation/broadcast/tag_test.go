package broadcast_test

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/keyway-sms/keyway/automation/broadcast"
	"github.com/keyway-sms/keyway/automation/engine"
	"github.com/keyway-sms/keyway/automation/sim/simtest"
)

// tagEveryOther stores n contacts, +1555000000 onwards, and tags vip two
// of every three; it returns the tagged ones, in phone order.
func tagEveryOther(t *testing.T, s engine.Store, n int) (all, tagged []string) {
	t.Helper()
	err := s.Update(t.Context(), func(tx engine.Tx) error {
		for i := range n {
			c := &engine.Contact{Phone: fmt.Sprintf("+1555%07d", i), Channel: "sms", CreatedAt: start, UpdatedAt: start}
			if i%3 != 2 {
				c.Tags = []string{"vip", "other"}
				tagged = append(tagged, c.Phone)
			}
			all = append(all, c.Phone)
			if err := tx.PutContact(c); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return all, tagged
}

// A tag broadcast has its total when it is stored, scheduled or started
// now, and enrolls exactly the contacts tagged, a batch at a time.
func TestATagBroadcastIsCountedAtStartAndEnrollsTheTagged(t *testing.T) {
	sim := simtest.At(t, simtest.Compile(t, promoConfig), start)
	all, tagged := tagEveryOther(t, sim.Store, 3*broadcast.Batch+30)
	// One loses the tag, one untagged gets it: the index follows.
	changeContact(t, sim.Store, tagged[0], func(c *engine.Contact) { c.Tags = []string{"other"} })
	changeContact(t, sim.Store, all[2], func(c *engine.Contact) { c.Tags = []string{"vip"} })
	tagged = append(tagged[1:], all[2])
	slices.Sort(tagged)
	if len(tagged) <= 2*broadcast.Batch {
		t.Fatalf("%d tagged contacts make fewer than three batches", len(tagged))
	}
	r := broadcast.NewRunner(sim.Engine, broadcast.Options{Owner: "p1", Logger: zerolog.Nop()})

	later, err := r.Start(t.Context(), broadcast.Spec{Automation: "promo", Tag: "vip", At: start.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if later.Status != broadcast.StatusScheduled || later.Total != len(tagged) || !later.Counted {
		t.Fatalf("scheduled: %s total %d counted %v; want scheduled, %d, counted", later.Status, later.Total, later.Counted, len(tagged))
	}
	if got, err := r.Get(t.Context(), later.ID); err != nil || got.Total != len(tagged) || !got.Counted {
		t.Fatalf("scheduled, as stored: %+v, %v; want total %d", got, err, len(tagged))
	}

	b, err := r.StartNow(t.Context(), broadcast.Spec{Automation: "promo", Tag: "vip", Vars: map[string]any{"code": "V"}})
	if err != nil {
		t.Fatal(err)
	}
	if b.Status != broadcast.StatusDone || b.Total != len(tagged) || b.Enrolled != len(tagged) || len(b.Skipped) != 0 {
		t.Fatalf("broadcast = %s total %d enrolled %d skipped %v; want done, %d, %d, none", b.Status, b.Total, b.Enrolled, b.Skipped, len(tagged), len(tagged))
	}
	if b.Cursor != tagged[len(tagged)-1] {
		t.Errorf("cursor %q, want the last tagged phone %s", b.Cursor, tagged[len(tagged)-1])
	}
	per, named := enrollments(t, sim.Store, "promo", b.ID)
	if got := slices.Sorted(maps.Keys(per)); !slices.Equal(got, tagged) || named != len(tagged) {
		t.Fatalf("enrolled %d contacts (%d naming the broadcast), want the %d tagged:\ngot  %v\nwant %v", len(got), named, len(tagged), got, tagged)
	}
	if sent := simtest.DrainOutbox(t, sim.Store); len(sent) != len(tagged) {
		t.Errorf("%d messages queued, want %d", len(sent), len(tagged))
	}
}

// A tag broadcast stored by a keyway that went through every contact, a
// page at a time, goes on from its cursor (the last phone of the page it
// stood at, tagged or not) with the tagged contacts after it, and ends
// with every tagged contact enrolled once.
func TestATagBroadcastInFlightAtUpgradeFinishes(t *testing.T) {
	sim := simtest.At(t, simtest.Compile(t, promoConfig), start)
	all, tagged := tagEveryOther(t, sim.Store, 2*broadcast.Batch+40)
	// The earlier keyway went through about Batch contacts of the whole
	// list in one transaction and enrolled the tagged among them.
	cursor := all[broadcast.Batch-1]
	for i := broadcast.Batch - 1; slices.Contains(tagged, cursor); i++ {
		cursor = all[i] // the page ended on an untagged contact
	}
	done, rest := 0, []string{}
	for _, p := range tagged {
		if p <= cursor {
			done++
		} else {
			rest = append(rest, p)
		}
	}
	r := broadcast.NewRunner(sim.Engine, broadcast.Options{Owner: "p1", Logger: zerolog.Nop()})
	err := sim.Store.Update(t.Context(), func(tx engine.Tx) error {
		return tx.(broadcast.Tx).PutBroadcast(&broadcast.Broadcast{
			ID: "b-old", Automation: "promo", Tag: "vip", Source: broadcast.SourceAPI, Status: broadcast.StatusRunning,
			At: start, Total: len(tagged), Counted: true, Enrolled: done, Skipped: map[string]int{}, Cursor: cursor,
			Owner: "p1", LeaseUntil: start.Add(time.Minute), CreatedAt: start, UpdatedAt: start,
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	b, err := r.Drive(t.Context(), "b-old")
	if err != nil {
		t.Fatal(err)
	}
	if b.Status != broadcast.StatusDone || b.Enrolled != len(tagged) || b.Total != len(tagged) {
		t.Fatalf("broadcast = %s enrolled %d total %d; want done, %d, %d", b.Status, b.Enrolled, b.Total, len(tagged), len(tagged))
	}
	per, _ := enrollments(t, sim.Store, "promo", "b-old")
	if got := slices.Sorted(maps.Keys(per)); !slices.Equal(got, rest) {
		t.Fatalf("enrolled after the upgrade %d contacts, want the %d tagged after the cursor:\ngot  %v\nwant %v", len(got), len(rest), got, rest)
	}
}

// watching is a store that, after each Update, reads broadcast id as
// it then stands.
type watching struct {
	engine.Store
	id    string
	after []broadcast.Broadcast
}

func (w *watching) Update(ctx context.Context, fn func(engine.Tx) error) error {
	if err := w.Store.Update(ctx, fn); err != nil {
		return err
	}
	return w.Store.View(ctx, func(tx engine.Tx) error {
		b, err := tx.(broadcast.Tx).Broadcast(w.id)
		if err == nil {
			w.after = append(w.after, *b)
		}
		return err
	})
}

// A tag broadcast stored uncounted (scheduled by a keyway that counted
// tags when they started) is counted from the tag index before its first
// batch.
func TestAnUncountedTagBroadcastIsCountedBeforeItsFirstBatch(t *testing.T) {
	set := simtest.Compile(t, promoConfig)
	sim := simtest.At(t, set, start)
	_, tagged := tagEveryOther(t, sim.Store, 2*broadcast.Batch)
	err := sim.Store.Update(t.Context(), func(tx engine.Tx) error {
		return tx.(broadcast.Tx).PutBroadcast(&broadcast.Broadcast{
			ID: "b-old", Automation: "promo", Tag: "vip", Source: broadcast.SourceAPI, Status: broadcast.StatusRunning,
			At: start, Skipped: map[string]int{}, Owner: "p1", LeaseUntil: start.Add(time.Minute), CreatedAt: start, UpdatedAt: start,
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	w := &watching{Store: sim.Store, id: "b-old"}
	r := broadcast.NewRunner(engine.New(w, set, engine.Options{Clock: sim.Clock}), broadcast.Options{Owner: "p1", Logger: zerolog.Nop()})
	b, err := r.Drive(t.Context(), "b-old")
	if err != nil {
		t.Fatal(err)
	}
	if b.Status != broadcast.StatusDone || b.Enrolled != len(tagged) || b.Total != len(tagged) {
		t.Fatalf("broadcast = %s enrolled %d total %d; want done, %d, %d", b.Status, b.Enrolled, b.Total, len(tagged), len(tagged))
	}
	if len(w.after) < 3 {
		t.Fatalf("%d commits, want the count and two batches", len(w.after))
	}
	if first := w.after[0]; !first.Counted || first.Total != len(tagged) || first.Enrolled != 0 {
		t.Errorf("after the first commit: counted %v total %d enrolled %d; want counted, %d, none yet", first.Counted, first.Total, first.Enrolled, len(tagged))
	}
	if mid := w.after[1]; mid.Status != broadcast.StatusRunning || mid.Total != len(tagged) || mid.Enrolled == 0 {
		t.Errorf("after the first batch: %s total %d enrolled %d; want running, %d, some", mid.Status, mid.Total, mid.Enrolled, len(tagged))
	}
}
