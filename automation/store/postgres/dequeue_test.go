package postgres_test

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/keyway-sms/keyway/automation/engine"
	"github.com/keyway-sms/keyway/automation/store/postgres/pgtest"
)

// A send taken out of the middle of a queue (its enrollment ended, say)
// while another process settles the queue's head must leave the queue
// with a head. Before, the head's Dequeue chose the next message on a
// snapshot that still held the one being taken out, made that row the
// head, found it gone once the other transaction committed, and left the
// queue headless: none of its sends could ever be claimed again.
func TestDequeueKeepsTheQueueClaimable(t *testing.T) {
	dsn := pgtest.NewDatabase(t)
	s := open(t, dsn)
	ctx := t.Context()
	to := []string{"+15550001234"}
	if err := s.Update(ctx, func(tx engine.Tx) error {
		for _, id := range []string{"m1", "m2", "m3"} {
			if err := tx.Enqueue(&engine.Message{ID: id, Kind: engine.KindText, To: to}); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}

	// One transaction takes m2 out and stays open.
	var once sync.Once
	holding, release := make(chan struct{}), make(chan struct{})
	middle := make(chan error, 1)
	go func() {
		middle <- s.Update(ctx, func(tx engine.Tx) error {
			if err := tx.Dequeue("m2"); err != nil {
				return err
			}
			once.Do(func() { close(holding) })
			<-release
			return nil
		})
	}()
	<-holding
	// Another settles the head, m1, and must wait for the first.
	head := make(chan error, 1)
	go func() {
		head <- s.Update(ctx, func(tx engine.Tx) error { return tx.Dequeue("m1") })
	}()
	waitForLockWait(t, dsn)
	close(release)
	if err := <-middle; err != nil {
		t.Fatal(err)
	}
	if err := <-head; err != nil {
		t.Fatal(err)
	}

	var claimed []string
	if err := s.Update(ctx, func(tx engine.Tx) error {
		var err error
		claimed, err = tx.ClaimSends(time.Now().Add(time.Hour), time.Minute, "test", 10)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(claimed, []string{"m3"}) {
		t.Fatalf("claimable after both dequeues: %v, want [m3] (the queue lost its head)", claimed)
	}
}

// waitForLockWait waits until a session of the database waits for a lock.
func waitForLockWait(t *testing.T, dsn string) {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	deadline := time.Now().Add(30 * time.Second)
	for {
		var n int
		if err := conn.QueryRow(t.Context(), `SELECT count(*) FROM pg_stat_activity
			WHERE datname = current_database() AND wait_event_type = 'Lock'`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n > 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("no transaction came to wait for a lock within 30s")
		}
		select {
		case <-time.After(10 * time.Millisecond):
		case <-t.Context().Done():
			t.Fatal(t.Context().Err())
		}
	}
}
