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
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/keyway-sms/keyway/automation/engine"
	"github.com/keyway-sms/keyway/config"
)

// maxAttempts bounds how often Update runs a function whose transaction
// the database refuses for a conflict with another (serialization
// failure, deadlock, or a unique key another took first).
const maxAttempts = 50

// defaultMaxConns is how many connections a process opens at most, unless
// the DSN's pool_max_conns says.
const defaultMaxConns = 32

// wakeChannel is the NOTIFY channel on which a commit that queued a send,
// released one or set a timer tells every process to look.
const wakeChannel = "keyway_wake"

// Store is an engine.Store in a PostgreSQL database.
type Store struct {
	pool   *pgxpool.Pool
	closed atomic.Bool
	once   sync.Once

	mu    sync.Mutex
	wakes []func()
	stop  context.CancelFunc
	done  chan struct{}

	// notifying holds a wake to send; notifier sends them, one NOTIFY for
	// all the commits made while the last was under way.
	notifying chan struct{}
	notifier  sync.WaitGroup
	quit      chan struct{}
}

// Open connects to the database at dsn (a PostgreSQL URL or key=value
// string) and creates or migrates keyway's schema in it.
func Open(ctx context.Context, dsn string) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("store: postgres: parse the DSN: %w", err)
	}
	if !strings.Contains(dsn, "pool_max_conns") {
		// pgxpool's default (the number of CPUs, at least 4) would queue
		// concurrent webhooks for a connection on a small machine.
		cfg.MaxConns = defaultMaxConns
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("store: postgres: connect: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("store: postgres: connect to %s:%d: %w", cfg.ConnConfig.Host, cfg.ConnConfig.Port, err)
	}
	if err := migrate(ctx, pool); err != nil {
		pool.Close()
		return nil, err
	}
	s := &Store{pool: pool, notifying: make(chan struct{}, 1), quit: make(chan struct{})}
	s.notifier.Go(s.notifyLoop)
	return s, nil
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
// between concurrent webhooks. A process that dies between a commit and
// its NOTIFY leaves the others to their poll.
func (s *Store) notifyLoop() {
	for {
		select {
		case <-s.quit:
			return
		case <-s.notifying:
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_, _ = s.pool.Exec(ctx, `SELECT pg_notify($1, '')`, wakeChannel) // a hint: the poll covers a failure
		cancel()
	}
}

var errClosed = errors.New("store: closed")

// Update runs fn in a READ COMMITTED transaction and commits it. What fn
// reads to change is locked first (see pgTx), so that transactions that
// touch the same contact, message, queue or meta key take turns, each
// reading what the one before committed. When the database refuses the
// transaction (a deadlock, a unique key another took first), fn runs again
// in a new one, as engine.Store allows.
func (s *Store) Update(ctx context.Context, fn func(engine.Tx) error) error {
	if s.closed.Load() {
		return errClosed
	}
	var err error
	for attempt := 1; ; attempt++ {
		err = s.run(ctx, pgx.TxOptions{IsoLevel: pgx.ReadCommitted}, true, fn)
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
			return fmt.Errorf("store: update: %w (after a conflict: %v)", ctx.Err(), err)
		}
	}
}

// View runs fn in a read-only transaction on one snapshot.
func (s *Store) View(ctx context.Context, fn func(engine.Tx) error) error {
	if s.closed.Load() {
		return errClosed
	}
	return s.run(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, false, fn)
}

func (s *Store) run(ctx context.Context, opts pgx.TxOptions, writable bool, fn func(engine.Tx) error) error {
	tx, err := s.pool.BeginTx(ctx, opts)
	if err != nil {
		return fmt.Errorf("store: begin: %w", err)
	}
	t := &pgTx{ctx: ctx, writable: writable}
	t.tx = noting{Tx: tx, first: &t.dbErr}
	err = fn(t)
	if t.dbErr != nil {
		// The database refused a statement, so the transaction is void
		// whatever fn made of the error: report the refusal, which may be a
		// conflict that running fn again resolves.
		_ = tx.Rollback(context.WithoutCancel(ctx))
		return fmt.Errorf("store: %w", t.dbErr)
	}
	if err != nil {
		_ = tx.Rollback(context.WithoutCancel(ctx))
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("store: commit: %w", err)
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

// Healthy implements engine.Store: the database answers a query.
func (s *Store) Healthy(ctx context.Context) error {
	if s.closed.Load() {
		return errClosed
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if _, err := s.pool.Exec(ctx, `SELECT 1`); err != nil {
		return fmt.Errorf("store: postgres: %w", err)
	}
	return nil
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
		s.pool.Close()
	})
	return nil
}

// noting is a pgx transaction that keeps the first error the database
// returns (a missing row aside): after it, PostgreSQL refuses every other
// statement of the transaction.
type noting struct {
	pgx.Tx
	first *error
}

func (n noting) note(err error) error {
	if err != nil && !errors.Is(err, pgx.ErrNoRows) && *n.first == nil {
		*n.first = err
	}
	return err
}

func (n noting) Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	tag, err := n.Tx.Exec(ctx, sql, args...)
	return tag, n.note(err)
}

func (n noting) Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	rows, err := n.Tx.Query(ctx, sql, args...)
	if err != nil {
		return nil, n.note(err)
	}
	return notingRows{Rows: rows, n: n}, nil
}

