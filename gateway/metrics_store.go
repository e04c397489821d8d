package gateway

import (
	"context"
	"math"
	"runtime"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/keyway-sms/keyway/automation/engine"
)

// storeCollector computes the gauges that describe stored state on every
// scrape, from the store, so that they hold across restarts and across
// processes sharing one database: sends queued and retrying, pending
// timers, active enrollments per automation.
type storeCollector struct {
	g       *Gateway
	queued  *prometheus.Desc
	retry   *prometheus.Desc
	timers  *prometheus.Desc
	active  *prometheus.Desc
	handoff *prometheus.Desc
	scrapeE *prometheus.Desc
}

func newStoreCollector(g *Gateway) *storeCollector {
	return &storeCollector{
		g:       g,
		queued:  prometheus.NewDesc("keyway_outbox_queued", "Sends in the outbox: queued, not yet sent or settled.", nil, nil),
		retry:   prometheus.NewDesc("keyway_outbox_retrying", "Sends in the outbox that failed at least once and wait to be tried again.", nil, nil),
		timers:  prometheus.NewDesc("keyway_timers_pending", "Stored timers (waits, reply timeouts, expiries, step I/O) not yet fired, held ones of paused automations aside.", nil, nil),
		active:  prometheus.NewDesc("keyway_enrollments_active", "Active enrollments, by automation.", []string{"automation"}, nil),
		handoff: prometheus.NewDesc("keyway_handoffs_open", "Open handoffs: conversations a person has taken over.", nil, nil),
		scrapeE: prometheus.NewDesc("keyway_store_scrape_error", "1 when the last scrape could not read the store (the store gauges are then missing).", nil, nil),
	}
}

// Describe implements prometheus.Collector.
func (s *storeCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{s.queued, s.retry, s.timers, s.active, s.handoff, s.scrapeE} {
		ch <- d
	}
}

// storeCounts is implemented by a Tx that can count without reading every
// pending timer and active enrollment: the bbolt store keeps counters as it
// writes, so that a scrape reads a few keys; the PostgreSQL store runs
// COUNT queries in the database. A million waits cost a scrape about as
// much as ten.
type storeCounts interface {
	PendingTimers() (int, error)
	OpenHandoffCount() (int, error)
}

// outboxCounts is implemented by a Tx that counts the queued sends and
// those retrying without reading each message: the PostgreSQL store, where
// each read is a round trip, so that a scrape during a backlog of 100,000
// is one query rather than 100,000.
type outboxCounts interface {
	OutboxCounts() (queued, retrying int, err error)
}

// scanOutbox counts the queued sends and those that failed at least once
// by reading each one's message.
func scanOutbox(tx adminTx) (queued, retrying int, err error) {
	ids, err := tx.Outbox("", 0)
	if err != nil {
		return 0, 0, err
	}
	for _, id := range ids {
		m, err := tx.Message(id)
		if err != nil {
			return 0, 0, err
		}
		if m.Attempts > 0 {
			retrying++
		}
	}
	return len(ids), retrying, nil
}

// Collect implements prometheus.Collector: one read transaction. Its cost
// grows with the outbox, which stays small while sends drain, and, on a
// store that keeps no counts, with the pending timers and the active
// enrollments.
func (s *storeCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var queued, retrying, timers, handoffs int
	var counts map[string]int
	err := s.g.view(ctx, func(tx adminTx) error {
		var err error
		if c, ok := tx.(outboxCounts); ok {
			queued, retrying, err = c.OutboxCounts()
		} else {
			queued, retrying, err = scanOutbox(tx)
		}
		if err != nil {
			return err
		}
		counts, err = tx.CountActive()
		if err != nil {
			return err
		}
		if c, ok := tx.(storeCounts); ok {
			if timers, err = c.PendingTimers(); err != nil {
				return err
			}
			handoffs, err = c.OpenHandoffCount()
			return err
		}
		due, err := tx.DueTimers(time.Unix(0, math.MaxInt64), math.MaxInt32) // the last instant a store's timer key holds
		if err != nil {
			return err
		}
		timers = len(due)
		open, err := engine.OpenHandoffs(tx)
		handoffs = len(open)
		return err
	})
	if err != nil {
		s.g.log.Error().Err(err).Msg("metrics: read the store")
		ch <- prometheus.MustNewConstMetric(s.scrapeE, prometheus.GaugeValue, 1)
		return
	}
	ch <- prometheus.MustNewConstMetric(s.scrapeE, prometheus.GaugeValue, 0)
	ch <- prometheus.MustNewConstMetric(s.queued, prometheus.GaugeValue, float64(queued))
	ch <- prometheus.MustNewConstMetric(s.retry, prometheus.GaugeValue, float64(retrying))
	ch <- prometheus.MustNewConstMetric(s.timers, prometheus.GaugeValue, float64(timers))
	ch <- prometheus.MustNewConstMetric(s.handoff, prometheus.GaugeValue, float64(handoffs))
	// Every configured automation has a value, 0 included; one removed
	// from the config still shows while enrollments of it are stored.
	for _, a := range s.g.engine.Set().Automations() {
		if _, ok := counts[a.ID]; !ok {
			counts[a.ID] = 0
		}
	}
	for id, n := range counts {
		ch <- prometheus.MustNewConstMetric(s.active, prometheus.GaugeValue, float64(n), id)
	}
}

// buildInfo is keyway_build_info: 1, labelled with what was built.
func buildInfo(version, commit string) prometheus.Collector {
	if version == "" {
		version = "dev"
	}
	g := prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "keyway_build_info", Help: "Always 1; its labels say which keyway runs.",
		ConstLabels: prometheus.Labels{"version": version, "commit": commit, "goversion": runtime.Version()},
	})
	g.Set(1)
	return g
}

// zeroCounters creates every label value the gateway's counters know in
// advance, so that each series exists at 0 from the start and rate() and
// alerts see the first increment.
func (m *metrics) zeroCounters() {
	for _, route := range []string{engine.ViaCompliance, engine.ViaKeyword, engine.ViaReply, engine.ViaCatchAll, engine.ViaStored, engine.ViaStaff, engine.ViaHandoff, "duplicate"} {
		m.inbound.WithLabelValues(route)
	}
	for _, status := range []string{"200", "400", "401", "403", "413", "415", "500"} {
		m.webhooks.WithLabelValues(status)
	}
	for _, kind := range []engine.Kind{engine.KindText, engine.KindEmail} {
		for _, result := range []string{"sent", "retry", "failed"} {
			m.sends.WithLabelValues(string(kind), result)
		}
	}
	for _, result := range []string{"ok", "refused"} {
		m.reloads.WithLabelValues(result)
	}
	for _, via := range []string{authAPI, authDashboard, authMetrics} {
		for _, result := range []string{"missing", "wrong", "limited"} {
			m.authFailures.WithLabelValues(via, result)
		}
	}
}
