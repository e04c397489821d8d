package bolt

import (
	"fmt"
	"time"

	"github.com/keyway-sms/keyway/automation/engine"
)

// Message implements engine.Tx.
func (t *boltTx) Message(id string) (*engine.Message, error) {
	var m engine.Message
	if err := t.get(bMessages, []byte(id), &m, "message"); err != nil {
		return nil, err
	}
	m.ID = id
	return &m, nil
}

// MessageByProviderID implements engine.Tx.
func (t *boltTx) MessageByProviderID(provider, providerID string) (*engine.Message, error) {
	id := t.tx.Bucket(bProviderIDs).Get(key(provider, providerID))
	if id == nil {
		return nil, fmt.Errorf("bolt: message %s/%s: %w", provider, providerID, engine.ErrNotFound)
	}
	return t.Message(string(id))
}

// PutMessage implements engine.Tx.
func (t *boltTx) PutMessage(m *engine.Message) error {
	if !t.writable {
		return errReadOnly
	}
	// A message stored again has its index entries already (remark). Its
	// creation-time entry, kept only when the id does not say the time
	// (created.go), is looked up, not its old record decoded: only when
	// that entry is not there as expected is the old record read, to take
	// out the entry of a creation time that changed.
	again := t.tx.Bucket(bMessages).Get([]byte(m.ID)) != nil
	if err := t.countMessage(m, again); err != nil {
		return err
	}
	if err := t.countForBroadcasts(m, again); err != nil { // broadcasts.go
		return fmt.Errorf("bolt: count message %s for its broadcast: %w", m.ID, err)
	}
	if m.ID != "" {
		ck, want := dueKey(m.CreatedAt, m.ID), !createdInID(m)
		switch {
		case !again:
			if want {
				if err := t.mark(bMsgCreated, ck); err != nil {
					return err
				}
			}
		case want && has(t.tx.Bucket(bMsgCreated), ck):
			// Unchanged.
		default:
			var old engine.Message
			if decodeValue(t.tx.Bucket(bMessages).Get([]byte(m.ID)), &old) == nil && !old.CreatedAt.Equal(m.CreatedAt) {
				if err := t.del(bMsgCreated, dueKey(old.CreatedAt, m.ID)); err != nil {
					return err
				}
			}
			if want {
				if err := t.mark(bMsgCreated, ck); err != nil {
					return err
				}
			}
		}
	}
	mark := t.mark
	if again {
		mark = t.remark
	}
	if m.ProviderID != "" {
		if !t.writable {
			return errReadOnly
		}
		k, id := key(m.Provider, m.ProviderID), []byte(m.ID)
		put := t.bucket(bProviderIDs).Put
		if again {
			put = func(k, v []byte) error { return t.putIndex(bProviderIDs, k, v) }
		}
		if err := put(k, id); err != nil {
			return err
		}
	}
	if m.Contact != "" {
		if err := mark(bContactMsgs, key(m.Contact, m.ID)); err != nil {
			return err
		}
	}
	v := *m
	v.ID = "" // the key says it
	return t.put(bMessages, []byte(m.ID), &v)
}

// PruneMessages implements engine.Tx, from the creation-time index and
// the ids that say their creation time (created.go).
func (t *boltTx) PruneMessages(before time.Time, limit int) (int, error) {
	if !t.writable {
		return 0, errReadOnly
	}
	ids, err := t.pruneCandidates(before, limit)
	if err != nil {
		return 0, err
	}
	for _, id := range ids {
		m, err := t.Message(id)
		if err != nil {
			return 0, fmt.Errorf("bolt: message creation index: %w", err)
		}
		if m.ProviderID != "" {
			pk := key(m.Provider, m.ProviderID)
			if cur := t.tx.Bucket(bProviderIDs).Get(pk); string(cur) == id {
				if err := t.del(bProviderIDs, pk); err != nil {
					return 0, err
				}
			}
		}
		gone := []struct{ bucket, key []byte }{
			{bContactMsgs, key(m.Contact, id)},
			{bMsgCreated, dueKey(m.CreatedAt, id)},
			{bMessages, []byte(id)},
		}
		if m.Direction == engine.Outbound && m.Broadcast != "" { // broadcasts.go
			gone = append(gone, struct{ bucket, key []byte }{bBcastMsgs, []byte(id)}, struct{ bucket, key []byte }{bBcastRecips, key(m.Contact, m.Broadcast)})
		}
		for _, d := range gone {
			if err := t.del(d.bucket, d.key); err != nil {
				return 0, err
			}
		}
	}
	return len(ids), nil
}

// indexMessagesCreated fills the creation-time index of the messages
// stored by a keyway from before it existed.
func indexMessagesCreated(t *boltTx) error {
	return t.tx.Bucket(bMessages).ForEach(func(k, v []byte) error {
		var m engine.Message
		if err := decodeValue(v, &m); err != nil {
			return nil // unreadable: never pruned, as before
		}
		if m.ID = string(k); createdInID(&m) {
			return nil // found by its id (created.go)
		}
		return t.mark(bMsgCreated, dueKey(m.CreatedAt, string(k)))
	})
}

// Messages implements engine.Tx.
func (t *boltTx) Messages(contact string, limit int) ([]*engine.Message, error) {
	var out []*engine.Message
	err := t.reverse(bContactMsgs, key(contact, ""), limit, func(id string) error {
		m, err := t.Message(id)
		if err == nil {
			out = append(out, m)
		}
		return err
	})
	return out, err
}

// MessagesPage implements engine.Tx.
func (t *boltTx) MessagesPage(before string, limit int) ([]*engine.Message, error) {
	cur := t.tx.Bucket(bMessages).Cursor()
	var k, v []byte
	if before == "" {
		k, v = cur.Last()
	} else if k, _ = cur.Seek([]byte(before)); k == nil {
		k, v = cur.Last()
	} else {
		k, v = cur.Prev()
	}
	var out []*engine.Message
	for ; k != nil && (limit <= 0 || len(out) < limit); k, v = cur.Prev() {
		var m engine.Message
		if err := decodeValue(v, &m); err != nil {
			return nil, fmt.Errorf("bolt: decode message %q: %w", k, err)
		}
		m.ID = string(k)
		out = append(out, &m)
	}
	return out, nil
}
