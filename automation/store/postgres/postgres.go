// Package postgres implements engine.Store on PostgreSQL, so that any
// number of keyway processes can share one database. Each guarantee the
// engine relies on is the database's: a message's provider id is unique, a
// transaction that reads a contact (or an enrollment, which belongs to
// one) to change it holds the contact's advisory lock until it commits, a
// message or meta key read to change is locked likewise, and sends and
// timers are claimed with FOR UPDATE SKIP LOCKED. Transactions are READ
// COMMITTED with these locks rather than SERIALIZABLE: serializable
// snapshot isolation takes predicate locks on index pages, and concurrent
// webhooks (whose ids all land on the same last page) then failed each
// other about twice per webhook.
package postgres

import (
	"context"
	crand "crypto/rand"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/keyway-sms/keyway/automation/engine"
)

// maxAttempts bounds how often Update runs a function whose transaction
// the database refuses for a conflict with another (serialization
// failure, deadlock, or a unique key another took first).
const maxAttempts = 50

// defaultConnectTimeout bounds the making of a connection (the dial and
// the start-up exchange), unless the DSN's connect_timeout says.
const defaultConnectTimeout = 10 * time.Second

// defaultMaxConns is how many connections a process opens at most, unless
// the DSN's pool_max_conns says.
const defaultMaxConns = 32

// wakeChannel is the NOTIFY channel on which a commit that queued a send,
// released one or took one out tells the other processes to look.
const wakeChannel = "keyway_wake"

// notifyGap is the least time between two NOTIFYs of one process: the
// commits made in between share the next. Each NOTIFY costs every other
// process a look at its outbox, and with one per commit three processes
// spent more transactions on those looks than on the webhooks. A
// process's own outbox and timer loop are woken at once in process
// (engine.Options.OnQueue and OnTimer), so only the others wait for it.
const notifyGap = 100 * time.Millisecond

// Store is an engine.Store in a PostgreSQL database.
type Store struct {
	pool   *pgxpool.Pool
	closed atomic.Bool
	// roundTrips and statements count the round trips of Update and
	// View (pipe) and the statements they sent, for the tests that keep
	// them few.
	roundTrips, statements atomic.Int64
	once                   sync.Once
	// peeks holds, by key, the meta values PeekMeta read last (peeked),
	// which later Updates take and check at their next round trip.
	peeks sync.Map

	mu    sync.Mutex
	wakes []func()
	// names hold the names HoldName took (instance.go).
	names []*pgx.Conn
	stop  context.CancelFunc
	done  chan struct{}

	// notifying holds a wake to send; notifyLoop sends them, one NOTIFY
	// for all the commits made while the last was under way. notifier
	// waits for it and for foldLoop.
	notifying chan struct{}
	notifier  sync.WaitGroup
	// self is the payload of this store's NOTIFYs, by which its listener
	// knows, and skips, its own.
	self string
	// heard, if set (by tests, before OnWake), is told the payload of each
	// notification the listener receives, before it wakes or skips.
	heard func(payload string)
	quit  chan struct{}
	// health says whether writes commit: after one failed for a reason of
	// the database's (read-only, out of disk, gone), Healthy probes with
	// a small write until one commits.
	health engine.CommitHealth
	// reach asks the database whether it answers, for Healthy, at most
	// once a second: a flood of readiness requests must not compete with
	// webhooks for the pool.
	reach engine.RecentCheck
}

// Open connects to the database at dsn (a PostgreSQL URL or key=value
// string) and creates or migrates keyway's schema in it.
func Open(ctx context.Context, dsn string) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("postgres: parse the DSN: %w", err)
	}
	if !strings.Contains(dsn, "connect_timeout") {
		// pgx waits for a connection without end by default: a database
		// that hangs (a frozen process, a network partition) would hold
		// each new connection, and the pool's Close, until it answered.
		cfg.ConnConfig.ConnectTimeout = defaultConnectTimeout
	}
	if !strings.Contains(dsn, "pool_max_conns") {
		// pgxpool's default (the number of CPUs, at least 4) would queue
		// concurrent webhooks for a connection on a small machine.
		cfg.MaxConns = defaultMaxConns
	}
	cfg.ShouldPing = shouldPing
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: connect: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: connect to %s:%d: %w", cfg.ConnConfig.Host, cfg.ConnConfig.Port, err)
	}
	if err := migrate(ctx, pool); err != nil {
		pool.Close()
		return nil, err
	}
	s := &Store{pool: pool, notifying: make(chan struct{}, 1), quit: make(chan struct{}), self: crand.Text()}
	s.health.Probe = s.probe
	s.reach.Check = s.answers
	s.notifier.Go(s.notifyLoop)
	s.notifier.Go(s.foldLoop)
	return s, nil
}

