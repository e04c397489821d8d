package postgres

import "fmt"

// PendingTimers returns how many timers are stored, held ones aside (they
// have a table of their own), for keyway_timers_pending: one COUNT in the
// database instead of every timer sent to the process and decoded.
func (t *pgTx) PendingTimers() (int, error) {
	return t.count("pending timers", `SELECT count(*) FROM timers`)
}

// OpenHandoffCount returns how many enrollments stand at an open handoff
// (as engine.OpenHandoffs lists them), for keyway_handoffs_open: a COUNT on
// the partial index of those enrollments (schema version 3).
func (t *pgTx) OpenHandoffCount() (int, error) {
	return t.count("open handoffs", `SELECT count(*) FROM enrollments
		WHERE active AND data->>'status' = 'handoff' AND jsonb_typeof(data->'handoff') = 'object'`)
}

func (t *pgTx) count(what, sql string) (int, error) {
	var n int64
	if err := t.tx.QueryRow(t.ctx, sql).Scan(&n); err != nil {
		return 0, fmt.Errorf("postgres: count %s: %w", what, err)
	}
	return int(n), nil
}

// OutboxCounts returns how many sends are queued and how many of those
// failed at least once and wait to be tried again, for keyway_outbox_queued
// and keyway_outbox_retrying: one query in the database, where reading the
// outbox's ids and then each message cost a round trip per queued send
// (a scrape during a backlog of 100,000 made 100,000).
func (t *pgTx) OutboxCounts() (queued, retrying int, err error) {
	var q, r int64
	err = t.tx.QueryRow(t.ctx, `SELECT count(*), count(*) FILTER (WHERE coalesce((m.data->>'attempts')::int, 0) > 0)
		FROM outbox o LEFT JOIN messages m ON m.id = o.message_id`).Scan(&q, &r)
	if err != nil {
		return 0, 0, fmt.Errorf("postgres: count the outbox: %w", err)
	}
	return int(q), int(r), nil
}
