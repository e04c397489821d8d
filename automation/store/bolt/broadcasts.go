package bolt

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/keyway-sms/keyway/automation/broadcast"
	"github.com/keyway-sms/keyway/automation/engine"
)

// The broadcasts' buckets, created by Open with the others.
var (
	bBroadcasts  = []byte("broadcasts")         // id → Broadcast (its Counts zero)
	bBcastOpen   = []byte("broadcasts_open")    // id → nil, while pending: scheduled, running or ending
	bBcastList   = []byte("broadcast_contacts") // id 0 position (8 bytes, big-endian) → address
	bBcastCounts = []byte("broadcast_counts")   // id → sent, delivered, failed, replied (8 bytes each, big-endian)
	bBcastMsgs   = []byte("broadcast_msgs")     // message id → the flags counted (1 byte)
	bBcastRecips = []byte("broadcast_recips")   // phone 0 broadcast id → first send (8 bytes, ns) and replied (1 byte)
)

func init() {
	allBuckets = append(allBuckets, bBroadcasts, bBcastOpen, bBcastList, bBcastCounts, bBcastMsgs, bBcastRecips)
}

func positionKey(id string, i int) []byte {
	k := key(id, "")
	return binary.BigEndian.AppendUint64(k, uint64(i))
}

func (t *boltTx) broadcastCounts(id string) broadcast.Counts {
	v := t.tx.Bucket(bBcastCounts).Get([]byte(id))
	if len(v) != 32 {
		return broadcast.Counts{}
	}
	n := func(i int) int { return int(binary.BigEndian.Uint64(v[i*8:])) }
	return broadcast.Counts{Sent: n(0), Delivered: n(1), Failed: n(2), Replied: n(3)}
}

func (t *boltTx) putBroadcastCounts(id string, c broadcast.Counts) error {
	v := make([]byte, 0, 32)
	for _, n := range []int{c.Sent, c.Delivered, c.Failed, c.Replied} {
		v = binary.BigEndian.AppendUint64(v, uint64(n))
	}
	return t.tx.Bucket(bBcastCounts).Put([]byte(id), v)
}

// Broadcast implements broadcast.Tx.
func (t *boltTx) Broadcast(id string) (*broadcast.Broadcast, error) {
	var b broadcast.Broadcast
	if err := t.get(bBroadcasts, []byte(id), &b, "broadcast"); err != nil {
		return nil, err
	}
	b.Counts = t.broadcastCounts(id)
	return &b, nil
}

// PutBroadcast implements broadcast.Tx.
func (t *boltTx) PutBroadcast(b *broadcast.Broadcast) error {
	if b == nil || b.ID == "" {
		return errors.New("bolt: put broadcast: no id")
	}
	rec := *b
	rec.Counts = broadcast.Counts{}
	if err := t.put(bBroadcasts, []byte(b.ID), &rec); err != nil {
		return err
	}
	if b.Pending() {
		return t.remark(bBcastOpen, []byte(b.ID))
	}
	return t.del(bBcastOpen, []byte(b.ID))
}

// Broadcasts implements broadcast.Tx.
func (t *boltTx) Broadcasts(before string, limit int) ([]*broadcast.Broadcast, error) {
	cur := t.tx.Bucket(bBroadcasts).Cursor()
	var k []byte
	if before == "" {
		k, _ = cur.Last()
	} else {
		k, _ = cur.Seek([]byte(before))
		if k == nil {
			k, _ = cur.Last()
		}
		for k != nil && bytes.Compare(k, []byte(before)) >= 0 {
			k, _ = cur.Prev()
		}
	}
	var out []*broadcast.Broadcast
	for ; k != nil && (limit <= 0 || len(out) < limit); k, _ = cur.Prev() {
		b, err := t.Broadcast(string(k))
		if err != nil {
			return nil, err
		}
		out = append(out, b)
	}
	return out, nil
}

// PutBroadcastContacts implements broadcast.Tx.
func (t *boltTx) PutBroadcastContacts(id string, from int, addrs []string) error {
	if !t.writable {
		return errReadOnly
	}
	b := t.tx.Bucket(bBcastList)
	b.FillPercent = 1.0 // keys only grow
	for i, a := range addrs {
		if err := b.Put(positionKey(id, from+i), []byte(a)); err != nil {
			return fmt.Errorf("bolt: put the contacts of broadcast %s: %w", id, err)
		}
	}
	return nil
}