// Unreachable reports whether err, from Open, says the database could not
// be reached for now (the connection refused or unanswered, its host not
// found, the server starting up, shutting down or out of connections),
// rather than refusing keyway (a wrong password, no such database).
func Unreachable(err error) bool {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return strings.HasPrefix(pe.Code, "57") || strings.HasPrefix(pe.Code, "53") // operator intervention, insufficient resources
	}
	var ce *pgconn.ConnectError
	return errors.As(err, &ce)
}

// notify has the other processes woken, after a commit that queued or
// released a send or set a timer.
func (s *Store) notify() {
	select {
	case s.notifying <- struct{}{}:
	default: // one is pending already: it covers this commit too
	}
}

// notifyLoop sends the NOTIFYs, outside the transactions that asked for
// them: PostgreSQL serialises notifying commits under one lock, held
// through the commit's flush, which would undo the sharing of flushes
// between concurrent webhooks. It sends at most one each notifyGap. A
// process that dies between a commit and its NOTIFY leaves the others to
// their poll.
func (s *Store) notifyLoop() {
	gap := time.NewTimer(0)
	defer gap.Stop()
	for {
		select {
		case <-s.quit:
			return
		case <-s.notifying:
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_, _ = s.pool.Exec(ctx, `SELECT pg_notify($1, $2)`, wakeChannel, s.self) // a hint: the poll covers a failure
		cancel()
		gap.Reset(notifyGap)
		select {
		case <-s.quit:
			return
		case <-gap.C:
		}
	}
}

var errClosed = errors.New("postgres: closed")

// Update runs fn in a READ COMMITTED transaction and commits it. What fn
// reads to change is locked first (see pgTx), so that transactions that
// touch the same contact, message, queue or meta key take turns, each
// reading what the one before committed. When the database refuses the
// transaction (a deadlock, a unique key another took first), fn runs again
// in a new one, as engine.Store allows. It gives up once the limit
// engine.WithWaitLimit put in ctx has passed.
func (s *Store) Update(ctx context.Context, fn func(engine.Tx) error) error {
	if s.closed.Load() {
		return errClosed
	}
	ctx, cancel := waitLimit(ctx)
	defer cancel()
	var err error
	for attempt := 1; ; attempt++ {
		err = s.run(ctx, pgx.TxOptions{IsoLevel: pgx.ReadCommitted}, true, fn)
		if errors.Is(err, errConnLost) && attempt < maxAttempts {
			continue // on another connection, at once
		}
		if err != nil && ctx.Err() == nil && cannotCommit(err) {
			s.health.Failed(err)
		}
		if !retryable(err) || attempt >= maxAttempts {
			return err
		}
		// Back off a little, more each time, so that the transactions that
		// collided do not collide again.
		d := time.Duration(attempt) * time.Millisecond
		d += rand.N(d + time.Millisecond)
		select {
		case <-time.After(d):
		case <-ctx.Done():
			return fmt.Errorf("postgres: update: %w (after a conflict: %v)", ctx.Err(), err)
		}
	}
}

// View runs fn in a read-only transaction on one snapshot. It gives up
// once the limit engine.WithWaitLimit put in ctx has passed.
func (s *Store) View(ctx context.Context, fn func(engine.Tx) error) error {
	if s.closed.Load() {
		return errClosed
	}
	ctx, cancel := waitLimit(ctx)
	defer cancel()
	for attempt := 1; ; attempt++ {
		err := s.run(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, false, fn)
		if !errors.Is(err, errConnLost) || attempt >= maxAttempts {
			return err
		}
	}
}

// waitLimit bounds ctx by the limit engine.WithWaitLimit put in it, if
// any: the transaction gives up once it has waited that long.
func waitLimit(ctx context.Context) (context.Context, context.CancelFunc) {
	if d, ok := engine.WaitLimit(ctx); ok {
		return context.WithTimeout(ctx, d)
	}
	return ctx, func() {}
}

// errConnLost marks the failure of a transaction whose connection was
// lost before its COMMIT was sent: the database rolled it back, so it may
// run again on another connection, as may one that pgx sent nothing of
// (pipe.notSent). After a restart of the database (or a failover) the
// pool's connections are all gone; the pool drops those whose end has
// reached this side before it hands them out (shouldPing), and a
// transaction on one whose end comes later fails so.
var errConnLost = errors.New("postgres: the connection was lost before the commit")

func (s *Store) run(ctx context.Context, opts pgx.TxOptions, writable bool, fn func(engine.Tx) error) (err error) {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("postgres: begin: %w", err)
	}
	defer conn.Release()
	return s.runConn(ctx, conn, opts, writable, fn)
}

// runConn runs fn in a transaction on conn, and marks its failure with
// errConnLost when it may run again on another connection.
func (s *Store) runConn(ctx context.Context, conn *pgxpool.Conn, opts pgx.TxOptions, writable bool, fn func(engine.Tx) error) (err error) {
	var used *pipe
	defer func() {
		// Lost before COMMIT went, or on a round trip the database never
		// ran: nothing of it was committed. A read-only fn, which need
		// not reset what it gathers, runs again only if it had read
		// nothing yet.
		lost := used != nil && (!used.committing || used.unrun) && (writable || used.failedFirst)
		if err != nil && lost && ctx.Err() == nil && conn.Conn().IsClosed() {
			err = fmt.Errorf("%w: %w", errConnLost, err)
		}
	}()
	return s.runOn(ctx, conn, opts, writable, fn, &used)
}

