// Package mem is an engine.Store held in memory, for `keyway simulate` and
// for tests.
package mem

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/keyway-sms/keyway/automation/engine"
)

// MemStore is a Store held in memory, for `keyway simulate` and for tests.
// It behaves like a transactional database: one Update at a time, each
// seeing its own writes and keeping none of them if it fails; Views run
// side by side, and alongside an Update, on the last committed state.
// Values are stored as JSON, so what a caller holds is never the stored
// value itself.
//
// Every table and index is a copy-on-write ordered tree (a treap): an
// Update works on its own version of the roots, copying only the nodes it
// changes, and a commit publishes the new roots in one atomic store, so a
// rollback is simply dropping them. Range reads, due timers included, cost
// the log of the size plus what they return.
//
// A limit of zero or less means no limit.
type MemStore struct {
	writeMu sync.Mutex // held by the one Update under way
	state   atomic.Pointer[memState]
	txSeq   uint64 // guarded by writeMu; owner of the nodes an Update creates
	closed  atomic.Bool
}

// NewMemStore returns an empty MemStore.
func NewMemStore() *MemStore {
	s := &MemStore{}
	s.state.Store(&memState{})
	return s
}

var (
	errMemClosed   = errors.New("memstore: closed")
	errMemReadOnly = errors.New("memstore: write in a read-only transaction")
	errMemTxDone   = errors.New("memstore: transaction used after it ended")
)

// Update runs fn in a read-write transaction. Updates run one at a time;
// if fn returns an error, nothing it wrote is kept and the error is
// returned as it is.
func (s *MemStore) Update(ctx context.Context, fn func(tx engine.Tx) error) error {
	if err := s.usable(ctx); err != nil {
		return err
	}
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	if s.closed.Load() {
		return errMemClosed
	}
	s.txSeq++
	work := *s.state.Load()
	tx := &memTx{st: &work, owner: s.txSeq, writable: true}
	err := fn(tx)
	tx.done = true
	if err != nil {
		return err
	}
	s.state.Store(tx.st)
	return nil
}

// View runs fn in a read-only transaction on the last committed state.
// Views do not wait for each other nor for an Update under way.
func (s *MemStore) View(ctx context.Context, fn func(tx engine.Tx) error) error {
	if err := s.usable(ctx); err != nil {
		return err
	}
	tx := &memTx{st: s.state.Load()}
	err := fn(tx)
	tx.done = true
	return err
}

// Close closes the store: it waits for an Update under way, and later
// calls to Update and View fail.
func (s *MemStore) Close() error {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	s.closed.Store(true)
	return nil
}

// Healthy implements Store: memory never fails to commit, so the store is
// healthy until it is closed.
func (s *MemStore) Healthy(context.Context) error {
	if s.closed.Load() {
		return errMemClosed
	}
	return nil
}

func (s *MemStore) usable(ctx context.Context) error {
	if s.closed.Load() {
		return errMemClosed
	}
	return ctx.Err()
}

// memState is one version of the whole store. A committed memState is
// never changed again.
type memState struct {
	contacts     memTree[[]byte]       // phone → Contact JSON
	groups       memTree[struct{}]     // group 0 phone
	messages     memTree[[]byte]       // id → Message JSON
	msgCreated   memTree[struct{}]     // memTimerKey(CreatedAt, id)
	providerIDs  memTree[string]       // provider 0 provider id → message id
	contactMsgs  memTree[struct{}]     // phone 0 message id
	outbox       memTree[memSend]      // message id → its entry
	sendQueues   memTree[struct{}]     // queue 0 message id
	sendDue      memTree[struct{}]     // memTimerKey(claimable, message id), heads only
	sendLeases   memTree[struct{}]     // owner 0 message id
	enrollments  memTree[[]byte]       // id → Enrollment JSON
	active       memTree[string]       // phone 0 automation → enrollment id
	byAutomation memTree[struct{}]     // automation 0 enrollment id
	byContact    memTree[struct{}]     // phone 0 enrollment id
	timers       memTree[engine.Timer] // memTimerKey → Timer
	held         memTree[engine.Timer] // automation 0 memTimerKey → Timer
	meta         memTree[[]byte]       // key → value
	events       memEvents             // events.go
}

