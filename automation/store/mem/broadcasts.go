package mem

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/keyway-sms/keyway/automation/broadcast"
	"github.com/keyway-sms/keyway/automation/engine"
)

// memBroadcasts are the broadcasts' tables, part of memState.
type memBroadcasts struct {
	records    memTree[[]byte]           // id → Broadcast JSON
	open       memTree[struct{}]         // id, while pending: scheduled, running or ending
	contacts   memTree[string]           // id 0 position (8 bytes) → address
	counts     memTree[broadcast.Counts] // id → counts
	msgFlags   memTree[uint8]            // message id → flags counted
	recipients memTree[memRecipient]     // phone 0 broadcast id
}

// memRecipient is a contact a broadcast sent to: when first, and whether
// it replied.
type memRecipient struct {
	first   time.Time
	replied bool
}

func memPosition(id string, i int) string {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(i))
	return memJoin(id, string(b[:]))
}

// Broadcast implements broadcast.Tx.
func (tx *memTx) Broadcast(id string) (*broadcast.Broadcast, error) {
	if err := tx.read(); err != nil {
		return nil, err
	}
	raw, ok := tx.st.bcast.records.get(id)
	if !ok {
		return nil, fmt.Errorf("mem: broadcast %q: %w", id, engine.ErrNotFound)
	}
	b, err := memDecode[broadcast.Broadcast](raw, "broadcast")
	if err != nil {
		return nil, err
	}
	b.Counts, _ = tx.st.bcast.counts.get(id)
	return b, nil
}

// PutBroadcast implements broadcast.Tx.
func (tx *memTx) PutBroadcast(b *broadcast.Broadcast) error {
	if err := tx.write(); err != nil {
		return err
	}
	if b == nil || b.ID == "" {
		return errors.New("mem: put broadcast: no id")
	}
	rec := *b
	rec.Counts = broadcast.Counts{}
	raw, err := memEncode(&rec, "broadcast")
	if err != nil {
		return err
	}
	tx.st.bcast.records.set(tx.owner, b.ID, raw)
	if b.Pending() {
		tx.mark(&tx.st.bcast.open, b.ID)
	} else {
		tx.st.bcast.open.del(tx.owner, b.ID)
	}
	return nil
}

// Broadcasts implements broadcast.Tx.
func (tx *memTx) Broadcasts(before string, limit int) ([]*broadcast.Broadcast, error) {
	if err := tx.read(); err != nil {
		return nil, err
	}
	var out []*broadcast.Broadcast
	var err error
	each := func(k string, _ []byte) bool {
		if memLimit(limit, len(out)) {
			return false
		}
		var b *broadcast.Broadcast
		if b, err = tx.Broadcast(k); err != nil {
			return false
		}
		out = append(out, b)
		return true
	}
	if before == "" {
		tx.st.bcast.records.descendAll(each)
	} else {
		tx.st.bcast.records.descend(before, each)
	}
	return out, err
}

// PutBroadcastContacts implements broadcast.Tx.
func (tx *memTx) PutBroadcastContacts(id string, from int, addrs []string) error {
	if err := tx.write(); err != nil {
		return err
	}
	for i, a := range addrs {
		tx.st.bcast.contacts.set(tx.owner, memPosition(id, from+i), a)
	}
	return nil
}

// BroadcastContacts implements broadcast.Tx.
func (tx *memTx) BroadcastContacts(id string, from, limit int) ([]string, error) {
	if err := tx.read(); err != nil {
		return nil, err
	}
	prefix := memJoin(id, "")
	var out []string
	tx.st.bcast.contacts.ascend(memPosition(id, from), func(k, v string) bool {
		if !strings.HasPrefix(k, prefix) || memLimit(limit, len(out)) {
			return false
		}
		out = append(out, v)
		return true
	})
	return out, nil
}

