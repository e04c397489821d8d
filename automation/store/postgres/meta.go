package postgres

import (
	"bytes"
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
//
// In an Update, a value the store has read before is taken from its
// memory (Store.peeks), and the lock and a check that the value is still
// that one go out, deferred, with the transaction's next round trip
// (keyway_expect_meta): a webhook's turn reads its automation's pause
// without a round trip of its own. Should the value have changed, the
// check fails the transaction as a conflict, the store forgets the value,
// and the Update runs again, reading it.
func (t *pgTx) PeekMeta(k string) ([]byte, error) {
	if !t.writable || t.locked["meta\x00"+k] {
		return t.readMeta(k)
	}
	v, ok := t.seen[k] // this Update's, held still by the lock since
	if !ok {
		var err error
		if v, ok = t.remembered(k); !ok {
			if v, err = t.peekRead(k); err != nil {
				return nil, err
			}
		}
		if t.seen == nil {
			t.seen = map[string]peeked{}
		}
		t.seen[k] = v
	}
	if v.value == nil {
		return nil, fmt.Errorf("postgres: meta %q: %w", k, engine.ErrNotFound)
	}
	return bytes.Clone(v.value), nil
}

// remembered takes meta k from the store's memory, if there, and defers
// its check under the shared lock.
func (t *pgTx) remembered(k string) (peeked, bool) {
	p, ok := t.peeks.Load(k)
	if !ok {
		return peeked{}, false
	}
	v := p.(peeked)
	t.tx.Defer(`SELECT keyway_expect_meta($1, $2)`, k, v.value)
	t.markLocked("meta/shared", k)
	return v, true
}

// peekRead reads meta k under the shared lock and remembers it in the
// store's memory.
func (t *pgTx) peekRead(k string) (peeked, error) {
	t.tx.Defer(`SELECT pg_advisory_xact_lock_shared(hashtext($1), hashtext($2))`, "keyway/meta", k)
	t.markLocked("meta/shared", k)
	raw, err := t.readMeta(k)
	var v peeked
	switch {
	case err == nil:
		v.value = bytes.Clone(raw)
	case !errors.Is(err, engine.ErrNotFound):
		return v, err
	}
	t.peeks.Store(k, v)
	return v, nil
}

// peeked is a meta value as PeekMeta last read it; value is nil when
// none was stored (a value stored is never nil: readMeta scans bytea).
type peeked struct{ value []byte }

// expectMeta is keyway_expect_meta: under the shared lock PeekMeta
// takes, it fails the transaction with a serialization failure (which
// Update runs again) unless meta k holds expected (NULL: none). The
// lock is taken before the read, which a function of this kind makes
// with a snapshot of its own: it sees what the lock's last holder
// committed.
const expectMeta = `
CREATE FUNCTION keyway_expect_meta(k text, expected bytea) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
	v bytea;
BEGIN
	PERFORM pg_advisory_xact_lock_shared(hashtext('keyway/meta'), hashtext(k));
	SELECT value INTO v FROM meta WHERE key = k;
	IF v IS DISTINCT FROM expected THEN
		RAISE EXCEPTION 'keyway: meta % changed since this process last read it', k USING ERRCODE = 'serialization_failure';
	END IF;
END $$;
`

// forgetPeeks makes the store read again the meta values this Update
// saw, after the Update failed: one taken from memory may be why.
func (t *pgTx) forgetPeeks() {
	for k := range t.seen {
		t.peeks.Delete(k)
	}
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
	t.peeks.Delete(k)          // read again after this write, whether it commits or not
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
	t.peeks.Delete(k)
	if err := t.exec(`DELETE FROM meta WHERE key = $1`, k); err != nil {
		return fmt.Errorf("postgres: delete meta %q: %w", k, err)
	}
	return nil
}