// BroadcastContacts implements broadcast.Tx.
func (t *boltTx) BroadcastContacts(id string, from, limit int) ([]string, error) {
	prefix := key(id, "")
	cur := t.tx.Bucket(bBcastList).Cursor()
	var out []string
	for k, v := cur.Seek(positionKey(id, from)); k != nil && bytes.HasPrefix(k, prefix) && (limit <= 0 || len(out) < limit); k, v = cur.Next() {
		out = append(out, string(v))
	}
	return out, nil
}

// ClaimBroadcast implements broadcast.Tx.
func (t *boltTx) ClaimBroadcast(now time.Time, lease time.Duration, owner string, skip func(*broadcast.Broadcast) (bool, error)) (*broadcast.Broadcast, error) {
	if !t.writable {
		return nil, errReadOnly
	}
	cur := t.tx.Bucket(bBcastOpen).Cursor()
	for k, _ := cur.First(); k != nil; k, _ = cur.Next() {
		b, err := t.Broadcast(string(k))
		if err != nil {
			return nil, err
		}
		if (b.Open() && b.At.After(now)) || (b.Owner != "" && b.Owner != owner && b.LeaseUntil.After(now)) {
			continue
		}
		if skip != nil {
			pass, err := skip(b)
			if err != nil {
				return nil, fmt.Errorf("bolt: claim broadcast %s: %w", b.ID, err)
			}
			if pass {
				continue
			}
		}
		if b.Open() {
			b.Status = broadcast.StatusRunning
		}
		b.Owner, b.LeaseUntil, b.UpdatedAt = owner, now.Add(lease), now
		return b, t.PutBroadcast(b)
	}
	return nil, fmt.Errorf("bolt: claim broadcast: %w", engine.ErrNotFound)
}

// CountGroup implements broadcast.Tx, from the group index's keys alone.
func (t *boltTx) CountGroup(group string) (int, error) { return t.indexKeys(bGroups, group), nil }

// CountLeftGroup implements broadcast.Tx, from the left-group index's
// keys alone.
func (t *boltTx) CountLeftGroup(group string) (int, error) { return t.indexKeys(bLeft, group), nil }

// CountTag implements broadcast.Tx, from the tag index's keys alone.
func (t *boltTx) CountTag(tag string) (int, error) {
	return t.indexKeys(bTags, engine.RecordText(tag)), nil
}

// countForBroadcasts keeps the broadcasts' counters as m is stored (again
// when it was stored before): an outbound message of a broadcast adds what
// its status newly counts toward, and marks its contact a recipient; a new
// inbound message marks its contact replied to each broadcast that sent
// to it within broadcast.ReplyWindow.
func (t *boltTx) countForBroadcasts(m *engine.Message, again bool) error {
	switch {
	case m.Direction == engine.Outbound && m.Broadcast != "":
		msgs := t.tx.Bucket(bBcastMsgs)
		var had uint8
		if v := msgs.Get([]byte(m.ID)); len(v) == 1 {
			had = v[0]
		}
		add := broadcast.FlagsOf(m.Status) &^ had
		if add == 0 {
			return nil
		}
		if err := msgs.Put([]byte(m.ID), []byte{had | add}); err != nil {
			return err
		}
		c := t.broadcastCounts(m.Broadcast)
		c.Add(add)
		if err := t.putBroadcastCounts(m.Broadcast, c); err != nil {
			return err
		}
		if add&broadcast.FlagSent != 0 {
			rk := key(m.Contact, m.Broadcast)
			recips := t.tx.Bucket(bBcastRecips)
			if recips.Get(rk) == nil {
				return recips.Put(rk, append(binary.BigEndian.AppendUint64(nil, uint64(m.UpdatedAt.UnixNano())), 0))
			}
		}
	case m.Direction == engine.Inbound && m.Contact != "" && !again:
		prefix := key(m.Contact, "")
		cur := t.tx.Bucket(bBcastRecips).Cursor()
		var replied [][]byte
		for k, v := cur.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = cur.Next() {
			if len(v) != 9 || v[8] != 0 {
				continue
			}
			first := time.Unix(0, int64(binary.BigEndian.Uint64(v)))
			if !m.CreatedAt.Before(first) && m.CreatedAt.Sub(first) <= broadcast.ReplyWindow {
				replied = append(replied, bytes.Clone(k))
			}
		}
		for _, k := range replied {
			b := t.tx.Bucket(bBcastRecips)
			v := bytes.Clone(b.Get(k))
			v[8] = 1
			if err := b.Put(k, v); err != nil {
				return err
			}
			id := string(k[len(prefix):])
			c := t.broadcastCounts(id)
			c.Replied++
			if err := t.putBroadcastCounts(id, c); err != nil {
				return err
			}
		}
	}
	return nil
}

var _ broadcast.Tx = (*boltTx)(nil)
