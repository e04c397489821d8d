package engine

import (
	"context"
	"errors"
	"strings"
	"time"
)

// ErrNotFound is returned by a Tx when the thing asked for does not exist.
var ErrNotFound = errors.New("not found")

// Store is durable storage for the engine. Implementations keep the engine
// free of any database: bbolt today, PostgreSQL for several replicas later.
type Store interface {
	// Update runs fn in a read-write transaction and commits it durably
	// before returning. Concurrent callers may share one commit, and fn may
	// be run more than once, so it must only act through tx and on state it
	// resets itself. An error from fn rolls the transaction back.
	Update(ctx context.Context, fn func(tx Tx) error) error
	// View runs fn in a read-only transaction.
	View(ctx context.Context, fn func(tx Tx) error) error
	// Healthy returns nil when the store is open and can commit, and
	// otherwise why not (e.g. "last commit failed: ...: no space left on
	// device"), for the readiness check. It must be cheap: a store that
	// probes (see CommitHealth) does so only after a failure, and rarely.
	Healthy(ctx context.Context) error
	// Close closes the store.
	Close() error
}

// Waker is implemented by a store that several processes share: OnWake
// registers fn, which must not block, to be called when another of them
// commits a send that may be due (queued, released or next in its queue),
// so that every outbox looks soon rather than at its next poll. Timers
// need no wake: the process that sets one due soon fires it itself, and
// every process's timer loop looks each TimerSoon.
type Waker interface {
	OnWake(fn func())
}

// TurnReader is implemented by a Tx that can read a contact's turn (its
// lock, record and active enrollments) together with the next read the
// transaction makes: ReadTurnAhead(phone) says that a turn of phone comes
// next, so that the duplicate check of an inbound message and the turn it
// opens cost one round trip to a database, not two. A hint: a Tx that does
// nothing with it is correct.
type TurnReader interface {
	ReadTurnAhead(phone string)
}

// SlotBooker is implemented by a store that several processes share, so
// that a sender number's mps holds across all of them together: BookSlot
// books for message the next send slot of number at mps sends per second
// (a burst of one), by the store's clock, and returns how long until it.
// Asked again for a message that holds a booking, by any process, it
// returns the time left until the booked slot, and once that has come,
// zero, using the booking up. The outbox uses it in place of its own
// limiter.
type SlotBooker interface {
	BookSlot(ctx context.Context, number string, mps float64, message string) (time.Duration, error)
}

// Tx is one transaction of a Store: every entity it holds, each behind
// an interface of its own below, the way each store keeps one file per
// entity. A store implements them all. Its consumers name only what they
// use, each in an interface it owns: a turn uses TurnTx, the outbox
// outbox.Tx, the admin API and pages the gateway's adminTx, retention the
// gateway's retentionTx, the scheduler MetaStore. A new queue (say
// broadcasts) is a new part here, new files in each store and the
// interface of its consumer. Getters return ErrNotFound when nothing is
// stored; setters in a read-only transaction fail.
type Tx interface {
	ContactStore
	MessageStore
	SendQueue
	EnrollmentStore
	TimerStore
	MetaStore
	ActivityStore
	EventQueue
}

// TurnTx is what the engine's own transactions use through a turn (and
// the scheduler through Enroller.Tx): contacts, messages, queueing a send,
// enrollments, timers and meta values; not the outbox's leases, the pages
// of the admin API, nor retention.
type TurnTx interface {
	Contact(phone string) (*Contact, error)
	PutContact(c *Contact) error
	ContactsInGroup(group, after string, limit int) ([]*Contact, error)
	ContactsWithTag(tag, after string, limit int) ([]*Contact, error)
	ContactsLeftGroup(group, after string, limit int) ([]*Contact, error)
	Message(id string) (*Message, error)
	MessageByProviderID(provider, providerID string) (*Message, error)
	PutMessage(m *Message) error
	Enqueue(m *Message) error
	EnrollmentStore
	TimerStore
	MetaStore
	EventAdder
}

