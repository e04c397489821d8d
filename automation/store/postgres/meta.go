package postgres

import (
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/keyway-sms/keyway/automation/engine"
)

// Meta implements engine.Tx.
func (t *pgTx) Meta(k string) ([]byte, error) {
	if err := t.lock("meta", k); err != nil {
		return nil, err
	}
	return t.readMeta(k)
}

// readMeta reads the meta value k, behind whichever lock the caller took.
func (t *pgTx) readMeta(k string) ([]byte, error) {
	var v []byte
	err := t.tx.QueryRow(t.ctx, `SELECT value FROM meta WHERE key = $1`, k).Scan(&v)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("postgres: meta %q: %w", k, engine.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: meta %q: %w", k, err)
	}
	return v, nil
}

// PeekMeta implements engine.MetaPeeker: Meta under a shared lock, which
// readers hold together and a writer of the value (PutMeta, or Meta
// followed by a write) waits for, and which waits for that writer: a
// reader sees the value as it was before or after a change, never
// between, without making the other readers wait.
func (t *pgTx) PeekMeta(k string) ([]byte, error) {
	if t.writable && !t.locked["meta\x00"+k] && !t.locked["meta/shared\x00"+k] {
		t.tx.Defer(`SELECT pg_advisory_xact_lock_shared(hashtext($1), hashtext($2))`, "keyway/meta", k)
		if t.locked == nil {
			t.locked = map[string]bool{}
		}
		t.locked["meta/shared\x00"+k] = true
	}
	return t.readMeta(k)
}

// PutMeta implements engine.Tx.
func (t *pgTx) PutMeta(k string, v []byte) error {
	if !t.writable {
		return errReadOnly
	}
	if k == "" {
		return errors.New("postgres: put meta: no key")
	}
	if err := t.lock("meta", k); err != nil {
		return err
	}
	v = append([]byte{}, v...) // deferred: the caller may reuse v

	if err := t.exec(`INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value`, k, v); err != nil {
		return fmt.Errorf("postgres: put meta %q: %w", k, err)
	}
	return nil
}

// DeleteMeta implements engine.Tx.
func (t *pgTx) DeleteMeta(k string) error {
	if !t.writable {
		return errReadOnly
	}
	if err := t.lock("meta", k); err != nil {
		return err
	}
	if err := t.exec(`DELETE FROM meta WHERE key = $1`, k); err != nil {
		return fmt.Errorf("postgres: delete meta %q: %w", k, err)
	}
	return nil
}
