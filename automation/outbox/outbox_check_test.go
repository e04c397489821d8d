package outbox_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/keyway-sms/keyway/automation/engine"
	"github.com/keyway-sms/keyway/automation/outbox"
	"github.com/keyway-sms/keyway/automation/store/mem"
)

// aheadStore is a memory store whose read transactions can read several
// messages and contacts at once (ReadAhead), as PostgreSQL's do in one
// round trip; it records the size of each such read, and holds the first
// one for a moment, so that the checks of the sends behind it wait.
type aheadStore struct {
	*mem.MemStore
	mu    sync.Mutex
	sizes []int
}

type aheadTx struct {
	engine.Tx
	s *aheadStore
}

func (s *aheadStore) View(ctx context.Context, fn func(engine.Tx) error) error {
	return s.MemStore.View(ctx, func(tx engine.Tx) error { return fn(aheadTx{Tx: tx, s: s}) })
}

func (t aheadTx) ReadAhead(ids, _ []string) error {
	t.s.mu.Lock()
	t.s.sizes = append(t.s.sizes, len(ids))
	first := len(t.s.sizes) == 1
	t.s.mu.Unlock()
	if first {
		time.Sleep(200 * time.Millisecond)
	}
	return nil
}

// The checks before sending (still queued, contact not opted out) of
// sends under way at once are read together: 40 sends on 64 workers are
// checked in a few reads, every send in one of them, not one read each.
func TestOutboxChecksSendsTogether(t *testing.T) {
	store := &aheadStore{MemStore: mem.NewMemStore()}
	var msgs []*engine.Message
	for i := range 40 {
		to := fmt.Sprintf("+1555000%04d", i)
		msgs = append(msgs, &engine.Message{ID: fmt.Sprintf("m%02d", i), From: "+15005550006", To: []string{to}, Contact: to, Body: "hi"})
	}
	queue(t, store, msgs...)
	tx := &recordingTexter{}
	runOutbox(t, outbox.OutboxOptions{Store: store, Texter: tx})
	waitFor(t, "40 sends", func() bool { s, _ := tx.snapshot(); return len(s) == 40 })
	store.mu.Lock()
	defer store.mu.Unlock()
	total := 0
	for _, n := range store.sizes {
		total += n
	}
	if total != 40 || len(store.sizes) > 10 {
		t.Errorf("checks read %d sends in %d reads of %v; want all 40 in a few", total, len(store.sizes), store.sizes)
	}
}
