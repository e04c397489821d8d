package gateway

import (
	"context"
	"time"

	"github.com/keyway-sms/keyway/automation/engine"
)

// adminTx is what the admin API, the dashboard, reload's check of
// removed automations and /metrics read of the store: contacts, messages
// and enrollments page by page, the outbox's ids, the active counts and
// the pending timers.
// The gateway writes nothing through it.
type adminTx interface {
	Contact(phone string) (*engine.Contact, error)
	ContactsPage(after string, limit int) ([]*engine.Contact, error)
	ContactsInGroup(group, after string, limit int) ([]*engine.Contact, error)
	ContactsWithTag(tag, after string, limit int) ([]*engine.Contact, error)
	ContactsLeftGroup(group, after string, limit int) ([]*engine.Contact, error)

	Message(id string) (*engine.Message, error)
	Messages(contact string, limit int) ([]*engine.Message, error)
	MessagesPage(before string, limit int) ([]*engine.Message, error)
	Outbox(after string, limit int) ([]string, error)

	Enrollment(id string) (*engine.Enrollment, error)
	Enrollments(automation, contact string, activeOnly bool, limit int) ([]*engine.Enrollment, error)
	ActiveEnrollments(contact string) ([]*engine.Enrollment, error)
	CountActive() (map[string]int, error)

	DueTimers(now time.Time, limit int) ([]engine.Timer, error)
}

// retentionTx is what retention (storage.retention) writes: stored
// messages, and settled events, pruned by age.
type retentionTx interface {
	PruneMessages(before time.Time, limit int) (int, error)
	PruneEvents(before time.Time, limit int) (int, error)
}

// view runs fn in a read-only transaction of the store, which fn sees
// only as adminTx.
func (g *Gateway) view(ctx context.Context, fn func(tx adminTx) error) error {
	return g.store.View(ctx, func(tx engine.Tx) error { return fn(tx) })
}

// prunes runs fn in a read-write transaction of the store, which fn sees
// only as retentionTx.
func (g *Gateway) prunes(ctx context.Context, fn func(tx retentionTx) error) error {
	return g.store.Update(ctx, func(tx engine.Tx) error { return fn(tx) })
}

var (
	_ adminTx     = engine.Tx(nil)
	_ retentionTx = engine.Tx(nil)
)
