package storetest

import (
	"errors"
	"testing"
	"time"

	"github.com/keyway-sms/keyway/automation/engine"
)

// sendCases check the outbox as a claimable queue: heads only, due times,
// leases that expire, release and recovery.
var sendCases = []testCase{
	{"outbox/claim-heads-only", testClaimHeadsOnly},
	{"outbox/claim-due-soonest-first", testClaimDueSoonestFirst},
	{"outbox/lease-expires", testLeaseExpires},
	{"outbox/release-keeps-head", testReleaseKeepsHead},
	{"outbox/recover-owner", testRecoverOwner},
	{"outbox/dequeue-behind-head", testDequeueBehindHead},
}

const lease = time.Minute

// enqueue queues messages in one Update.
func enqueue(t *testing.T, s engine.Store, ms ...*engine.Message) {
	t.Helper()
	update(t, s, func(tx engine.Tx) error {
		for _, m := range ms {
			if err := tx.Enqueue(m); err != nil {
				return err
			}
		}
		return nil
	})
}

// due is a queued text to phone that may first be tried at at.
func due(id, phone string, at time.Time) *engine.Message {
	m := outbound(id, phone)
	m.NextAttempt = at
	return m
}

// claimAt claims up to limit sends for owner at now, in one Update.
func claimAt(t *testing.T, s engine.Store, now time.Time, owner string, limit int) []string {
	t.Helper()
	var ids []string
	update(t, s, func(tx engine.Tx) error {
		var err error
		ids, err = tx.ClaimSends(now, lease, owner, limit)
		return err
	})
	return ids
}

func queuedSend(t *testing.T, s engine.Store, id string) *engine.QueuedSend {
	t.Helper()
	return read(t, s, func(tx engine.Tx) (*engine.QueuedSend, error) { return tx.QueuedSend(id) })
}

func nextSendDue(t *testing.T, s engine.Store) (time.Time, error) {
	t.Helper()
	return tryRead(t, s, func(tx engine.Tx) (time.Time, error) { return tx.NextSendDue() })
}

func dequeue(t *testing.T, s engine.Store, id string) {
	t.Helper()
	update(t, s, func(tx engine.Tx) error { return tx.Dequeue(id) })
}

// Only the head of each recipient's queue can be claimed, and not while it
// is leased: the sends behind it wait until it is dequeued.
func testClaimHeadsOnly(t *testing.T, s engine.Store) {
	if _, err := nextSendDue(t, s); !errors.Is(err, engine.ErrNotFound) {
		t.Errorf("NextSendDue of an empty outbox: err = %v, want ErrNotFound", err)
	}
	enqueue(t, s, outbound("a1", phoneA), outbound("a2", phoneA), outbound("b1", phoneB))
	if got := claimAt(t, s, t0, "p", 10); !sameStrings(got, []string{"a1", "b1"}) {
		t.Fatalf("ClaimSends = %v, want the heads [a1 b1]", got)
	}
	q := queuedSend(t, s, "a1")
	if q.MessageID != "a1" || q.Queue != outbound("a1", phoneA).QueueKey() || q.Owner != "p" || !q.LeaseUntil.Equal(t0.Add(lease)) {
		t.Errorf("claimed a1 = %+v, want owner p until %v in queue %s", q, t0.Add(lease), outbound("a1", phoneA).QueueKey())
	}
	if q := queuedSend(t, s, "a2"); q.Owner != "" {
		t.Errorf("a2, behind a1, has owner %q", q.Owner)
	}
	// A send queued while its recipient's head is under way waits too,
	// even with an id that sorts first.
	enqueue(t, s, outbound("a0", phoneA))
	if got := claimAt(t, s, t0.Add(30*time.Second), "p", 10); len(got) != 0 {
		t.Fatalf("ClaimSends while every head is leased = %v, want none", got)
	}
	dequeue(t, s, "a1")
	got := claimAt(t, s, t0.Add(30*time.Second), "p", 10)
	if len(got) != 1 || (got[0] != "a0" && got[0] != "a2") {
		t.Fatalf("after a1 was dequeued: ClaimSends = %v, want one send of a's queue", got)
	}
	if got := claimAt(t, s, t0.Add(30*time.Second), "p", 10); len(got) != 0 {
		t.Errorf("ClaimSends with a's new head leased = %v, want none", got)
	}
	if got := read(t, s, func(tx engine.Tx) ([]string, error) { return tx.Outbox("", 10) }); !sameStrings(got, []string{"a0", "a2", "b1"}) {
		t.Errorf("Outbox = %v, want [a0 a2 b1]", got)
	}
}

