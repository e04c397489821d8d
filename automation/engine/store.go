package engine

import (
	"context"
	"errors"
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

// Tx is one transaction. Getters return ErrNotFound when nothing is stored.
// Setters in a read-only transaction fail.
type Tx interface {
	// Contact returns the contact with phone.
	Contact(phone string) (*Contact, error)
	// PutContact stores the contact and keeps the group index from its Groups.
	PutContact(c *Contact) error
	// ContactsInGroup returns up to limit members of group whose phone sorts
	// after the phone given, in phone order, for batched scheduled sends.
	ContactsInGroup(group, after string, limit int) ([]*Contact, error)

	// Message returns the message with keyway's id.
	Message(id string) (*Message, error)
	// MessageByProviderID finds a message by the provider's id for it.
	MessageByProviderID(provider, providerID string) (*Message, error)
	// PutMessage stores the message and indexes it by provider id and contact.
	PutMessage(m *Message) error
	// Messages returns the contact's newest messages first, up to limit.
	Messages(contact string, limit int) ([]*Message, error)

	// Enqueue adds a queued outbound message to the outbox.
	Enqueue(messageID string) error
	// Dequeue removes a message from the outbox.
	Dequeue(messageID string) error
	// Outbox returns up to limit queued message ids that sort after the
	// id given (from the first when empty), oldest first, so that a
	// reader can page through the whole queue.
	Outbox(after string, limit int) ([]string, error)

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
	// CountActive returns the number of active enrollments per automation.
	CountActive() (map[string]int, error)

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

	// Meta reads a small named value (e.g. a schedule's last tick).
	Meta(key string) ([]byte, error)
	// PutMeta writes a small named value.
	PutMeta(key string, value []byte) error
}

// ErrPaused is returned when starting an automation that is not enabled.
var ErrPaused = errors.New("automation is paused (enabled: false)")
