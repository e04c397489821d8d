package bolt

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/keyway-sms/keyway/automation/engine"
)

// The event deliveries (engine.EventQueue): one queue per endpoint and
// contact, whose head alone sits in the due index, keyed by when it can be
// claimed, as the outbox's sends do. The body, written once, is kept apart
// from the record that each claim and outcome rewrites. The deliveries a
// commit stores wait, as one value, in the inbox, until a claim puts each
// in its queue (admitEvents): the commit of their causes, which webhooks
// wait for, then writes one value at the end of one bucket instead of a
// record, a body and a page of each contact's queue per delivery.
var (
	bEvents      = []byte("events")       // id → EventDelivery without its body
	bEventBodies = []byte("event_bodies") // id → body, as posted
	bEventQueues = []byte("event_queues") // queue 0 id → nil, pending ones
	bEventDue    = []byte("event_due")    // dueKey(claimable) id → nil, queue heads only
	bEventDone   = []byte("event_done")   // dueKey(settled) id → nil, delivered or failed
	bEventLeases = []byte("event_leases") // owner 0 id → nil, pending ones while leased
	bEventInbox  = []byte("event_inbox")  // sequence → the deliveries one commit stored, not yet in their queues
)

func init() { allBuckets = append(allBuckets, bEventLeases, bEventInbox) }

// eventDelivery returns the delivery id with its body.
func (t *boltTx) eventDelivery(id string) (*engine.EventDelivery, error) {
	d, err := t.eventRecord(id)
	if err != nil {
		return nil, err
	}
	if !hasBody(d) {
		d.Body = bytes.Clone(t.tx.Bucket(bEventBodies).Get([]byte(id)))
	}
	return d, nil
}

// eventRecord returns the delivery id without its body, unless an earlier
// keyway stored it in the record.
func (t *boltTx) eventRecord(id string) (*engine.EventDelivery, error) {
	var d engine.EventDelivery
	if err := t.get(bEvents, []byte(id), &d, "event"); err != nil {
		return nil, err
	}
	return &d, nil
}

// hasBody reports whether d carries its body (a record without one
// decodes its body as null).
func hasBody(d *engine.EventDelivery) bool {
	return len(d.Body) > 0 && string(d.Body) != "null"
}

// putEvent stores d, keeping the indexes in step with old, the stored
// version it replaces (nil for a new one); head says whether d heads its
// queue.
func (t *boltTx) putEvent(old, d *engine.EventDelivery, head bool) error {
	if old != nil && old.Status == engine.EventPending {
		if err := t.del(bEventDue, dueKey(old.Claimable(), old.ID)); err != nil {
			return err
		}
		if old.Owner != "" && old.Owner != d.Owner {
			if err := t.del(bEventLeases, key(old.Owner, old.ID)); err != nil {
				return err
			}
		}
	}
	if d.Status == engine.EventPending && d.Owner != "" {
		if err := t.remark(bEventLeases, key(d.Owner, d.ID)); err != nil {
			return err
		}
	} else if d.Owner != "" {
		if err := t.del(bEventLeases, key(d.Owner, d.ID)); err != nil {
			return err
		}
	}
	switch {
	case d.Status == engine.EventPending && head:
		if err := t.mark(bEventDue, dueKey(d.Claimable(), d.ID)); err != nil {
			return err
		}
	case d.Status != engine.EventPending:
		if err := t.del(bEventQueues, key(d.QueueKey(), d.ID)); err != nil {
			return err
		}
		if err := t.mark(bEventDone, dueKey(d.SettledAt, d.ID)); err != nil {
			return err
		}
	}
	// The record goes without the body, which is stored once; a record
	// that an earlier keyway stored with it has it moved apart.
	bodies := t.tx.Bucket(bEventBodies)
	if hasBody(d) && bodies.Get([]byte(d.ID)) == nil {
		if err := bodies.Put([]byte(d.ID), d.Body); err != nil {
			return fmt.Errorf("bolt: put event body: %w", err)
		}
	}
	c := *d
	c.Body = nil
	return t.put(bEvents, []byte(d.ID), &c)
}

// eventQueueHead returns the id of the first pending delivery of queue q,
// or "".
func (t *boltTx) eventQueueHead(q string) string {
	prefix := key(q, "")
	k, _ := t.tx.Bucket(bEventQueues).Cursor().Seek(prefix)
	if k == nil || !bytes.HasPrefix(k, prefix) {
		return ""
	}
	return string(k[len(prefix):])
}

// AddEvent implements engine.EventQueue: the delivery joins those this
// transaction stores, which go into the inbox at its commit (flushEvents),
// and into their queues at a claim after (admitEvents).
func (t *boltTx) AddEvent(d *engine.EventDelivery) error {
	if !t.writable {
		return errReadOnly
	}
	if d == nil || d.ID == "" || d.Status != engine.EventPending {
		return errors.New("bolt: add event: no id, or not pending")
	}
	c := *d // one added again (a retried transaction's) is left out when admitted
	t.newEvents = append(t.newEvents, &c)
	return nil
}

