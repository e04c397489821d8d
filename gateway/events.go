package gateway

import (
	"sync/atomic"
	"time"

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
		Logger: g.log, Owner: owner, Busy: func() bool { return g.load.busy(time.Now()) },
		OnResult: func(endpoint, result string) { counts.WithLabelValues(endpoint, result).Inc() },
	})
}

// failedEvent stores message.failed about m in the outbox's transaction.
func (g *Gateway) failedEvent(tx engine.EventAdder, m *engine.Message) error {
	return g.engine.MessageFailedEvent(tx, m)
}

// The gateway counts as busy (events.Options.Busy) from the moment
// busyWebhooks webhooks are being handled at once until busyFor after the
// last moment they were: webhooks then wait on each other's commits, and
// what the events worker would take of the CPU and of the store's writer
// comes off their rate. busyFor bridges the instants between two commits
// when few are under way.
const (
	busyWebhooks = 16
	busyFor      = 250 * time.Millisecond
)

// webhookLoad tracks the webhooks being handled.
type webhookLoad struct {
	handling atomic.Int64
	busyAt   atomic.Int64 // Unix nanoseconds of the last moment busyWebhooks were handled at once
}

// enter counts a webhook handled from now until the returned func is
// called.
func (l *webhookLoad) enter(now time.Time) (done func()) {
	if l.handling.Add(1) >= busyWebhooks {
		l.busyAt.Store(now.UnixNano())
	}
	return func() { l.handling.Add(-1) }
}

// busy reports whether busyWebhooks webhooks were handled at once within
// busyFor of now.
func (l *webhookLoad) busy(now time.Time) bool {
	at := l.busyAt.Load()
	return at != 0 && now.Sub(time.Unix(0, at)) < busyFor
}
