package bolt

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/keyway-sms/keyway/automation/engine"
)

// engineID makes an id as the engine's idGen does: the nanoseconds, then
// random hex.
func engineID(at time.Time, suffix string) string {
	return fmt.Sprintf("%016x%s", at.UnixNano(), suffix)
}

// createdFixture stores messages whose ids say their creation time, and
// others, and one in the outbox; it returns the ids in creation order and
// the queued one.
func createdFixture(t *testing.T, s *Bolt, t0 time.Time) (order []string, queued string) {
	t.Helper()
	type msg struct {
		id string
		at time.Time
	}
	msgs := []msg{
		{engineID(t0.Add(1*time.Second), "aaaaaa"), t0.Add(1 * time.Second)},
		{"m0001", t0.Add(2 * time.Second)},                                     // not an engine id: indexed
		{engineID(t0.Add(3*time.Second), "bbbbbb"), t0.Add(3 * time.Second)},   // queued
		{engineID(t0.Add(4*time.Second), "cccccc"), t0.Add(4*time.Second - 1)}, // bumped one nanosecond past its creation: indexed
		{engineID(t0.Add(5*time.Second), "dddddd"), t0.Add(5 * time.Second)},
		{"0000000000000000zzzzzz", t0.Add(6 * time.Second)}, // sorts first, says 1970: indexed
		{engineID(t0.Add(7*time.Second), "eeeeee"), t0.Add(7 * time.Second)},
		{engineID(t0.Add(time.Hour), "ffffff"), t0.Add(time.Hour)}, // after the cut
	}
	queued = msgs[2].id
	err := s.Update(context.Background(), func(tx engine.Tx) error {
		for i, m := range msgs {
			err := tx.PutMessage(&engine.Message{ID: m.id, Provider: "twilio", ProviderID: fmt.Sprintf("SM%d", i), Contact: "+15550001",
				Direction: engine.Inbound, Kind: engine.KindText, Status: engine.StatusReceived, CreatedAt: m.at, UpdatedAt: m.at})
			if err != nil {
				return err
			}
		}
		return tx.Enqueue(&engine.Message{ID: queued, To: []string{"+15550001"}})
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range msgs {
		order = append(order, m.id)
	}
	return order, queued
}

func indexed(t *testing.T, s *Bolt) []string {
	t.Helper()
	var ids []string
	err := s.db.View(func(tx *bbolt.Tx) error {
		return tx.Bucket(bMsgCreated).ForEach(func(k, _ []byte) error { ids = append(ids, string(k[12:])); return nil })
	})
	if err != nil {
		t.Fatal(err)
	}
	return ids
}

func pruneAll(t *testing.T, s *Bolt, before time.Time, batch int) (removed [][]string) {
	t.Helper()
	for range 20 {
		var got []string
		err := s.Update(context.Background(), func(tx engine.Tx) error {
			// The ids in the store before and after say which went.
			bt := tx.(*boltTx)
			ids, err := bt.pruneCandidates(before, batch)
			if err != nil {
				return err
			}
			n, err := tx.PruneMessages(before, batch)
			if err != nil {
				return err
			}
			if n != len(ids) {
				return fmt.Errorf("PruneMessages = %d, candidates %v", n, ids)
			}
			got = ids
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) == 0 {
			return removed
		}
		removed = append(removed, got)
	}
	t.Fatal("pruning never ended")
	return nil
}

// A message whose id says its creation time gets no creation-time index
// entry, and pruning still removes messages oldest first, in batches, the
// queued one aside, with their indexes.
func TestPruneFindsMessagesByTheirIDs(t *testing.T) {
	s, err := Open(filepath.Join(t.TempDir(), "keyway.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	t0 := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	order, queued := createdFixture(t, s, t0)
	if got, want := indexed(t, s), []string{"0000000000000000zzzzzz", "m0001", order[3]}; !sameSet(got, want) {
		t.Errorf("indexed %v, want only %v", got, want)
	}
	removed := pruneAll(t, s, t0.Add(time.Minute), 2)
	want := [][]string{{order[0], order[1]}, {order[3], order[4]}, {order[5], order[6]}}
	if fmt.Sprint(removed) != fmt.Sprint(want) {
		t.Errorf("pruned in batches %v, want %v", removed, want)
	}
	err = s.View(context.Background(), func(tx engine.Tx) error {
		page, err := tx.MessagesPage("", 100)
		if err != nil {
			return err
		}
		var left []string
		for _, m := range page {
			left = append(left, m.ID)
		}
		if !sameSet(left, []string{queued, order[7]}) {
			t.Errorf("left %v, want the queued one and the one after the cut", left)
		}
		if _, err := tx.MessageByProviderID("twilio", "SM0"); err == nil {
			t.Error("a pruned message's provider id still finds it")
		}
		msgs, err := tx.Messages("+15550001", 100)
		if len(msgs) != 2 {
			t.Errorf("Messages(contact) lists %d, want 2", len(msgs))
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := indexed(t, s); len(got) != 0 {
		t.Errorf("index entries left: %v", got)
	}
}

// A data file from an earlier keyway indexes every message: each is
// pruned once, oldest first, and its entry goes with it. A file from
// before the index had none: Open indexes only the messages whose ids do
// not say their creation time.
func TestPruneOnAnOldIndex(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keyway.db")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	order, _ := createdFixture(t, s, t0)
	err = s.db.Update(func(tx *bbolt.Tx) error { // as an earlier keyway indexed them
		return tx.Bucket(bMessages).ForEach(func(k, v []byte) error {
			var m engine.Message
			if err := decodeValue(v, &m); err != nil {
				return err
			}
			return tx.Bucket(bMsgCreated).Put(dueKey(m.CreatedAt, string(k)), []byte{})
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	removed := pruneAll(t, s, t0.Add(time.Minute), 4)
	want := [][]string{{order[0], order[1], order[3], order[4]}, {order[5], order[6]}}
	if fmt.Sprint(removed) != fmt.Sprint(want) {
		t.Errorf("pruned in batches %v, want %v", removed, want)
	}
	if got := indexed(t, s); !sameSet(got, []string{order[2], order[7]}) {
		t.Errorf("index entries left %v, want those of the queued message and the one after the cut", got)
	}

	// Before the index: Open builds it, for the messages that need it.
	err = s.db.Update(func(tx *bbolt.Tx) error { return tx.DeleteBucket(bMsgCreated) })
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if s, err = Open(path); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if got := indexed(t, s); len(got) != 0 {
		t.Errorf("Open indexed %v, want none: both ids say their creation time", got)
	}
	if removed := pruneAll(t, s, t0.Add(2*time.Hour), 10); fmt.Sprint(removed) != fmt.Sprint([][]string{{order[7]}}) {
		t.Errorf("pruned %v, want [[%s]] (the other is queued)", removed, order[7])
	}
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}
