package postgres

import (
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/keyway-sms/keyway/automation/engine"
)

// The event deliveries (engine.EventQueue) live in the events table, one
// queue per endpoint and contact. As for the outbox, every change to a
// queue's head happens under the queue's advisory lock, and a claim skips
// the rows another process has locked. A queue keeps the order its
// deliveries were added in (seq, numbered under that lock), not the order
// of their ids: each process makes ids from its own clock, and the clocks
// of processes on several machines differ.

// eventRecord is what the data column holds: the delivery without its
// body, which is kept apart, byte for byte.
func eventRecord(d *engine.EventDelivery) (string, error) {
	c := *d
	c.Body = nil
	return encode("event", &c)
}

func (t *pgTx) eventDelivery(id string, lock bool) (*engine.EventDelivery, error) {
	q := `SELECT data, body FROM events WHERE id = $1`
	if lock {
		q += ` FOR UPDATE`
	}
	var raw, body []byte
	err := t.tx.QueryRow(t.ctx, q, id).Scan(&raw, &body)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("postgres: event %q: %w", id, engine.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: read event %q: %w", id, err)
	}
	var d engine.EventDelivery
	if err := engine.DecodeRecord(raw, &d); err != nil {
		return nil, fmt.Errorf("postgres: decode event %q: %w", id, err)
	}
	d.Body = body
	return &d, nil
}

// writeEvent stores d's record, claimable time and state over its row.
func (t *pgTx) writeEvent(d *engine.EventDelivery) error {
	data, err := eventRecord(d)
	if err != nil {
		return err
	}
	pending := d.Status == engine.EventPending
	return t.exec(`UPDATE events SET pending = $2, claimable_ns = $3, settled_ns = $4, data = $5 WHERE id = $1`,
		d.ID, pending, ns(d.Claimable()), ns(d.SettledAt), data)
}

// AddEvent implements engine.EventQueue.
func (t *pgTx) AddEvent(d *engine.EventDelivery) error {
	if !t.writable {
		return errReadOnly
	}
	if d == nil || d.ID == "" || d.Status != engine.EventPending {
		return errors.New("postgres: add event: no id, or not pending")
	}
	q := d.QueueKey()
	if err := t.lock("event queue", q); err != nil {
		return fmt.Errorf("postgres: add event %q: %w", d.ID, err)
	}
	data, err := eventRecord(d)
	if err != nil {
		return err
	}
	if err := t.exec(`INSERT INTO events (id, queue, pending, head, claimable_ns, settled_ns, data, body)
		VALUES ($1, $2, true, NOT EXISTS (SELECT 1 FROM events WHERE queue = $2 AND pending), $3, $4, $5, $6)
		ON CONFLICT (id) DO NOTHING`, d.ID, q, ns(d.Claimable()), ns(time.Time{}), data, []byte(d.Body)); err != nil {
		return fmt.Errorf("postgres: add event %q: %w", d.ID, err)
	}
	return nil
}

// EventDelivery implements engine.EventQueue.
func (t *pgTx) EventDelivery(id string) (*engine.EventDelivery, error) {
	return t.eventDelivery(id, false)
}

// ClaimEvents implements engine.EventQueue.
func (t *pgTx) ClaimEvents(now time.Time, lease time.Duration, owner string, limit int) ([]*engine.EventDelivery, error) {
	if !t.writable {
		return nil, errReadOnly
	}
	if owner == "" {
		return nil, errors.New("postgres: claim events: no owner")
	}
	if limit <= 0 {
		return nil, nil
	}
	ids, err := t.strings("claim events", `SELECT id FROM events WHERE head AND pending AND claimable_ns <= $1
		ORDER BY claimable_ns, id LIMIT $2 FOR UPDATE SKIP LOCKED`, ns(now), int64(limit))
	if err != nil {
		return nil, err
	}
	out := make([]*engine.EventDelivery, 0, len(ids))
	for _, id := range ids {
		d, err := t.eventDelivery(id, false)
		if err != nil {
			return nil, err
		}
		d.Owner, d.LeaseUntil = owner, now.Add(lease)
		if err := t.writeEvent(d); err != nil {
			return nil, fmt.Errorf("postgres: claim event %q: %w", id, err)
		}
		out = append(out, d)
	}
	return out, nil
}

