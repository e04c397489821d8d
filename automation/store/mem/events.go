package mem

import (
	"fmt"
	"strings"
	"time"

	"github.com/keyway-sms/keyway/automation/engine"
)

// memEvents are the event deliveries (engine.EventQueue): only the head of
// each queue sits in the due index, keyed by when it can be claimed.
type memEvents struct {
	byID   memTree[[]byte]   // id → EventDelivery JSON
	queues memTree[struct{}] // queue 0 id, pending ones
	due    memTree[struct{}] // memTimerKey(claimable, id), queue heads only
	done   memTree[struct{}] // memTimerKey(settled, id), delivered or failed
	leases memTree[struct{}] // owner 0 id, pending ones while leased
}

func (tx *memTx) getEvent(id string) (*engine.EventDelivery, error) {
	raw, ok := tx.st.events.byID.get(id)
	if !ok {
		return nil, fmt.Errorf("memstore: event %q: %w", id, engine.ErrNotFound)
	}
	return memDecode[engine.EventDelivery](raw, "event")
}

// putEvent stores d, keeping the indexes in step with old, the stored
// version it replaces (nil for a new one); head says whether d heads its
// queue.
func (tx *memTx) putEvent(old *engine.EventDelivery, d *engine.EventDelivery, head bool) error {
	d.Due, d.LeaseUntil, d.CreatedAt, d.SettledAt = d.Due.Round(0), d.LeaseUntil.Round(0), d.CreatedAt.Round(0), d.SettledAt.Round(0)
	raw, err := memEncode(d, "event")
	if err != nil {
		return err
	}
	ev := &tx.st.events
	if old != nil && old.Status == engine.EventPending {
		ev.due.del(tx.owner, memTimerKey(old.Claimable(), old.ID))
		if old.Owner != "" {
			ev.leases.del(tx.owner, memJoin(old.Owner, old.ID))
		}
	}
	if d.Status == engine.EventPending && d.Owner != "" {
		ev.leases.set(tx.owner, memJoin(d.Owner, d.ID), struct{}{})
	}
	switch {
	case d.Status == engine.EventPending && head:
		ev.due.set(tx.owner, memTimerKey(d.Claimable(), d.ID), struct{}{})
	case d.Status != engine.EventPending:
		ev.queues.del(tx.owner, memJoin(d.QueueKey(), d.ID))
		ev.done.set(tx.owner, memTimerKey(d.SettledAt, d.ID), struct{}{})
	}
	ev.byID.set(tx.owner, d.ID, raw)
	return nil
}

// queueHead returns the id of the first pending delivery of queue q, or "".
func (tx *memTx) queueHead(q string) string {
	prefix := memJoin(q, "")
	head := ""
	tx.st.events.queues.ascend(prefix, func(k string, _ struct{}) bool {
		if strings.HasPrefix(k, prefix) {
			head = k[len(prefix):]
		}
		return false
	})
	return head
}

// AddEvent implements engine.EventQueue.
func (tx *memTx) AddEvent(d *engine.EventDelivery) error {
	if err := tx.write(); err != nil {
		return err
	}
	if d == nil || d.ID == "" || d.Status != engine.EventPending {
		return fmt.Errorf("memstore: add event: no id, or not pending")
	}
	if _, ok := tx.st.events.byID.get(d.ID); ok {
		return nil
	}
	q := d.QueueKey()
	head := tx.queueHead(q) == ""
	tx.st.events.queues.set(tx.owner, memJoin(q, d.ID), struct{}{})
	c := *d
	return tx.putEvent(nil, &c, head)
}

// EventDelivery implements engine.EventQueue.
func (tx *memTx) EventDelivery(id string) (*engine.EventDelivery, error) {
	if err := tx.read(); err != nil {
		return nil, err
	}
	return tx.getEvent(id)
}