// Heads are claimed when due, soonest first, up to the limit.
func testClaimDueSoonestFirst(t *testing.T, s engine.Store) {
	enqueue(t, s,
		due("x1", phoneA, t0.Add(-3*time.Second)),
		due("y1", phoneB, t0.Add(-1*time.Second)),
		due("z1", phoneC, t0.Add(-2*time.Second)),
		outbound("w1", "+15550004"), // due at once
		due("v1", "+15550005", t0.Add(time.Hour)),
	)
	if next, err := nextSendDue(t, s); err != nil || !next.IsZero() {
		t.Errorf("NextSendDue = %v, %v; want the zero time of w1", next, err)
	}
	if got := claimAt(t, s, t0, "p", 0); len(got) != 0 {
		t.Errorf("ClaimSends with limit 0 = %v, want none", got)
	}
	if got := claimAt(t, s, t0, "p", 2); !sameStrings(got, []string{"w1", "x1"}) {
		t.Errorf("ClaimSends(limit 2) = %v, want [w1 x1]", got)
	}
	if got := claimAt(t, s, t0, "p", 10); !sameStrings(got, []string{"z1", "y1"}) {
		t.Errorf("ClaimSends = %v, want [z1 y1]: v1 is not due", got)
	}
	if next, err := nextSendDue(t, s); err != nil || !next.Equal(t0.Add(lease)) {
		t.Errorf("NextSendDue = %v, %v; want the end of the leases, %v", next, err, t0.Add(lease))
	}
	if got := claimAt(t, s, t0.Add(time.Hour), "q", 10); !sameStrings(got, []string{"w1", "x1", "y1", "z1", "v1"}) {
		t.Errorf("ClaimSends an hour later = %v, want the expired leases by id, then v1", got)
	}
}

// A lease that ends makes its send claimable by another owner; the first
// owner can no longer release it.
func testLeaseExpires(t *testing.T, s engine.Store) {
	enqueue(t, s, outbound("a1", phoneA))
	if got := claimAt(t, s, t0, "p", 10); !sameStrings(got, []string{"a1"}) {
		t.Fatalf("ClaimSends = %v, want [a1]", got)
	}
	if got := claimAt(t, s, t0.Add(lease-time.Second), "q", 10); len(got) != 0 {
		t.Fatalf("ClaimSends before the lease ends = %v, want none", got)
	}
	if got := claimAt(t, s, t0.Add(lease), "q", 10); !sameStrings(got, []string{"a1"}) {
		t.Fatalf("ClaimSends once the lease ended = %v, want [a1]", got)
	}
	if q := queuedSend(t, s, "a1"); q.Owner != "q" || !q.LeaseUntil.Equal(t0.Add(2*lease)) {
		t.Errorf("a1 claimed again = owner %q until %v, want q until %v", q.Owner, q.LeaseUntil, t0.Add(2*lease))
	}
	err := s.Update(t.Context(), func(tx engine.Tx) error { return tx.ReleaseSend("a1", "p", t0) })
	if !errors.Is(err, engine.ErrLeaseLost) {
		t.Errorf("ReleaseSend by the owner whose lease ended: err = %v, want ErrLeaseLost", err)
	}
	if q := queuedSend(t, s, "a1"); q.Owner != "q" {
		t.Errorf("a refused ReleaseSend changed the owner to %q", q.Owner)
	}
	err = s.Update(t.Context(), func(tx engine.Tx) error { return tx.ReleaseSend("zz", "q", t0) })
	if !errors.Is(err, engine.ErrNotFound) {
		t.Errorf("ReleaseSend of a message not queued: err = %v, want ErrNotFound", err)
	}
}

