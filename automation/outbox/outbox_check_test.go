package outbox_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/keyway-sms/keyway/automation/engine"
	"github.com/keyway-sms/keyway/automation/outbox"
	"github.com/keyway-sms/keyway/automation/store/mem"
)

// aheadStore is a memory store whose read transactions can read several
// messages and contacts at once (ReadAhead), as PostgreSQL's do in one
// round trip; it records the size of each such read, and holds the first
// one until release is closed, so that the checks of the sends behind it
// wait.
type aheadStore struct {
	*mem.MemStore
	release chan struct{}
	mu      sync.Mutex
	sizes   []int
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
		<-t.s.release
	}
	return nil
}

// The checks before sending (still queued, contact not opted out) of
// sends under way at once are read together: of 40 sends on 64 workers,
// the checks that wait while the first read is under way are read in one.
func TestOutboxChecksSendsTogether(t *testing.T) {
	store := &aheadStore{MemStore: mem.NewMemStore(), release: make(chan struct{})}
	var msgs []*engine.Message
	for i := range 40 {
		to := fmt.Sprintf("+1555000%04d", i)
		msgs = append(msgs, &engine.Message{ID: fmt.Sprintf("m%02d", i), From: "+15005550006", To: []string{to}, Contact: to, Body: "hi"})
	}
	queue(t, store, msgs...)
	tx := &recordingTexter{}
	ob := runOutbox(t, outbox.OutboxOptions{Store: store, Texter: tx})
	// The first read takes the checks there when it began (one, or a few
	// that came together); every other check waits for it.
	first := func() int {
		store.mu.Lock()
		defer store.mu.Unlock()
		if len(store.sizes) == 0 {
			return -1
		}
		return store.sizes[0]
	}
	waitFor(t, "the other checks waiting", func() bool { f := first(); return f > 0 && ob.ChecksWaiting() == 40-f })
	close(store.release)
	waitFor(t, "40 sends", func() bool { s, _ := tx.snapshot(); return len(s) == 40 })
	store.mu.Lock()
	defer store.mu.Unlock()
	want := []int{store.sizes[0]}
	if waited := 40 - want[0]; waited > 0 {
		want = append(want, waited)
	}
	if !slices.Equal(store.sizes, want) {
		t.Errorf("checks read in reads of %v sends, want %v: the first read's, then those that waited for it, in one", store.sizes, want)
	}
}
