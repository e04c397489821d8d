package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// HoldName takes name, the one this process gives its send leases, among
// the processes sharing the database, until Close, and reports whether it
// got it: false while another process holds it (one running under the
// same name, or one whose end the database has not yet noticed). A
// process takes back at start the sends its name holds, so that two
// running processes under one name would take each other's. The name is a
// session advisory lock on a connection of its own, so it is given up when
// the process ends or its connection does.
func (s *Store) HoldName(ctx context.Context, name string) (bool, error) {
	if s.closed.Load() {
		return false, errClosed
	}
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return false, fmt.Errorf("postgres: hold the name %q: %w", name, err)
	}
	ok, err := tryName(ctx, conn, name)
	if err != nil || !ok {
		conn.Release()
		if err != nil {
			return false, fmt.Errorf("postgres: hold the name %q: %w", name, err)
		}
		return false, nil
	}
	s.mu.Lock()
	s.names = append(s.names, conn.Hijack())
	s.mu.Unlock()
	return true, nil
}

// nameWait is how long HoldName waits for a name held by a process that
// has just died: the database notices a closed connection at once, but
// the process started again may be quicker.
const nameWait = 3 * time.Second

// tryName takes name's lock on conn, trying again for nameWait while
// another session holds it.
func tryName(ctx context.Context, conn *pgxpool.Conn, name string) (bool, error) {
	deadline := time.Now().Add(nameWait)
	for {
		var ok bool
		err := conn.QueryRow(ctx, `SELECT pg_try_advisory_lock(hashtext('keyway/instance'), hashtext($1))`, name).Scan(&ok)
		if err != nil || ok || time.Now().After(deadline) {
			return ok, err
		}
		select {
		case <-time.After(200 * time.Millisecond):
		case <-ctx.Done():
			return false, ctx.Err()
		}
	}
}

// releaseNames ends the connections that hold the names HoldName took.
func (s *Store) releaseNames() {
	s.mu.Lock()
	names := s.names
	s.names = nil
	s.mu.Unlock()
	for _, c := range names {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_ = c.Close(ctx) // the database gives the lock up with the session
		cancel()
	}
}
