package outbox_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/keyway-sms/keyway/automation/engine"
	"github.com/keyway-sms/keyway/automation/outbox"
	"github.com/keyway-sms/keyway/automation/store/mem"
	"github.com/keyway-sms/keyway/providers"
)

var errDuplicateKey = errors.New(`duplicate key value violates unique constraint "messages_provider_id"`)

// refusingStore refuses, for good, to store a message with one provider
// id, as a database does with a duplicate key; and, when stall is set,
// holds such a transaction until its context ends instead, as a store that
// retries it without end.
type refusingStore struct {
	engine.Store
	providerID string
	body       string // refuses any write of a message with this body, when set
	stall      bool
	stalled    chan struct{} // closed when the first transaction stalls
	once       sync.Once
}

func (s *refusingStore) Update(ctx context.Context, fn func(engine.Tx) error) error {
	refused := false
	err := s.Store.Update(ctx, func(tx engine.Tx) error {
		refused = false
		return fn(refusingTx{Tx: tx, s: s, refused: &refused})
	})
	if refused && s.stall {
		s.once.Do(func() { close(s.stalled) })
		<-ctx.Done()
		return ctx.Err()
	}
	return err
}

type refusingTx struct {
	engine.Tx
	s       *refusingStore
	refused *bool
}

func (tx refusingTx) PutMessage(m *engine.Message) error {
	if m.ProviderID == tx.s.providerID || (tx.s.body != "" && m.Body == tx.s.body) {
		*tx.refused = true
		return errDuplicateKey
	}
	return tx.Tx.PutMessage(m)
}

