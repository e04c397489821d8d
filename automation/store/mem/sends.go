package mem

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/keyway-sms/keyway/automation/engine"
)

// memSend is a message's outbox entry. Only the head of each queue sits
// in the due index, keyed by when it can be claimed: so a claim walks the
// heads that are due, never the sends waiting behind them.
type memSend struct {
	engine.QueuedSend
	head bool
}

// claimable is when s can be claimed: its Due, or the end of its lease.
func (s memSend) claimable() time.Time {
	if s.Owner != "" {
		return s.LeaseUntil
	}
	return s.Due
}

// putSend stores s, keeping the due and lease indexes in step with old,
// the entry it replaces (nil for a new one).
func (tx *memTx) putSend(old *memSend, s memSend) {
	if old != nil {
		if old.head {
			tx.st.sendDue.del(tx.owner, memTimerKey(old.claimable(), old.MessageID))
		}
		if old.Owner != "" && old.Owner != s.Owner {
			tx.st.sendLeases.del(tx.owner, memJoin(old.Owner, old.MessageID))
		}
	}
	if s.head {
		tx.st.sendDue.set(tx.owner, memTimerKey(s.claimable(), s.MessageID), struct{}{})
	}
	if s.Owner != "" {
		tx.mark(&tx.st.sendLeases, memJoin(s.Owner, s.MessageID))
	}
	tx.st.outbox.set(tx.owner, s.MessageID, s)
}

// Enqueue implements Tx.
func (tx *memTx) Enqueue(m *engine.Message) error {
	if err := tx.write(); err != nil {
		return err
	}
	if m == nil || m.ID == "" {
		return errors.New("mem: enqueue: no message id")
	}
	if _, ok := tx.st.outbox.get(m.ID); ok {
		return nil
	}
	q := m.QueueKey()
	prefix := memJoin(q, "")
	empty := true
	tx.st.sendQueues.ascend(prefix, func(k string, _ struct{}) bool {
		empty = !strings.HasPrefix(k, prefix)
		return false
	})
	tx.st.sendQueues.set(tx.owner, memJoin(q, m.ID), struct{}{})
	tx.putSend(nil, memSend{QueuedSend: engine.QueuedSend{MessageID: m.ID, Queue: q, Due: m.NextAttempt.Round(0)}, head: empty})
	return nil
}

// Dequeue implements Tx.
func (tx *memTx) Dequeue(messageID string) error {
	if err := tx.write(); err != nil {
		return err
	}
	s, ok := tx.st.outbox.get(messageID)
	if !ok {
		return nil
	}
	tx.st.outbox.del(tx.owner, messageID)
	tx.st.sendQueues.del(tx.owner, memJoin(s.Queue, messageID))
	if s.Owner != "" {
		tx.st.sendLeases.del(tx.owner, memJoin(s.Owner, messageID))
	}
	if !s.head {
		return nil
	}
	tx.st.sendDue.del(tx.owner, memTimerKey(s.claimable(), messageID))
	// The next message of the queue becomes its head.
	prefix := memJoin(s.Queue, "")
	next := ""
	tx.st.sendQueues.ascend(prefix, func(k string, _ struct{}) bool {
		if strings.HasPrefix(k, prefix) {
			next = k[len(prefix):]
		}
		return false
	})
	if next == "" {
		return nil
	}
	n, ok := tx.st.outbox.get(next)
	if !ok {
		return fmt.Errorf("mem: outbox queue lists %q, which is not queued", next)
	}
	old := n
	n.head = true
	tx.putSend(&old, n)
	return nil
}

// Outbox implements Tx.
func (tx *memTx) Outbox(after string, limit int) ([]string, error) {
	if err := tx.read(); err != nil {
		return nil, err
	}
	var out []string
	tx.st.outbox.ascend(after, func(k string, _ memSend) bool {
		if k == after {
			return true
		}
		if memLimit(limit, len(out)) {
			return false
		}
		out = append(out, k)
		return true
	})
	return out, nil
}

// QueuedSend implements Tx.
func (tx *memTx) QueuedSend(messageID string) (*engine.QueuedSend, error) {
	if err := tx.read(); err != nil {
		return nil, err
	}
	s, ok := tx.st.outbox.get(messageID)
	if !ok {
		return nil, fmt.Errorf("mem: queued send %q: %w", messageID, engine.ErrNotFound)
	}
	q := s.QueuedSend
	return &q, nil
}

// ClaimSends implements Tx: it walks the due index from its start and
// stops at the first head not yet claimable.
func (tx *memTx) ClaimSends(now time.Time, lease time.Duration, owner string, limit int) ([]string, error) {
	if err := tx.write(); err != nil {
		return nil, err
	}
	if owner == "" {
		return nil, errors.New("mem: claim sends: no owner")
	}
	if limit <= 0 {
		return nil, nil
	}
	end := memTimerKey(now, "")
	var ids []string
	tx.st.sendDue.ascend("", func(k string, _ struct{}) bool {
		if k[:12] > end || len(ids) >= limit {
			return false
		}
		ids = append(ids, k[12:])
		return true
	})
	until := now.Add(lease).Round(0)
	for _, id := range ids {
		s, ok := tx.st.outbox.get(id)
		if !ok {
			return nil, fmt.Errorf("mem: outbox due index lists %q, which is not queued", id)
		}
		old := s
		s.Owner, s.LeaseUntil = owner, until
		tx.putSend(&old, s)
	}
	return ids, nil
}

// ReleaseSend implements Tx.
func (tx *memTx) ReleaseSend(messageID, owner string, due time.Time) error {
	if err := tx.write(); err != nil {
		return err
	}
	s, ok := tx.st.outbox.get(messageID)
	switch {
	case !ok:
		return fmt.Errorf("mem: release send %q: %w", messageID, engine.ErrNotFound)
	case s.Owner != owner || owner == "":
		return fmt.Errorf("mem: release send %q: %w", messageID, engine.ErrLeaseLost)
	}
	old := s
	s.Owner, s.LeaseUntil, s.Due = "", time.Time{}, due.Round(0)
	tx.putSend(&old, s)
	return nil
}

// RecoverSends implements Tx.
func (tx *memTx) RecoverSends(owner string) (int, error) {
	if err := tx.write(); err != nil {
		return 0, err
	}
	if owner == "" {
		return 0, errors.New("mem: recover sends: no owner")
	}
	prefix := memJoin(owner, "")
	var ids []string
	tx.st.sendLeases.ascend(prefix, func(k string, _ struct{}) bool {
		if !strings.HasPrefix(k, prefix) {
			return false
		}
		ids = append(ids, k[len(prefix):])
		return true
	})
	for _, id := range ids {
		s, ok := tx.st.outbox.get(id)
		if !ok {
			return 0, fmt.Errorf("mem: outbox lease index lists %q, which is not queued", id)
		}
		old := s
		s.Owner, s.LeaseUntil = "", time.Time{}
		tx.putSend(&old, s)
	}
	return len(ids), nil
}

// NextSendDue implements Tx.
func (tx *memTx) NextSendDue() (time.Time, error) {
	if err := tx.read(); err != nil {
		return time.Time{}, err
	}
	var first string
	tx.st.sendDue.ascend("", func(k string, _ struct{}) bool { first = k; return false })
	if first == "" {
		return time.Time{}, fmt.Errorf("mem: next send: %w", engine.ErrNotFound)
	}
	return memKeyTime(first), nil
}