func (n noting) QueryRow(ctx context.Context, sql string, args ...any) pgx.Row {
	return notingRow{row: n.Tx.QueryRow(ctx, sql, args...), n: n}
}

type notingRows struct {
	pgx.Rows
	n noting
}

func (r notingRows) Err() error { return r.n.note(r.Rows.Err()) }

type notingRow struct {
	row pgx.Row
	n   noting
}

func (r notingRow) Scan(dest ...any) error { return r.n.note(r.row.Scan(dest...)) }

// BookSlot implements engine.SlotBooker with one row per sender number
// holding when its next slot is free: a booking takes the later of that
// and now (the database's clock, so that the processes' clocks need not
// agree) and moves it one interval on; the row's lock makes bookings from
// every process take turns. A slot booked for later is kept by message,
// so that whichever process claims the send at its slot uses it. Bookings
// left over (their send settled otherwise) are dropped an hour on.
func (s *Store) BookSlot(ctx context.Context, number string, mps float64, message string) (time.Duration, error) {
	at, now, err := s.bookSlot(ctx, number, mps, message)
	if err != nil {
		return 0, err
	}
	return time.Duration(max(at-now, 0)), nil
}

// bookSlot books as BookSlot does and returns the slot and the time the
// booking was made, both as nanoseconds on the database's clock.
func (s *Store) bookSlot(ctx context.Context, number string, mps float64, message string) (at, now int64, err error) {
	if s.closed.Load() {
		return 0, 0, errClosed
	}
	if mps <= 0 {
		return 0, 0, nil
	}
	interval := int64(float64(time.Second) / mps)
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if err := tx.QueryRow(ctx, `SELECT (extract(epoch FROM clock_timestamp()) * 1e9)::bigint`).Scan(&now); err != nil {
			return err
		}
		err := tx.QueryRow(ctx, `SELECT at_ns FROM send_bookings WHERE message_id = $1 FOR UPDATE`, message).Scan(&at)
		switch {
		case err == nil && at > now:
			return nil
		case err == nil:
			at = now
			_, err = tx.Exec(ctx, `DELETE FROM send_bookings WHERE message_id = $1 OR at_ns < $2`, message, now-int64(time.Hour))
			return err
		case !errors.Is(err, pgx.ErrNoRows):
			return err
		}
		err = tx.QueryRow(ctx, `INSERT INTO send_slots AS s (number, next_ns) VALUES ($1, $2::bigint + $3::bigint)
			ON CONFLICT (number) DO UPDATE SET next_ns = GREATEST(s.next_ns, $2::bigint) + $3::bigint
			RETURNING next_ns - $3::bigint`, number, now, interval).Scan(&at)
		if err != nil {
			return err
		}
		if at <= now {
			return nil
		}
		_, err = tx.Exec(ctx, `INSERT INTO send_bookings (message_id, at_ns) VALUES ($1, $2)
			ON CONFLICT (message_id) DO UPDATE SET at_ns = EXCLUDED.at_ns`, message, at)
		return err
	})
	if err != nil {
		return 0, 0, fmt.Errorf("store: book a send slot of %s: %w", config.MaskAddress(number), err)
	}
	return at, now, nil
}

// pgTx implements engine.Tx over a pgx transaction.
type pgTx struct {
	ctx      context.Context
	tx       noting
	dbErr    error // the first error the database returned
	writable bool
	wake     bool // the commit should wake the other processes
	locked   map[string]bool
}

var errReadOnly = errors.New("store: write in a read-only transaction")