// ClaimBroadcast implements broadcast.Tx.
func (tx *memTx) ClaimBroadcast(now time.Time, lease time.Duration, owner string, skip func(*broadcast.Broadcast) (bool, error)) (*broadcast.Broadcast, error) {
	if err := tx.write(); err != nil {
		return nil, err
	}
	var found *broadcast.Broadcast
	var err error
	tx.st.bcast.open.ascend("", func(id string, _ struct{}) bool {
		var b *broadcast.Broadcast
		if b, err = tx.Broadcast(id); err != nil {
			return false
		}
		if (b.Open() && b.At.After(now)) || (b.Owner != "" && b.Owner != owner && b.LeaseUntil.After(now)) {
			return true
		}
		if skip != nil {
			var pass bool
			if pass, err = skip(b); err != nil {
				err = fmt.Errorf("mem: claim broadcast %s: %w", id, err)
				return false
			}
			if pass {
				return true
			}
		}
		found = b
		return false
	})
	if err != nil {
		return nil, err
	}
	if found == nil {
		return nil, fmt.Errorf("mem: claim broadcast: %w", engine.ErrNotFound)
	}
	if found.Open() {
		found.Status = broadcast.StatusRunning
	}
	found.Owner, found.LeaseUntil, found.UpdatedAt = owner, now.Add(lease), now
	return found, tx.PutBroadcast(found)
}

// CountGroup implements broadcast.Tx.
func (tx *memTx) CountGroup(group string) (int, error) { return tx.indexKeys(&tx.st.groups, group) }

// CountLeftGroup implements broadcast.Tx.
func (tx *memTx) CountLeftGroup(group string) (int, error) { return tx.indexKeys(&tx.st.left, group) }

// CountTag implements broadcast.Tx.
func (tx *memTx) CountTag(tag string) (int, error) {
	return tx.indexKeys(&tx.st.tags, engine.RecordText(tag))
}

// countForBroadcasts keeps the broadcasts' counters as m is stored: an
// outbound message of a broadcast adds what its status newly counts
// toward, and marks its contact a recipient; a new inbound message marks
// its contact replied to each broadcast that sent to it within
// broadcast.ReplyWindow.
func (tx *memTx) countForBroadcasts(m *engine.Message) {
	switch {
	case m.Direction == engine.Outbound && m.Broadcast != "":
		had, _ := tx.st.bcast.msgFlags.get(m.ID)
		add := broadcast.FlagsOf(m.Status) &^ had
		if add == 0 {
			return
		}
		tx.st.bcast.msgFlags.set(tx.owner, m.ID, had|add)
		c, _ := tx.st.bcast.counts.get(m.Broadcast)
		c.Add(add)
		tx.st.bcast.counts.set(tx.owner, m.Broadcast, c)
		if add&broadcast.FlagSent != 0 {
			k := memJoin(m.Contact, m.Broadcast)
			if _, ok := tx.st.bcast.recipients.get(k); !ok {
				tx.st.bcast.recipients.set(tx.owner, k, memRecipient{first: m.UpdatedAt})
			}
		}
	case m.Direction == engine.Inbound && m.Contact != "":
		if _, ok := tx.st.messages.get(m.ID); ok {
			return
		}
		prefix := memJoin(m.Contact, "")
		var replied []string
		tx.st.bcast.recipients.ascend(prefix, func(k string, r memRecipient) bool {
			if !strings.HasPrefix(k, prefix) {
				return false
			}
			if !r.replied && !m.CreatedAt.Before(r.first) && m.CreatedAt.Sub(r.first) <= broadcast.ReplyWindow {
				replied = append(replied, k)
			}
			return true
		})
		for _, k := range replied {
			r, _ := tx.st.bcast.recipients.get(k)
			r.replied = true
			tx.st.bcast.recipients.set(tx.owner, k, r)
			id := k[len(prefix):]
			c, _ := tx.st.bcast.counts.get(id)
			c.Replied++
			tx.st.bcast.counts.set(tx.owner, id, c)
		}
	}
}

var _ broadcast.Tx = (*memTx)(nil)
