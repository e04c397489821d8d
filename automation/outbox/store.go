package outbox

import (
	"context"
	"time"

	"github.com/keyway-sms/keyway/automation/engine"
)

// Store is what the outbox needs of storage: transactions, read-write and
// read-only, and whether the store can commit. Every engine.Store is one. A store that several processes
// share may also be an engine.SlotBooker, whose bookings then space the
// sends of a number across all of them.
type Store interface {
	Update(ctx context.Context, fn func(tx engine.Tx) error) error
	View(ctx context.Context, fn func(tx engine.Tx) error) error
	Healthy(ctx context.Context) error
}

// Tx is what the outbox reads and writes in a transaction: the queue's
// leases (engine.SendQueue documents each method), the messages it sends
// and their recipients. The turn, not the outbox, queues messages.
type Tx interface {
	QueuedSend(messageID string) (*engine.QueuedSend, error)
	ClaimSends(now time.Time, lease time.Duration, owner string, limit int) ([]string, error)
	ReleaseSend(messageID, owner string, due time.Time) error
	RecoverSends(owner string) (int, error)
	NextSendDue() (time.Time, error)
	Dequeue(messageID string) error

	Message(id string) (*engine.Message, error)
	MessageByProviderID(provider, providerID string) (*engine.Message, error)
	PutMessage(m *engine.Message) error
	Contact(phone string) (*engine.Contact, error)
	engine.EventAdder
}

// prefetcher is a Tx that reads several sends faster together than one
// by one (PostgreSQL: one round trip for all): PrefetchSends reads the
// messages and queue entries of ids, with the locks Message and Dequeue
// would take, for the calls on them that follow in the transaction.
type prefetcher interface {
	PrefetchSends(ids []string) error
}

// slotsBooker is an engine.SlotBooker that books the slots of several
// sends of one number at once (PostgreSQL: one transaction for a claimed
// batch, where a booking per send took a transaction and a commit each,
// one after another on the number's row): BookSlots books for each of
// messages in turn as BookSlot does and returns how long until each slot.
// A slot within keep is the caller's, sent at its instant by this process,
// and is not stored for its message.
type slotsBooker interface {
	BookSlots(ctx context.Context, number string, mps float64, messages []string, keep time.Duration) ([]time.Duration, error)
}

// prefetch has tx read the sends ids together, if it can.
func prefetch(tx Tx, ids []string) error {
	if p, ok := tx.(prefetcher); ok {
		return p.PrefetchSends(ids)
	}
	return nil
}

// update runs fn in a read-write transaction of the store, which fn sees
// only as the outbox's Tx.
func (ob *Outbox) update(ctx context.Context, fn func(tx Tx) error) error {
	return ob.o.Store.Update(ctx, func(tx engine.Tx) error { return fn(tx) })
}

// view runs fn in a read-only transaction of the store, which fn sees
// only as the outbox's Tx.
func (ob *Outbox) view(ctx context.Context, fn func(tx Tx) error) error {
	return ob.o.Store.View(ctx, func(tx engine.Tx) error { return fn(tx) })
}

var (
	_ Store = engine.Store(nil)
	_ Tx    = engine.Tx(nil)
)