// memTx implements Tx over a memState: the committed one for a View, a
// private copy-on-write version for an Update.
type memTx struct {
	st       *memState
	owner    uint64
	writable bool
	done     bool
}

func (tx *memTx) read() error {
	if tx.done {
		return errMemTxDone
	}
	return nil
}

func (tx *memTx) write() error {
	if tx.done {
		return errMemTxDone
	}
	if !tx.writable {
		return errMemReadOnly
	}
	return nil
}

// memJoin joins key parts with a zero byte, which sorts before any other.
func memJoin(a, b string) string { return a + "\x00" + b }

// memPrefixEnd is the least key greater than every key starting with
// prefix, a prefix that ends with the zero separator.
func memPrefixEnd(prefix string) string { return prefix[:len(prefix)-1] + "\x01" }

// memTimerKey orders timers by due instant, then enrollment id. Seconds
// (sign bit flipped) and nanoseconds keep every instant exact and ordered.
func memTimerKey(due time.Time, enrollment string) string {
	var b [12]byte
	binary.BigEndian.PutUint64(b[:8], uint64(due.Unix())^(1<<63))
	binary.BigEndian.PutUint32(b[8:], uint32(due.Nanosecond()))
	return string(b[:]) + enrollment
}

// memKeyTime reads the instant back from a memTimerKey.
func memKeyTime(k string) time.Time {
	sec := int64(binary.BigEndian.Uint64([]byte(k[:8])) ^ (1 << 63))
	return time.Unix(sec, int64(binary.BigEndian.Uint32([]byte(k[8:12])))).UTC()
}

func memLimit(limit, n int) bool { return limit > 0 && n >= limit }

func memEncode(v any, what string) ([]byte, error) {
	raw, err := engine.RecordJSON(v)
	if err != nil {
		return nil, fmt.Errorf("memstore: encode %s: %w", what, err)
	}
	return raw, nil
}

func memDecode[T any](raw []byte, what string) (*T, error) {
	v := new(T)
	if err := json.Unmarshal(raw, v); err != nil {
		return nil, fmt.Errorf("memstore: decode %s: %w", what, err)
	}
	return v, nil
}

// mark adds key to a set, leaving the tree alone if it is there already.
func (tx *memTx) mark(t *memTree[struct{}], key string) {
	if _, ok := t.get(key); !ok {
		t.set(tx.owner, key, struct{}{})
	}
}

// Contact implements Tx.
func (tx *memTx) Contact(phone string) (*engine.Contact, error) {
	if err := tx.read(); err != nil {
		return nil, err
	}
	raw, ok := tx.st.contacts.get(phone)
	if !ok {
		return nil, fmt.Errorf("memstore: contact: %w", engine.ErrNotFound)
	}
	return memDecode[engine.Contact](raw, "contact")
}

// PutContact implements Tx; it keeps the group index in step with
// c.Groups, removals included.
func (tx *memTx) PutContact(c *engine.Contact) error {
	if err := tx.write(); err != nil {
		return err
	}
	if c == nil || c.Phone == "" {
		return errors.New("memstore: put contact: no phone")
	}
	raw, err := memEncode(c, "contact")
	if err != nil {
		return err
	}
	if oldRaw, ok := tx.st.contacts.get(c.Phone); ok {
		old, err := memDecode[engine.Contact](oldRaw, "contact")
		if err != nil {
			return err
		}
		for _, g := range old.Groups {
			if !c.InGroup(g) {
				tx.st.groups.del(tx.owner, memJoin(g, c.Phone))
			}
		}
	}
	for _, g := range c.Groups {
		tx.mark(&tx.st.groups, memJoin(g, c.Phone))
	}
	tx.st.contacts.set(tx.owner, c.Phone, raw)
	return nil
}

// ContactsInGroup implements Tx.
func (tx *memTx) ContactsInGroup(group, after string, limit int) ([]*engine.Contact, error) {
	if err := tx.read(); err != nil {
		return nil, err
	}
	prefix := memJoin(group, "")
	var out []*engine.Contact
	var err error
	tx.st.groups.ascend(prefix+after, func(k string, _ struct{}) bool {
		if !strings.HasPrefix(k, prefix) || memLimit(limit, len(out)) {
			return false
		}
		phone := k[len(prefix):]
		if phone == after {
			return true
		}
		var c *engine.Contact
		if c, err = tx.Contact(phone); err != nil {
			err = fmt.Errorf("memstore: group index: %w", err)
			return false
		}
		out = append(out, c)
		return true
	})
	return out, err
}