// ContactStore holds contacts, indexed by group and by tag.
type ContactStore interface {
	// Contact returns the contact with phone.
	Contact(phone string) (*Contact, error)
	// PutContact stores the contact and keeps the group index from its
	// Groups, the tag index from its Tags and the index of the groups it
	// left from its LeftGroups, in the same transaction.
	PutContact(c *Contact) error
	// ContactsInGroup returns up to limit members of group whose phone sorts
	// after the phone given, in phone order, for batched scheduled sends.
	ContactsInGroup(group, after string, limit int) ([]*Contact, error)
	// ContactsWithTag returns up to limit contacts tagged tag whose phone
	// sorts after the phone given, in phone order (the order of
	// ContactsPage, so that a cursor from either pages the other), for
	// broadcasts to a tag.
	ContactsWithTag(tag, after string, limit int) ([]*Contact, error)
	// ContactsLeftGroup returns up to limit contacts that unsubscribed
	// from group (their LeftGroups has it) whose phone sorts after the
	// phone given, in phone order, so that a broadcast to the group counts
	// them as it goes through its members.
	ContactsLeftGroup(group, after string, limit int) ([]*Contact, error)
	// ContactsPage returns up to limit contacts whose phone sorts after the
	// phone given (from the first when empty), in phone order, so that a
	// reader (the admin API's contact list) can page through them all.
	ContactsPage(after string, limit int) ([]*Contact, error)
}

// MessageStore holds messages, indexed by provider id, contact and
// creation time.
type MessageStore interface {
	// Message returns the message with keyway's id.
	Message(id string) (*Message, error)
	// MessageByProviderID finds a message by the provider's id for it.
	MessageByProviderID(provider, providerID string) (*Message, error)
	// PutMessage stores the message and indexes it by provider id and contact.
	PutMessage(m *Message) error
	// Messages returns the contact's newest messages first, up to limit.
	Messages(contact string, limit int) ([]*Message, error)
	// MessagesPage returns up to limit messages of every contact whose id
	// sorts before the id given (from the newest when empty), newest first
	// (ids sort by creation time): the message log, read page by page.
	MessagesPage(before string, limit int) ([]*Message, error)
	// PruneMessages removes up to limit messages created before the time
	// given, oldest first, with their indexes, and returns how many. A
	// message still in the outbox stays. Its cost grows with the messages
	// removed (and those queued among them), not with all stored: callers
	// prune in small batches, a transaction each (storage.retention).
	PruneMessages(before time.Time, limit int) (int, error)
}

// SendQueue is the outbox: queued outbound messages, one queue per
// recipients, each send leased to one owner at a time.
type SendQueue interface {
	// Enqueue adds the queued outbound message m to the outbox, at the end
	// of the queue of its recipients (m.QueueKey()), due at m.NextAttempt
	// (at once when zero). m is stored apart with PutMessage; enqueueing a
	// message that is in the outbox already changes nothing.
	Enqueue(m *Message) error
	// Dequeue removes a message from the outbox, whatever its lease: its
	// send is settled. If it was the head of its recipients' queue, the
	// next message of that queue becomes the head. Removing a message that
	// is not queued is no error.
	Dequeue(messageID string) error
	// Outbox returns up to limit queued message ids (all when limit is 0
	// or less) that sort after the id given (from the first when empty),
	// in id order, so that a reader can page through the whole queue.
	Outbox(after string, limit int) ([]string, error)
	// QueuedSend returns the outbox entry of a queued message, with its
	// lease.
	QueuedSend(messageID string) (*QueuedSend, error)
	// ClaimSends leases up to limit sends to owner until now+lease and
	// returns their message ids, soonest claimable first (then in id
	// order). Only the head of each recipient queue can be claimed, when
	// its Due is at or before now and it holds no lease or an expired one:
	// so a send is never claimed while an earlier one to the same
	// recipients is queued or under way, and a send whose owner died
	// becomes claimable again when its lease expires. Its cost grows with
	// the sends claimed, not with the queue. A limit of zero or less
	// claims nothing.
	ClaimSends(now time.Time, lease time.Duration, owner string, limit int) ([]string, error)
	// ReleaseSend gives back owner's lease on a claimed send that stays
	// queued (to retry, or to wait for its sender's rate): it stays at the
	// head of its queue, claimable again at due. It returns ErrLeaseLost,
	// changing nothing, when owner no longer holds the lease (it expired
	// and another claimed the send), and ErrNotFound when the message is
	// not queued.
	ReleaseSend(messageID, owner string, due time.Time) error
	// RecoverSends gives back every lease owner holds, making those sends
	// claimable at their Due without waiting for the leases to expire, and
	// returns how many. A process calls it at start with its own name, for
	// the sends it had claimed when it last stopped or died.
	RecoverSends(owner string) (int, error)
	// NextSendDue returns when the soonest claimable send can be claimed:
	// its Due, or the end of its lease while one is held. It returns
	// ErrNotFound when the outbox is empty.
	NextSendDue() (time.Time, error)
}

