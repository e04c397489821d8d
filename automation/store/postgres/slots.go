package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/keyway-sms/keyway/config"
)

// BookSlot implements engine.SlotBooker with one row per sender number
// holding when its next slot is free: a booking takes the later of that
// and now (the database's clock, so that the processes' clocks need not
// agree) and moves it one interval on; the row's lock makes bookings from
// every process take turns. A slot booked for later is kept by message,
// so that whichever process claims the send at its slot uses it. Bookings
// left over (their send settled otherwise) are dropped an hour on.
func (s *Store) BookSlot(ctx context.Context, number string, mps float64, message string) (time.Duration, error) {
	at, now, err := s.bookSlot(ctx, number, mps, message)
	if err != nil {
		return 0, err
	}
	return time.Duration(max(at-now, 0)), nil
}

// bookSlot books as BookSlot does and returns the slot and the time the
// booking was made, both as nanoseconds on the database's clock.
func (s *Store) bookSlot(ctx context.Context, number string, mps float64, message string) (at, now int64, err error) {
	if s.closed.Load() {
		return 0, 0, errClosed
	}
	if mps <= 0 {
		return 0, 0, nil
	}
	interval := int64(float64(time.Second) / mps)
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if err := tx.QueryRow(ctx, `SELECT (extract(epoch FROM clock_timestamp()) * 1e9)::bigint`).Scan(&now); err != nil {
			return err
		}
		err := tx.QueryRow(ctx, `SELECT at_ns FROM send_bookings WHERE message_id = $1 FOR UPDATE`, message).Scan(&at)
		switch {
		case err == nil && at > now:
			return nil
		case err == nil:
			at = now
			_, err = tx.Exec(ctx, `DELETE FROM send_bookings WHERE message_id = $1 OR at_ns < $2`, message, now-int64(time.Hour))
			return err
		case !errors.Is(err, pgx.ErrNoRows):
			return err
		}
		err = tx.QueryRow(ctx, `INSERT INTO send_slots AS s (number, next_ns) VALUES ($1, $2::bigint + $3::bigint)
			ON CONFLICT (number) DO UPDATE SET next_ns = GREATEST(s.next_ns, $2::bigint) + $3::bigint
			RETURNING next_ns - $3::bigint`, number, now, interval).Scan(&at)
		if err != nil {
			return err
		}
		if at <= now {
			return nil
		}
		_, err = tx.Exec(ctx, `INSERT INTO send_bookings (message_id, at_ns) VALUES ($1, $2)
			ON CONFLICT (message_id) DO UPDATE SET at_ns = EXCLUDED.at_ns`, message, at)
		return err
	})
	if err != nil {
		return 0, 0, fmt.Errorf("postgres: book a send slot of %s: %w", config.MaskAddress(number), err)
	}
	return at, now, nil
}