// ContactsPage implements Tx.
func (tx *memTx) ContactsPage(after string, limit int) ([]*engine.Contact, error) {
	if err := tx.read(); err != nil {
		return nil, err
	}
	var out []*engine.Contact
	var err error
	tx.st.contacts.ascend(after, func(k string, raw []byte) bool {
		if memLimit(limit, len(out)) {
			return false
		}
		if k == after {
			return true
		}
		var c *engine.Contact
		if c, err = memDecode[engine.Contact](raw, "contact"); err != nil {
			return false
		}
		out = append(out, c)
		return true
	})
	return out, err
}

// Message implements Tx.
func (tx *memTx) Message(id string) (*engine.Message, error) {
	if err := tx.read(); err != nil {
		return nil, err
	}
	raw, ok := tx.st.messages.get(id)
	if !ok {
		return nil, fmt.Errorf("memstore: message %q: %w", id, engine.ErrNotFound)
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
		return nil, fmt.Errorf("memstore: message %s/%s: %w", provider, providerID, engine.ErrNotFound)
	}
	return tx.Message(id)
}

// PutMessage implements Tx.
func (tx *memTx) PutMessage(m *engine.Message) error {
	if err := tx.write(); err != nil {
		return err
	}
	if m == nil || m.ID == "" {
		return errors.New("memstore: put message: no id")
	}
	raw, err := memEncode(m, "message")
	if err != nil {
		return err
	}
	pk := memJoin(m.Provider, m.ProviderID)
	if oldRaw, ok := tx.st.messages.get(m.ID); ok {
		old, err := memDecode[engine.Message](oldRaw, "message")
		if err != nil {
			return err
		}
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
			return 0, fmt.Errorf("memstore: message creation index: %w", err)
		}
		if m.ProviderID != "" {
			if cur, _ := tx.st.providerIDs.get(memJoin(m.Provider, m.ProviderID)); cur == id {
				tx.st.providerIDs.del(tx.owner, memJoin(m.Provider, m.ProviderID))
			}
		}
		if m.Contact != "" {
			tx.st.contactMsgs.del(tx.owner, memJoin(m.Contact, id))
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
			err = fmt.Errorf("memstore: contact message index: %w", err)
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
		return errors.New("memstore: enqueue: no message id")
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
		return fmt.Errorf("memstore: outbox queue lists %q, which is not queued", next)
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
		return nil, fmt.Errorf("memstore: queued send %q: %w", messageID, engine.ErrNotFound)
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
		return nil, errors.New("memstore: claim sends: no owner")
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
			return nil, fmt.Errorf("memstore: outbox due index lists %q, which is not queued", id)
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
		return fmt.Errorf("memstore: release send %q: %w", messageID, engine.ErrNotFound)
	case s.Owner != owner || owner == "":
		return fmt.Errorf("memstore: release send %q: %w", messageID, engine.ErrLeaseLost)
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
		return 0, errors.New("memstore: recover sends: no owner")
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
			return 0, fmt.Errorf("memstore: outbox lease index lists %q, which is not queued", id)
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
		return time.Time{}, fmt.Errorf("memstore: next send: %w", engine.ErrNotFound)
	}
	return memKeyTime(first), nil
}

// Enrollment implements Tx.
func (tx *memTx) Enrollment(id string) (*engine.Enrollment, error) {
	if err := tx.read(); err != nil {
		return nil, err
	}
	raw, ok := tx.st.enrollments.get(id)
	if !ok {
		return nil, fmt.Errorf("memstore: enrollment %q: %w", id, engine.ErrNotFound)
	}
	return memDecode[engine.Enrollment](raw, "enrollment")
}

// ActiveEnrollment implements Tx.
func (tx *memTx) ActiveEnrollment(contact, automation string) (*engine.Enrollment, error) {
	if err := tx.read(); err != nil {
		return nil, err
	}
	id, ok := tx.st.active.get(memJoin(contact, automation))
	if !ok {
		return nil, fmt.Errorf("memstore: active enrollment in %q: %w", automation, engine.ErrNotFound)
	}
	return tx.Enrollment(id)
}