// SettleEvent implements engine.EventQueue.
func (t *pgTx) SettleEvent(d *engine.EventDelivery, owner string) error {
	if !t.writable {
		return errReadOnly
	}
	if err := t.lock("event queue", d.QueueKey()); err != nil {
		return fmt.Errorf("postgres: settle event %q: %w", d.ID, err)
	}
	old, err := t.eventDelivery(d.ID, true)
	if err != nil {
		return err
	}
	if err := old.Settleable(owner); err != nil {
		return fmt.Errorf("postgres: settle event %q: %w", d.ID, err)
	}
	c := *d
	c.Owner, c.LeaseUntil = "", time.Time{}
	if err := t.writeEvent(&c); err != nil {
		return fmt.Errorf("postgres: settle event %q: %w", d.ID, err)
	}
	if c.Status == engine.EventPending {
		return nil
	}
	for _, a := range engine.EventActivity(&c) {
		if err := t.exec(`SELECT keyway_count($1::timestamptz, $2::text, '')`, a.Hour, string(a.Kind)); err != nil {
			return fmt.Errorf("postgres: settle event %q: count: %w", d.ID, err)
		}
	}
	// The next of the queue becomes its head.
	if err := t.exec(`UPDATE events SET head = true WHERE id =
		(SELECT id FROM events WHERE queue = $1 AND pending ORDER BY seq LIMIT 1)`, c.QueueKey()); err != nil {
		return fmt.Errorf("postgres: settle event %q: next head: %w", d.ID, err)
	}
	return nil
}

// RecoverEvents implements engine.EventQueue, on the index of leased
// queue heads by owner (events_owner), skipping a row another process is
// claiming.
func (t *pgTx) RecoverEvents(owner string) (int, error) {
	if !t.writable {
		return 0, errReadOnly
	}
	if owner == "" {
		return 0, errors.New("postgres: recover events: no owner")
	}
	ids, err := t.strings("recover events", `SELECT id FROM events WHERE head AND pending AND data->>'owner' = $1
		ORDER BY id FOR UPDATE SKIP LOCKED`, owner)
	if err != nil {
		return 0, err
	}
	for _, id := range ids {
		d, err := t.eventDelivery(id, false)
		if err != nil {
			return 0, err
		}
		d.Owner, d.LeaseUntil = "", time.Time{}
		if err := t.writeEvent(d); err != nil {
			return 0, fmt.Errorf("postgres: recover event %q: %w", id, err)
		}
	}
	return len(ids), nil
}

// NextEventDue implements engine.EventQueue.
func (t *pgTx) NextEventDue() (time.Time, error) {
	var n int64
	err := t.tx.QueryRow(t.ctx, `SELECT claimable_ns FROM events WHERE head AND pending ORDER BY claimable_ns LIMIT 1`).Scan(&n)
	if errors.Is(err, pgx.ErrNoRows) {
		return time.Time{}, fmt.Errorf("postgres: next event: %w", engine.ErrNotFound)
	}
	if err != nil {
		return time.Time{}, fmt.Errorf("postgres: next event: %w", err)
	}
	return fromNS(n), nil
}

// PruneEvents implements engine.EventQueue.
func (t *pgTx) PruneEvents(before time.Time, limit int) (int, error) {
	if !t.writable {
		return 0, errReadOnly
	}
	tag, err := t.tx.Exec(t.ctx, `DELETE FROM events WHERE id IN
		(SELECT id FROM events WHERE NOT pending AND settled_ns < $1 ORDER BY settled_ns, id LIMIT $2)`, ns(before), limitArg(limit))
	if err != nil {
		return 0, fmt.Errorf("postgres: prune events: %w", err)
	}
	return int(tag.RowsAffected()), nil
}
