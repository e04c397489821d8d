package mem

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/keyway-sms/keyway/automation/engine"
)

// Message implements Tx.
func (tx *memTx) Message(id string) (*engine.Message, error) {
	if err := tx.read(); err != nil {
		return nil, err
	}
	raw, ok := tx.st.messages.get(id)
	if !ok {
		return nil, fmt.Errorf("mem: message %q: %w", id, engine.ErrNotFound)
	}
	return memDecode[engine.Message](raw, "message")
}

// MessageByProviderID implements Tx.
func (tx *memTx) MessageByProviderID(provider, providerID string) (*engine.Message, error) {
	if err := tx.read(); err != nil {
		return nil, err
	}
	id, ok := tx.st.providerIDs.get(memJoin(provider, providerID))
	if !ok || providerID == "" {
		return nil, fmt.Errorf("mem: message %s/%s: %w", provider, providerID, engine.ErrNotFound)
	}
	return tx.Message(id)
}

// PutMessage implements Tx.
func (tx *memTx) PutMessage(m *engine.Message) error {
	if err := tx.write(); err != nil {
		return err
	}
	if m == nil || m.ID == "" {
		return errors.New("mem: put message: no id")
	}
	raw, err := memEncode(m, "message")
	if err != nil {
		return err
	}
	tx.countForBroadcasts(m) // broadcasts.go
	pk := memJoin(m.Provider, m.ProviderID)
	var prev *engine.Message
	if oldRaw, ok := tx.st.messages.get(m.ID); ok {
		old, err := memDecode[engine.Message](oldRaw, "message")
		if err != nil {
			return err
		}
		prev = old
		if opk := memJoin(old.Provider, old.ProviderID); old.ProviderID != "" && opk != pk {
			if id, _ := tx.st.providerIDs.get(opk); id == m.ID {
				tx.st.providerIDs.del(tx.owner, opk)
			}
		}
		if old.Contact != "" && old.Contact != m.Contact {
			tx.st.contactMsgs.del(tx.owner, memJoin(old.Contact, m.ID))
		}
		tx.st.msgCreated.del(tx.owner, memTimerKey(old.CreatedAt, m.ID))
	}
	tx.mark(&tx.st.msgCreated, memTimerKey(m.CreatedAt, m.ID))
	if m.ProviderID != "" {
		if id, _ := tx.st.providerIDs.get(pk); id != m.ID {
			tx.st.providerIDs.set(tx.owner, pk, m.ID)
		}
	}
	if m.Contact != "" {
		tx.mark(&tx.st.contactMsgs, memJoin(m.Contact, m.ID))
	}
	tx.count(engine.MessageActivity(prev, m))
	tx.st.messages.set(tx.owner, m.ID, raw)
	return nil
}

// PruneMessages implements Tx, from the creation-time index.
func (tx *memTx) PruneMessages(before time.Time, limit int) (int, error) {
	if err := tx.write(); err != nil {
		return 0, err
	}
	if limit <= 0 {
		return 0, nil
	}
	end := memTimerKey(before, "")
	var ids []string
	tx.st.msgCreated.ascend("", func(k string, _ struct{}) bool {
		if k[:12] >= end || len(ids) >= limit {
			return false
		}
		if _, queued := tx.st.outbox.get(k[12:]); !queued {
			ids = append(ids, k[12:])
		}
		return true
	})
	for _, id := range ids {
		m, err := tx.Message(id)
		if err != nil {
			return 0, fmt.Errorf("mem: message creation index: %w", err)
		}
		if m.ProviderID != "" {
			if cur, _ := tx.st.providerIDs.get(memJoin(m.Provider, m.ProviderID)); cur == id {
				tx.st.providerIDs.del(tx.owner, memJoin(m.Provider, m.ProviderID))
			}
		}
		if m.Contact != "" {
			tx.st.contactMsgs.del(tx.owner, memJoin(m.Contact, id))
		}
		if m.Direction == engine.Outbound && m.Broadcast != "" { // broadcasts.go
			tx.st.bcast.msgFlags.del(tx.owner, id)
			tx.st.bcast.recipients.del(tx.owner, memJoin(m.Contact, m.Broadcast))
		}
		tx.st.msgCreated.del(tx.owner, memTimerKey(m.CreatedAt, id))
		tx.st.messages.del(tx.owner, id)
	}
	return len(ids), nil
}

// Messages implements Tx: ids sort by creation time, so the greatest
// ids under the contact come first.
func (tx *memTx) Messages(contact string, limit int) ([]*engine.Message, error) {
	if err := tx.read(); err != nil {
		return nil, err
	}
	prefix := memJoin(contact, "")
	var out []*engine.Message
	var err error
	tx.st.contactMsgs.descend(memPrefixEnd(prefix), func(k string, _ struct{}) bool {
		if !strings.HasPrefix(k, prefix) || memLimit(limit, len(out)) {
			return false
		}
		var m *engine.Message
		if m, err = tx.Message(k[len(prefix):]); err != nil {
			err = fmt.Errorf("mem: contact message index: %w", err)
			return false
		}
		out = append(out, m)
		return true
	})
	return out, err
}

// MessagesPage implements Tx.
func (tx *memTx) MessagesPage(before string, limit int) ([]*engine.Message, error) {
	if err := tx.read(); err != nil {
		return nil, err
	}
	var out []*engine.Message
	var err error
	visit := func(_ string, raw []byte) bool {
		if memLimit(limit, len(out)) {
			return false
		}
		var m *engine.Message
		if m, err = memDecode[engine.Message](raw, "message"); err != nil {
			return false
		}
		out = append(out, m)
		return true
	}
	if before == "" {
		tx.st.messages.descendAll(visit)
	} else {
		tx.st.messages.descend(before, visit)
	}
	return out, err
}
