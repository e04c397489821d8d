package bolt

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/keyway-sms/keyway/automation/engine"
	"github.com/keyway-sms/keyway/config"
)

// BenchmarkEventLife times the store's work for one event, as the webhook
// and the events worker do it in groups of 64: stored with its cause,
// claimed, settled delivered. It reports the time spent inside the
// transactions per event (what the one commit loop spends, before the
// commit itself; for the add, with the inbox value the commit loop writes
// after the updates), for each step:
//
//	go test ./automation/store/bolt -run '^$' -bench EventLife
func BenchmarkEventLife(b *testing.B) {
	s, err := Open(filepath.Join(b.TempDir(), "keyway.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	cfg := &config.Config{Events: []config.EventEndpoint{{URL: "https://crm.example.com/hooks/keyway", Secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}}}
	const group = 64
	now := time.Now()
	var add, claim, settle time.Duration
	n := 0
	for b.Loop() {
		var ds []*engine.EventDelivery
		for range group {
			n++
			d, err := engine.NewEventDeliveries(cfg, now, func() string { return fmt.Sprintf("%016x%08d", now.UnixNano(), n) },
				engine.EventMessageReceived, fmt.Sprintf("+1555%07d", n%5000), map[string]any{
					"message_id": fmt.Sprintf("SM%032d", n), "body": "hours", "channel": "sms", "to": "+15005550006", "provider": "twilio"})
			if err != nil {
				b.Fatal(err)
			}
			ds = append(ds, d...)
		}
		timed := func(sum *time.Duration, fn func(engine.Tx) error) {
			err := s.Update(b.Context(), func(tx engine.Tx) error {
				start := time.Now()
				defer func() { *sum += time.Since(start) }()
				return fn(tx)
			})
			if err != nil {
				b.Fatal(err)
			}
		}
		timed(&add, func(tx engine.Tx) error {
			for _, d := range ds {
				if err := tx.AddEvent(d); err != nil {
					return err
				}
			}
			return tx.(*boltTx).flushEvents()
		})
		var claimed []*engine.EventDelivery
		timed(&claim, func(tx engine.Tx) error {
			claimed, err = tx.ClaimEvents(now.Add(time.Hour), time.Minute, "bench", group)
			return err
		})
		timed(&settle, func(tx engine.Tx) error {
			for _, d := range claimed {
				d.Status, d.Attempts, d.SettledAt = engine.EventDelivered, 1, now
				if err := tx.SettleEvent(d, "bench"); err != nil {
					return err
				}
			}
			return nil
		})
	}
	per := func(d time.Duration) float64 { return float64(d.Nanoseconds()) / float64(n) }
	b.ReportMetric(per(add), "add-ns/event")
	b.ReportMetric(per(claim), "claim-ns/event")
	b.ReportMetric(per(settle), "settle-ns/event")
}
