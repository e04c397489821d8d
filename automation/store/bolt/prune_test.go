package bolt_test

import (
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"testing"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/keyway-sms/keyway/automation/engine"
	"github.com/keyway-sms/keyway/automation/store/bolt"
)

// Messages stored by a keyway from before the creation-time index are
// indexed at Open, so that retention prunes them too.
func TestOpenIndexesOldMessagesForPruning(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keyway.db")
	db, err := bbolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	long := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	err = db.Update(func(tx *bbolt.Tx) error {
		msgs, err := tx.CreateBucket([]byte("messages"))
		if err != nil {
			return err
		}
		for i, at := range []time.Time{long, long.Add(time.Hour), time.Now()} {
			m := &engine.Message{ID: "m" + string(rune('1'+i)), Direction: engine.Inbound, Kind: engine.KindText, CreatedAt: at}
			raw, err := json.Marshal(m)
			if err != nil {
				return err
			}
			if err := msgs.Put([]byte(m.ID), raw); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	db.Close()

	s, err := bolt.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var n int
	err = s.Update(context.Background(), func(tx engine.Tx) error {
		n, err = tx.PruneMessages(long.Add(24*time.Hour), 10)
		return err
	})
	if err != nil || n != 2 {
		t.Fatalf("PruneMessages = %d, %v; want the 2 old messages", n, err)
	}
	err = s.View(context.Background(), func(tx engine.Tx) error {
		if _, err := tx.Message("m1"); !errors.Is(err, engine.ErrNotFound) {
			t.Errorf("m1 after pruning: %v, want ErrNotFound", err)
		}
		_, err := tx.Message("m3")
		return err
	})
	if err != nil {
		t.Errorf("the recent message: %v", err)
	}
}
