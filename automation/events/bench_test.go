package events_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/keyway-sms/keyway/automation/engine"
	"github.com/keyway-sms/keyway/automation/events"
	"github.com/keyway-sms/keyway/automation/store/bolt"
	"github.com/keyway-sms/keyway/config"
)

// BenchmarkDeliver10000 stores 10,000 events, one for each of 10,000
// contacts, in a bbolt file, then times the worker posting them all to a
// local receiver that answers 200 (docs/performance.md: within 10 s).
//
//	go test ./automation/events -run '^$' -bench Deliver10000 -benchtime 1x
func BenchmarkDeliver10000(b *testing.B) {
	const n = 10000
	var got atomic.Int64
	r := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got.Add(1) }))
	b.Cleanup(r.Close)
	cfg := endpointConfig(r.URL)
	for range b.N {
		b.StopTimer()
		store, err := bolt.Open(filepath.Join(b.TempDir(), "keyway.db"))
		if err != nil {
			b.Fatal(err)
		}
		now := time.Now()
		for i := 0; i < n; i += 500 {
			err := store.Update(b.Context(), func(tx engine.Tx) error {
				for j := i; j < i+500; j++ {
					ds, err := engine.NewEventDeliveries(cfg, now, func() string { return fmt.Sprintf("%016x%06d", now.UnixNano(), j) },
						engine.EventMessageReceived, fmt.Sprintf("+1555%07d", j), map[string]any{"body": "hello"})
					if err != nil {
						return err
					}
					if err := tx.AddEvent(ds[0]); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				b.Fatal(err)
			}
		}
		got.Store(0)
		w := events.New(events.Options{Store: store, Config: func() *config.Config { return cfg }, Client: r.Client(), Logger: zerolog.Nop(), Owner: "bench"})
		b.StartTimer()
		start := time.Now()
		for got.Load() < n {
			if _, err := w.Pass(b.Context()); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(n)/time.Since(start).Seconds(), "events/s")
		b.StopTimer()
		store.Close()
	}
}