// runOn runs fn in a transaction on conn; used is set to the pipe the
// transaction went through, for what it says of a failure.
func (s *Store) runOn(ctx context.Context, conn *pgxpool.Conn, opts pgx.TxOptions, writable bool, fn func(engine.Tx) error, used **pipe) (err error) {
	t := &pgTx{ctx: ctx, writable: writable, peeks: &s.peeks}
	t.tx = &pipe{ctx: ctx, conn: conn, begin: beginSQL(opts), first: &t.dbErr}
	defer func() {
		*used = t.tx
		s.roundTrips.Add(int64(t.tx.trips))
		s.statements.Add(int64(t.tx.statements))
		if err != nil {
			t.forgetPeeks()
		}
	}()
	err = fn(t)
	if t.dbErr != nil {
		// The database refused a statement, so the transaction is void
		// whatever fn made of the error: report the refusal, which may be a
		// conflict that running fn again resolves.
		t.tx.rollback()
		return fmt.Errorf("postgres: %w", t.dbErr)
	}
	if err != nil {
		t.tx.rollback()
		return err
	}
	t.writeBroadcastCounts()
	if err := t.tx.commit(); err != nil {
		t.tx.rollback()
		if t.dbErr != nil {
			// A deferred write was refused (see pipe).
			return fmt.Errorf("postgres: %w", t.dbErr)
		}
		return fmt.Errorf("postgres: commit: %w", err)
	}
	if t.wake {
		s.notify()
	}
	return nil
}

// retryable reports whether err is the database refusing a transaction for
// a conflict that running it again resolves.
func retryable(err error) bool {
	var pe *pgconn.PgError
	if !errors.As(err, &pe) {
		return false
	}
	switch pe.Code {
	case "40001", // serialization_failure
		"40P01", // deadlock_detected
		"23505": // unique_violation: another took the key first; run again, fn finds it
		return true
	}
	return false
}

// Healthy implements engine.Store: no write has failed for a reason of
// the database's since the last probe committed (a database that answers
// but cannot commit: read-only after a failover, out of disk), which a
// failed commit says at once; and the database answered a query, asked
// at most once a second (a readiness check polled hard reuses the last
// answer). After a failed commit it probes with a small write, at most
// once a second.
func (s *Store) Healthy(ctx context.Context) error {
	if s.closed.Load() {
		return errClosed
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if err := s.health.Check(ctx); err != nil {
		return fmt.Errorf("postgres: %w", err)
	}
	if err := s.reach.Run(ctx); err != nil {
		return fmt.Errorf("postgres: %w", err)
	}
	return nil
}

// answers asks the database a query that needs no table: nil when it
// answers.
func (s *Store) answers(ctx context.Context) error {
	_, err := s.pool.Exec(ctx, `SELECT 1`)
	return err
}

// probeKey is the meta key the health probe writes.
const probeKey = "store/health_probe"

// probe commits a small write: nil when writes commit again.
func (s *Store) probe(ctx context.Context) error {
	return s.Update(ctx, func(tx engine.Tx) error {
		return tx.PutMeta(probeKey, []byte(time.Now().UTC().Format(time.RFC3339Nano)))
	})
}

// cannotCommit reports whether err, the failure of a write transaction,
// is the database's inability to commit rather than the transaction's
// own fault: a connection lost or not made, or an error of the classes
// connection exception (08), invalid transaction state (25: a read-only
// database), insufficient resources (53: disk full), operator
// intervention (57), system error (58) or internal error (XX).
func cannotCommit(err error) bool {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		if pe.Code == "57014" {
			return false // query_canceled: a statement timeout says nothing of the database
		}
		switch pe.Code[:min(2, len(pe.Code))] {
		case "08", "25", "53", "57", "58", "XX":
			return true
		}
		return false
	}
	var ce *pgconn.ConnectError
	return errors.As(err, &ce) || errors.Is(err, errConnLost)
}

// Close stops the listener and closes the connections. Closing twice is
// no error.
func (s *Store) Close() error {
	s.once.Do(func() {
		s.closed.Store(true)
		s.mu.Lock()
		stop, done := s.stop, s.done
		s.mu.Unlock()
		if stop != nil {
			stop()
			<-done
		}
		close(s.quit)
		s.notifier.Wait()
		s.releaseNames()
		s.pool.Close()
	})
	return nil
}

var (
	_ engine.Store      = (*Store)(nil)
	_ engine.Tx         = (*pgTx)(nil)
	_ engine.Waker      = (*Store)(nil)
	_ engine.SlotBooker = (*Store)(nil)
)