// EnrollmentStore holds enrollments, indexed by contact and automation
// while active.
type EnrollmentStore interface {
	// Enrollment returns the enrollment with id, active or ended.
	Enrollment(id string) (*Enrollment, error)
	// ActiveEnrollment returns the contact's active enrollment in automation.
	ActiveEnrollment(contact, automation string) (*Enrollment, error)
	// ActiveEnrollments returns all the contact's active enrollments.
	ActiveEnrollments(contact string) ([]*Enrollment, error)
	// PutEnrollment stores the enrollment and keeps the active index: one
	// active enrollment per contact and automation.
	PutEnrollment(e *Enrollment) error
	// Enrollments lists enrollments, newest first, filtered by automation
	// and contact when not empty, up to limit.
	Enrollments(automation, contact string, activeOnly bool, limit int) ([]*Enrollment, error)
	// ActiveEnrollmentsOf returns up to limit active enrollments of
	// automation whose id sorts after the id given (from the first when
	// empty), in id order: a reader (Reconcile) pages through them, a read
	// transaction a page, without holding them all.
	ActiveEnrollmentsOf(automation, after string, limit int) ([]*Enrollment, error)
	// CountActive returns the number of active enrollments per automation.
	CountActive() (map[string]int, error)
}

// TimerStore holds the timers of waiting enrollments, by due time.
type TimerStore interface {
	// PutTimer stores a timer, keyed by its Due and Enrollment.
	PutTimer(t Timer) error
	// DeleteTimer removes the timer with t's Due and Enrollment; removing
	// one that is not there is no error.
	DeleteTimer(t Timer) error
	// DueTimers returns up to limit timers due at or before now, soonest
	// first; its cost grows with the number due, not the number pending.
	DueTimers(now time.Time, limit int) ([]Timer, error)
	// HoldTimer moves a due timer of a paused automation aside, where
	// DueTimers does not see it.
	HoldTimer(t Timer) error
	// ReleaseTimers puts the held timers of automation back, to fire when
	// due, and returns how many it released.
	ReleaseTimers(automation string) (int, error)
}

// MetaStore holds small named values.
type MetaStore interface {
	// Meta reads a small named value (e.g. a schedule's last tick).
	Meta(key string) ([]byte, error)
	// PutMeta writes a small named value.
	PutMeta(key string, value []byte) error
	// DeleteMeta removes a named value; removing one that is not there is
	// no error.
	DeleteMeta(key string) error
}

// ErrLeaseLost is returned by Tx.ReleaseSend when the caller's lease on a
// send has expired and another owner claimed it.
var ErrLeaseLost = errors.New("lease lost: another owner claimed the send")

// QueuedSend is a message's entry in the outbox: the queue it waits in,
// when it may next be tried and who holds it.
type QueuedSend struct {
	// MessageID is the queued message's id.
	MessageID string `json:"message_id"`
	// Queue is the message's QueueKey: sends with the same key go out one
	// at a time, in order.
	Queue string `json:"queue"`
	// Due is when the send may next be tried (its message's NextAttempt
	// when queued, then what ReleaseSend set).
	Due time.Time `json:"due"`
	// Owner names who holds the lease on the send: empty when none does.
	Owner string `json:"owner,omitempty"`
	// LeaseUntil is when Owner's lease ends; after it the send can be
	// claimed again.
	LeaseUntil time.Time `json:"lease_until,omitzero"`
}

// QueueKey names the outbox queue m waits in: its kind and recipients.
// Sends with the same key are claimed one at a time, in order.
func (m *Message) QueueKey() string { return string(m.Kind) + ":" + strings.Join(m.To, ",") }

// ErrPaused is returned when starting an automation that is not enabled.
var ErrPaused = errors.New("automation is paused (enabled: false)")
