package postgres_test

import (
	"testing"

	"github.com/keyway-sms/keyway/automation/engine"
	"github.com/keyway-sms/keyway/automation/store/postgres"
	"github.com/keyway-sms/keyway/automation/store/postgres/pgtest"
	"github.com/keyway-sms/keyway/automation/store/storetest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

func open(t testing.TB, dsn string) *postgres.Store {
	t.Helper()
	s, err := postgres.Open(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestPostgresConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) engine.Store { return open(t, pgtest.NewDatabase(t)) })
}

// The PostgreSQL Tx counts pending timers and open handoffs in the
// database, so that /metrics (gateway.storeCounts) sends no rows over.
func TestTxCountsForMetrics(t *testing.T) {
	s := open(t, pgtest.NewDatabase(t))
	err := s.View(t.Context(), func(tx engine.Tx) error {
		if _, ok := tx.(interface {
			PendingTimers() (int, error)
			OpenHandoffCount() (int, error)
		}); !ok {
			t.Errorf("%T counts no timers or handoffs: /metrics would read every one", tx)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
