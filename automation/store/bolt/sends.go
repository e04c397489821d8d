package bolt

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/keyway-sms/keyway/automation/engine"
)

// sendEntry is a message's outbox entry. Only the head of each queue sits
// in bSendDue, keyed by when it can be claimed: so a claim walks the heads
// that are due, never the sends waiting behind them.
type sendEntry struct {
	engine.QueuedSend
	Head bool `json:"head,omitempty"`
}

// claimable is when e can be claimed: its Due, or the end of its lease.
func (e *sendEntry) claimable() time.Time {
	if e.Owner != "" {
		return e.LeaseUntil
	}
	return e.Due
}

// dueKey orders instants, then message ids: seconds with the sign bit
// flipped, then nanoseconds, so that every instant (the zero time
// included) keeps its place.
func dueKey(t time.Time, id string) []byte {
	k := make([]byte, 12, 12+len(id))
	binary.BigEndian.PutUint64(k, uint64(t.Unix())^(1<<63))
	binary.BigEndian.PutUint32(k[8:], uint32(t.Nanosecond()))
	return append(k, id...)
}

// dueKeyTime reads the instant back from a dueKey.
func dueKeyTime(k []byte) time.Time {
	sec := int64(binary.BigEndian.Uint64(k[:8]) ^ (1 << 63))
	return time.Unix(sec, int64(binary.BigEndian.Uint32(k[8:12]))).UTC()
}

func (t *boltTx) sendEntry(id string) (*sendEntry, error) {
	var e sendEntry
	if err := t.get(bOutbox, []byte(id), &e, "queued send"); err != nil {
		return nil, err
	}
	return &e, nil
}

// putSend stores e, keeping the due and lease indexes in step with old,
// the entry it replaces (nil for a new one).
func (t *boltTx) putSend(old, e *sendEntry) error {
	if old != nil {
		if old.Head {
			if err := t.del(bSendDue, dueKey(old.claimable(), old.MessageID)); err != nil {
				return err
			}
		}
		if old.Owner != "" && old.Owner != e.Owner {
			if err := t.del(bSendLeases, key(old.Owner, old.MessageID)); err != nil {
				return err
			}
		}
	}
	if e.Head {
		if err := t.mark(bSendDue, dueKey(e.claimable(), e.MessageID)); err != nil {
			return err
		}
	}
	if e.Owner != "" {
		if err := t.mark(bSendLeases, key(e.Owner, e.MessageID)); err != nil {
			return err
		}
	}
	return t.put(bOutbox, []byte(e.MessageID), e)
}

// Enqueue implements engine.Tx.
func (t *boltTx) Enqueue(m *engine.Message) error {
	if !t.writable {
		return errReadOnly
	}
	if m == nil || m.ID == "" {
		return errors.New("bolt: enqueue: no message id")
	}
	if t.tx.Bucket(bOutbox).Get([]byte(m.ID)) != nil {
		return nil
	}
	q := m.QueueKey()
	prefix := key(q, "")
	k, _ := t.tx.Bucket(bSendQueues).Cursor().Seek(prefix)
	empty := k == nil || !bytes.HasPrefix(k, prefix)
	if err := t.mark(bSendQueues, key(q, m.ID)); err != nil {
		return err
	}
	return t.putSend(nil, &sendEntry{QueuedSend: engine.QueuedSend{MessageID: m.ID, Queue: q, Due: m.NextAttempt}, Head: empty})
}

// Dequeue implements engine.Tx.
func (t *boltTx) Dequeue(id string) error {
	if !t.writable {
		return errReadOnly
	}
	if t.tx.Bucket(bOutbox).Get([]byte(id)) == nil {
		return nil
	}
	e, err := t.sendEntry(id)
	if err != nil {
		return err
	}
	for _, d := range []struct{ bucket, key []byte }{
		{bOutbox, []byte(id)},
		{bSendQueues, key(e.Queue, id)},
		{bSendLeases, key(e.Owner, id)},
		{bSendDue, dueKey(e.claimable(), id)},
	} {
		if err := t.del(d.bucket, d.key); err != nil {
			return err
		}
	}
	if !e.Head {
		return nil
	}
	// The next message of the queue becomes its head.
	prefix := key(e.Queue, "")
	k, _ := t.tx.Bucket(bSendQueues).Cursor().Seek(prefix)
	if k == nil || !bytes.HasPrefix(k, prefix) {
		return nil
	}
	next, err := t.sendEntry(string(k[len(prefix):]))
	if err != nil {
		return fmt.Errorf("bolt: outbox queue: %w", err)
	}
	old := *next
	next.Head = true
	return t.putSend(&old, next)
}

// Outbox implements engine.Tx.
func (t *boltTx) Outbox(after string, limit int) ([]string, error) {
	var out []string
	cur := t.tx.Bucket(bOutbox).Cursor()
	k, _ := cur.Seek([]byte(after))
	if k != nil && string(k) == after {
		k, _ = cur.Next()
	}
	for ; k != nil && (limit <= 0 || len(out) < limit); k, _ = cur.Next() {
		out = append(out, string(k))
	}
	return out, nil
}

