package postgres

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// pipe is one transaction on one pooled connection whose statements reach
// the database in as few round trips as the work allows. A statement whose
// result the caller does not need at once (a write, an advisory lock) is
// deferred: it goes out with the next statement that reads, in one pgx
// batch, and the last of them with COMMIT. BEGIN goes out with the first
// statement. Statements still run one after another on the server, in the
// order they were made, so a lock deferred before a read is held when the
// read runs, and a read sees every write made before it; what changes is
// only that the database's refusal of a deferred write is learned at the
// next read or at commit, where it dooms the transaction as before.
//
// A turn of a webhook made about a dozen round trips (BEGIN, the contact's
// lock, each read and each write, COMMIT); with its writes and locks
// deferred it makes one per read and one to commit.
type pipe struct {
	ctx   context.Context
	conn  *pgxpool.Conn
	begin string // the BEGIN statement, until it has been sent
	open  bool   // BEGIN was sent: the transaction must be ended
	// committing is set once COMMIT is on its way: from then on a lost
	// connection leaves unknown whether the transaction committed.
	committing bool
	// unrun is set when a round trip failed before the database ran any
	// of it: the batch was never sent or never executed (see notSent),
	// or the database refused the BEGIN it opened with.
	unrun bool
	// failedFirst is set when the first round trip failed: fn had read
	// nothing yet.
	failedFirst bool
	// deferred holds the statements waiting for the next round trip.
	deferred []deferred
	// first is the first error the database returned (a missing row
	// aside): after it PostgreSQL refuses every other statement of the
	// transaction.
	first *error
	// trips counts the round trips made, for Store.roundTrips, and
	// statements the statements sent, for Store.statements.
	trips, statements int
}

type deferred struct {
	sql  string
	args []any
}

func (p *pipe) note(err error) error {
	if err != nil && !errors.Is(err, pgx.ErrNoRows) && *p.first == nil {
		*p.first = err
	}
	return err
}

// Defer adds a statement whose result is not needed to the next round trip.
// Its arguments must not change until then.
func (p *pipe) Defer(sql string, args ...any) {
	p.deferred = append(p.deferred, deferred{sql: sql, args: args})
}

// send sends BEGIN (once), the deferred statements and the statements
// last, in one round trip, and returns the batch's results at the first of
// last's.
func (p *pipe) send(last ...deferred) (pgx.BatchResults, error) {
	b := &pgx.Batch{}
	n := len(p.deferred)
	opens := p.begin != ""
	if opens {
		b.Queue(p.begin)
		n++
		p.begin, p.open = "", true
	}
	for _, d := range p.deferred {
		b.Queue(d.sql, d.args...)
	}
	for _, d := range last {
		b.Queue(d.sql, d.args...)
	}
	pending := p.deferred
	p.deferred = p.deferred[:0]
	p.trips++
	p.statements += b.Len()
	br := p.conn.SendBatch(p.ctx, b)
	for i := range n {
		if _, err := br.Exec(); err != nil {
			var pe *pgconn.PgError
			var pre pgx.ErrPreprocessingBatch
			if errors.As(err, &pre) || (i == 0 && (notSent(err) || opens && errors.As(err, &pe))) {
				p.unrun = true
			}
			if opens {
				p.failedFirst = true
			}
			if j := i - (n - len(pending)); j >= 0 {
				// The refusal belongs to a statement made earlier: say which.
				err = fmt.Errorf("%s (deferred): %w", describe(pending[j].sql), err)
			}
			p.note(err)
			_ = br.Close()
			return nil, err
		}
	}
	return br, nil
}

// notSent reports whether err, the first result of a batch, says that
// pgx sent none of the batch: it failed before it had the connection
// (pgconn.SafeToRetry: a connection already closed, for one), or on the
// deallocation of statements pgx forgets before the batch, on a
// connection whose last transaction had a statement refused. pgx gives
// that error no type of its own, only its words.
func notSent(err error) bool {
	return pgconn.SafeToRetry(err) || strings.HasPrefix(err.Error(), "failed to deallocate cached statement(s)")
}

