package bolt

import (
	"bytes"
	"encoding/binary"
	"errors"
	"time"

	"github.com/keyway-sms/keyway/automation/engine"
)

// bActivity holds what happened per hour (engine.ActivityStore): hour (8
// bytes, big-endian Unix seconds, sign bit flipped) kind 0 automation →
// count, int64 big-endian. A few keys an hour, whatever the traffic.
var bActivity = []byte("activity")

func activityHourKey(t time.Time) []byte {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(engine.ActivityHour(t).Unix())^(1<<63))
	return b[:]
}

// countActivity adds the counts as to the store's.
func (t *boltTx) countActivity(as []engine.Activity) error {
	if len(as) == 0 {
		return nil
	}
	if !t.writable {
		return errReadOnly
	}
	b := t.tx.Bucket(bActivity)
	for _, a := range as {
		k := append(activityHourKey(a.Hour), key(string(a.Kind), a.Automation)...)
		var n int64
		if v := b.Get(k); len(v) == 8 {
			n = int64(binary.BigEndian.Uint64(v))
		}
		var v [8]byte
		binary.BigEndian.PutUint64(v[:], uint64(n+int64(a.N)))
		if err := b.Put(k, v[:]); err != nil {
			return err
		}
	}
	return nil
}

// countMessage counts what storing m does (engine.MessageActivity); again
// says whether a message with its id is stored already. The stored
// version is decoded only when m is stored again with a failed status,
// which is rare: a message moving along its usual way costs no read.
func (t *boltTx) countMessage(m *engine.Message, again bool) error {
	if !again {
		return t.countActivity(engine.MessageActivity(nil, m))
	}
	if !m.Status.Failed() {
		return nil
	}
	var old engine.Message
	if err := t.get(bMessages, []byte(m.ID), &old, "message"); err != nil {
		return err
	}
	return t.countActivity(engine.MessageActivity(&old, m))
}

// countContact counts what storing c does (engine.ContactActivity); the
// stored version is read only when c is opted out.
func (t *boltTx) countContact(c *engine.Contact) error {
	if !c.OptedOut {
		return nil
	}
	old, err := t.Contact(c.Phone)
	if err != nil && !errors.Is(err, engine.ErrNotFound) {
		return err
	}
	return t.countActivity(engine.ContactActivity(old, c))
}

// Activity implements engine.ActivityStore: a range of the activity
// bucket's keys, from the first hour to the last.
func (t *boltTx) Activity(from, to time.Time) ([]engine.Activity, error) {
	end := activityHourKey(to)
	var out []engine.Activity
	cur := t.tx.Bucket(bActivity).Cursor()
	for k, v := cur.Seek(activityHourKey(from)); k != nil && bytes.Compare(k, end) < 0; k, v = cur.Next() {
		if len(k) < 9 || len(v) != 8 {
			continue
		}
		sec := int64(binary.BigEndian.Uint64(k[:8]) ^ (1 << 63))
		kind, automation, _ := bytes.Cut(k[8:], []byte{0})
		if n := int(binary.BigEndian.Uint64(v)); n != 0 {
			out = append(out, engine.Activity{Hour: time.Unix(sec, 0).UTC(), Kind: engine.ActivityKind(kind), Automation: string(automation), N: n})
		}
	}
	return out, nil
}
