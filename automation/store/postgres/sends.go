package postgres

import (
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/keyway-sms/keyway/automation/engine"
)

// Enqueue implements engine.Tx.
func (t *pgTx) Enqueue(m *engine.Message) error {
	if !t.writable {
		return errReadOnly
	}
	if m == nil || m.ID == "" {
		return errors.New("postgres: enqueue: no message id")
	}
	q := m.QueueKey()
	// The queue's rows are locked (and a new queue's key taken) so that
	// two transactions cannot both make a message the head, and so that
	// the queue's order is the order its sends were queued in (seq, taken
	// at the insert): not that of their ids, which each process makes
	// from its own clock, and the clocks of processes on several machines
	// differ.
	if err := t.lock("queue", q); err != nil {
		return fmt.Errorf("postgres: enqueue %q: %w", m.ID, err)
	}
	delete(t.sends, m.ID)
	due := ns(m.NextAttempt)
	if err := t.exec(`INSERT INTO outbox (message_id, queue, due_ns, lease_ns, head, claimable_ns)
		VALUES ($1, $2, $3, $4, NOT EXISTS (SELECT 1 FROM outbox WHERE queue = $2), $3)
		ON CONFLICT (message_id) DO NOTHING`, m.ID, q, due, int64(math.MinInt64)); err != nil {
		return fmt.Errorf("postgres: enqueue %q: %w", m.ID, err)
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
	// once it commits, and leave the queue with no head to claim. The
	// lock is taken in the statement that reads the message's queue
	// (which never changes), and the row goes, and the next message
	// becomes the head if it was, in one statement deferred to the next
	// round trip, which runs under the lock (see pipe).
	// PrefetchSends may have done so already.
	if kept, ok := t.keptSend(id); ok {
		delete(t.sends, id)
		if kept == nil {
			return nil
		}
	} else {
		var queue string
		err := t.tx.QueryRow(t.ctx, `SELECT queue, pg_advisory_xact_lock(hashtext('keyway/queue'), hashtext(queue))
			FROM outbox WHERE message_id = $1`, id).Scan(&queue, nil)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("postgres: dequeue %q: %w", id, err)
		}
		if t.locked == nil {
			t.locked = map[string]bool{}
		}
		t.locked["queue\x00"+queue] = true
	}
	// The statement's snapshot still shows the row it deletes: the next
	// head is the first other message of the queue. A row another
	// transaction took out while this one waited is not deleted, and
	// makes no head. The next head is looked up within the queue, in the
	// queue index's order (a lateral subquery ordered by queue and seq):
	// ordered by id alone (as it once was), and with the queue unknown
	// when the statement is planned, PostgreSQL could walk the whole
	// outbox in id order for a row of the queue, once it guessed many rows per queue, which took
	// 3.5 ms per send from a backlog of 20,000 (20 ms at 60,000).
	if err := t.exec(dequeueSQL, id); err != nil {
		return fmt.Errorf("postgres: dequeue %q: %w", id, err)
	}
	t.wake = true
	return nil
}

// dequeueSQL takes message $1 out of the outbox and makes the next of its
// queue the head if it was (see Dequeue).
const dequeueSQL = `WITH gone AS (DELETE FROM outbox WHERE message_id = $1 RETURNING head, queue)
	UPDATE outbox SET head = true WHERE message_id =
		(SELECT n.message_id FROM gone, LATERAL (SELECT o.message_id FROM outbox o
			WHERE o.queue = gone.queue AND o.message_id <> $1 ORDER BY o.queue, o.seq LIMIT 1) n
		WHERE gone.head)`

// Outbox implements engine.Tx.
func (t *pgTx) Outbox(after string, limit int) ([]string, error) {
	return t.strings("outbox", `SELECT message_id FROM outbox WHERE message_id > $1 ORDER BY message_id LIMIT $2`, after, limitArg(limit))
}

func (t *pgTx) strings(what, sql string, args ...any) ([]string, error) {
	rows, err := t.tx.Query(t.ctx, sql, args...)
	if err != nil {
		return nil, fmt.Errorf("postgres: %s: %w", what, err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("postgres: %s: %w", what, err)
	}
	return out, nil
}

// QueuedSend implements engine.Tx.
func (t *pgTx) QueuedSend(id string) (*engine.QueuedSend, error) {
	if kept, ok := t.keptSend(id); ok {
		if kept == nil {
			return nil, fmt.Errorf("postgres: queued send %q: %w", id, engine.ErrNotFound)
		}
		q := *kept
		return &q, nil
	}
	var q engine.QueuedSend
	var due, lease int64
	err := t.tx.QueryRow(t.ctx, `SELECT message_id, queue, due_ns, owner, lease_ns FROM outbox WHERE message_id = $1`, id).
		Scan(&q.MessageID, &q.Queue, &due, &q.Owner, &lease)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("postgres: queued send %q: %w", id, engine.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: queued send %q: %w", id, err)
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
		return nil, errors.New("postgres: claim sends: no owner")
	}
	if limit <= 0 {
		return nil, nil
	}
	until := ns(now.Add(lease))
	clear(t.sends) // their leases change
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
	delete(t.sends, id)
	var cur string
	err := t.tx.QueryRow(t.ctx, `SELECT owner FROM outbox WHERE message_id = $1 FOR UPDATE`, id).Scan(&cur)
	if errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("postgres: release send %q: %w", id, engine.ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("postgres: release send %q: %w", id, err)
	}
	if cur != owner || owner == "" {
		return fmt.Errorf("postgres: release send %q: %w", id, engine.ErrLeaseLost)
	}
	d := ns(due)
	if err := t.exec(`UPDATE outbox SET owner = '', lease_ns = $2, due_ns = $3, claimable_ns = $3 WHERE message_id = $1`,
		id, int64(math.MinInt64), d); err != nil {
		return fmt.Errorf("postgres: release send %q: %w", id, err)
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
		return 0, errors.New("postgres: recover sends: no owner")
	}
	clear(t.sends)
	tag, err := t.tx.Exec(t.ctx, `UPDATE outbox SET owner = '', lease_ns = $2, claimable_ns = due_ns WHERE owner = $1`, owner, int64(math.MinInt64))
	if err != nil {
		return 0, fmt.Errorf("postgres: recover sends of %q: %w", owner, err)
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
		return time.Time{}, fmt.Errorf("postgres: next send: %w", engine.ErrNotFound)
	}
	if err != nil {
		return time.Time{}, fmt.Errorf("postgres: next send: %w", err)
	}
	return fromNS(n), nil
}