// flushEvents stores the deliveries the transaction added, as one value
// at the end of the inbox; the commit loop calls it once every update of
// the transaction has run.
func (t *boltTx) flushEvents() error {
	if len(t.newEvents) == 0 {
		return nil
	}
	b := t.bucket(bEventInbox)
	seq, err := b.NextSequence()
	if err != nil {
		return fmt.Errorf("bolt: event inbox: %w", err)
	}
	raw, err := encodeValue(t.newEvents)
	if err != nil {
		return fmt.Errorf("bolt: encode events: %w", err)
	}
	if err := b.Put(binary.BigEndian.AppendUint64(nil, seq), raw); err != nil {
		return fmt.Errorf("bolt: put events: %w", err)
	}
	t.newEvents = nil
	return nil
}

// inbox calls fn with the deliveries of each value of the inbox, oldest
// first, until fn returns false.
func (t *boltTx) inbox(fn func(k []byte, ds []*engine.EventDelivery) bool) error {
	cur := t.tx.Bucket(bEventInbox).Cursor()
	for k, v := cur.First(); k != nil; k, v = cur.Next() {
		var ds []*engine.EventDelivery
		if err := decodeValue(v, &ds); err != nil {
			return fmt.Errorf("bolt: event inbox: %w", err)
		}
		if !fn(k, ds) {
			break
		}
	}
	return nil
}

// admitEvents puts the deliveries of the inbox at the end of their
// queues, whole values at a time until about limit, in the order they
// were stored, so that a queue keeps that order; one that finds its queue
// empty becomes its head. A delivery already stored (added again by a
// retried transaction) is left out.
func (t *boltTx) admitEvents(limit int) error {
	var keys [][]byte
	var admit []*engine.EventDelivery
	err := t.inbox(func(k []byte, ds []*engine.EventDelivery) bool {
		keys, admit = append(keys, bytes.Clone(k)), append(admit, ds...)
		return len(admit) < limit
	})
	if err != nil {
		return err
	}
	for _, k := range keys {
		if err := t.del(bEventInbox, k); err != nil {
			return err
		}
	}
	events := t.tx.Bucket(bEvents)
	for _, d := range admit {
		if events.Get([]byte(d.ID)) != nil {
			continue
		}
		q := d.QueueKey()
		head := t.eventQueueHead(q) == ""
		if err := t.mark(bEventQueues, key(q, d.ID)); err != nil {
			return err
		}
		if err := t.putEvent(nil, d, head); err != nil {
			return err
		}
	}
	return nil
}

// EventDelivery implements engine.EventQueue; one still in the inbox, or
// added by this transaction, is found there.
func (t *boltTx) EventDelivery(id string) (*engine.EventDelivery, error) {
	d, err := t.eventDelivery(id)
	if !errors.Is(err, engine.ErrNotFound) {
		return d, err
	}
	for _, n := range t.newEvents {
		if n.ID == id {
			c := *n
			return &c, nil
		}
	}
	var found *engine.EventDelivery
	ierr := t.inbox(func(_ []byte, ds []*engine.EventDelivery) bool {
		for _, n := range ds {
			if n.ID == id {
				found = n
			}
		}
		return found == nil
	})
	switch {
	case ierr != nil:
		return nil, ierr
	case found != nil:
		return found, nil
	}
	return nil, err
}

