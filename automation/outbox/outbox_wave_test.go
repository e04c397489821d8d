package outbox_test

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/keyway-sms/keyway/automation/engine"
	"github.com/keyway-sms/keyway/automation/outbox"
	"github.com/keyway-sms/keyway/automation/store/mem"
	"github.com/keyway-sms/keyway/providers"
)

// claimCounter is a store that counts the claims that took sends.
type claimCounter struct {
	engine.Store
	claims atomic.Int64
}

func (c *claimCounter) Update(ctx context.Context, fn func(tx engine.Tx) error) error {
	return c.Store.Update(ctx, func(tx engine.Tx) error { return fn(&countingTx{Tx: tx, c: c}) })
}

type countingTx struct {
	engine.Tx
	c *claimCounter
}

func (t *countingTx) ClaimSends(now time.Time, lease time.Duration, owner string, limit int) ([]string, error) {
	ids, err := t.Tx.ClaimSends(now, lease, owner, limit)
	if err == nil && len(ids) > 0 {
		t.c.claims.Add(1)
	}
	return ids, err
}

// gatedTexter sends one message each time the test lets one through.
type gatedTexter struct {
	gate chan struct{}
	sent atomic.Int64
}

func (g *gatedTexter) Send(_ context.Context, m providers.Outbound) (string, error) {
	<-g.gate
	g.sent.Add(1)
	return "SM" + m.ID, nil
}

// A backlog is claimed a wave ahead, Workers sends or more to a commit,
// not a commit for each send as the workers free up one by one.
func TestOutboxClaimsABacklogInWaves(t *testing.T) {
	const n, workers = 96, 4
	var msgs []*engine.Message
	for i := range n {
		msgs = append(msgs, &engine.Message{ID: fmt.Sprintf("m%03d", i), From: "+15005550006", To: []string{fmt.Sprintf("+1555000%04d", i)}, Body: "offer"})
	}
	store := &claimCounter{Store: mem.NewMemStore()}
	queue(t, store, msgs...)
	tx := &gatedTexter{gate: make(chan struct{})}
	runOutbox(t, outbox.OutboxOptions{Store: store, Texter: tx, Workers: workers})
	// One send at a time, so that the workers free up one by one.
	for range n {
		tx.gate <- struct{}{}
	}
	waitFor(t, "every send recorded", func() bool {
		for _, m := range msgs {
			if status(store, m.ID) != engine.StatusSent {
				return false
			}
		}
		return true
	})
	if got, most := store.claims.Load(), int64(n/workers+1); got > most {
		t.Errorf("%d sends took %d claims, want at most %d (a wave of %d workers or more a claim)", n, got, most, workers)
	}
}

// A claimed send that waited for a worker past half its lease, and whose
// lease another process has taken meanwhile, is not sent here: the other
// process sends it.
func TestOutboxDoesNotSendWhatItsExpiredLeaseLost(t *testing.T) {
	clock := engine.NewFakeClock(time.Now())
	store := mem.NewMemStore()
	var msgs []*engine.Message
	for i := range 4 {
		msgs = append(msgs, &engine.Message{ID: fmt.Sprintf("m%d", i), From: "+15005550006", To: []string{fmt.Sprintf("+155500000%02d", i)}, Body: "offer"})
	}
	queue(t, store, msgs...)
	tx := &blockingTexter{started: make(chan string, 4), release: make(chan struct{})}
	logs := &syncBuffer{}
	ob := outbox.NewOutbox(outbox.OutboxOptions{Store: store, Texter: tx, Clock: clock, Workers: 2, Lease: time.Minute,
		Owner: "here", Logger: zerolog.New(logs).Level(zerolog.DebugLevel)})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { ob.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	// Both workers are sending; the other two sends wait for them.
	first := map[string]bool{<-tx.started: true, <-tx.started: true}
	clock.Advance(2 * time.Minute)
	if taken := claimFor(t, store, clock.Now(), "there", 10); len(taken) != 4 {
		t.Fatalf("the other process claimed %v, want all 4 (the leases ended)", taken)
	}
	close(tx.release)
	waitFor(t, "the two waiting sends let go", func() bool {
		return strings.Count(logs.String(), "released a send another owner had claimed already") == 2
	})
	select {
	case id := <-tx.started:
		t.Errorf("%s was sent here after its lease went to another process", id)
	default:
	}
	for _, m := range msgs {
		if first[m.ID] {
			continue
		}
		if q := queuedSend(t, store, m.ID); q.Owner != "there" {
			t.Errorf("%s is held by %q, want the process that took it", m.ID, q.Owner)
		}
	}
}

func queuedSend(t *testing.T, store engine.Store, id string) *engine.QueuedSend {
	t.Helper()
	return viewed(t, store, func(tx engine.Tx) (*engine.QueuedSend, error) { return tx.QueuedSend(id) })
}
