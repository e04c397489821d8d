package gateway

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/keyway-sms/keyway/automation/engine"
	"github.com/keyway-sms/keyway/automation/store/mem"
)

// outboxCountStore is a memory store whose read transactions count the
// outbox in one call (OutboxCounts, as PostgreSQL's do with one query)
// and count the messages read one by one.
type outboxCountStore struct {
	engine.Store
	reads atomic.Int64
}

type outboxCountTx struct {
	engine.Tx
	s *outboxCountStore
}

func (s *outboxCountStore) View(ctx context.Context, fn func(engine.Tx) error) error {
	return s.Store.View(ctx, func(tx engine.Tx) error { return fn(outboxCountTx{Tx: tx, s: s}) })
}

func (t outboxCountTx) Message(id string) (*engine.Message, error) {
	t.s.reads.Add(1)
	return t.Tx.Message(id)
}

func (t outboxCountTx) OutboxCounts() (queued, retrying int, err error) { return 7, 3, nil }

// A scrape of a store that counts its outbox takes the counts from it and
// reads no queued message one by one: on PostgreSQL each read was a round
// trip, so a scrape during a backlog of 100,000 made 100,000.
func TestMetricsTakeTheOutboxCountsFromTheStore(t *testing.T) {
	st := &outboxCountStore{Store: mem.NewMemStore()}
	g := devGateway(t, st, "")
	t.Cleanup(func() { st.Close() })
	err := st.Update(t.Context(), func(tx engine.Tx) error {
		m := &engine.Message{ID: "m1", Direction: engine.Outbound, Kind: engine.KindText, Contact: "+15550001111",
			From: "+15005550006", To: []string{"+15550001111"}, Body: "hi", Status: engine.StatusQueued}
		if err := tx.PutMessage(m); err != nil {
			return err
		}
		return tx.Enqueue(m)
	})
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(newStoreCollector(g))
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, f := range families {
		for _, m := range f.GetMetric() {
			got[f.GetName()] = m.GetGauge().GetValue()
		}
	}
	if got["keyway_outbox_queued"] != 7 || got["keyway_outbox_retrying"] != 3 {
		t.Errorf("keyway_outbox_queued %v, keyway_outbox_retrying %v; want the store's counts, 7 and 3", got["keyway_outbox_queued"], got["keyway_outbox_retrying"])
	}
	if n := st.reads.Load(); n != 0 {
		t.Errorf("the scrape read %d messages one by one, want none", n)
	}
}
