package bolt

import (
	"bytes"
	"fmt"

	"github.com/keyway-sms/keyway/automation/engine"
)

// Meta implements engine.Tx.
func (t *boltTx) Meta(k string) ([]byte, error) {
	v := t.tx.Bucket(bMeta).Get([]byte(k))
	if v == nil {
		return nil, fmt.Errorf("bolt: meta %q: %w", k, engine.ErrNotFound)
	}
	return bytes.Clone(v), nil
}

// PutMeta implements engine.Tx.
func (t *boltTx) PutMeta(k string, v []byte) error {
	if !t.writable {
		return errReadOnly
	}
	// bbolt keeps v until the commit: a copy, so that the caller may
	// reuse its buffer at once (a file stored in chunks does).
	return t.tx.Bucket(bMeta).Put([]byte(k), bytes.Clone(v))
}

// DeleteMeta implements engine.Tx.
func (t *boltTx) DeleteMeta(k string) error {
	if !t.writable {
		return errReadOnly
	}
	if err := t.tx.Bucket(bMeta).Delete([]byte(k)); err != nil {
		return fmt.Errorf("bolt: delete meta %q: %w", k, err)
	}
	return nil
}
