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

// slotStore is a memory store that books send slots as a store several
// processes share does, one at a time (BookSlot, which keeps a later slot
// for its message) or a batch at once (BookSlots), and counts how it was
// asked.
type slotStore struct {
	*mem.MemStore
	mu               sync.Mutex
	next             time.Time
	booked           map[string]time.Time
	singles, batches int
	asked            []int // the size of each batch
}

func (s *slotStore) BookSlot(_ context.Context, _ string, mps float64, message string) (time.Duration, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.singles++
	if at, ok := s.booked[message]; ok {
		if d := time.Until(at); d > 0 {
			return d, nil
		}
		delete(s.booked, message)
		return 0, nil
	}
	d := s.book(mps, 1)[0]
	if d > 0 {
		s.booked[message] = time.Now().Add(d)
	}
	return d, nil
}

func (s *slotStore) BookSlots(_ context.Context, _ string, mps float64, messages []string, _ time.Duration) ([]time.Duration, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.batches++
	s.asked = append(s.asked, len(messages))
	return s.book(mps, len(messages)), nil
}

func (s *slotStore) book(mps float64, n int) []time.Duration {
	now := time.Now()
	if s.next.Before(now) {
		s.next = now
	}
	out := make([]time.Duration, n)
	for i := range out {
		out[i] = s.next.Sub(now)
		s.next = s.next.Add(time.Duration(float64(time.Second) / mps))
	}
	return out
}

var _ engine.SlotBooker = (*slotStore)(nil)

// A claimed batch of one number's sends books its slots in one call to a
// store that books batches, and sends whose slots come within a moment
// are sent at their slot, not released to be claimed again: 20 sends at
// mps 200 (5 ms apart) are booked once and sent, the last no sooner than
// 19 intervals after the start.
func TestOutboxBooksABatchsSlotsAtOnce(t *testing.T) {
	store := &slotStore{MemStore: mem.NewMemStore(), booked: map[string]time.Time{}}
	var msgs []*engine.Message
	for i := range 20 {
		to := fmt.Sprintf("+1555000%04d", i)
		msgs = append(msgs, &engine.Message{ID: fmt.Sprintf("m%02d", i), From: "+15005550006", To: []string{to}, Contact: to, Body: "hi"})
	}
	queue(t, store, msgs...)
	tx := &recordingTexter{}
	start := time.Now()
	runOutbox(t, outbox.OutboxOptions{Store: store, Texter: tx, MPS: map[string]float64{"+15005550006": 200}})
	waitFor(t, "20 sends", func() bool { s, _ := tx.snapshot(); return len(s) == 20 })
	_, at := tx.snapshot()
	last := at[0]
	for _, a := range at {
		if a.After(last) {
			last = a
		}
	}
	if took := last.Sub(start); took < 19*5*time.Millisecond {
		t.Errorf("20 sends at mps 200 took %v from the start, want at least %v", took, 19*5*time.Millisecond)
	}
	store.mu.Lock()
	defer store.mu.Unlock()
	if store.singles != 0 || store.batches != 1 || store.asked[0] != 20 {
		t.Errorf("slots booked one by one %d times and in %d batches of %v; want one batch of 20", store.singles, store.batches, store.asked)
	}
}
