package postgres

import (
	"context"
	"errors"
	"net/url"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/keyway-sms/keyway/automation/engine"
	"github.com/keyway-sms/keyway/automation/store/postgres/pgtest"
	"github.com/keyway-sms/keyway/test/fakes"
)

// A transaction that would go in one round trip, on a connection that is
// gone before it sends anything (the check of connections the pool hands
// out comes too late when the database ends one after it), fails such
// that Update runs it again: pgx says it sent none of it, so nothing of it
// can have been committed, though its COMMIT was on its way.
func TestOneRoundTripNotSentMayRunAgain(t *testing.T) {
	dsn := pgtest.NewDatabase(t)
	s, admin := openWithAdmin(t, dsn, dsn)
	touch := func(tx engine.Tx) error { return tx.PutMeta("test/touch", []byte("x")) }
	refused := func(tx engine.Tx) error {
		return tx.PutContact(&engine.Contact{Phone: "+1555123\x00"}) // text takes no NUL
	}

	t.Run("closed before", func(t *testing.T) {
		conn, err := s.pool.Acquire(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Release()
		if err := conn.Conn().Close(t.Context()); err != nil {
			t.Fatal(err)
		}
		if err := s.runConn(t.Context(), conn, pgx.TxOptions{IsoLevel: pgx.ReadCommitted}, true, touch); !errors.Is(err, errConnLost) {
			t.Errorf("a transaction on a connection closed before it: %v, want errConnLost", err)
		}
	})

	t.Run("ended after a refusal", func(t *testing.T) {
		conn, err := s.pool.Acquire(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Release()
		// pgx deallocates the refused batch's statements before the
		// connection's next batch.
		if err := s.runConn(t.Context(), conn, pgx.TxOptions{IsoLevel: pgx.ReadCommitted}, true, refused); err == nil || errors.Is(err, errConnLost) {
			t.Fatalf("a write the database refuses: %v", err)
		}
		pid := conn.Conn().PgConn().PID()
		if _, err := admin.Exec(t.Context(), `SELECT pg_terminate_backend($1, 10000)`, pid); err != nil {
			t.Fatal(err)
		}
		err = s.runConn(t.Context(), conn, pgx.TxOptions{IsoLevel: pgx.ReadCommitted}, true, touch)
		if !errors.Is(err, errConnLost) {
			t.Errorf("a transaction on a connection ended before it: %v, want errConnLost", err)
		}
	})
}

// A connection that a transaction left with statements to forget (pgx
// deallocates the statements of a batch the database refused one of
// before the connection's next batch) is ended by the database; the next
// transaction, which would go in one round trip, runs on a new connection
// rather than fail on the deallocation.
func TestTransactionAfterARefusalOutlivesItsConnection(t *testing.T) {
	dsn := pgtest.NewDatabase(t)
	s, admin := openWithAdmin(t, dsn+"&pool_max_conns=1", dsn)
	for i := range 3 {
		err := s.Update(t.Context(), func(tx engine.Tx) error {
			return tx.PutContact(&engine.Contact{Phone: "+1555123\x00"}) // text takes no NUL
		})
		if err == nil {
			t.Fatal("the database took a NUL")
		}
		if _, err := admin.Exec(t.Context(), `SELECT pg_terminate_backend(pid, 10000) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()`); err != nil {
			t.Fatal(err)
		}
		waitEnded(t, s)
		err = s.Update(t.Context(), func(tx engine.Tx) error {
			return tx.PutMeta("test/touch", []byte("x"))
		})
		if err != nil {
			t.Fatalf("round %d: the first transaction after the database ended the connection: %v", i, err)
		}
	}
}

// The connection is cut without a word from the database (a crash, a
// network failure): the next transaction, which would go in one round
// trip, runs on a new connection rather than fail on the old one.
func TestTransactionOutlivesACutConnection(t *testing.T) {
	u, err := url.Parse(pgtest.NewDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	db := fakes.NewProxy(t, u.Host)
	u.Host = db.Addr()
	s, err := Open(t.Context(), u.String()+"&pool_max_conns=1")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	touch := func() error {
		return s.Update(t.Context(), func(tx engine.Tx) error {
			return tx.PutMeta("test/touch", []byte("x"))
		})
	}
	for i := range 3 {
		if err := touch(); err != nil {
			t.Fatal(err)
		}
		db.Cut()
		db.Restore()
		waitEnded(t, s)
		if err := touch(); err != nil {
			t.Fatalf("round %d: the first transaction after the connection was cut: %v", i, err)
		}
	}
}

// waitEnded waits until the end of each idle connection of s has reached
// this side: the kernel may deliver it a moment after the other side
// closed.
// openWithAdmin opens a store on storeDSN, and a connection of its own on
// adminDSN to end the store's; both close when the test ends.
func openWithAdmin(t *testing.T, storeDSN, adminDSN string) (*Store, *pgx.Conn) {
	t.Helper()
	s, err := Open(t.Context(), storeDSN)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	admin, err := pgx.Connect(t.Context(), adminDSN)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { admin.Close(context.Background()) })
	return s, admin
}

func waitEnded(t *testing.T, s *Store) {
	t.Helper()
	conns := s.pool.AcquireAllIdle(t.Context())
	defer func() {
		for _, c := range conns {
			c.Release()
		}
	}()
	deadline := time.Now().Add(10 * time.Second)
	poll := time.NewTicker(time.Millisecond)
	defer poll.Stop()
	for _, c := range conns {
		for !hasInput(c.Conn().PgConn().Conn()) {
			if time.Now().After(deadline) {
				t.Fatal("a connection the database ended shows no end after 10 s")
			}
			<-poll.C // the end arrives on the socket: look again
		}
	}
}
