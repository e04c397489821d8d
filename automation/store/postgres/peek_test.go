package postgres_test

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/keyway-sms/keyway/automation/engine"
	"github.com/keyway-sms/keyway/automation/store/postgres"
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

// A value read once is taken from the store's memory by the Updates after,
// and checked under the lock with their next round trip: a turn reads its
// automation's pause without a round trip of its own. A change made by
// another process since fails the check, and the Update runs again with
// the value as it now is.
func TestPeekMetaFromMemory(t *testing.T) {
	dsn := pgtest.NewDatabase(t)
	a, b := open(t, dsn), open(t, dsn)
	ctx := t.Context()
	// peek peeks in an Update of a, which also writes something, as a
	// turn does; it returns what each run of its function saw, and the
	// round trips it took.
	peek := func() (saw []string, trips int64) {
		t.Helper()
		before := a.RoundTrips()
		err := a.Update(ctx, func(tx engine.Tx) error {
			v, err := tx.(engine.MetaPeeker).PeekMeta("pause/x")
			switch {
			case errors.Is(err, engine.ErrNotFound):
				saw = append(saw, "none")
			case err != nil:
				return err
			default:
				saw = append(saw, string(v))
			}
			return tx.PutContact(&engine.Contact{Phone: "+15551230009", CreatedAt: rt0, UpdatedAt: rt0})
		})
		if err != nil {
			t.Fatal(err)
		}
		return saw, a.RoundTrips() - before
	}
	put := func(s *postgres.Store, v string) {
		t.Helper()
		err := s.Update(ctx, func(tx engine.Tx) error {
			if v == "" {
				return tx.DeleteMeta("pause/x")
			}
			return tx.PutMeta("pause/x", []byte(v))
		})
		if err != nil {
			t.Fatal(err)
		}
	}

	for _, step := range []struct {
		change func()
		saw    []string
		trips  int64
		why    string
	}{
		{nil, []string{"none"}, 2, "read, then the write with COMMIT"},
		{nil, []string{"none"}, 1, "from memory, checked with the COMMIT"},
		{func() { put(b, "1") }, []string{"none", "1"}, 4, "from memory, refused at COMMIT, ROLLBACK; then read, then COMMIT"},
		{nil, []string{"1"}, 1, "from memory"},
		{func() { put(b, "") }, []string{"1", "none"}, 4, "deleted by the other process"},
		{func() { put(a, "2") }, []string{"2"}, 2, "written by this process: read again"},
		{nil, []string{"2"}, 1, "from memory"},
	} {
		if step.change != nil {
			step.change()
		}
		saw, trips := peek()
		if !slices.Equal(saw, step.saw) || trips != step.trips {
			t.Errorf("%s: saw %q in %d round trips, want %q in %d", step.why, saw, trips, step.saw, step.trips)
		}
	}
}