// ActiveEnrollments implements Tx; they come in automation id order.
func (tx *memTx) ActiveEnrollments(contact string) ([]*engine.Enrollment, error) {
	if err := tx.read(); err != nil {
		return nil, err
	}
	prefix := memJoin(contact, "")
	var out []*engine.Enrollment
	var err error
	tx.st.active.ascend(prefix, func(k, id string) bool {
		if !strings.HasPrefix(k, prefix) {
			return false
		}
		var e *engine.Enrollment
		if e, err = tx.Enrollment(id); err != nil {
			err = fmt.Errorf("memstore: active index: %w", err)
			return false
		}
		out = append(out, e)
		return true
	})
	return out, err
}

// PutEnrollment implements Tx. An active enrollment takes the active
// index of its contact and automation; an ended one leaves it, if the
// index points at it. An enrollment moved to another contact or
// automation leaves the indexes of the old ones.
func (tx *memTx) PutEnrollment(e *engine.Enrollment) error {
	if err := tx.write(); err != nil {
		return err
	}
	if e == nil || e.ID == "" {
		return errors.New("memstore: put enrollment: no id")
	}
	raw, err := memEncode(e, "enrollment")
	if err != nil {
		return err
	}
	ak := memJoin(e.Contact, e.Automation)
	if oldRaw, ok := tx.st.enrollments.get(e.ID); ok {
		old, err := memDecode[engine.Enrollment](oldRaw, "enrollment")
		if err != nil {
			return err
		}
		if oak := memJoin(old.Contact, old.Automation); oak != ak {
			if id, _ := tx.st.active.get(oak); id == e.ID {
				tx.st.active.del(tx.owner, oak)
			}
			tx.st.byAutomation.del(tx.owner, memJoin(old.Automation, e.ID))
			tx.st.byContact.del(tx.owner, memJoin(old.Contact, e.ID))
		}
	}
	id, indexed := tx.st.active.get(ak)
	switch {
	case e.Active() && id != e.ID:
		tx.st.active.set(tx.owner, ak, e.ID)
	case !e.Active() && indexed && id == e.ID:
		tx.st.active.del(tx.owner, ak)
	}
	tx.mark(&tx.st.byAutomation, memJoin(e.Automation, e.ID))
	tx.mark(&tx.st.byContact, memJoin(e.Contact, e.ID))
	tx.st.enrollments.set(tx.owner, e.ID, raw)
	return nil
}

// Enrollments implements Tx. It walks the narrowest index the filters
// allow: the contact's, the automation's, or all enrollments.
func (tx *memTx) Enrollments(automation, contact string, activeOnly bool, limit int) ([]*engine.Enrollment, error) {
	if err := tx.read(); err != nil {
		return nil, err
	}
	var out []*engine.Enrollment
	var err error
	keep := func(id string) bool {
		var e *engine.Enrollment
		if e, err = tx.Enrollment(id); err != nil {
			err = fmt.Errorf("memstore: enrollment index: %w", err)
			return false
		}
		if (automation == "" || e.Automation == automation) && (contact == "" || e.Contact == contact) && (!activeOnly || e.Active()) {
			out = append(out, e)
		}
		return !memLimit(limit, len(out))
	}
	walk := func(t *memTree[struct{}], prefix string) {
		t.descend(memPrefixEnd(prefix), func(k string, _ struct{}) bool {
			return strings.HasPrefix(k, prefix) && keep(k[len(prefix):])
		})
	}
	switch {
	case contact != "":
		walk(&tx.st.byContact, memJoin(contact, ""))
	case automation != "":
		walk(&tx.st.byAutomation, memJoin(automation, ""))
	default:
		tx.st.enrollments.descendAll(func(k string, _ []byte) bool { return keep(k) })
	}
	return out, err
}

// ActiveEnrollmentsOf implements Tx, from the automation index.
func (tx *memTx) ActiveEnrollmentsOf(automation, after string, limit int) ([]*engine.Enrollment, error) {
	if err := tx.read(); err != nil {
		return nil, err
	}
	prefix := memJoin(automation, "")
	start := prefix
	if after != "" {
		start = memJoin(automation, after) + "\x00"
	}
	var out []*engine.Enrollment
	var err error
	tx.st.byAutomation.ascend(start, func(k string, _ struct{}) bool {
		if !strings.HasPrefix(k, prefix) || memLimit(limit, len(out)) {
			return false
		}
		var e *engine.Enrollment
		if e, err = tx.Enrollment(k[len(prefix):]); err != nil {
			err = fmt.Errorf("memstore: automation index: %w", err)
			return false
		}
		if e.Active() && e.Automation == automation {
			out = append(out, e)
		}
		return true
	})
	return out, err
}