// ClaimEvents implements engine.EventQueue: a cursor from the first key of
// the due index, stopping at the first head not yet claimable.
func (t *boltTx) ClaimEvents(now time.Time, lease time.Duration, owner string, limit int) ([]*engine.EventDelivery, error) {
	if !t.writable {
		return nil, errReadOnly
	}
	if owner == "" {
		return nil, errors.New("bolt: claim events: no owner")
	}
	// As many are admitted as may be claimed, so that a claim after a
	// long busy spell stays as short as the others.
	if err := t.admitEvents(limit); err != nil {
		return nil, err
	}
	end := dueKey(now, "")
	var ids []string
	cur := t.tx.Bucket(bEventDue).Cursor()
	for k, _ := cur.First(); k != nil && len(ids) < limit && bytes.Compare(k[:12], end) <= 0; k, _ = cur.Next() {
		ids = append(ids, string(k[12:]))
	}
	out := make([]*engine.EventDelivery, 0, len(ids))
	for _, id := range ids {
		d, err := t.eventDelivery(id)
		if err != nil {
			return nil, fmt.Errorf("bolt: event due index: %w", err)
		}
		old := *d
		d.Owner, d.LeaseUntil = owner, now.Add(lease)
		if err := t.putEvent(&old, d, true); err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, nil
}

// SettleEvent implements engine.EventQueue.
func (t *boltTx) SettleEvent(d *engine.EventDelivery, owner string) error {
	if !t.writable {
		return errReadOnly
	}
	old, err := t.eventRecord(d.ID)
	if err != nil {
		return err
	}
	if err := old.Settleable(owner); err != nil {
		return fmt.Errorf("bolt: settle event %q: %w", d.ID, err)
	}
	c := *d
	c.Owner, c.LeaseUntil = "", time.Time{}
	if err := t.putEvent(old, &c, true); err != nil {
		return err
	}
	if c.Status == engine.EventPending {
		return nil
	}
	if err := t.countActivity(engine.EventActivity(&c)); err != nil {
		return fmt.Errorf("bolt: settle event %q: %w", d.ID, err)
	}
	// The next of the queue becomes its head.
	next := t.eventQueueHead(c.QueueKey())
	if next == "" {
		return nil
	}
	n, err := t.eventRecord(next)
	if err != nil {
		return fmt.Errorf("bolt: event queue: %w", err)
	}
	return t.mark(bEventDue, dueKey(n.Claimable(), n.ID)) // its record is unchanged
}

// RecoverEvents implements engine.EventQueue, from the lease index. A
// lease taken by a keyway from before the index is not in it, and runs
// out instead.
func (t *boltTx) RecoverEvents(owner string) (int, error) {
	if !t.writable {
		return 0, errReadOnly
	}
	if owner == "" {
		return 0, errors.New("bolt: recover events: no owner")
	}
	prefix := key(owner, "")
	var ids []string
	cur := t.tx.Bucket(bEventLeases).Cursor()
	for k, _ := cur.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = cur.Next() {
		ids = append(ids, string(k[len(prefix):]))
	}
	for _, id := range ids {
		d, err := t.eventRecord(id)
		if err != nil {
			return 0, fmt.Errorf("bolt: event lease index: %w", err)
		}
		old := *d
		d.Owner, d.LeaseUntil = "", time.Time{}
		if err := t.del(bEventLeases, key(owner, id)); err != nil {
			return 0, err
		}
		if err := t.putEvent(&old, d, true); err != nil {
			return 0, err
		}
	}
	return len(ids), nil
}

// releaseEventLeases gives back every lease on a pending event, whatever
// its owner: only one process at a time opens the file, so a lease found
// at Open is a stopped process's. A file written before the lease index
// (created) has its leased queue heads found in the due index instead.
func releaseEventLeases(t *boltTx, created bool) error {
	var ids []string
	if created {
		cur := t.tx.Bucket(bEventDue).Cursor()
		for k, _ := cur.First(); k != nil; k, _ = cur.Next() {
			d, err := t.eventRecord(string(k[12:]))
			if err != nil {
				return fmt.Errorf("bolt: event due index: %w", err)
			}
			if d.Owner != "" {
				ids = append(ids, d.ID)
			}
		}
	} else {
		err := t.tx.Bucket(bEventLeases).ForEach(func(k, _ []byte) error {
			if i := bytes.IndexByte(k, 0); i >= 0 {
				ids = append(ids, string(k[i+1:]))
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	for _, id := range ids {
		d, err := t.eventRecord(id)
		if err != nil {
			return fmt.Errorf("bolt: event lease index: %w", err)
		}
		old := *d
		d.Owner, d.LeaseUntil = "", time.Time{}
		if err := t.putEvent(&old, d, true); err != nil {
			return err
		}
	}
	return nil
}

// NextEventDue implements engine.EventQueue. A delivery in the inbox
// counts as due when it was stored, which the claim that admits it may
// find it is not (its queue has a head before it): the worker's next
// pass is what moves it on.
func (t *boltTx) NextEventDue() (time.Time, error) {
	var next time.Time
	found := false
	if k, _ := t.tx.Bucket(bEventDue).Cursor().First(); k != nil {
		next, found = dueKeyTime(k), true
	}
	err := t.inbox(func(_ []byte, ds []*engine.EventDelivery) bool {
		for _, d := range ds {
			if !found || d.Due.Before(next) {
				next, found = d.Due, true
			}
		}
		return false
	})
	if err != nil {
		return time.Time{}, err
	}
	if !found {
		return time.Time{}, fmt.Errorf("bolt: next event: %w", engine.ErrNotFound)
	}
	return next, nil
}

// PruneEvents implements engine.EventQueue.
func (t *boltTx) PruneEvents(before time.Time, limit int) (int, error) {
	if !t.writable {
		return 0, errReadOnly
	}
	end := dueKey(before, "")
	var keys [][]byte
	cur := t.tx.Bucket(bEventDone).Cursor()
	for k, _ := cur.First(); k != nil && (limit <= 0 || len(keys) < limit) && bytes.Compare(k[:12], end) < 0; k, _ = cur.Next() {
		keys = append(keys, bytes.Clone(k))
	}
	for _, k := range keys {
		if err := t.del(bEventDone, k); err != nil {
			return 0, err
		}
		if err := t.del(bEvents, k[12:]); err != nil {
			return 0, err
		}
		if err := t.del(bEventBodies, k[12:]); err != nil {
			return 0, err
		}
	}
	return len(keys), nil
}
