package store_test

import (
	"encoding/json"
	"path/filepath"
	"slices"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/keyway-sms/keyway/automation"
	"github.com/keyway-sms/keyway/gateway/store"
)

// An outbox written by an earlier keyway (message ids with empty values)
// is turned into queues at Open: every message stays queued, one head per
// recipient is claimable, and an id whose message is gone does not hold up
// anyone.
func TestOpenMigratesAnOldOutbox(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keyway.db")
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	text := func(id, to string) *automation.Message {
		return &automation.Message{ID: id, Direction: automation.Outbound, Kind: automation.KindText, To: []string{to}, Status: automation.StatusQueued}
	}
	err = db.Update(func(tx *bolt.Tx) error {
		msgs, err := tx.CreateBucket([]byte("messages"))
		if err != nil {
			return err
		}
		outbox, err := tx.CreateBucket([]byte("outbox"))
		if err != nil {
			return err
		}
		for _, m := range []*automation.Message{text("m1", "+15550001"), text("m2", "+15550001"), text("m3", "+15550002")} {
			raw, err := json.Marshal(m)
			if err != nil {
				return err
			}
			if err := msgs.Put([]byte(m.ID), raw); err != nil {
				return err
			}
		}
		for _, id := range []string{"m0", "m1", "m2", "m3"} { // m0 has no message
			if err := outbox.Put([]byte(id), []byte{}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	for range 2 { // and opening it again changes nothing
		s, err := store.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		var queued, claimed []string
		err = s.Update(t.Context(), func(tx automation.Tx) error {
			if queued, err = tx.Outbox("", 10); err != nil {
				return err
			}
			claimed, err = tx.ClaimSends(time.Now(), time.Minute, "test", 10)
			if err != nil {
				return err
			}
			_, err = tx.RecoverSends("test")
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		if want := []string{"m0", "m1", "m2", "m3"}; !slices.Equal(queued, want) {
			t.Errorf("Outbox = %v, want %v", queued, want)
		}
		if want := []string{"m0", "m1", "m3"}; !slices.Equal(claimed, want) {
			t.Errorf("ClaimSends = %v, want the heads %v", claimed, want)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
}
