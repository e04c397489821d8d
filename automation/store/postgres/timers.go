package postgres

import (
	"fmt"
	"time"

	"github.com/keyway-sms/keyway/automation/engine"
)

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
		return fmt.Errorf("postgres: put timer of %q: %w", tm.Enrollment, err)
	}
	return nil
}

// DeleteTimer implements engine.Tx.
func (t *pgTx) DeleteTimer(tm engine.Timer) error {
	if err := t.exec(`DELETE FROM timers WHERE due_ns = $1 AND enrollment = $2`, tm.Due.UnixNano(), tm.Enrollment); err != nil {
		return fmt.Errorf("postgres: delete timer of %q: %w", tm.Enrollment, err)
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
		return fmt.Errorf("postgres: hold timer of %q: %w", tm.Enrollment, err)
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
		return 0, fmt.Errorf("postgres: release the held timers of %q: %w", automationID, err)
	}
	return int(tag.RowsAffected()), nil
}
