package postgres_test

import (
	"context"
	"encoding/json"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/keyway-sms/keyway/automation/engine"
	"github.com/keyway-sms/keyway/automation/store/postgres"
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

// Taking a send out of a large outbox reads its own queue only, however
// wrong PostgreSQL's guess of rows per queue: with 30,000 queued sends of
// one each and statistics that say 200 queues (as after an ANALYZE when
// the outbox was small), the statement that chose the next head by id
// alone walked the whole outbox in id order looking for one of the queue.
func TestDequeueReadsOnlyItsQueue(t *testing.T) {
	dsn := pgtest.NewDatabase(t)
	open(t, dsn) // the schema
	conn, err := pgx.Connect(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	for _, sql := range []string{
		`INSERT INTO outbox (message_id, queue, due_ns, lease_ns, head, claimable_ns)
			SELECT 'm' || lpad(i::text, 8, '0'), 'sms/+1555' || lpad(i::text, 7, '0'), 0, 0, true, 0 FROM generate_series(1, 30000) i`,
		`ALTER TABLE outbox ALTER COLUMN queue SET (n_distinct = 200)`,
		`ANALYZE outbox`,
	} {
		if _, err := conn.Exec(t.Context(), sql); err != nil {
			t.Fatal(err)
		}
	}
	tx, err := conn.Begin(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(context.Background())
	var plan []byte
	if err := tx.QueryRow(t.Context(), "EXPLAIN (ANALYZE, FORMAT JSON) "+postgres.DequeueSQL, "m00020000").Scan(&plan); err != nil {
		t.Fatal(err)
	}
	// The rows every scan of the outbox other than the deleted row's read.
	var read float64
	var walk func(n map[string]any)
	walk = func(n map[string]any) {
		if n["Relation Name"] == "outbox" && n["Alias"] == "o" {
			loops, _ := n["Actual Loops"].(float64)
			rows, _ := n["Actual Rows"].(float64)
			removed, _ := n["Rows Removed by Filter"].(float64)
			read += (rows + removed) * max(loops, 1)
		}
		kids, _ := n["Plans"].([]any)
		for _, k := range kids {
			if m, ok := k.(map[string]any); ok {
				walk(m)
			}
		}
	}
	var top []map[string]any
	if err := json.Unmarshal(plan, &top); err != nil || len(top) == 0 {
		t.Fatalf("the plan %s: %v", plan, err)
	}
	root, _ := top[0]["Plan"].(map[string]any)
	walk(root)
	if read > 10 {
		t.Errorf("taking one send out read %.0f rows of the outbox looking for the next of its queue, want its queue's only:\n%s", read, plan)
	}
}
