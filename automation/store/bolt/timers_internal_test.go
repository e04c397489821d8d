package bolt

import (
	"context"
	"encoding/json"
	"path/filepath"
	"testing"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/keyway-sms/keyway/automation/engine"
)

// Timers written by an earlier keyway hold the whole Timer in the value
// (S2-compressed JSON, or plain JSON before that). A file holding them
// opens, lists them with every field, counts them, deletes them, and a
// timer put again is stored in the compact form.
func TestOldTimerValuesStillRead(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keyway.db")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 12, 1, 12, 0, 0, 123456789, time.UTC)
	compressed := engine.Timer{Due: t0, Enrollment: "0000018c1a2b3c4d5e6f70aaaaaa", Automation: "survey", Epoch: 4, Kind: engine.TimerTimeout}
	plain := engine.Timer{Due: t0.Add(time.Minute), Enrollment: "e2", Automation: "remind", Epoch: 1, Kind: engine.TimerWait}
	err = s.db.Update(func(tx *bbolt.Tx) error {
		t := &boltTx{tx: tx, writable: true}
		v, err := encodeValue(compressed) // as the keyway before this one wrote it
		if err != nil {
			return err
		}
		if err := t.bucket(bTimers).Put(timerKey(compressed.Due, compressed.Enrollment), v); err != nil {
			return err
		}
		raw, err := json.Marshal(plain) // as keyway before compressed records wrote it
		if err != nil {
			return err
		}
		if err := t.bucket(bTimers).Put(timerKey(plain.Due, plain.Enrollment), raw); err != nil {
			return err
		}
		return t.count(countTimers, 2)
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s, err = Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	var due []engine.Timer
	err = s.View(ctx, func(tx engine.Tx) error {
		due, err = tx.DueTimers(t0.Add(time.Hour), 10)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(due) != 2 || !sameTimer(due[0], compressed) || !sameTimer(due[1], plain) {
		t.Fatalf("DueTimers = %+v, want %+v and %+v", due, compressed, plain)
	}
	// Deleted as read, counted down; put again, stored compact.
	err = s.Update(ctx, func(tx engine.Tx) error {
		if err := tx.DeleteTimer(due[0]); err != nil {
			return err
		}
		return tx.PutTimer(due[1])
	})
	if err != nil {
		t.Fatal(err)
	}
	err = s.View(ctx, func(tx engine.Tx) error {
		bt := tx.(*boltTx)
		if n, _ := bt.PendingTimers(); n != 1 {
			t.Errorf("PendingTimers = %d, want 1", n)
		}
		if bt.tx.Bucket(bTimers).Get(timerKey(compressed.Due, compressed.Enrollment)) != nil {
			t.Error("the deleted old timer is still stored")
		}
		v := bt.tx.Bucket(bTimers).Get(timerKey(plain.Due, plain.Enrollment))
		if len(v) == 0 || v[0] != codecTimerV1 {
			t.Errorf("a timer put again is stored as %q, want the compact form", v)
		}
		got, err := tx.DueTimers(t0.Add(time.Hour), 10)
		if err != nil {
			return err
		}
		if len(got) != 1 || !sameTimer(got[0], plain) {
			t.Errorf("DueTimers = %+v, want %+v", got, plain)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// The compact form keeps every field, and instants the key's nanoseconds
// cannot hold (the zero time, the far future) in the value.
func TestTimerValueRoundTrip(t *testing.T) {
	for _, tm := range []engine.Timer{
		{Due: time.Date(2026, 12, 1, 12, 0, 0, 1, time.UTC), Enrollment: "0000018c1a2b3c4d5e6f70aaaaaa", Automation: "survey", Epoch: 12, Kind: engine.TimerIO},
		{Due: time.Date(2026, 12, 1, 12, 0, 0, 0, time.FixedZone("UTC-5", -5*3600)), Enrollment: "e", Automation: "", Epoch: -1, Kind: ""},
		{Due: time.Time{}, Enrollment: "e", Automation: "a", Epoch: 0, Kind: engine.TimerHold},
		{Due: time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC), Enrollment: "e", Automation: "a\x00b", Epoch: 1 << 40, Kind: engine.TimerExpire},
	} {
		v := encodeTimer(tm)
		got, err := decodeTimer(timerKey(tm.Due, tm.Enrollment), v)
		if err != nil {
			t.Errorf("decodeTimer(%+v): %v", tm, err)
			continue
		}
		if !sameTimer(got, tm) {
			t.Errorf("decodeTimer(encodeTimer(%+v)) = %+v", tm, got)
		}
	}
	for _, bad := range [][]byte{{codecTimerV1}, {codecTimerV1, 9, 'w'}, {codecTimerV1, 0, 0x80}, {codecTimerV1, 0, 2, 5, 'a'}} {
		if _, err := decodeTimer(timerKey(time.Now(), "e"), bad); err == nil {
			t.Errorf("decodeTimer(%q): no error", bad)
		}
	}
}

func sameTimer(a, b engine.Timer) bool {
	return a.Due.Equal(b.Due) && a.Enrollment == b.Enrollment && a.Automation == b.Automation && a.Epoch == b.Epoch && a.Kind == b.Kind
}
