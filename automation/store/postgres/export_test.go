package postgres

import (
	"context"
	"time"
)

// BookSlotAt books as BookSlot does and returns the slot itself, on the
// database's clock, so that tests can check the spacing the database gave
// whatever the delay before the answer reached them.
func (s *Store) BookSlotAt(ctx context.Context, number string, mps float64, message string) (time.Time, error) {
	at, _, err := s.bookSlot(ctx, number, mps, message)
	return time.Unix(0, at), err
}

// RoundTrips returns how many round trips the store's Updates and Views
// have made to the database.
func (s *Store) RoundTrips() int64 { return s.roundTrips.Load() }

// Statements returns how many statements the store's Updates and Views
// have sent to the database, BEGIN and COMMIT among them.
func (s *Store) Statements() int64 { return s.statements.Load() }

// BookSlotsAt books as BookSlots does and returns the slots themselves, on
// the database's clock.
func (s *Store) BookSlotsAt(ctx context.Context, number string, mps float64, messages []string, keep time.Duration) ([]time.Time, error) {
	at, _, err := s.bookSlots(ctx, number, mps, messages, keep)
	out := make([]time.Time, len(at))
	for i, a := range at {
		out[i] = time.Unix(0, a)
	}
	return out, err
}

// DequeueSQL is the statement Dequeue takes a send out with.
const DequeueSQL = dequeueSQL

// FoldActivity folds the activity log into the activity table now, as
// the background loop does every few seconds.
func (s *Store) FoldActivity(ctx context.Context) error { return s.foldActivity(ctx) }
