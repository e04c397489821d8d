package postgres_test

import (
	"slices"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/keyway-sms/keyway/automation/engine"
	"github.com/keyway-sms/keyway/automation/store/postgres/pgtest"
)

// Processes on machines whose clocks differ make event ids out of the
// order they store the events in: a contact's messages handled in turn by
// three of them may get events whose ids sort 1, 3, 2. Each event is
// delivered in the order it was stored, not in the order of its id, with
// a store per process on the one database.
func TestPostgresEventQueueKeepsTheOrderAdded(t *testing.T) {
	dsn := pgtest.NewDatabase(t)
	procs := []engine.Store{open(t, dsn), open(t, dsn), open(t, dsn)}
	t0 := time.Date(2030, 3, 4, 5, 6, 7, 0, time.UTC)
	added := []string{"0000000000000100aaaaaa", "0000000000000300cccccc", "0000000000000200bbbbbb"}
	for i, id := range added {
		d := &engine.EventDelivery{
			ID: id, Endpoint: "https://crm.example.com/hooks/keyway", Contact: "+15550001", Type: engine.EventMessageReceived,
			Body: []byte(`{"type":"message.received"}`), CreatedAt: t0, Status: engine.EventPending, Due: t0,
		}
		if err := procs[i].Update(t.Context(), func(tx engine.Tx) error { return tx.AddEvent(d) }); err != nil {
			t.Fatalf("add %s: %v", id, err)
		}
	}
	var delivered []string
	for i := range added {
		s := procs[i%len(procs)]
		var got []*engine.EventDelivery
		err := s.Update(t.Context(), func(tx engine.Tx) error {
			var err error
			got, err = tx.ClaimEvents(t0, time.Minute, "node", 10)
			return err
		})
		if err != nil || len(got) != 1 {
			t.Fatalf("claim %d: %d claimed, %v; want the one head", i, len(got), err)
		}
		d := got[0]
		delivered = append(delivered, d.ID)
		d.Status, d.Attempts, d.SettledAt = engine.EventDelivered, 1, t0
		if err := s.Update(t.Context(), func(tx engine.Tx) error { return tx.SettleEvent(d, "node") }); err != nil {
			t.Fatalf("settle %s: %v", d.ID, err)
		}
	}
	if !slices.Equal(delivered, added) {
		t.Errorf("delivered %q, want the order added %q", delivered, added)
	}
}

// A database whose events and sends were queued before the order added
// was kept (schema version 12) keeps those queued in the order of their
// ids, as they went out so far, after the upgrade; those added after come
// last.
func TestPostgresQueueOrderKeptAcrossTheUpgrade(t *testing.T) {
	dsn := pgtest.NewDatabase(t)
	open(t, dsn).Close()
	conn, err := pgx.Connect(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(t.Context())
	exec := func(q string) {
		t.Helper()
		if _, err := conn.Exec(t.Context(), q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	ids := func(q string) []string {
		t.Helper()
		rows, err := conn.Query(t.Context(), q)
		if err != nil {
			t.Fatal(err)
		}
		out, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	// Back to version 12, with a delivered event and two pending ones of
	// one queue, and two sends of one queue, the second stored first.
	exec(`ALTER TABLE events DROP COLUMN seq`)
	exec(`CREATE INDEX events_queue ON events (queue, id) WHERE pending`)
	exec(`ALTER TABLE outbox DROP COLUMN seq`)
	exec(`CREATE INDEX outbox_queue ON outbox (queue, message_id)`)
	exec(`UPDATE keyway_schema SET version = 12`)
	exec(`INSERT INTO events (id, queue, pending, head, claimable_ns, settled_ns, data, body) VALUES
		('0000000000000050eeeeee', 'q', false, false, 0, 1, '{}', ''),
		('0000000000000200bbbbbb', 'q', true, false, 0, 0, '{}', ''),
		('0000000000000100aaaaaa', 'q', true, true, 0, 0, '{}', '')`)
	exec(`INSERT INTO outbox (message_id, queue, due_ns, lease_ns, head, claimable_ns) VALUES
		('0000000000000200bbbbbb', 'q', 0, 0, false, 0),
		('0000000000000100aaaaaa', 'q', 0, 0, true, 0)`)
	open(t, dsn).Close()
	exec(`INSERT INTO events (id, queue, pending, head, claimable_ns, settled_ns, data, body) VALUES
		('0000000000000010dddddd', 'q', true, false, 0, 0, '{}', '')`)
	exec(`INSERT INTO outbox (message_id, queue, due_ns, lease_ns, head, claimable_ns) VALUES
		('0000000000000010dddddd', 'q', 0, 0, false, 0)`)
	want := []string{"0000000000000100aaaaaa", "0000000000000200bbbbbb", "0000000000000010dddddd"}
	if got := ids(`SELECT id FROM events WHERE queue = 'q' AND pending ORDER BY seq`); !slices.Equal(got, want) {
		t.Errorf("the event queue after the upgrade: %q, want %q", got, want)
	}
	if got := ids(`SELECT message_id FROM outbox WHERE queue = 'q' ORDER BY seq`); !slices.Equal(got, want) {
		t.Errorf("the send queue after the upgrade: %q, want %q", got, want)
	}
}

// The sends to one recipient, queued in turn by three processes whose
// clocks differ (their ids sort 1, 3, 2), go out in the order they were
// queued, not in the order of their ids.
func TestPostgresSendQueueKeepsTheOrderAdded(t *testing.T) {
	dsn := pgtest.NewDatabase(t)
	procs := []engine.Store{open(t, dsn), open(t, dsn), open(t, dsn)}
	queued := []string{"0000000000000100aaaaaa", "0000000000000300cccccc", "0000000000000200bbbbbb"}
	for i, id := range queued {
		m := &engine.Message{ID: id, Direction: engine.Outbound, Kind: engine.KindText, Channel: "sms", To: []string{"+15550001"}}
		if err := procs[i].Update(t.Context(), func(tx engine.Tx) error { return tx.Enqueue(m) }); err != nil {
			t.Fatalf("enqueue %s: %v", id, err)
		}
	}
	var sent []string
	for i := range queued {
		s := procs[i%len(procs)]
		var got []string
		err := s.Update(t.Context(), func(tx engine.Tx) error {
			var err error
			if got, err = tx.ClaimSends(time.Now(), time.Minute, "node", 10); err != nil || len(got) != 1 {
				return err
			}
			return tx.Dequeue(got[0])
		})
		if err != nil || len(got) != 1 {
			t.Fatalf("claim %d: claimed %q, %v; want the one head", i, got, err)
		}
		sent = append(sent, got[0])
	}
	if !slices.Equal(sent, queued) {
		t.Errorf("sent %q, want the order queued %q", sent, queued)
	}
}
