package bolt

import (
	"bytes"
	"errors"
	"fmt"

	bolt "go.etcd.io/bbolt"

	"github.com/keyway-sms/keyway/automation/engine"
	"github.com/keyway-sms/keyway/config"
)

// boltTx implements engine.Tx over a bbolt transaction.
type boltTx struct {
	tx       *bolt.Tx
	writable bool
	// indexed holds, by phone, the groups, tags and left groups of each
	// contact this write transaction has read or stored (none for one
	// found absent), so that PutContact keeps the indexes without reading
	// and decoding the contact a second time in the turn that loaded it.
	indexed map[string]contactKeys
	// newEvents are the event deliveries added, stored at the end of the
	// transaction (flushEvents).
	newEvents []*engine.EventDelivery
}

var errReadOnly = errors.New("bolt: write in a read-only transaction")

func key(parts ...string) []byte {
	var b bytes.Buffer
	for i, p := range parts {
		if i > 0 {
			b.WriteByte(0)
		}
		b.WriteString(p)
	}
	return b.Bytes()
}

func (t *boltTx) get(bucket []byte, k []byte, v any, what string) error {
	name := string(k)
	if bytes.Equal(bucket, bContacts) {
		name = config.MaskAddress(name) // errors may reach the logs
	}
	raw := t.tx.Bucket(bucket).Get(k)
	if raw == nil {
		return fmt.Errorf("bolt: %s %q: %w", what, name, engine.ErrNotFound)
	}
	if err := decodeValue(raw, v); err != nil {
		return fmt.Errorf("bolt: decode %s %q: %w", what, name, err)
	}
	return nil
}

func (t *boltTx) put(bucket []byte, k []byte, v any) error {
	if !t.writable {
		return errReadOnly
	}
	raw, err := encodeValue(v)
	if err != nil {
		return fmt.Errorf("bolt: encode %s: %w", bucket, err)
	}
	return t.bucket(bucket).Put(k, raw)
}

func (t *boltTx) mark(bucket []byte, k []byte) error {
	if !t.writable {
		return errReadOnly
	}
	return t.bucket(bucket).Put(k, []byte{})
}

// remark stores the index entry k of a record stored before, which
// most likely has it already: an entry already there is left alone, since
// putting it again would copy its page into the transaction and write it
// at commit for nothing (a message or an enrollment is stored again each
// time it moves, with the same index keys). A new record's entries are
// new: mark them.
func (t *boltTx) remark(bucket []byte, k []byte) error {
	if !t.writable {
		return errReadOnly
	}
	b := t.bucket(bucket)
	if has(b, k) {
		return nil
	}
	return b.Put(k, []byte{})
}

// has reports whether b holds the key k.
func has(b *bolt.Bucket, k []byte) bool {
	found, _ := b.Cursor().Seek(k)
	return found != nil && bytes.Equal(found, k)
}

// putIndex stores the index entry k → v in bucket unless it holds that
// already (see mark).
func (t *boltTx) putIndex(bucket, k, v []byte) error {
	b := t.bucket(bucket)
	if cur := b.Get(k); cur != nil && bytes.Equal(cur, v) {
		return nil
	}
	return b.Put(k, v)
}

// bucket returns the bucket to write to, packing its pages as fillPercent
// says (counts.go).
func (t *boltTx) bucket(name []byte) *bolt.Bucket {
	b := t.tx.Bucket(name)
	if f, ok := fillPercent[string(name)]; ok {
		b.FillPercent = f
	}
	return b
}

func (t *boltTx) del(bucket []byte, k []byte) error {
	if !t.writable {
		return errReadOnly
	}
	return t.tx.Bucket(bucket).Delete(k)
}

// reverse calls fn with the suffix of each key with prefix, last first.
func (t *boltTx) reverse(bucket, prefix []byte, limit int, fn func(suffix string) error) error {
	cur := t.tx.Bucket(bucket).Cursor()
	end := append(bytes.Clone(prefix), 0xff)
	k, _ := cur.Seek(end)
	if k == nil {
		k, _ = cur.Last()
	} else {
		k, _ = cur.Prev()
	}
	for n := 0; k != nil && bytes.HasPrefix(k, prefix) && (limit <= 0 || n < limit); k, _ = cur.Prev() {
		if err := fn(string(k[len(prefix):])); err != nil {
			return err
		}
		n++
	}
	return nil
}
