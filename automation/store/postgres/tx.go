package postgres

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/keyway-sms/keyway/automation/broadcast"
	"github.com/keyway-sms/keyway/automation/engine"
)

// pgTx implements engine.Tx over a pgx transaction.
type pgTx struct {
	ctx      context.Context
	tx       *pipe
	dbErr    error // the first error the database returned
	writable bool
	wake     bool // the commit should wake the other processes
	locked   map[string]bool
	// peeks is the store's memory of meta values (Store.peeks), and seen
	// the values PeekMeta returned in this Update, by key.
	peeks *sync.Map
	seen  map[string]peeked
	// indexed holds, by phone, what each contact this Update read or
	// stored has in the index tables (contacts.go: contactIndexes).
	indexed map[string][len(contactIndexes)][]string
	// What the Update read together and keeps (prefetch.go): by contact,
	// its active enrollments; by message id, messages and queue entries.
	actives  map[string][]activeRow
	messages map[string][]byte
	sends    map[string]*engine.QueuedSend
	// contacts holds, in a View, the contacts ReadAhead read, by phone
	// (nil: not stored).
	contacts map[string][]byte
	// ahead is the phone whose turn ReadTurnAhead announced, read with the
	// next read; turnRead holds what was read so, by phone (nil: not
	// stored), for the Contact call that opens the turn.
	ahead    string
	turnRead map[string][]byte
	// bflags holds, by message id, what broadcast_msgs counts a message
	// of a broadcast toward, as PrefetchSends read it and the
	// transaction's writes changed it (broadcasts.go).
	bflags map[string]int16
	// bcounts holds what the transaction added to broadcasts' counters,
	// written before commit (broadcasts.go).
	bcounts map[string]*broadcast.Counts
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

// exec defers the write sql to the transaction's next round trip (see
// pipe): the database's refusal of it fails the transaction there.
func (t *pgTx) exec(sql string, args ...any) error {
	if !t.writable {
		return errReadOnly
	}
	t.turnRead = nil // a turn read ahead is read again after a write
	t.tx.Defer(sql, args...)
	return nil
}

// getJSON decodes the one jsonb value the query returns into v. A turn
// that ReadTurnAhead announced is read in the same statement.
func (t *pgTx) getJSON(v any, what, name, sql string, args ...any) error {
	var raw []byte
	var err error
	if t.ahead != "" {
		err = t.readAhead(&raw, sql, args...)
	} else {
		err = t.tx.QueryRow(t.ctx, sql, args...).Scan(&raw)
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("postgres: %s %q: %w", what, name, engine.ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("postgres: read %s %q: %w", what, name, err)
	}
	if err := engine.DecodeRecord(raw, v); err != nil {
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
		if err := engine.DecodeRecord(raw, v); err != nil {
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
	return t.lock("contact", phone)
}

// lock takes, in an Update, the transaction's advisory lock on key of
// kind, once. The lock goes out with the next statement that reads (see
// pipe), which runs once it is held: the lock costs no round trip of its
// own. Should the database refuse it (a deadlock), the transaction fails
// at that read.
func (t *pgTx) lock(kind, key string) error {
	if !t.writable || t.locked[kind+"\x00"+key] {
		return nil
	}
	t.tx.Defer(`SELECT pg_advisory_xact_lock(hashtext($1), hashtext($2))`, "keyway/"+kind, key)
	t.markLocked(kind, key)
	return nil
}

// markLocked notes that the transaction holds, or has deferred, the
// lock on key of kind.
func (t *pgTx) markLocked(kind, key string) {
	if t.locked == nil {
		t.locked = map[string]bool{}
	}
	t.locked[kind+"\x00"+key] = true
}