// A released send stays at the head of its queue, claimable at the due
// time given; the send behind it waits.
func testReleaseKeepsHead(t *testing.T, s engine.Store) {
	enqueue(t, s, outbound("a1", phoneA), outbound("a2", phoneA))
	if got := claimAt(t, s, t0, "p", 10); !sameStrings(got, []string{"a1"}) {
		t.Fatalf("ClaimSends = %v, want [a1]", got)
	}
	retry := t0.Add(10 * time.Second)
	update(t, s, func(tx engine.Tx) error { return tx.ReleaseSend("a1", "p", retry) })
	if q := queuedSend(t, s, "a1"); q.Owner != "" || !q.Due.Equal(retry) {
		t.Errorf("released a1 = owner %q due %v, want none, due %v", q.Owner, q.Due, retry)
	}
	if next, err := nextSendDue(t, s); err != nil || !next.Equal(retry) {
		t.Errorf("NextSendDue = %v, %v; want %v", next, err, retry)
	}
	if got := claimAt(t, s, t0.Add(time.Second), "p", 10); len(got) != 0 {
		t.Fatalf("ClaimSends before the retry is due = %v, want none (a2 waits behind a1)", got)
	}
	if got := claimAt(t, s, retry, "q", 10); !sameStrings(got, []string{"a1"}) {
		t.Fatalf("ClaimSends when the retry is due = %v, want [a1]", got)
	}
	dequeue(t, s, "a1")
	if got := claimAt(t, s, retry, "q", 10); !sameStrings(got, []string{"a2"}) {
		t.Errorf("ClaimSends after a1 = %v, want [a2]", got)
	}
}

// RecoverSends gives back one owner's leases, not another's, and keeps
// their due times.
func testRecoverOwner(t *testing.T, s engine.Store) {
	later := t0.Add(lease / 2) // before the first leases end
	enqueue(t, s, outbound("a1", phoneA), outbound("b1", phoneB), outbound("c1", phoneC), due("d1", "+15550004", later))
	if got := claimAt(t, s, t0, "p", 2); !sameStrings(got, []string{"a1", "b1"}) {
		t.Fatalf("ClaimSends(p) = %v, want [a1 b1]", got)
	}
	if got := claimAt(t, s, t0, "q", 1); !sameStrings(got, []string{"c1"}) {
		t.Fatalf("ClaimSends(q) = %v, want [c1]", got)
	}
	if got := claimAt(t, s, later, "p", 1); !sameStrings(got, []string{"d1"}) {
		t.Fatalf("ClaimSends(p) when d1 is due = %v, want [d1]", got)
	}
	var n int
	update(t, s, func(tx engine.Tx) error {
		var err error
		n, err = tx.RecoverSends("p")
		return err
	})
	if n != 3 {
		t.Errorf("RecoverSends(p) = %d, want 3", n)
	}
	if q := queuedSend(t, s, "d1"); q.Owner != "" || !q.Due.Equal(later) {
		t.Errorf("recovered d1 = owner %q due %v, want none, due %v", q.Owner, q.Due, later)
	}
	if got := claimAt(t, s, t0, "r", 10); !sameStrings(got, []string{"a1", "b1"}) {
		t.Errorf("ClaimSends after RecoverSends(p) = %v, want [a1 b1]: c1 is q's, d1 not due", got)
	}
	update(t, s, func(tx engine.Tx) error {
		var err error
		n, err = tx.RecoverSends("p")
		return err
	})
	if n != 0 {
		t.Errorf("RecoverSends(p) again = %d, want 0", n)
	}
}

// Enqueueing twice queues once; a send behind the head can be dequeued,
// and dequeuing the head hands it to the next one left.
func testDequeueBehindHead(t *testing.T, s engine.Store) {
	enqueue(t, s, outbound("a1", phoneA), outbound("a2", phoneA), outbound("a3", phoneA))
	enqueue(t, s, outbound("a1", phoneA))
	if got := read(t, s, func(tx engine.Tx) ([]string, error) { return tx.Outbox("", 10) }); !sameStrings(got, []string{"a1", "a2", "a3"}) {
		t.Fatalf("Outbox = %v, want [a1 a2 a3]", got)
	}
	dequeue(t, s, "a2")
	dequeue(t, s, "zz")
	if _, err := tryRead(t, s, func(tx engine.Tx) (*engine.QueuedSend, error) { return tx.QueuedSend("a2") }); !errors.Is(err, engine.ErrNotFound) {
		t.Errorf("QueuedSend of dequeued a2: err = %v, want ErrNotFound", err)
	}
	if got := claimAt(t, s, t0, "p", 10); !sameStrings(got, []string{"a1"}) {
		t.Fatalf("ClaimSends = %v, want [a1]", got)
	}
	dequeue(t, s, "a1")
	if got := claimAt(t, s, t0, "p", 10); !sameStrings(got, []string{"a3"}) {
		t.Fatalf("ClaimSends after a1 = %v, want [a3]", got)
	}
	dequeue(t, s, "a3")
	if _, err := nextSendDue(t, s); !errors.Is(err, engine.ErrNotFound) {
		t.Errorf("NextSendDue of an emptied outbox: err = %v, want ErrNotFound", err)
	}
}
