package gateway

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/keyway-sms/keyway/automation/engine"
	"github.com/keyway-sms/keyway/automation/events"
	"github.com/keyway-sms/keyway/config"
)

// newEvents builds the worker that delivers the events of `events:`,
// counting each attempt's result per endpoint on /metrics as
// keyway_event_deliveries_total.
func (g *Gateway) newEvents(owner string) *events.Worker {
	counts := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "keyway_event_deliveries_total",
		Help: "Attempts to deliver an event to an endpoint of events:, by endpoint (scheme, host and path) and result: delivered, retrying (not delivered, to be tried again) or failed (given up).",
	}, []string{"endpoint", "result"})
	g.metrics.registry.MustRegister(counts)
	for _, ep := range g.cfg.Load().Events {
		for _, r := range []string{events.ResultDelivered, events.ResultRetrying, events.ResultFailed} {
			counts.WithLabelValues(events.Endpoint(ep.URL), r)
		}
	}
	return events.New(events.Options{
		Store: g.store, Config: func() *config.Config { return g.cfg.Load() },
		Logger: g.log, Owner: owner,
		OnResult: func(endpoint, result string) { counts.WithLabelValues(endpoint, result).Inc() },
	})
}

// failedEvent stores message.failed about m in the outbox's transaction.
func (g *Gateway) failedEvent(tx engine.EventAdder, m *engine.Message) error {
	return g.engine.MessageFailedEvent(tx, m)
}
