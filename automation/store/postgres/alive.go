package postgres

import (
	"context"
	"net"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// shouldPing has the pool ping a connection it hands out (and drop it
// when the ping fails) when it was idle over a second, as pgxpool does
// by default, or when the database has sent something on it while it
// was idle: an idle connection is sent nothing unless it is being ended
// (a restart, pg_terminate_backend, a crash or a cut network leave a
// FATAL error or the end of the stream waiting), so the transaction that
// would have failed on it gets a live one instead. Learning that costs a
// look at the socket, no round trip. Without it the first transaction on
// each connection the database ended in the last second failed, and one
// that goes in a single round trip (BEGIN, its writes and COMMIT) could
// not be run again: its COMMIT had gone.
func shouldPing(_ context.Context, p pgxpool.ShouldPingParams) bool {
	return p.IdleDuration > time.Second || hasInput(p.Conn.PgConn().Conn())
}

// hasInput reports whether c's socket has bytes or its end waiting to be
// read, without reading them or waiting; false where it cannot look.
func hasInput(c net.Conn) bool {
	if tc, ok := c.(interface{ NetConn() net.Conn }); ok {
		c = tc.NetConn() // TLS: a record waiting is input too
	}
	sc, ok := c.(syscall.Conn)
	if !ok {
		return false
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	waiting := false
	// Control, not Read: Read would wait for a read pgx left under way.
	if err := raw.Control(func(fd uintptr) { waiting = peek(fd) }); err != nil {
		return true // closed
	}
	return waiting
}
