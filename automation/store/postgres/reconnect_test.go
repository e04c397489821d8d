package postgres_test

import (
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/keyway-sms/keyway/automation/engine"
	"github.com/keyway-sms/keyway/automation/store/postgres/pgtest"
)

// The database ends every connection (a restart, a failover): the
// transactions that follow get new ones, however recently the pool used
// the old ones, rather than fail on a connection that is gone.
func TestTransactionsOutliveTheirConnections(t *testing.T) {
	dsn := pgtest.NewDatabase(t)
	s := open(t, dsn)
	touch := func() error {
		return s.Update(t.Context(), func(tx engine.Tx) error {
			return tx.PutMeta("test/touch", []byte("x"))
		})
	}
	read := func() error {
		return s.View(t.Context(), func(tx engine.Tx) error {
			_, err := tx.Meta("test/touch")
			return err
		})
	}
	admin, err := pgx.Connect(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(t.Context())
	for i := range 3 {
		// Several connections in the pool, all just used.
		errs := make(chan error, 4)
		for range 4 {
			go func() { errs <- touch() }()
		}
		for range 4 {
			if err := <-errs; err != nil {
				t.Fatal(err)
			}
		}
		if _, err := admin.Exec(t.Context(), `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()`); err != nil {
			t.Fatal(err)
		}
		if i%2 == 0 {
			err = touch()
		} else {
			err = read()
		}
		if err != nil {
			t.Fatalf("round %d: the first transaction after the database ended its connections: %v", i, err)
		}
	}
}
