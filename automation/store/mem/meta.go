package mem

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/keyway-sms/keyway/automation/engine"
)

// Meta implements Tx.
func (tx *memTx) Meta(key string) ([]byte, error) {
	if err := tx.read(); err != nil {
		return nil, err
	}
	v, ok := tx.st.meta.get(key)
	if !ok {
		return nil, fmt.Errorf("mem: meta %q: %w", key, engine.ErrNotFound)
	}
	return append([]byte{}, v...), nil
}

// PutMeta implements Tx.
func (tx *memTx) PutMeta(key string, value []byte) error {
	if err := tx.write(); err != nil {
		return err
	}
	if key == "" {
		return errors.New("mem: put meta: no key")
	}
	tx.st.meta.set(tx.owner, key, bytes.Clone(value))
	return nil
}

// DeleteMeta implements Tx.
func (tx *memTx) DeleteMeta(key string) error {
	if err := tx.write(); err != nil {
		return err
	}
	tx.st.meta.del(tx.owner, key)
	return nil
}
