package postgres_test

import (
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/keyway-sms/keyway/automation/engine"
	"github.com/keyway-sms/keyway/automation/store/postgres/pgtest"
)

// Transactions that only read a meta value (every turn reads the pause of
// the automations it starts or runs) do not wait for each other, while a
// writer of the value waits for them: a reader sees it before or after a
// change, never between.
func TestPeekMetaReadersShareWritersWait(t *testing.T) {
	dsn := pgtest.NewDatabase(t)
	s := open(t, dsn)
	ctx := t.Context()
	if err := s.Update(ctx, func(tx engine.Tx) error { return tx.PutMeta("pause/x", []byte("0")) }); err != nil {
		t.Fatal(err)
	}
	peek := func(tx engine.Tx) ([]byte, error) { return tx.(engine.MetaPeeker).PeekMeta("pause/x") }

	// A first reader holds its transaction open after reading.
	read, release, first := make(chan struct{}), make(chan struct{}), make(chan error, 1)
	go func() {
		first <- s.Update(ctx, func(tx engine.Tx) error {
			if _, err := peek(tx); err != nil {
				return err
			}
			close(read)
			<-release
			return nil
		})
	}()
	<-read
	// A second reader gets through meanwhile.
	second := make(chan error, 1)
	go func() { second <- s.Update(ctx, func(tx engine.Tx) error { _, err := peek(tx); return err }) }()
	select {
	case err := <-second:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(30 * time.Second):
		close(release)
		t.Fatal("a second reader waited for the first to end")
	}
	// A writer waits for the first reader to end.
	wrote := make(chan error, 1)
	go func() {
		wrote <- s.Update(ctx, func(tx engine.Tx) error { return tx.PutMeta("pause/x", []byte("1")) })
	}()
	// It waits: the database shows its advisory lock not granted, and it
	// has not returned.
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	poll := time.NewTicker(10 * time.Millisecond)
	defer poll.Stop()
	for waiting := 0; waiting == 0; {
		select {
		case err := <-wrote:
			t.Fatalf("a writer went through while a reader held the value (err %v)", err)
		case <-poll.C:
		}
		if err := conn.QueryRow(ctx, `SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted`).Scan(&waiting); err != nil {
			t.Fatal(err)
		}
	}
	close(release)
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	if err := <-wrote; err != nil {
		t.Fatal(err)
	}
	got, err := func() (v []byte, err error) {
		err = s.View(ctx, func(tx engine.Tx) error { v, err = tx.Meta("pause/x"); return err })
		return
	}()
	if err != nil || string(got) != "1" {
		t.Fatalf("after the writer: %q, %v", got, err)
	}
}
