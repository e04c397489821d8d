package gateway

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// metrics are the gateway's Prometheus metrics, on a registry of its own.
type metrics struct {
	registry *prometheus.Registry
	inbound  *prometheus.CounterVec // by route taken
	webhooks *prometheus.CounterVec // by HTTP status answered
	latency  prometheus.Histogram   // webhook handling time
	sends    *prometheus.CounterVec // outbound attempts by kind and result
	timers   prometheus.Counter     // timers fired
	reloads  *prometheus.CounterVec // config reloads by result
}

func newMetrics() *metrics {
	m := &metrics{
		registry: prometheus.NewRegistry(),
		inbound: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "keyway_inbound_messages_total", Help: "Inbound messages handled, by the route they took.",
		}, []string{"route"}),
		webhooks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "keyway_webhook_requests_total", Help: "Inbound webhook requests, by HTTP status answered.",
		}, []string{"status"}),
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "keyway_webhook_duration_seconds", Help: "Time to verify, handle and durably commit an inbound webhook.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14),
		}),
		sends: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "keyway_outbound_attempts_total", Help: "Outbound send attempts, by kind (text, email) and result (sent, retry, failed).",
		}, []string{"kind", "result"}),
		timers: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "keyway_timers_fired_total", Help: "Stored timers fired (waits, reply timeouts, expiries, step I/O).",
		}),
		reloads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "keyway_config_reloads_total", Help: "Config reloads, by result (ok, refused).",
		}, []string{"result"}),
	}
	m.registry.MustRegister(m.inbound, m.webhooks, m.latency, m.sends, m.timers, m.reloads,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}