// CountActive implements Tx; automations without an active enrollment
// are left out.
func (tx *memTx) CountActive() (map[string]int, error) {
	if err := tx.read(); err != nil {
		return nil, err
	}
	out := map[string]int{}
	tx.st.active.ascend("", func(k, _ string) bool {
		if i := strings.IndexByte(k, 0); i >= 0 {
			out[k[i+1:]]++
		}
		return true
	})
	return out, nil
}

// PutTimer implements Tx. A timer is keyed by its due instant and
// enrollment: putting one with the same key replaces it.
func (tx *memTx) PutTimer(t engine.Timer) error {
	if err := tx.write(); err != nil {
		return err
	}
	if t.Enrollment == "" {
		return errors.New("memstore: put timer: no enrollment")
	}
	t.Due = t.Due.Round(0) // no monotonic reading, as if read back from disk
	tx.st.timers.set(tx.owner, memTimerKey(t.Due, t.Enrollment), t)
	return nil
}

// DeleteTimer implements Tx: it removes the pending timer with the same
// due instant and enrollment, whatever the other fields say. A held timer
// stays held.
func (tx *memTx) DeleteTimer(t engine.Timer) error {
	if err := tx.write(); err != nil {
		return err
	}
	tx.st.timers.del(tx.owner, memTimerKey(t.Due, t.Enrollment))
	return nil
}

// DueTimers implements Tx.
func (tx *memTx) DueTimers(now time.Time, limit int) ([]engine.Timer, error) {
	if err := tx.read(); err != nil {
		return nil, err
	}
	var out []engine.Timer
	tx.st.timers.ascend("", func(_ string, t engine.Timer) bool {
		if t.Due.After(now) || memLimit(limit, len(out)) {
			return false
		}
		out = append(out, t)
		return true
	})
	return out, nil
}

// HoldTimer implements Tx.
func (tx *memTx) HoldTimer(t engine.Timer) error {
	if err := tx.write(); err != nil {
		return err
	}
	if t.Enrollment == "" {
		return errors.New("memstore: hold timer: no enrollment")
	}
	t.Due = t.Due.Round(0)
	k := memTimerKey(t.Due, t.Enrollment)
	tx.st.timers.del(tx.owner, k)
	tx.st.held.set(tx.owner, memJoin(t.Automation, k), t)
	return nil
}

// ReleaseTimers implements Tx.
func (tx *memTx) ReleaseTimers(automation string) (int, error) {
	if err := tx.write(); err != nil {
		return 0, err
	}
	prefix := memJoin(automation, "")
	var keys []string
	var timers []engine.Timer
	tx.st.held.ascend(prefix, func(k string, t engine.Timer) bool {
		if !strings.HasPrefix(k, prefix) {
			return false
		}
		keys, timers = append(keys, k), append(timers, t)
		return true
	})
	for i, k := range keys {
		tx.st.held.del(tx.owner, k)
		tx.st.timers.set(tx.owner, k[len(prefix):], timers[i])
	}
	return len(keys), nil
}

// Meta implements Tx.
func (tx *memTx) Meta(key string) ([]byte, error) {
	if err := tx.read(); err != nil {
		return nil, err
	}
	v, ok := tx.st.meta.get(key)
	if !ok {
		return nil, fmt.Errorf("memstore: meta %q: %w", key, engine.ErrNotFound)
	}
	return append([]byte{}, v...), nil
}

// PutMeta implements Tx.
func (tx *memTx) PutMeta(key string, value []byte) error {
	if err := tx.write(); err != nil {
		return err
	}
	if key == "" {
		return errors.New("memstore: put meta: no key")
	}
	tx.st.meta.set(tx.owner, key, bytes.Clone(value))
	return nil
}

// memTree is an ordered map from string keys, a treap whose nodes are
// shared between versions: a node belongs to the transaction that made
// it, which alone may change it in place; any other copies it first.
type memTree[V any] struct {
	root *memNode[V]
}

