package storetest

import (
	"errors"
	"testing"
	"time"

	"github.com/keyway-sms/keyway/automation/engine"
)

var pruneCases = []testCase{
	{"message/prune", testPruneMessages},
	{"message/prune-created-at-changes", testPruneFollowsCreatedAt},
}

// prune runs PruneMessages in one Update and returns how many it removed.
func prune(t *testing.T, s engine.Store, before time.Time, limit int) int {
	t.Helper()
	var n int
	update(t, s, func(tx engine.Tx) error {
		var err error
		n, err = tx.PruneMessages(before, limit)
		return err
	})
	return n
}

func created(m *engine.Message, at time.Time) *engine.Message {
	m.CreatedAt, m.UpdatedAt = at, at
	return m
}

// PruneMessages removes messages created before the cut, oldest first,
// a batch at a time, with their indexes; a message still in the outbox
// stays.
func testPruneMessages(t *testing.T, s engine.Store) {
	old := created(message("m0005", phoneA), t0.Add(-3*time.Hour))
	old.Provider, old.ProviderID = "twilio", "SM0005"
	queued := created(outbound("m0001", phoneA), t0.Add(-4*time.Hour))
	older := created(message("m0009", phoneB), t0.Add(-5*time.Hour))
	recent := created(message("m0002", phoneA), t0.Add(-time.Hour))
	future := created(message("m0003", phoneA), t0.Add(time.Hour))
	update(t, s, putMessages(old, queued, older, recent, future))
	enqueue(t, s, queued)

	if err := s.View(t.Context(), func(tx engine.Tx) error { _, err := tx.PruneMessages(t0, 10); return err }); err == nil {
		t.Error("PruneMessages in a View: no error")
	}
	if n := prune(t, s, t0, 0); n != 0 {
		t.Errorf("PruneMessages with limit 0 removed %d", n)
	}
	// Oldest first: m0009, then m0005; m0001 is queued and stays.
	if n := prune(t, s, t0.Add(-2*time.Hour), 1); n != 1 {
		t.Fatalf("PruneMessages(limit 1) = %d, want 1", n)
	}
	if _, err := tryRead(t, s, func(tx engine.Tx) (*engine.Message, error) { return tx.Message("m0009") }); !errors.Is(err, engine.ErrNotFound) {
		t.Errorf("the oldest message after the first batch: err = %v, want ErrNotFound", err)
	}
	if n := prune(t, s, t0.Add(-2*time.Hour), 10); n != 1 {
		t.Errorf("the second batch removed %d, want 1 (m0005; m0001 is queued)", n)
	}
	if n := prune(t, s, t0.Add(-2*time.Hour), 10); n != 0 {
		t.Errorf("a third batch removed %d, want 0", n)
	}
	if _, err := tryRead(t, s, func(tx engine.Tx) (*engine.Message, error) { return tx.MessageByProviderID("twilio", "SM0005") }); !errors.Is(err, engine.ErrNotFound) {
		t.Errorf("MessageByProviderID of a pruned message: err = %v, want ErrNotFound", err)
	}
	got := read(t, s, func(tx engine.Tx) ([]*engine.Message, error) { return tx.Messages(phoneA, 10) })
	if !sameStrings(messageIDs(got), []string{"m0003", "m0002", "m0001"}) {
		t.Errorf("after pruning, Messages(A) = %v, want [m0003 m0002 m0001]", messageIDs(got))
	}
	if got := read(t, s, func(tx engine.Tx) ([]*engine.Message, error) { return tx.Messages(phoneB, 10) }); len(got) != 0 {
		t.Errorf("after pruning, Messages(B) = %v, want none", messageIDs(got))
	}
	// Once settled, the queued message goes too.
	update(t, s, func(tx engine.Tx) error { return tx.Dequeue("m0001") })
	if n := prune(t, s, t0, 10); n != 2 {
		t.Errorf("after the send settled, PruneMessages(t0) = %d, want 2 (m0001, m0002)", n)
	}
	got = read(t, s, func(tx engine.Tx) ([]*engine.Message, error) { return tx.Messages(phoneA, 10) })
	if !sameStrings(messageIDs(got), []string{"m0003"}) {
		t.Errorf("Messages(A) = %v, want [m0003]", messageIDs(got))
	}
}

// A message put again with another CreatedAt is pruned by the new one.
func testPruneFollowsCreatedAt(t *testing.T, s engine.Store) {
	m := created(message("m0001", phoneA), t0.Add(-time.Hour))
	update(t, s, putMessages(m))
	update(t, s, putMessages(created(message("m0001", phoneA), t0.Add(time.Hour))))
	if n := prune(t, s, t0, 10); n != 0 {
		t.Errorf("PruneMessages removed %d, want 0: the message was put again as newer", n)
	}
	if _, err := tryRead(t, s, func(tx engine.Tx) (*engine.Message, error) { return tx.Message("m0001") }); err != nil {
		t.Errorf("Message: %v", err)
	}
}