// describe names what sql does, for the error of a deferred statement:
// "insert into messages", "delete from outbox", "advisory lock". It names
// no argument, since those may be phone numbers. A statement that begins
// with WITH is named by its last write, the one its CTEs come before.
func describe(sql string) string {
	if strings.HasPrefix(sql, "SELECT pg_advisory_xact_lock") {
		return "advisory lock"
	}
	// Where each write of the statement starts (ON CONFLICT's DO UPDATE
	// is none), in order.
	type write struct {
		verb string
		at   int
	}
	var writes []write
	for _, v := range []string{"INSERT INTO ", "UPDATE ", "DELETE FROM "} {
		for i := 0; ; i += len(v) {
			j := strings.Index(sql[i:], v)
			if j < 0 {
				break
			}
			i += j
			if !strings.HasSuffix(sql[:i], "DO ") {
				writes = append(writes, write{v, i})
			}
		}
	}
	if len(writes) == 0 {
		first, _, _ := strings.Cut(sql, " ")
		return "statement " + first
	}
	slices.SortFunc(writes, func(a, b write) int { return a.at - b.at })
	w := writes[0]
	if strings.HasPrefix(sql, "WITH ") {
		w = writes[len(writes)-1]
	}
	table, _, _ := strings.Cut(strings.TrimSpace(sql[w.at+len(w.verb):]), " ")
	return strings.ToLower(w.verb) + table
}

// Exec runs sql now, with what was deferred, and returns its command tag.
func (p *pipe) Exec(_ context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	br, err := p.send(deferred{sql: sql, args: args})
	if err != nil {
		return pgconn.CommandTag{}, err
	}
	tag, err := br.Exec()
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	return tag, p.note(err)
}

// QueryRow runs sql, with what was deferred, when its row is scanned.
func (p *pipe) QueryRow(_ context.Context, sql string, args ...any) pgx.Row {
	return pipedRow{p: p, q: deferred{sql: sql, args: args}}
}

// Query runs sql now, with what was deferred; closing the rows ends the
// round trip.
func (p *pipe) Query(_ context.Context, sql string, args ...any) (pgx.Rows, error) {
	br, err := p.send(deferred{sql: sql, args: args})
	if err != nil {
		return nil, err
	}
	rows, err := br.Query()
	if err != nil {
		_ = br.Close()
		return nil, p.note(err)
	}
	return &pipedRows{Rows: rows, br: br, p: p}, nil
}

type pipedRow struct {
	p *pipe
	q deferred
}

func (r pipedRow) Scan(dest ...any) error {
	br, err := r.p.send(r.q)
	if err != nil {
		return err
	}
	err = br.QueryRow().Scan(dest...)
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	return r.p.note(err)
}

type pipedRows struct {
	pgx.Rows
	br     pgx.BatchResults
	p      *pipe
	closed bool
}

func (r *pipedRows) Close() {
	if r.closed {
		return
	}
	r.closed = true
	r.Rows.Close()
	r.p.note(r.Rows.Err())
	r.p.note(r.br.Close())
}

func (r *pipedRows) Err() error { return r.p.note(r.Rows.Err()) }

// commit sends what was deferred and COMMIT. A transaction that sent
// nothing and has nothing deferred costs no round trip.
func (p *pipe) commit() error {
	if !p.open && len(p.deferred) == 0 {
		p.begin = ""
		return nil
	}
	p.committing = true
	br, err := p.send(deferred{sql: "COMMIT"})
	if err != nil {
		return err
	}
	tag, err := br.Exec()
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return p.note(err)
	}
	p.open = false
	if tag.String() == "ROLLBACK" {
		// PostgreSQL ends a transaction it refused a statement of with a
		// rollback, whatever it is asked.
		return errors.New("postgres: commit: the database rolled the transaction back")
	}
	return nil
}

// rollback ends the transaction without what was deferred. A connection
// left in a transaction (the ROLLBACK failed) is closed by the pool when
// released.
func (p *pipe) rollback() {
	p.deferred = p.deferred[:0]
	if !p.open {
		return
	}
	p.trips++
	p.statements++
	if _, err := p.conn.Exec(context.WithoutCancel(p.ctx), "ROLLBACK"); err == nil {
		p.open = false
	}
}

// beginSQL is the BEGIN statement of opts' transaction.
func beginSQL(opts pgx.TxOptions) string {
	s := "BEGIN ISOLATION LEVEL " + string(opts.IsoLevel)
	if opts.AccessMode != "" {
		s += " " + string(opts.AccessMode)
	}
	return s
}
