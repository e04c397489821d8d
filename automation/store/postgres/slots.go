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

// BookSlots books as BookSlot does for each of messages in turn, all in
// one transaction of two round trips, and returns how long until each
// slot: the outbox books a claimed batch's sends of one number together,
// and a booking per send (a transaction, a commit and the number's row
// lock each) bounded how fast several processes could send at all. A slot
// that comes within keep is the caller's to keep: it is not stored for the
// message (nor a booking of the message's that comes within keep kept),
// since the caller sends the message at that instant itself; a slot it
// then does not use goes unused, which only slows the number down.
func (s *Store) BookSlots(ctx context.Context, number string, mps float64, messages []string, keep time.Duration) ([]time.Duration, error) {
	at, now, err := s.bookSlots(ctx, number, mps, messages, keep)
	if err != nil {
		return nil, err
	}
	out := make([]time.Duration, len(at))
	for i, a := range at {
		out[i] = time.Duration(max(a-now, 0))
	}
	return out, nil
}

// bookSlot books as BookSlot does and returns the slot and the time the
// booking was made, both as nanoseconds on the database's clock.
func (s *Store) bookSlot(ctx context.Context, number string, mps float64, message string) (at, now int64, err error) {
	slots, now, err := s.bookSlots(ctx, number, mps, []string{message}, 0)
	if err != nil {
		return 0, 0, err
	}
	return slots[0], now, nil
}

// bookSlots books as BookSlots does and returns the slots and the time the
// booking was made, as nanoseconds on the database's clock. The first round
// trip begins the transaction, reads the clock and locks the bookings the
// messages hold (in key order); the second takes as many new slots as the
// others need from the number's row in one statement, stores those that
// come after keep, drops the bookings used up, and commits: the number's
// row is locked only for the second.
func (s *Store) bookSlots(ctx context.Context, number string, mps float64, messages []string, keep time.Duration) (at []int64, now int64, err error) {
	if s.closed.Load() {
		return nil, 0, errClosed
	}
	at = make([]int64, len(messages))
	if mps <= 0 || len(messages) == 0 {
		return at, 0, nil
	}
	interval := int64(float64(time.Second) / mps)
	fail := func(err error) ([]int64, int64, error) {
		return nil, 0, fmt.Errorf("postgres: book %d send slots of %s: %w", len(messages), config.MaskAddress(number), err)
	}
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return fail(err)
	}
	// A connection released inside a transaction (a failure below) is
	// closed by the pool, which ends the transaction.
	defer conn.Release()
	b := &pgx.Batch{}
	b.Queue(`BEGIN`)
	b.Queue(`SELECT (extract(epoch FROM clock_timestamp()) * 1e9)::bigint`)
	b.Queue(`SELECT message_id, at_ns FROM send_bookings WHERE message_id = ANY($1) ORDER BY message_id FOR UPDATE`, messages)
	held := map[string]int64{}
	err = func() error {
		br := conn.SendBatch(ctx, b)
		defer br.Close()
		if _, err := br.Exec(); err != nil {
			return err
		}
		if err := br.QueryRow().Scan(&now); err != nil {
			return err
		}
		rows, err := br.Query()
		if err != nil {
			return err
		}
		for rows.Next() {
			var id string
			var a int64
			if err := rows.Scan(&id, &a); err != nil {
				rows.Close()
				return err
			}
			held[id] = a
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		return br.Close()
	}()
	if err != nil {
		return fail(err)
	}
	horizon := now + int64(keep)
	var fresh, used []string
	var freshAt []int
	for i, id := range messages {
		a, ok := held[id]
		switch {
		case ok && a > horizon:
			at[i] = a // still to come: kept for whoever claims the send then
		case ok:
			at[i] = a // come, or the caller's now: used up
			used = append(used, id)
		default:
			fresh, freshAt = append(fresh, id), append(freshAt, i)
		}
	}
	b = &pgx.Batch{}
	if len(fresh) > 0 {
		k := int64(len(fresh))
		b.Queue(`WITH s AS (INSERT INTO send_slots AS s (number, next_ns) VALUES ($1, $2::bigint + $3::bigint * $4::bigint)
				ON CONFLICT (number) DO UPDATE SET next_ns = GREATEST(s.next_ns, $2::bigint) + $3::bigint * $4::bigint
				RETURNING next_ns - $3::bigint * $4::bigint AS first),
			kept AS (INSERT INTO send_bookings (message_id, at_ns)
				SELECT m.id, s.first + (m.i - 1) * $3::bigint FROM s, unnest($5::text[]) WITH ORDINALITY AS m(id, i)
				WHERE s.first + (m.i - 1) * $3::bigint > $6::bigint
				ON CONFLICT (message_id) DO UPDATE SET at_ns = EXCLUDED.at_ns)
			SELECT first FROM s`, number, now, interval, k, fresh, horizon)
	}
	if len(used) > 0 {
		b.Queue(`DELETE FROM send_bookings WHERE message_id = ANY($1) OR at_ns < $2`, used, now-int64(time.Hour))
	}
	b.Queue(`COMMIT`)
	err = func() error {
		br := conn.SendBatch(ctx, b)
		defer br.Close()
		if len(fresh) > 0 {
			var first int64
			if err := br.QueryRow().Scan(&first); err != nil {
				return err
			}
			for j, i := range freshAt {
				at[i] = first + int64(j)*interval
			}
		}
		if len(used) > 0 {
			if _, err := br.Exec(); err != nil {
				return err
			}
		}
		tag, err := br.Exec()
		if err != nil {
			return err
		}
		if tag.String() == "ROLLBACK" {
			return errors.New("the database rolled the transaction back")
		}
		return br.Close()
	}()
	if err != nil {
		return fail(err)
	}
	return at, now, nil
}
