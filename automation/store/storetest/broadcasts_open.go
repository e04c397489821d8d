package storetest

import (
	"reflect"
	"testing"
	"time"

	"github.com/keyway-sms/keyway/automation/broadcast"
	"github.com/keyway-sms/keyway/automation/engine"
)

// testBroadcastsOpen checks OpenBroadcasts: the scheduled and running
// broadcasts only, oldest first, with their counts, up to a limit, and a
// broadcast that finishes leaves the list.
func testBroadcastsOpen(t *testing.T, s engine.Store) {
	open := func(limit int) ([]string, []*broadcast.Broadcast) {
		t.Helper()
		bs, err := bread(t, s, func(tx broadcast.Tx) ([]*broadcast.Broadcast, error) { return tx.OpenBroadcasts(limit) })
		if err != nil {
			t.Fatalf("OpenBroadcasts(%d): %v", limit, err)
		}
		ids := []string{}
		for _, b := range bs {
			ids = append(ids, b.ID)
		}
		return ids, bs
	}
	if ids, _ := open(0); len(ids) != 0 {
		t.Fatalf("OpenBroadcasts of an empty store = %v, want none", ids)
	}
	bupdate(t, s, func(tx broadcast.Tx) error {
		for _, b := range []*broadcast.Broadcast{
			newBroadcast("b1", broadcast.StatusDone, t0),
			newBroadcast("b2", broadcast.StatusRunning, t0),
			newBroadcast("b3", broadcast.StatusCanceled, t0),
			newBroadcast("b4", broadcast.StatusScheduled, t0.Add(time.Hour)),
			newBroadcast("b5", broadcast.StatusRunning, t0),
		} {
			if err := tx.PutBroadcast(b); err != nil {
				return err
			}
		}
		return nil
	})
	update(t, s, putMessages(bOutbound("m1", phoneA, "b2", engine.StatusSent, t0)))
	ids, bs := open(0)
	if !reflect.DeepEqual(ids, []string{"b2", "b4", "b5"}) {
		t.Fatalf("OpenBroadcasts = %v, want [b2 b4 b5]: the scheduled and running ones, oldest first", ids)
	}
	if bs[0].Sent != 1 || bs[0].Total != 3 || bs[0].Enrolled != 1 || bs[0].Skipped[engine.SkipOptedOut] != 1 {
		t.Errorf("OpenBroadcasts b2 = %+v, want its record and its counts (sent 1)", bs[0])
	}
	if ids, _ := open(2); !reflect.DeepEqual(ids, []string{"b2", "b4"}) {
		t.Errorf("OpenBroadcasts(2) = %v, want [b2 b4]", ids)
	}
	bupdate(t, s, func(tx broadcast.Tx) error {
		b, err := tx.Broadcast("b2")
		if err != nil {
			return err
		}
		b.Status = broadcast.StatusDone
		return tx.PutBroadcast(b)
	})
	if ids, _ := open(0); !reflect.DeepEqual(ids, []string{"b4", "b5"}) {
		t.Errorf("OpenBroadcasts after b2 was done = %v, want [b4 b5]", ids)
	}
}
