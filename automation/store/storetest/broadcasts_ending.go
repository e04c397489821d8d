package storetest

import (
	"reflect"
	"testing"
	"time"

	"github.com/keyway-sms/keyway/automation/broadcast"
	"github.com/keyway-sms/keyway/automation/engine"
)

// testBroadcastClaimEnding checks that a broadcast canceled with its
// enrollments still to end (Ending) stays claimable, whatever its status
// and At, keeps its status when claimed, is leased like any other, is no
// open broadcast, and leaves the claimable ones once its ending is done.
func testBroadcastClaimEnding(t *testing.T, s engine.Store) {
	bupdate(t, s, func(tx broadcast.Tx) error {
		ending := newBroadcast("b1", broadcast.StatusCanceled, t0.Add(time.Hour)) // canceled before its time
		ending.Ending, ending.EndCursor = true, "e0001"
		doneEnding := newBroadcast("b2", broadcast.StatusDone, t0)
		doneEnding.Ending = true
		ended := newBroadcast("b3", broadcast.StatusCanceled, t0)
		for _, b := range []*broadcast.Broadcast{ending, doneEnding, ended} {
			if err := tx.PutBroadcast(b); err != nil {
				return err
			}
		}
		return nil
	})
	if bs, err := bread(t, s, func(tx broadcast.Tx) ([]*broadcast.Broadcast, error) { return tx.OpenBroadcasts(0) }); err != nil || len(bs) != 0 {
		t.Fatalf("OpenBroadcasts = %d broadcasts, %v; want none: ending enrollments is not enrolling", len(bs), err)
	}
	if id := claimBroadcast(t, s, t0, "p1", nil); id != "b1" {
		t.Fatalf("claimed %q, want b1: its enrollments are to end, whatever its time", id)
	}
	got := getBroadcast(t, s, "b1")
	if got.Status != broadcast.StatusCanceled || !got.Ending || got.EndCursor != "e0001" || got.Owner != "p1" || !got.LeaseUntil.Equal(t0.Add(10*time.Second)) {
		t.Fatalf("claimed b1: %+v; want it canceled still, ending from e0001, leased to p1 until %s", got, t0.Add(10*time.Second))
	}
	if id := claimBroadcast(t, s, t0.Add(time.Second), "p1", func(b *broadcast.Broadcast) (bool, error) { return b.ID == "b1", nil }); id != "b2" {
		t.Fatalf("claimed %q, want b2: a done broadcast whose enrollments are to end", id)
	}
	if got := getBroadcast(t, s, "b2"); got.Status != broadcast.StatusDone || got.Owner != "p1" {
		t.Fatalf("claimed b2: status %s owner %q; want it done still, leased to p1", got.Status, got.Owner)
	}
	if id := claimBroadcast(t, s, t0.Add(time.Second), "p2", nil); id != "" {
		t.Fatalf("p2 claimed %q under p1's leases", id)
	}
	bupdate(t, s, func(tx broadcast.Tx) error {
		for _, id := range []string{"b1", "b2"} {
			b, err := tx.Broadcast(id)
			if err != nil {
				return err
			}
			b.Ending, b.Ended = false, 7
			if err := tx.PutBroadcast(b); err != nil {
				return err
			}
		}
		return nil
	})
	if id := claimBroadcast(t, s, t0.Add(2*time.Hour), "p2", nil); id != "" {
		t.Fatalf("claimed %q once every ending was done, want none", id)
	}
	want := newBroadcast("b1", broadcast.StatusCanceled, t0.Add(time.Hour))
	want.EndCursor, want.Ended = "e0001", 7
	got = getBroadcast(t, s, "b1")
	got.Owner, got.LeaseUntil, got.UpdatedAt = "", time.Time{}, t0
	if !reflect.DeepEqual(got, want) {
		t.Errorf("b1 after its ending = %+v\nwant %+v", got, want)
	}
}
