package postgres_test

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/keyway-sms/keyway/automation/store/postgres/pgtest"
)

// Bookings from several stores on one database (as from several
// processes) get slots one interval apart, whichever books first. The
// slots are compared as the database gave them: a time read on the test's
// clock after the answer came back would count every delay in returning
// (a busy machine, the race detector) against the spacing.
func TestBookSlotSpacesSendsAcrossStores(t *testing.T) {
	dsn := pgtest.NewDatabase(t)
	a, b := open(t, dsn), open(t, dsn)
	const n, mps = 20, 2.0
	interval := time.Duration(float64(time.Second) / mps)
	at := make([]time.Time, n)
	var wg sync.WaitGroup
	for i := range n {
		s := a
		if i%2 == 1 {
			s = b
		}
		wg.Go(func() {
			slot, err := s.BookSlotAt(t.Context(), "+15005550006", mps, fmt.Sprintf("m%02d", i))
			if err != nil {
				t.Error(err)
				return
			}
			at[i] = slot
		})
	}
	wg.Wait()
	slices.SortFunc(at, func(x, y time.Time) int { return x.Compare(y) })
	for i := 1; i < n; i++ {
		if gap := at[i].Sub(at[i-1]); gap < interval {
			t.Errorf("slots %d and %d are %v apart, want %v", i-1, i, gap, interval)
		}
	}
}

// A booking is kept for its message: asked again before its slot, any
// store answers the time left; at its slot, zero, and the booking is used.
// Slots are 2 s apart (mps 0.5), so that the bookings and the asks made in
// between fit in one interval even on a busy machine (at mps 10 they did
// not always: the slot came before the ask).
func TestBookSlotKeepsTheBooking(t *testing.T) {
	dsn := pgtest.NewDatabase(t)
	a, b := open(t, dsn), open(t, dsn)
	ctx := t.Context()
	const mps = 0.5
	if d, err := a.BookSlot(ctx, "+1", mps, "first"); err != nil || d != 0 {
		t.Fatalf("first booking: %v, %v; want a slot now", d, err)
	}
	d, err := a.BookSlot(ctx, "+1", mps, "second")
	if err != nil || d <= 0 {
		t.Fatalf("second booking: %v, %v; want a later slot", d, err)
	}
	again, err := b.BookSlot(ctx, "+1", mps, "second")
	if err != nil || again <= 0 || again > d {
		t.Fatalf("the second message asked again on another store: %v, %v; want what is left of %v", again, err, d)
	}
	deadline := time.After(30 * time.Second)
	for {
		left, err := b.BookSlot(ctx, "+1", mps, "second")
		if err != nil {
			t.Fatal(err)
		}
		if left == 0 {
			break
		}
		select {
		case <-time.After(left):
		case <-deadline:
			t.Fatalf("the booked slot never came: %v left", left)
		}
	}
	// Used up: the message's next ask books a new slot.
	if d, err := a.BookSlot(ctx, "+1", mps, "second"); err != nil || d <= 0 {
		t.Errorf("after the booking was used: %v, %v; want a new, later slot", d, err)
	}
}

// A batch booked at once takes consecutive slots, one interval apart, and
// a booking made after it, from another store, comes after the batch's
// last. A slot within keep is the caller's and is not stored: asked for
// again, that message gets a new slot; one past keep is stored and is
// answered again as booked.
func TestBookSlotsBooksABatchInTurn(t *testing.T) {
	dsn := pgtest.NewDatabase(t)
	a, b := open(t, dsn), open(t, dsn)
	ctx := t.Context()
	const mps = 1.0
	interval := time.Second
	slots, err := a.BookSlotsAt(ctx, "+15005550006", mps, []string{"m1", "m2", "m3", "m4"}, 1500*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i < len(slots); i++ {
		if gap := slots[i].Sub(slots[i-1]); gap != interval {
			t.Errorf("slots %d and %d of the batch are %v apart, want %v", i-1, i, gap, interval)
		}
	}
	after, err := b.BookSlotAt(ctx, "+15005550006", mps, "other")
	if err != nil {
		t.Fatal(err)
	}
	if gap := after.Sub(slots[3]); gap < interval {
		t.Errorf("a booking after the batch is %v after its last slot, want at least %v", gap, interval)
	}
	// m3 and m4 (2 s and 3 s on) were past keep: stored, and answered
	// again as booked, by either store.
	for i, id := range []string{"m3", "m4"} {
		again, err := b.BookSlotAt(ctx, "+15005550006", mps, id)
		if err != nil {
			t.Fatal(err)
		}
		if !again.Equal(slots[2+i]) {
			t.Errorf("%s asked again: slot %v, want its booking %v", id, again, slots[2+i])
		}
	}
	// m2 (1 s on) was within keep: the caller's, not stored.
	again, err := b.BookSlotAt(ctx, "+15005550006", mps, "m2")
	if err != nil {
		t.Fatal(err)
	}
	if !again.After(after) {
		t.Errorf("m2 asked again: slot %v, want a new one after %v (its first was the caller's to keep)", again, after)
	}
}