// ns is t as nanoseconds since the epoch; the zero time sorts first.
func ns(t time.Time) int64 {
	if t.IsZero() {
		return math.MinInt64
	}
	return t.UnixNano()
}

// fromNS is ns's inverse, in UTC.
func fromNS(n int64) time.Time {
	if n == math.MinInt64 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

func (t *pgTx) exec(sql string, args ...any) error {
	if !t.writable {
		return errReadOnly
	}
	_, err := t.tx.Exec(t.ctx, sql, args...)
	return err
}

// getJSON decodes the one jsonb value the query returns into v.
func (t *pgTx) getJSON(v any, what, name, sql string, args ...any) error {
	var raw []byte
	err := t.tx.QueryRow(t.ctx, sql, args...).Scan(&raw)
	if errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("store: %s %q: %w", what, name, engine.ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("store: read %s %q: %w", what, name, err)
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return fmt.Errorf("store: decode %s %q: %w", what, name, err)
	}
	return nil
}

// listJSON decodes each row's one jsonb value with decode.
func listJSON[T any](t *pgTx, what string, sql string, args ...any) ([]*T, error) {
	rows, err := t.tx.Query(t.ctx, sql, args...)
	if err != nil {
		return nil, fmt.Errorf("store: list %s: %w", what, err)
	}
	defer rows.Close()
	var out []*T
	for rows.Next() {
		var raw []byte
		if err := rows.Scan(&raw); err != nil {
			return nil, fmt.Errorf("store: list %s: %w", what, err)
		}
		v := new(T)
		if err := json.Unmarshal(raw, v); err != nil {
			return nil, fmt.Errorf("store: decode %s: %w", what, err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: list %s: %w", what, err)
	}
	return out, nil
}

func encode(what string, v any) (string, error) {
	raw, err := engine.RecordJSON(v)
	if err != nil {
		return "", fmt.Errorf("store: encode %s: %w", what, err)
	}
	return string(raw), nil
}

// limitArg is a LIMIT parameter: NULL, no limit, when limit is 0 or less.
func limitArg(limit int) any {
	if limit <= 0 {
		return nil
	}
	return int64(limit)
}

// lockContact takes the transaction's advisory lock on phone, once: a
// turn that reads a contact to change it holds it until commit, so that
// the turns of one contact run one at a time across all processes.
func (t *pgTx) lockContact(phone string) error {
	return t.lock("contact", phone, config.MaskAddress(phone))
}

// lock takes, in an Update, the transaction's advisory lock on key of
// kind, once; shown names the key in an error.
func (t *pgTx) lock(kind, key, shown string) error {
	if !t.writable || t.locked[kind+"\x00"+key] {
		return nil
	}
	if _, err := t.tx.Exec(t.ctx, `SELECT pg_advisory_xact_lock(hashtext($1), hashtext($2))`, "keyway/"+kind, key); err != nil {
		return fmt.Errorf("store: lock %s %s: %w", kind, shown, err)
	}
	if t.locked == nil {
		t.locked = map[string]bool{}
	}
	t.locked[kind+"\x00"+key] = true
	return nil
}

// Contact implements engine.Tx. In an Update it first takes the contact's
// lock.
func (t *pgTx) Contact(phone string) (*engine.Contact, error) {
	if err := t.lockContact(phone); err != nil {
		return nil, err
	}
	var c engine.Contact
	if err := t.getJSON(&c, "contact", config.MaskAddress(phone), `SELECT data FROM contacts WHERE phone = $1`, phone); err != nil {
		return nil, err
	}
	return &c, nil
}

// PutContact implements engine.Tx; it keeps the group index.
func (t *pgTx) PutContact(c *engine.Contact) error {
	if !t.writable {
		return errReadOnly
	}
	if c.Phone == "" {
		return errors.New("store: put contact: no phone")
	}
	data, err := encode("contact", c)
	if err != nil {
		return err
	}
	if err := t.exec(`INSERT INTO contacts (phone, data) VALUES ($1, $2)
		ON CONFLICT (phone) DO UPDATE SET data = EXCLUDED.data`, c.Phone, data); err != nil {
		return fmt.Errorf("store: put contact %s: %w", config.MaskAddress(c.Phone), err)
	}
	groups := c.Groups
	if groups == nil {
		groups = []string{}
	}
	if err := t.exec(`DELETE FROM contact_groups WHERE phone = $1 AND NOT (grp = ANY($2))`, c.Phone, groups); err != nil {
		return fmt.Errorf("store: put contact %s: groups: %w", config.MaskAddress(c.Phone), err)
	}
	if err := t.exec(`INSERT INTO contact_groups (grp, phone) SELECT g, $1 FROM unnest($2::text[]) AS g ON CONFLICT DO NOTHING`, c.Phone, groups); err != nil {
		return fmt.Errorf("store: put contact %s: groups: %w", config.MaskAddress(c.Phone), err)
	}
	return nil
}

// ContactsInGroup implements engine.Tx.
func (t *pgTx) ContactsInGroup(group, after string, limit int) ([]*engine.Contact, error) {
	if limit <= 0 {
		return nil, nil
	}
	return listJSON[engine.Contact](t, "group members", `SELECT c.data FROM contact_groups g JOIN contacts c ON c.phone = g.phone
		WHERE g.grp = $1 AND g.phone > $2 ORDER BY g.phone LIMIT $3`, group, after, int64(limit))
}

// ContactsPage implements engine.Tx: contacts after the phone given, in
// phone order (the primary key's), all of them when limit is 0.
func (t *pgTx) ContactsPage(after string, limit int) ([]*engine.Contact, error) {
	return listJSON[engine.Contact](t, "contacts", `SELECT data FROM contacts WHERE phone > $1 ORDER BY phone LIMIT $2`, after, limitArg(limit))
}

// Message implements engine.Tx.
func (t *pgTx) Message(id string) (*engine.Message, error) {
	if err := t.lock("message", id, id); err != nil {
		return nil, err
	}
	var m engine.Message
	if err := t.getJSON(&m, "message", id, `SELECT data FROM messages WHERE id = $1`, id); err != nil {
		return nil, err
	}
	return &m, nil
}

// MessageByProviderID implements engine.Tx. In an Update it takes the
// message's lock (as Message does) and reads it again under it, so that a
// status callback and the outbox recording a send take turns.
func (t *pgTx) MessageByProviderID(provider, providerID string) (*engine.Message, error) {
	var m engine.Message
	err := t.getJSON(&m, "message", provider+"/"+providerID,
		`SELECT data FROM messages WHERE provider = $1 AND provider_id = $2`, provider, providerID)
	if err != nil {
		return nil, err
	}
	if !t.writable || t.locked["message\x00"+m.ID] {
		return &m, nil
	}
	return t.Message(m.ID)
}

// PutMessage implements engine.Tx. A provider id is unique: a message
// another process stored first under it makes the transaction run again,
// where the engine finds that message and answers it as a duplicate.
func (t *pgTx) PutMessage(m *engine.Message) error {
	if !t.writable {
		return errReadOnly
	}
	if m.ID == "" {
		return errors.New("store: put message: no id")
	}
	data, err := encode("message", m)
	if err != nil {
		return err
	}
	var pid any
	if m.ProviderID != "" {
		pid = m.ProviderID
	}
	if err := t.countForBroadcasts(m); err != nil { // broadcasts.go
		return fmt.Errorf("store: count message %q for its broadcast: %w", m.ID, err)
	}
	if err := t.exec(`INSERT INTO messages (id, provider, provider_id, contact, created_ns, data) VALUES ($1, $2, $3, $4, $5, $6)
		ON CONFLICT (id) DO UPDATE SET provider = EXCLUDED.provider, provider_id = EXCLUDED.provider_id,
			contact = EXCLUDED.contact, created_ns = EXCLUDED.created_ns, data = EXCLUDED.data`,
		m.ID, m.Provider, pid, m.Contact, ns(m.CreatedAt), data); err != nil {
		return fmt.Errorf("store: put message %q: %w", m.ID, err)
	}
	return nil
}

// Messages implements engine.Tx.
func (t *pgTx) Messages(contact string, limit int) ([]*engine.Message, error) {
	return listJSON[engine.Message](t, "messages", `SELECT data FROM messages WHERE contact = $1 AND contact <> '' ORDER BY id DESC LIMIT $2`, contact, limitArg(limit))
}

// MessagesPage implements engine.Tx: every contact's messages with an id
// before the one given (from the newest when empty), newest first by id
// (the primary key's order), all of them when limit is 0.
func (t *pgTx) MessagesPage(before string, limit int) ([]*engine.Message, error) {
	if before == "" {
		return listJSON[engine.Message](t, "messages", `SELECT data FROM messages ORDER BY id DESC LIMIT $1`, limitArg(limit))
	}
	return listJSON[engine.Message](t, "messages", `SELECT data FROM messages WHERE id < $1 ORDER BY id DESC LIMIT $2`, before, limitArg(limit))
}

// PruneMessages implements engine.Tx: one indexed DELETE of the oldest
// messages that are not queued.
func (t *pgTx) PruneMessages(before time.Time, limit int) (int, error) {
	if !t.writable {
		return 0, errReadOnly
	}
	if limit <= 0 {
		return 0, nil
	}
	tag, err := t.tx.Exec(t.ctx, `DELETE FROM messages WHERE id IN (
		SELECT m.id FROM messages m WHERE m.created_ns < $1
		AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.message_id = m.id)
		ORDER BY m.created_ns, m.id LIMIT $2)`, ns(before), int64(limit))
	if err != nil {
		return 0, fmt.Errorf("store: prune messages: %w", err)
	}
	return int(tag.RowsAffected()), nil
}

// Enqueue implements engine.Tx.
func (t *pgTx) Enqueue(m *engine.Message) error {
	if !t.writable {
		return errReadOnly
	}
	if m == nil || m.ID == "" {
		return errors.New("store: enqueue: no message id")
	}
	q := m.QueueKey()
	// The queue's rows are locked (and a new queue's key taken) so that
	// two transactions cannot both make a message the head.
	if err := t.lock("queue", q, q); err != nil {
		return fmt.Errorf("store: enqueue %q: %w", m.ID, err)
	}
	due := ns(m.NextAttempt)
	if err := t.exec(`INSERT INTO outbox (message_id, queue, due_ns, lease_ns, head, claimable_ns)
		VALUES ($1, $2, $3, $4, NOT EXISTS (SELECT 1 FROM outbox WHERE queue = $2), $3)
		ON CONFLICT (message_id) DO NOTHING`, m.ID, q, due, int64(math.MinInt64)); err != nil {
		return fmt.Errorf("store: enqueue %q: %w", m.ID, err)
	}
	t.wake = true
	return nil
}

// Dequeue implements engine.Tx.
func (t *pgTx) Dequeue(id string) error {
	if !t.writable {
		return errReadOnly
	}
	// Every change to a queue's rows happens under the queue's lock, taken
	// before the row goes: a head chosen while another transaction is
	// taking a later message out could otherwise be that message, gone
	// once it commits, and leave the queue with no head to claim.
	var queue string
	err := t.tx.QueryRow(t.ctx, `SELECT queue FROM outbox WHERE message_id = $1`, id).Scan(&queue)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("store: dequeue %q: %w", id, err)
	}
	if err := t.lock("queue", queue, queue); err != nil {
		return fmt.Errorf("store: dequeue %q: %w", id, err)
	}
	var head bool
	err = t.tx.QueryRow(t.ctx, `DELETE FROM outbox WHERE message_id = $1 RETURNING head`, id).Scan(&head)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil // another transaction took it out while this one waited
	}
	if err != nil {
		return fmt.Errorf("store: dequeue %q: %w", id, err)
	}
	if !head {
		return nil
	}
	// The next message of the queue becomes its head.
	if err := t.exec(`UPDATE outbox SET head = true WHERE message_id =
		(SELECT message_id FROM outbox WHERE queue = $1 ORDER BY message_id LIMIT 1)`, queue); err != nil {
		return fmt.Errorf("store: dequeue %q: next head: %w", id, err)
	}
	t.wake = true
	return nil
}

// Outbox implements engine.Tx.
func (t *pgTx) Outbox(after string, limit int) ([]string, error) {
	return t.strings("outbox", `SELECT message_id FROM outbox WHERE message_id > $1 ORDER BY message_id LIMIT $2`, after, limitArg(limit))
}

func (t *pgTx) strings(what, sql string, args ...any) ([]string, error) {
	rows, err := t.tx.Query(t.ctx, sql, args...)
	if err != nil {
		return nil, fmt.Errorf("store: %s: %w", what, err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("store: %s: %w", what, err)
	}
	return out, nil
}

// QueuedSend implements engine.Tx.
func (t *pgTx) QueuedSend(id string) (*engine.QueuedSend, error) {
	var q engine.QueuedSend
	var due, lease int64
	err := t.tx.QueryRow(t.ctx, `SELECT message_id, queue, due_ns, owner, lease_ns FROM outbox WHERE message_id = $1`, id).
		Scan(&q.MessageID, &q.Queue, &due, &q.Owner, &lease)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("store: queued send %q: %w", id, engine.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("store: queued send %q: %w", id, err)
	}
	q.Due, q.LeaseUntil = fromNS(due), fromNS(lease)
	return &q, nil
}

// ClaimSends implements engine.Tx: the due heads, soonest first, locked
// with SKIP LOCKED so that processes claiming together take different
// sends.
func (t *pgTx) ClaimSends(now time.Time, lease time.Duration, owner string, limit int) ([]string, error) {
	if !t.writable {
		return nil, errReadOnly
	}
	if owner == "" {
		return nil, errors.New("store: claim sends: no owner")
	}
	if limit <= 0 {
		return nil, nil
	}
	until := ns(now.Add(lease))
	return t.strings("claim sends", `WITH claimed AS (
			SELECT message_id, claimable_ns FROM outbox WHERE head AND claimable_ns <= $1
			ORDER BY claimable_ns, message_id LIMIT $2 FOR UPDATE SKIP LOCKED),
		leased AS (
			UPDATE outbox o SET owner = $3, lease_ns = $4, claimable_ns = $4
			FROM claimed c WHERE o.message_id = c.message_id)
		SELECT message_id FROM claimed ORDER BY claimable_ns, message_id`, ns(now), int64(limit), owner, until)
}

// ReleaseSend implements engine.Tx.
func (t *pgTx) ReleaseSend(id, owner string, due time.Time) error {
	if !t.writable {
		return errReadOnly
	}
	var cur string
	err := t.tx.QueryRow(t.ctx, `SELECT owner FROM outbox WHERE message_id = $1 FOR UPDATE`, id).Scan(&cur)
	if errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("store: release send %q: %w", id, engine.ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("store: release send %q: %w", id, err)
	}
	if cur != owner || owner == "" {
		return fmt.Errorf("store: release send %q: %w", id, engine.ErrLeaseLost)
	}
	d := ns(due)
	if err := t.exec(`UPDATE outbox SET owner = '', lease_ns = $2, due_ns = $3, claimable_ns = $3 WHERE message_id = $1`,
		id, int64(math.MinInt64), d); err != nil {
		return fmt.Errorf("store: release send %q: %w", id, err)
	}
	t.wake = true
	return nil
}

// RecoverSends implements engine.Tx.
func (t *pgTx) RecoverSends(owner string) (int, error) {
	if !t.writable {
		return 0, errReadOnly
	}
	if owner == "" {
		return 0, errors.New("store: recover sends: no owner")
	}
	tag, err := t.tx.Exec(t.ctx, `UPDATE outbox SET owner = '', lease_ns = $2, claimable_ns = due_ns WHERE owner = $1`, owner, int64(math.MinInt64))
	if err != nil {
		return 0, fmt.Errorf("store: recover sends of %q: %w", owner, err)
	}
	if tag.RowsAffected() > 0 {
		t.wake = true
	}
	return int(tag.RowsAffected()), nil
}

// NextSendDue implements engine.Tx.
func (t *pgTx) NextSendDue() (time.Time, error) {
	var n int64
	err := t.tx.QueryRow(t.ctx, `SELECT claimable_ns FROM outbox WHERE head ORDER BY claimable_ns, message_id LIMIT 1`).Scan(&n)
	if errors.Is(err, pgx.ErrNoRows) {
		return time.Time{}, fmt.Errorf("store: next send: %w", engine.ErrNotFound)
	}
	if err != nil {
		return time.Time{}, fmt.Errorf("store: next send: %w", err)
	}
	return fromNS(n), nil
}

// Enrollment implements engine.Tx.
// In an Update it takes the lock of the enrollment's contact and reads
// the enrollment again under it.
func (t *pgTx) Enrollment(id string) (*engine.Enrollment, error) {
	var e engine.Enrollment
	if err := t.getJSON(&e, "enrollment", id, `SELECT data FROM enrollments WHERE id = $1`, id); err != nil {
		return nil, err
	}
	if !t.writable || t.locked["contact\x00"+e.Contact] {
		return &e, nil
	}
	if err := t.lockContact(e.Contact); err != nil {
		return nil, err
	}
	var again engine.Enrollment
	if err := t.getJSON(&again, "enrollment", id, `SELECT data FROM enrollments WHERE id = $1`, id); err != nil {
		return nil, err
	}
	return &again, nil
}

// ActiveEnrollment implements engine.Tx.
func (t *pgTx) ActiveEnrollment(contact, automationID string) (*engine.Enrollment, error) {
	if err := t.lockContact(contact); err != nil {
		return nil, err
	}
	var e engine.Enrollment
	err := t.getJSON(&e, "active enrollment of "+config.MaskAddress(contact)+" in", automationID,
		`SELECT e.data FROM active_enrollments a JOIN enrollments e ON e.id = a.id WHERE a.contact = $1 AND a.automation = $2`,
		contact, automationID)
	if err != nil {
		return nil, err
	}
	return &e, nil
}

// ActiveEnrollments implements engine.Tx.
func (t *pgTx) ActiveEnrollments(contact string) ([]*engine.Enrollment, error) {
	if err := t.lockContact(contact); err != nil {
		return nil, err
	}
	return listJSON[engine.Enrollment](t, "active enrollments", `SELECT e.data FROM active_enrollments a JOIN enrollments e ON e.id = a.id
		WHERE a.contact = $1 ORDER BY a.automation`, contact)
}

// PutEnrollment implements engine.Tx.
func (t *pgTx) PutEnrollment(e *engine.Enrollment) error {
	if !t.writable {
		return errReadOnly
	}
	if e.ID == "" {
		return errors.New("store: put enrollment: no id")
	}
	data, err := encode("enrollment", e)
	if err != nil {
		return err
	}
	if e.Active() {
		err = t.exec(`INSERT INTO active_enrollments (contact, automation, id) VALUES ($1, $2, $3)
			ON CONFLICT (contact, automation) DO UPDATE SET id = EXCLUDED.id`, e.Contact, e.Automation, e.ID)
	} else {
		err = t.exec(`DELETE FROM active_enrollments WHERE contact = $1 AND automation = $2 AND id = $3`, e.Contact, e.Automation, e.ID)
	}
	if err != nil {
		return fmt.Errorf("store: put enrollment %q: %w", e.ID, err)
	}
	if err := t.exec(`INSERT INTO enrollments (id, automation, contact, active, data) VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (id) DO UPDATE SET automation = EXCLUDED.automation, contact = EXCLUDED.contact,
			active = EXCLUDED.active, data = EXCLUDED.data`, e.ID, e.Automation, e.Contact, e.Active(), data); err != nil {
		return fmt.Errorf("store: put enrollment %q: %w", e.ID, err)
	}
	return nil
}

// Enrollments implements engine.Tx.
func (t *pgTx) Enrollments(automationID, contact string, activeOnly bool, limit int) ([]*engine.Enrollment, error) {
	if activeOnly && contact == "" {
		return listJSON[engine.Enrollment](t, "enrollments", `SELECT e.data FROM active_enrollments a JOIN enrollments e ON e.id = a.id
			WHERE ($1 = '' OR a.automation = $1) ORDER BY a.id DESC LIMIT $2`, automationID, limitArg(limit))
	}
	return listJSON[engine.Enrollment](t, "enrollments", `SELECT data FROM enrollments
		WHERE ($1 = '' OR automation = $1) AND ($2 = '' OR contact = $2) AND (NOT $3 OR active)
		ORDER BY id DESC LIMIT $4`, automationID, contact, activeOnly, limitArg(limit))
}

// ActiveEnrollmentsOf implements engine.Tx, on the automation index.
func (t *pgTx) ActiveEnrollmentsOf(automationID, after string, limit int) ([]*engine.Enrollment, error) {
	return listJSON[engine.Enrollment](t, "enrollments", `SELECT data FROM enrollments
		WHERE automation = $1 AND id > $2 AND active ORDER BY id LIMIT $3`, automationID, after, limitArg(limit))
}

// CountActive implements engine.Tx.
func (t *pgTx) CountActive() (map[string]int, error) {
	rows, err := t.tx.Query(t.ctx, `SELECT automation, count(*) FROM active_enrollments GROUP BY automation`)
	if err != nil {
		return nil, fmt.Errorf("store: count active: %w", err)
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var a string
		var n int64
		if err := rows.Scan(&a, &n); err != nil {
			return nil, fmt.Errorf("store: count active: %w", err)
		}
		out[a] = int(n)
	}
	return out, rows.Err()
}

// PutTimer implements engine.Tx.
func (t *pgTx) PutTimer(tm engine.Timer) error {
	if !t.writable {
		return errReadOnly
	}
	data, err := encode("timer", tm)
	if err != nil {
		return err
	}
	if err := t.exec(`INSERT INTO timers (due_ns, enrollment, data) VALUES ($1, $2, $3)
		ON CONFLICT (due_ns, enrollment) DO UPDATE SET data = EXCLUDED.data`, tm.Due.UnixNano(), tm.Enrollment, data); err != nil {
		return fmt.Errorf("store: put timer of %q: %w", tm.Enrollment, err)
	}
	t.wake = true
	return nil
}

// DeleteTimer implements engine.Tx.
func (t *pgTx) DeleteTimer(tm engine.Timer) error {
	if err := t.exec(`DELETE FROM timers WHERE due_ns = $1 AND enrollment = $2`, tm.Due.UnixNano(), tm.Enrollment); err != nil {
		return fmt.Errorf("store: delete timer of %q: %w", tm.Enrollment, err)
	}
	return nil
}

// DueTimers implements engine.Tx. In an Update the timers are locked with
// SKIP LOCKED: a process firing them (and deleting them in the same
// transaction) keeps every other from seeing them, so each fires once.
func (t *pgTx) DueTimers(now time.Time, limit int) ([]engine.Timer, error) {
	if limit <= 0 {
		return nil, nil
	}
	q := `SELECT data FROM timers WHERE due_ns <= $1 ORDER BY due_ns, enrollment LIMIT $2`
	if t.writable {
		q += ` FOR UPDATE SKIP LOCKED`
	}
	ts, err := listJSON[engine.Timer](t, "due timers", q, now.UnixNano(), int64(limit))
	if err != nil {
		return nil, err
	}
	out := make([]engine.Timer, len(ts))
	for i, tm := range ts {
		out[i] = *tm
	}
	return out, nil
}

// HoldTimer implements engine.Tx.
func (t *pgTx) HoldTimer(tm engine.Timer) error {
	if err := t.DeleteTimer(tm); err != nil {
		return err
	}
	data, err := encode("timer", tm)
	if err != nil {
		return err
	}
	if err := t.exec(`INSERT INTO held_timers (automation, due_ns, enrollment, data) VALUES ($1, $2, $3, $4)
		ON CONFLICT (automation, due_ns, enrollment) DO UPDATE SET data = EXCLUDED.data`,
		tm.Automation, tm.Due.UnixNano(), tm.Enrollment, data); err != nil {
		return fmt.Errorf("store: hold timer of %q: %w", tm.Enrollment, err)
	}
	return nil
}

// ReleaseTimers implements engine.Tx.
func (t *pgTx) ReleaseTimers(automationID string) (int, error) {
	if !t.writable {
		return 0, errReadOnly
	}
	tag, err := t.tx.Exec(t.ctx, `WITH released AS (DELETE FROM held_timers WHERE automation = $1 RETURNING due_ns, enrollment, data)
		INSERT INTO timers (due_ns, enrollment, data) SELECT due_ns, enrollment, data FROM released
		ON CONFLICT (due_ns, enrollment) DO UPDATE SET data = EXCLUDED.data`, automationID)
	if err != nil {
		return 0, fmt.Errorf("store: release the held timers of %q: %w", automationID, err)
	}
	if tag.RowsAffected() > 0 {
		t.wake = true
	}
	return int(tag.RowsAffected()), nil
}

// Meta implements engine.Tx.
func (t *pgTx) Meta(k string) ([]byte, error) {
	if err := t.lock("meta", k, k); err != nil {
		return nil, err
	}
	var v []byte
	err := t.tx.QueryRow(t.ctx, `SELECT value FROM meta WHERE key = $1`, k).Scan(&v)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("store: meta %q: %w", k, engine.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("store: meta %q: %w", k, err)
	}
	return v, nil
}

// PutMeta implements engine.Tx.
func (t *pgTx) PutMeta(k string, v []byte) error {
	if !t.writable {
		return errReadOnly
	}
	if k == "" {
		return errors.New("store: put meta: no key")
	}
	if err := t.lock("meta", k, k); err != nil {
		return err
	}
	if v == nil {
		v = []byte{}
	}
	if err := t.exec(`INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value`, k, v); err != nil {
		return fmt.Errorf("store: put meta %q: %w", k, err)
	}
	return nil
}

var (
	_ engine.Store      = (*Store)(nil)
	_ engine.Tx         = (*pgTx)(nil)
	_ engine.Waker      = (*Store)(nil)
	_ engine.SlotBooker = (*Store)(nil)
)
