package bolt

import (
	"context"
	"errors"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/keyway-sms/keyway/automation/engine"
)

// waitQueued returns once n updates wait in s's queue; it fails the test
// after a while.
func waitQueued(t *testing.T, s *Bolt, n int) {
	deadline := time.Now().Add(10 * time.Second)
	for len(s.updates) < n {
		if time.Now().After(deadline) {
			t.Errorf("%d updates never queued (%d are)", n, len(s.updates))
			return
		}
		runtime.Gosched()
	}
}

// holdUntilQueued starts an update whose function, the first time it
// runs, waits until n more updates are queued; it returns a channel closed once the
// function runs, and one that gets the update's result and its transaction.
func holdUntilQueued(t *testing.T, s *Bolt, n int, key string) (started chan struct{}, result chan txResult) {
	started, result = make(chan struct{}), make(chan txResult, 1)
	go func() {
		var id int
		err := s.Update(context.Background(), func(tx engine.Tx) error {
			id = tx.(*boltTx).tx.ID()
			select {
			case <-started: // run again (another update failed): go on
			default:
				close(started)
				waitQueued(t, s, n)
			}
			return tx.PutMeta(key, []byte(key))
		})
		result <- txResult{id, err}
	}()
	return started, result
}

type txResult struct {
	tx  int
	err error
}

// runUpdate runs fn in s.Update in a goroutine; the result comes on the channel.
func runUpdate(s *Bolt, fn func(tx engine.Tx) error) chan txResult {
	result := make(chan txResult, 1)
	go func() {
		var id int
		err := s.Update(context.Background(), func(tx engine.Tx) error {
			id = tx.(*boltTx).tx.ID()
			return fn(tx)
		})
		result <- txResult{id, err}
	}()
	return result
}

// TestUpdatesArrivingDuringAGroupJoinItsCommit checks that an update
// queued while a group's functions run is run in the same transaction, so
// that it shares its commit instead of waiting for it and then for its own.
func TestUpdatesArrivingDuringAGroupJoinItsCommit(t *testing.T) {
	s := openInternal(t)
	started, first := holdUntilQueued(t, s, 1, "first")
	<-started
	second := runUpdate(s, func(tx engine.Tx) error { return tx.PutMeta("second", []byte("second")) })
	a, b := <-first, <-second
	if a.err != nil || b.err != nil {
		t.Fatal(a.err, b.err)
	}
	if a.tx != b.tx {
		t.Errorf("the update queued during the group ran in transaction %d, the group in %d", b.tx, a.tx)
	}
	wantMeta(t, s, map[string]string{"first": "first", "second": "second"})
}

// TestAFailingLateUpdateFailsAlone checks that when an update that joined
// a running group fails, it gets its own error and the others commit.
func TestAFailingLateUpdateFailsAlone(t *testing.T) {
	s := openInternal(t)
	errFailed := errors.New("this update fails")
	started, first := holdUntilQueued(t, s, 2, "first")
	<-started
	second := runUpdate(s, func(tx engine.Tx) error {
		if err := tx.PutMeta("second", []byte("second")); err != nil {
			return err
		}
		return errFailed
	})
	waitQueued(t, s, 1)
	third := runUpdate(s, func(tx engine.Tx) error { return tx.PutMeta("third", []byte("third")) })
	a, b, c := <-first, <-second, <-third
	if a.err != nil || c.err != nil || !errors.Is(b.err, errFailed) {
		t.Fatalf("results %v, %v, %v; want nil, %v, nil", a.err, b.err, c.err, errFailed)
	}
	wantMeta(t, s, map[string]string{"first": "first", "second": "", "third": "third"})
}

func openInternal(t *testing.T) *Bolt {
	s, err := Open(filepath.Join(t.TempDir(), "keyway.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// wantMeta checks the meta values of s ("" for none).
func wantMeta(t *testing.T, s *Bolt, want map[string]string) {
	t.Helper()
	err := s.View(context.Background(), func(tx engine.Tx) error {
		for k, w := range want {
			v, err := tx.Meta(k)
			if err != nil && !errors.Is(err, engine.ErrNotFound) {
				return err
			}
			if string(v) != w {
				t.Errorf("meta %s = %q, want %q", k, v, w)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