type memNode[V any] struct {
	key         string
	val         V
	prio        uint64 // a heap on prio keeps the tree balanced, expected
	owner       uint64
	left, right *memNode[V]
}

// own returns n itself if owner may change it, else a copy that it may.
func (n *memNode[V]) own(owner uint64) *memNode[V] {
	if n.owner == owner {
		return n
	}
	c := *n
	c.owner = owner
	return &c
}

func (t *memTree[V]) get(key string) (V, bool) {
	for n := t.root; n != nil; {
		switch c := strings.Compare(key, n.key); {
		case c < 0:
			n = n.left
		case c > 0:
			n = n.right
		default:
			return n.val, true
		}
	}
	var zero V
	return zero, false
}

func (t *memTree[V]) set(owner uint64, key string, val V) {
	t.root = memInsert(t.root, owner, key, val)
}

// del removes key and reports whether it was there.
func (t *memTree[V]) del(owner uint64, key string) bool {
	var ok bool
	t.root, ok = memRemove(t.root, owner, key)
	return ok
}

// memInsert returns n with key set to val. Every node it returns on the
// path is owned by owner, so rotations may change them in place.
func memInsert[V any](n *memNode[V], owner uint64, key string, val V) *memNode[V] {
	if n == nil {
		return &memNode[V]{key: key, val: val, prio: rand.Uint64(), owner: owner}
	}
	switch c := strings.Compare(key, n.key); {
	case c < 0:
		l := memInsert(n.left, owner, key, val)
		n = n.own(owner)
		n.left = l
		if l.prio > n.prio { // rotate right
			n.left, l.right = l.right, n
			return l
		}
	case c > 0:
		r := memInsert(n.right, owner, key, val)
		n = n.own(owner)
		n.right = r
		if r.prio > n.prio { // rotate left
			n.right, r.left = r.left, n
			return r
		}
	default:
		n = n.own(owner)
		n.val = val
	}
	return n
}

func memRemove[V any](n *memNode[V], owner uint64, key string) (*memNode[V], bool) {
	if n == nil {
		return nil, false
	}
	switch c := strings.Compare(key, n.key); {
	case c < 0:
		l, ok := memRemove(n.left, owner, key)
		if !ok {
			return n, false
		}
		n = n.own(owner)
		n.left = l
	case c > 0:
		r, ok := memRemove(n.right, owner, key)
		if !ok {
			return n, false
		}
		n = n.own(owner)
		n.right = r
	default:
		return memMerge(n.left, n.right, owner), true
	}
	return n, true
}

// memMerge joins two treaps whose keys are all in a before all in b.
func memMerge[V any](a, b *memNode[V], owner uint64) *memNode[V] {
	switch {
	case a == nil:
		return b
	case b == nil:
		return a
	case a.prio > b.prio:
		a = a.own(owner)
		a.right = memMerge(a.right, b, owner)
		return a
	default:
		b = b.own(owner)
		b.left = memMerge(a, b.left, owner)
		return b
	}
}

// ascend calls fn with each key at or after from, in order, until fn
// returns false.
func (t *memTree[V]) ascend(from string, fn func(k string, v V) bool) {
	memAscend(t.root, from, fn)
}

func memAscend[V any](n *memNode[V], from string, fn func(string, V) bool) bool {
	for n != nil {
		if n.key >= from {
			if !memAscend(n.left, from, fn) || !fn(n.key, n.val) {
				return false
			}
		}
		n = n.right
	}
	return true
}

// descend calls fn with each key before below, last first, until fn
// returns false.
func (t *memTree[V]) descend(below string, fn func(k string, v V) bool) {
	memDescend(t.root, func(k string) bool { return k < below }, fn)
}

// descendAll calls fn with every key, last first, until fn returns false.
func (t *memTree[V]) descendAll(fn func(k string, v V) bool) {
	memDescend(t.root, func(string) bool { return true }, fn)
}

func memDescend[V any](n *memNode[V], in func(string) bool, fn func(string, V) bool) bool {
	for n != nil {
		if in(n.key) {
			if !memDescend(n.right, in, fn) || !fn(n.key, n.val) {
				return false
			}
		}
		n = n.left
	}
	return true
}

var (
	_ engine.Store = (*MemStore)(nil)
	_ engine.Tx    = (*memTx)(nil)
)