// QueuedSend implements engine.Tx.
func (t *boltTx) QueuedSend(id string) (*engine.QueuedSend, error) {
	e, err := t.sendEntry(id)
	if err != nil {
		return nil, err
	}
	return &e.QueuedSend, nil
}

// ClaimSends implements engine.Tx: a cursor from the first key of the
// due index, stopping at the first head not yet claimable.
func (t *boltTx) ClaimSends(now time.Time, lease time.Duration, owner string, limit int) ([]string, error) {
	if !t.writable {
		return nil, errReadOnly
	}
	if owner == "" {
		return nil, errors.New("bolt: claim sends: no owner")
	}
	end := dueKey(now, "")
	var ids []string
	cur := t.tx.Bucket(bSendDue).Cursor()
	for k, _ := cur.First(); k != nil && len(ids) < limit && bytes.Compare(k[:12], end) <= 0; k, _ = cur.Next() {
		ids = append(ids, string(k[12:]))
	}
	until := now.Add(lease)
	for _, id := range ids {
		e, err := t.sendEntry(id)
		if err != nil {
			return nil, fmt.Errorf("bolt: outbox due index: %w", err)
		}
		old := *e
		e.Owner, e.LeaseUntil = owner, until
		if err := t.putSend(&old, e); err != nil {
			return nil, err
		}
	}
	return ids, nil
}

// ReleaseSend implements engine.Tx.
func (t *boltTx) ReleaseSend(id, owner string, due time.Time) error {
	if !t.writable {
		return errReadOnly
	}
	e, err := t.sendEntry(id)
	if err != nil {
		return err
	}
	if e.Owner != owner || owner == "" {
		return fmt.Errorf("bolt: release send %q: %w", id, engine.ErrLeaseLost)
	}
	old := *e
	e.Owner, e.LeaseUntil, e.Due = "", time.Time{}, due
	return t.putSend(&old, e)
}

// RecoverSends implements engine.Tx.
func (t *boltTx) RecoverSends(owner string) (int, error) {
	if !t.writable {
		return 0, errReadOnly
	}
	if owner == "" {
		return 0, errors.New("bolt: recover sends: no owner")
	}
	prefix := key(owner, "")
	var ids []string
	cur := t.tx.Bucket(bSendLeases).Cursor()
	for k, _ := cur.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = cur.Next() {
		ids = append(ids, string(k[len(prefix):]))
	}
	for _, id := range ids {
		e, err := t.sendEntry(id)
		if err != nil {
			return 0, fmt.Errorf("bolt: outbox lease index: %w", err)
		}
		old := *e
		e.Owner, e.LeaseUntil = "", time.Time{}
		if err := t.putSend(&old, e); err != nil {
			return 0, err
		}
	}
	return len(ids), nil
}

// NextSendDue implements engine.Tx.
func (t *boltTx) NextSendDue() (time.Time, error) {
	k, _ := t.tx.Bucket(bSendDue).Cursor().First()
	if k == nil {
		return time.Time{}, fmt.Errorf("bolt: next send: %w", engine.ErrNotFound)
	}
	return dueKeyTime(k), nil
}

// releaseLeases gives back every lease on a queued send.
func releaseLeases(t *boltTx) error {
	var owners []string
	err := t.tx.Bucket(bSendLeases).ForEach(func(k, _ []byte) error {
		if i := bytes.IndexByte(k, 0); i >= 0 && (len(owners) == 0 || owners[len(owners)-1] != string(k[:i])) {
			owners = append(owners, string(k[:i]))
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, o := range owners {
		if _, err := t.RecoverSends(o); err != nil {
			return fmt.Errorf("bolt: release the leases of %q: %w", o, err)
		}
	}
	return nil
}

// migrateOutbox converts an outbox written by an earlier keyway, whose
// entries held nothing but the message id, into queues with a due index:
// each message is enqueued again, in id order. A message that cannot be
// read gets a queue of its own, so that the outbox finds it unreadable and
// takes it out without holding up anyone else.
func migrateOutbox(t *boltTx) error {
	k, v := t.tx.Bucket(bOutbox).Cursor().First()
	if k == nil || len(v) > 0 {
		return nil // empty, or migrated already
	}
	var ids []string
	err := t.tx.Bucket(bOutbox).ForEach(func(k, v []byte) error {
		if len(v) == 0 {
			ids = append(ids, string(k))
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, id := range ids {
		if err := t.del(bOutbox, []byte(id)); err != nil {
			return err
		}
		m, err := t.Message(id)
		if err != nil {
			m = &engine.Message{ID: id, Kind: "unreadable", To: []string{id}}
		}
		if err := t.Enqueue(m); err != nil {
			return fmt.Errorf("bolt: migrate outbox entry %q: %w", id, err)
		}
	}
	return nil
}
