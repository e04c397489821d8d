package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/keyway-sms/keyway/automation/engine"
	"github.com/keyway-sms/keyway/config"
)

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

// pgTx implements engine.Tx over a pgx transaction.
type pgTx struct {
	ctx      context.Context
	tx       noting
	dbErr    error // the first error the database returned
	writable bool
	wake     bool // the commit should wake the other processes
	locked   map[string]bool
}

var errReadOnly = errors.New("postgres: write in a read-only transaction")

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
		return fmt.Errorf("postgres: %s %q: %w", what, name, engine.ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("postgres: read %s %q: %w", what, name, err)
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return fmt.Errorf("postgres: decode %s %q: %w", what, name, err)
	}
	return nil
}

// listJSON decodes each row's one jsonb value with decode.
func listJSON[T any](t *pgTx, what string, sql string, args ...any) ([]*T, error) {
	rows, err := t.tx.Query(t.ctx, sql, args...)
	if err != nil {
		return nil, fmt.Errorf("postgres: list %s: %w", what, err)
	}
	defer rows.Close()
	var out []*T
	for rows.Next() {
		var raw []byte
		if err := rows.Scan(&raw); err != nil {
			return nil, fmt.Errorf("postgres: list %s: %w", what, err)
		}
		v := new(T)
		if err := json.Unmarshal(raw, v); err != nil {
			return nil, fmt.Errorf("postgres: decode %s: %w", what, err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgres: list %s: %w", what, err)
	}
	return out, nil
}

func encode(what string, v any) (string, error) {
	raw, err := engine.RecordJSON(v)
	if err != nil {
		return "", fmt.Errorf("postgres: encode %s: %w", what, err)
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
		return fmt.Errorf("postgres: lock %s %s: %w", kind, shown, err)
	}
	if t.locked == nil {
		t.locked = map[string]bool{}
	}
	t.locked[kind+"\x00"+key] = true
	return nil
}
