package storetest

import (
	"math"
	"testing"
	"time"

	"github.com/keyway-sms/keyway/automation/engine"
)

var countCases = []testCase{
	{"counts/agree-with-scans", testCountsAgree},
	{"counts/outbox-agrees-with-scan", testOutboxCountsAgree},
}

// outboxCounts is what a Tx implements when it can count the queued sends
// and those retrying without reading each message (the PostgreSQL store,
// where each read is a round trip): /metrics uses it when there.
type outboxCounts interface {
	OutboxCounts() (queued, retrying int, err error)
}

// A store's counts of queued and retrying sends agree with what reading
// the outbox and each message finds, through enqueues, a failed attempt
// and a dequeue. A store without them skips.
func testOutboxCountsAgree(t *testing.T, s engine.Store) {
	if !read(t, s, func(tx engine.Tx) (bool, error) { _, ok := tx.(outboxCounts); return ok, nil }) {
		t.Skip("the store does not count the outbox")
	}
	check := func(when string, queued, retrying int) {
		t.Helper()
		err := s.View(t.Context(), func(tx engine.Tx) error {
			q, r, err := tx.(outboxCounts).OutboxCounts()
			if err != nil {
				return err
			}
			ids, err := tx.Outbox("", 0)
			if err != nil {
				return err
			}
			scanned := 0
			for _, id := range ids {
				m, err := tx.Message(id)
				if err != nil {
					return err
				}
				if m.Attempts > 0 {
					scanned++
				}
			}
			if q != queued || len(ids) != queued || r != retrying || scanned != retrying {
				t.Errorf("%s: OutboxCounts = %d queued, %d retrying; a scan finds %d and %d; want %d and %d", when, q, r, len(ids), scanned, queued, retrying)
			}
			return nil
		})
		if err != nil {
			t.Fatalf("%s: %v", when, err)
		}
	}
	check("empty", 0, 0)
	update(t, s, func(tx engine.Tx) error {
		for _, m := range []*engine.Message{outbound("m1", phoneA), outbound("m2", phoneA), outbound("m3", phoneB)} {
			if err := tx.PutMessage(m); err != nil {
				return err
			}
			if err := tx.Enqueue(m); err != nil {
				return err
			}
		}
		return nil
	})
	check("three queued", 3, 0)
	update(t, s, func(tx engine.Tx) error {
		m, err := tx.Message("m3")
		if err != nil {
			return err
		}
		m.Attempts, m.Error = 2, "provider unavailable"
		return tx.PutMessage(m)
	})
	check("one retrying", 3, 1)
	update(t, s, func(tx engine.Tx) error { return tx.Dequeue("m1") })
	check("one settled", 2, 1)
}

// counts is what a Tx implements when it can count pending timers and open
// handoffs without reading them all (the bbolt and PostgreSQL stores):
// /metrics uses it when there.
type counts interface {
	PendingTimers() (int, error)
	OpenHandoffCount() (int, error)
}

// A store's counts of pending timers and open handoffs agree with what a
// full read finds, through puts, replaces, holds, deletes and enrollments
// that leave a handoff. A store without counts skips.
func testCountsAgree(t *testing.T, s engine.Store) {
	if !read(t, s, func(tx engine.Tx) (bool, error) { _, ok := tx.(counts); return ok, nil }) {
		t.Skip("the store keeps no counts")
	}
	check := func(when string, timers, handoffs int) {
		t.Helper()
		err := s.View(t.Context(), func(tx engine.Tx) error {
			c := tx.(counts)
			n, err := c.PendingTimers()
			if err != nil {
				return err
			}
			due, err := tx.DueTimers(time.Unix(0, math.MaxInt64), math.MaxInt32) // the last instant a timer key holds
			if err != nil {
				return err
			}
			if n != timers || len(due) != timers {
				t.Errorf("%s: PendingTimers = %d, DueTimers lists %d, want %d", when, n, len(due), timers)
			}
			h, err := c.OpenHandoffCount()
			if err != nil {
				return err
			}
			open, err := engine.OpenHandoffs(tx)
			if err != nil {
				return err
			}
			if h != handoffs || len(open) != handoffs {
				t.Errorf("%s: OpenHandoffCount = %d, OpenHandoffs lists %d, want %d", when, h, len(open), handoffs)
			}
			return nil
		})
		if err != nil {
			t.Fatalf("%s: %v", when, err)
		}
	}
	check("empty", 0, 0)

	a, b, c := timer(t0, "e0001", "a"), timer(t0.Add(time.Hour), "e0002", "a"), timer(t0.Add(time.Hour), "e0003", "b")
	update(t, s, putTimers(a, b, c, b)) // b put twice: one timer
	check("three timers", 3, 0)
	update(t, s, func(tx engine.Tx) error { return tx.HoldTimer(c) })
	check("one held", 2, 0)
	update(t, s, func(tx engine.Tx) error { return tx.DeleteTimer(a) })
	check("one deleted", 1, 0)
	update(t, s, func(tx engine.Tx) error { _, err := tx.ReleaseTimers("b"); return err })
	check("released", 2, 0)

	handoff := func(id, contact string) *engine.Enrollment {
		e := enrollment(id, contact, "support", engine.EnrollmentHandoff)
		e.Handoff = &engine.Handoff{Ref: id, Staff: []string{phoneC}, Since: t0}
		return e
	}
	update(t, s, putEnrollments(
		handoff("e0011", phoneA),
		handoff("e0012", phoneB),
		enrollment("e0013", phoneC, "support", engine.EnrollmentHandoff), // no handoff recorded: not open
		enrollment("e0014", phoneC, "join", engine.EnrollmentWaitingReply),
	))
	check("two handoffs", 2, 2)
	ended := handoff("e0011", phoneA)
	ended.Status, ended.EndedAt, ended.EndReason = engine.EnrollmentEnded, &t0, "closed"
	back := enrollment("e0012", phoneB, "support", engine.EnrollmentWaitingReply)
	update(t, s, putEnrollments(ended, back))
	check("one ended, one handed back", 2, 0)
	update(t, s, putEnrollments(handoff("e0012", phoneB)))
	check("open again", 2, 1)
}