// A send whose outcome the store refuses to record is set aside: out of the
// outbox, not sent again, its message sent with the reason in its error,
// counted; the sends behind it and the others go on.
func TestOutboxSetsAsideASendItCannotRecord(t *testing.T) {
	store := &refusingStore{Store: mem.NewMemStore(), providerID: "SMbad"}
	const sender, x = "+15005550006", "+15550000001"
	queue(t, store,
		&engine.Message{ID: "bad", From: sender, To: []string{x}, Body: "refused record"},
		&engine.Message{ID: "next", From: sender, To: []string{x}, Body: "behind it"},
		&engine.Message{ID: "other1", From: sender, To: []string{"+15550000002"}, Body: "a"},
		&engine.Message{ID: "other2", From: sender, To: []string{"+15550000003"}, Body: "b"},
	)
	var mu sync.Mutex
	var setAside []string
	tx := &recordingTexter{}
	runOutbox(t, outbox.OutboxOptions{Store: store, Texter: tx, OnSetAside: func(m *engine.Message, reason error) {
		mu.Lock()
		defer mu.Unlock()
		if !errors.Is(reason, errDuplicateKey) {
			t.Errorf("set aside with %v, want the store's error", reason)
		}
		setAside = append(setAside, m.ID)
	}})
	for _, id := range []string{"next", "other1", "other2"} {
		waitFor(t, id+" sent", func() bool { return status(store, id) == engine.StatusSent })
	}
	m := stored(t, store, "bad")
	if m.Status != engine.StatusSent || !strings.HasPrefix(m.Error, "set aside: sent (provider id SMbad)") || !strings.Contains(m.Error, errDuplicateKey.Error()) {
		t.Errorf("the unrecordable send is %s with error %q; want sent, the reason set aside", m.Status, m.Error)
	}
	if !m.Sending.IsZero() {
		t.Errorf("the unrecordable send is still marked as being sent: %v", m.Sending)
	}
	var queued []string
	_ = store.View(context.Background(), func(tx engine.Tx) error { queued, _ = tx.Outbox("", 0); return nil })
	if len(queued) != 0 {
		t.Errorf("left in the outbox: %q", queued)
	}
	sent, _ := tx.snapshot()
	if n := strings.Count(strings.Join(sentBodies(sent), "|"), "refused record"); n != 1 {
		t.Errorf("the unrecordable message was sent %d times, want once", n)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(setAside) != 1 || setAside[0] != "bad" {
		t.Errorf("set aside: %q, want just bad", setAside)
	}
}

// A stop ends within the drain time even when the store never records the
// outcome of a send under way.
func TestOutboxStopEndsWithinTheDrainTime(t *testing.T) {
	store := &refusingStore{Store: mem.NewMemStore(), providerID: "SMstuck", stall: true, stalled: make(chan struct{})}
	queue(t, store, &engine.Message{ID: "stuck", From: "+15005550006", To: []string{"+15550000001"}, Body: "never recorded"})
	ob := outbox.NewOutbox(outbox.OutboxOptions{Store: store, Texter: &recordingTexter{}, Drain: 100 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan struct{})
	go func() { ob.Run(ctx); close(done) }()
	select {
	case <-store.stalled:
	case <-time.After(20 * time.Second):
		t.Fatal("the send's record never reached the store")
	}
	cancel()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("Run did not return 20s after its context ended, with a drain time of 100ms")
	}
	if m := stored(t, store, "stuck"); m.Status != engine.StatusQueued || m.Sending.IsZero() {
		t.Errorf("the unrecorded send is %s, sending %v; want it queued and in doubt, for the next claim", m.Status, m.Sending)
	}
}

// A message the store refuses to mark as being sent is set aside at its
// claim: the claims go on with the others instead of stopping at it.
func TestOutboxSetsAsideASendItCannotClaim(t *testing.T) {
	store := &refusingStore{Store: mem.NewMemStore(), providerID: "-", body: "unwritable"}
	const sender = "+15005550006"
	queue(t, store.Store,
		&engine.Message{ID: "a1", From: sender, To: []string{"+15550000001"}, Body: "unwritable"},
		&engine.Message{ID: "a2", From: sender, To: []string{"+15550000001"}, Body: "behind it"},
		&engine.Message{ID: "b1", From: sender, To: []string{"+15550000002"}, Body: "other"},
	)
	var mu sync.Mutex
	n := 0
	tx := &recordingTexter{}
	runOutbox(t, outbox.OutboxOptions{Store: store, Texter: tx, OnSetAside: func(*engine.Message, error) { mu.Lock(); n++; mu.Unlock() }})
	for _, id := range []string{"a2", "b1"} {
		waitFor(t, id+" sent", func() bool { return status(store, id) == engine.StatusSent })
	}
	sent, _ := tx.snapshot()
	if got := strings.Join(sentBodies(sent), "|"); strings.Contains(got, "unwritable") {
		t.Errorf("sent %q: the message that could not be marked went out", got)
	}
	mu.Lock()
	defer mu.Unlock()
	if n != 1 {
		t.Errorf("%d sends set aside, want 1", n)
	}
}

var errStoreDown = errors.New("the database is down")

// downStore fails every transaction, and its health check, while down is
// set: a database that went away.
type downStore struct {
	engine.Store
	down atomic.Bool
}

func (s *downStore) Update(ctx context.Context, fn func(engine.Tx) error) error {
	if s.down.Load() {
		return errStoreDown
	}
	return s.Store.Update(ctx, fn)
}

func (s *downStore) View(ctx context.Context, fn func(engine.Tx) error) error {
	if s.down.Load() {
		return errStoreDown
	}
	return s.Store.View(ctx, fn)
}

func (s *downStore) Healthy(ctx context.Context) error {
	if s.down.Load() {
		return errStoreDown
	}
	return s.Store.Healthy(ctx)
}

// The store goes down while the provider takes a send, and stays down
// longer than the send's lease: the outbox keeps the outcome until the
// store commits again and records it then, sent once, rather than leave
// the send to be claimed and sent again when its lease runs out.
func TestOutboxHoldsAnOutcomeUntilTheStoreIsBack(t *testing.T) {
	store := &downStore{Store: mem.NewMemStore()}
	const sender = "+15005550006"
	queue(t, store.Store,
		&engine.Message{ID: "first", From: sender, To: []string{"+15550000001"}, Body: "taken while the store went down"},
		&engine.Message{ID: "second", From: sender, To: []string{"+15550000001"}, Body: "behind it"},
	)
	const lease = 200 * time.Millisecond
	var once sync.Once
	tx := &recordingTexter{onSend: func(providers.Outbound) { once.Do(func() { store.down.Store(true) }) }}
	runOutbox(t, outbox.OutboxOptions{Store: store, Texter: tx, Lease: lease})
	waitFor(t, "the first send", func() bool { sent, _ := tx.snapshot(); return len(sent) == 1 })
	waitFor(t, "the lease on the first send to run out", func() bool {
		var until time.Time
		_ = store.Store.View(context.Background(), func(tx engine.Tx) error {
			q, err := tx.QueuedSend("first")
			until = q.LeaseUntil
			return err
		})
		return !until.IsZero() && time.Now().After(until)
	})
	store.down.Store(false)
	for _, id := range []string{"first", "second"} {
		waitFor(t, id+" sent", func() bool { return status(store, id) == engine.StatusSent })
	}
	if m := stored(t, store, "first"); m.ProviderID != "SMfirst" || m.Attempts != 1 || !m.Sending.IsZero() {
		t.Errorf("first recorded with provider id %q, %d attempts, sending %v; want SMfirst, 1, none", m.ProviderID, m.Attempts, m.Sending)
	}
	sent, _ := tx.snapshot()
	if got := strings.Join(sentBodies(sent), "|"); got != "taken while the store went down|behind it" {
		t.Errorf("sent %q, want each message once", got)
	}
}

// A stop while the store is down and an outcome is held ends within the
// drain time; the send stays queued and in doubt, for the next claim.
func TestOutboxStopWhileHoldingAnOutcome(t *testing.T) {
	store := &downStore{Store: mem.NewMemStore()}
	queue(t, store.Store, &engine.Message{ID: "held", From: "+15005550006", To: []string{"+15550000001"}, Body: "taken as the store went down"})
	var once sync.Once
	tx := &recordingTexter{onSend: func(providers.Outbound) { once.Do(func() { store.down.Store(true) }) }}
	ob := outbox.NewOutbox(outbox.OutboxOptions{Store: store, Texter: tx, Drain: 200 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan struct{})
	go func() { ob.Run(ctx); close(done) }()
	waitFor(t, "the send", func() bool { sent, _ := tx.snapshot(); return len(sent) == 1 })
	cancel()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("Run did not return 20s after its context ended, with a drain time of 200ms")
	}
	if m := stored(t, store.Store, "held"); m.Status != engine.StatusQueued || m.Sending.IsZero() {
		t.Errorf("the held send is %s, sending %v; want it queued and in doubt", m.Status, m.Sending)
	}
}

// Two processes share the store, which goes down while the provider, one
// with no log to look in, takes a send of the first, and stays down past
// the send's lease. Back, it serves the second first, which claims the
// send, in doubt: it leaves the first, which held the outcome, time to
// record it, and does not send it again.
func TestOutboxInDoubtLeavesTheHolderTimeToRecord(t *testing.T) {
	base := mem.NewMemStore()
	first, second := &downStore{Store: base}, &downStore{Store: base}
	queue(t, base, &engine.Message{ID: "held", From: "+15005550006", To: []string{"+15550000001"}, Body: "taken as the store went down"})
	clock := engine.NewFakeClock(time.Now())
	var once sync.Once
	tx := &recordingTexter{onSend: func(providers.Outbound) {
		once.Do(func() { first.down.Store(true); second.down.Store(true) })
	}}
	runOutbox(t, outbox.OutboxOptions{Store: first, Texter: tx, Clock: clock, Owner: "first"})
	waitFor(t, "the send", func() bool { sent, _ := tx.snapshot(); return len(sent) == 1 })
	clock.Advance(2 * time.Minute) // the lease runs out during the outage
	logs := &syncBuffer{}
	ob := outbox.NewOutbox(outbox.OutboxOptions{Store: second, Texter: tx, Clock: clock, Owner: "second", Logger: zerolog.New(logs)})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { ob.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })

	second.down.Store(false)
	ob.Wake()
	waitFor(t, "the second process to claim the send", func() bool {
		var q *engine.QueuedSend
		err := base.View(context.Background(), func(tx engine.Tx) (err error) { q, err = tx.QueuedSend("held"); return err })
		return errors.Is(err, engine.ErrNotFound) || err == nil && q.Owner == "second" // gone: settled at once
	})
	first.down.Store(false)
	const settled = "the outcome of an earlier attempt at this message was recorded meanwhile"
	waitFor(t, "the second process to settle the send", func() bool {
		sent, _ := tx.snapshot()
		return len(sent) > 1 || strings.Contains(logs.String(), settled)
	})
	if sent, _ := tx.snapshot(); len(sent) != 1 {
		t.Fatalf("the provider took the message %d times, want once", len(sent))
	}
	if m := stored(t, base, "held"); m.Status != engine.StatusSent || m.ProviderID != "SMheld" || m.Attempts != 1 {
		t.Errorf("recorded %s with provider id %q after %d attempts; want sent, SMheld, 1", m.Status, m.ProviderID, m.Attempts)
	}
}