// ClaimEvents implements engine.EventQueue.
func (tx *memTx) ClaimEvents(now time.Time, lease time.Duration, owner string, limit int) ([]*engine.EventDelivery, error) {
	if err := tx.write(); err != nil {
		return nil, err
	}
	if owner == "" {
		return nil, fmt.Errorf("memstore: claim events: no owner")
	}
	end := memTimerKey(now, "")
	var ids []string
	tx.st.events.due.ascend("", func(k string, _ struct{}) bool {
		if k[:12] > end || len(ids) >= limit {
			return false
		}
		ids = append(ids, k[12:])
		return true
	})
	out := make([]*engine.EventDelivery, 0, len(ids))
	for _, id := range ids {
		d, err := tx.getEvent(id)
		if err != nil {
			return nil, fmt.Errorf("memstore: event due index: %w", err)
		}
		old := *d
		d.Owner, d.LeaseUntil = owner, now.Add(lease)
		if err := tx.putEvent(&old, d, true); err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, nil
}

// SettleEvent implements engine.EventQueue.
func (tx *memTx) SettleEvent(d *engine.EventDelivery, owner string) error {
	if err := tx.write(); err != nil {
		return err
	}
	old, err := tx.getEvent(d.ID)
	if err != nil {
		return err
	}
	if err := old.Settleable(owner); err != nil {
		return fmt.Errorf("memstore: settle event %q: %w", d.ID, err)
	}
	c := *d
	c.Owner, c.LeaseUntil = "", time.Time{}
	if err := tx.putEvent(old, &c, true); err != nil {
		return err
	}
	if c.Status == engine.EventPending {
		return nil
	}
	tx.count(engine.EventActivity(&c))
	// The next of the queue becomes its head.
	next := tx.queueHead(c.QueueKey())
	if next == "" {
		return nil
	}
	n, err := tx.getEvent(next)
	if err != nil {
		return fmt.Errorf("memstore: event queue: %w", err)
	}
	return tx.putEvent(nil, n, true)
}

// RecoverEvents implements engine.EventQueue, from the lease index.
func (tx *memTx) RecoverEvents(owner string) (int, error) {
	if err := tx.write(); err != nil {
		return 0, err
	}
	if owner == "" {
		return 0, fmt.Errorf("memstore: recover events: no owner")
	}
	prefix := memJoin(owner, "")
	var ids []string
	tx.st.events.leases.ascend(prefix, func(k string, _ struct{}) bool {
		if !strings.HasPrefix(k, prefix) {
			return false
		}
		ids = append(ids, k[len(prefix):])
		return true
	})
	for _, id := range ids {
		d, err := tx.getEvent(id)
		if err != nil {
			return 0, fmt.Errorf("memstore: event lease index: %w", err)
		}
		old := *d
		d.Owner, d.LeaseUntil = "", time.Time{}
		if err := tx.putEvent(&old, d, true); err != nil {
			return 0, err
		}
	}
	return len(ids), nil
}

// NextEventDue implements engine.EventQueue.
func (tx *memTx) NextEventDue() (time.Time, error) {
	if err := tx.read(); err != nil {
		return time.Time{}, err
	}
	var first string
	tx.st.events.due.ascend("", func(k string, _ struct{}) bool { first = k; return false })
	if first == "" {
		return time.Time{}, fmt.Errorf("memstore: next event: %w", engine.ErrNotFound)
	}
	return memKeyTime(first), nil
}

// PruneEvents implements engine.EventQueue.
func (tx *memTx) PruneEvents(before time.Time, limit int) (int, error) {
	if err := tx.write(); err != nil {
		return 0, err
	}
	end := memTimerKey(before, "")
	var keys []string
	tx.st.events.done.ascend("", func(k string, _ struct{}) bool {
		if k >= end || memLimit(limit, len(keys)) {
			return false
		}
		keys = append(keys, k)
		return true
	})
	for _, k := range keys {
		tx.st.events.done.del(tx.owner, k)
		tx.st.events.byID.del(tx.owner, k[12:])
	}
	return len(keys), nil
}
