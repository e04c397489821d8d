package gateway

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// metrics are the gateway's Prometheus metrics, on a registry of its own.
type metrics struct {
	registry *prometheus.Registry
	inbound  *prometheus.CounterVec // by route taken
	webhooks *prometheus.CounterVec // by HTTP status answered
	latency  prometheus.Histogram   // webhook handling time
	commits  prometheus.Histogram   // store commit time (bbolt)
	sends    *prometheus.CounterVec // outbound attempts by kind and result
	timers   prometheus.Counter     // timers fired
	setAside prometheus.Counter     // sends set aside: their outcome could not be recorded
	reloads  *prometheus.CounterVec // config reloads by result
	// reloadOK is 1 while the last config load (at start or reload)
	// succeeded, 0 after a refused reload.
	reloadOK prometheus.Gauge
	// reloadTime is when the running config was loaded, in Unix seconds.
	reloadTime prometheus.Gauge
	// configInfo is 1 with the running config's hash as label, so that
	// operators can see a process running another file than the rest.
	configInfo *prometheus.GaugeVec
	// authFailures counts requests refused for a missing or wrong admin
	// token, by where they came (api, dashboard, metrics), and those from
	// an address that failed too often (limited: a login refused 429
	// unchecked, or a wrong bearer token refused 401 without a log line).
	authFailures *prometheus.CounterVec
}

// commitObserver is a store that tells the wall time of each of its
// commits (the bbolt store, whose one writer every update waits for).
type commitObserver interface {
	ObserveCommits(func(time.Duration))
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
		commits: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "keyway_store_commit_seconds", Help: "Wall time of each commit of the bbolt store's one writer: a group of updates, their page writes and the sync to disk.",
			Buckets: []float64{0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5},
		}),
		sends: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "keyway_outbound_attempts_total", Help: "Outbound send attempts, by kind (text, email) and result (sent, retry, failed).",
		}, []string{"kind", "result"}),
		timers: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "keyway_timers_fired_total", Help: "Stored timers fired (waits, reply timeouts, expiries, step I/O).",
		}),
		setAside: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "keyway_outbox_set_aside_total", Help: "Sends taken out of the outbox because the store refused to record their outcome; the reason is on the message and in the log.",
		}),
		reloads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "keyway_config_reloads_total", Help: "Config reloads, by result (ok, refused).",
		}, []string{"result"}),
		// Prometheus' own names for these, so that the usual alerts work.
		reloadOK: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "keyway_config_last_reload_successful", Help: "Whether the last config load, at start or reload, succeeded (1) or was refused (0).",
		}),
		reloadTime: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "keyway_config_last_reload_success_timestamp_seconds", Help: "When the running config was loaded, at start or by the last successful reload.",
		}),
		configInfo: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "keyway_config_info", Help: "1, with the SHA-256 of the running config file as the hash label.",
		}, []string{"hash"}),
		authFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "keyway_auth_failures_total", Help: "Requests refused for a missing or wrong admin token, by where they came (api, dashboard, metrics) and result (missing, wrong, limited).",
		}, []string{"via", "result"}),
	}
	m.registry.MustRegister(m.inbound, m.webhooks, m.latency, m.commits, m.sends, m.timers, m.setAside, m.reloads, m.reloadOK, m.reloadTime, m.configInfo, m.authFailures,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// configLoaded records a config load: a success (at start or on reload)
// sets the flag, the time and the running config's hash; a refused reload
// clears the flag.
func (m *metrics) configLoaded(ok bool, hash string) {
	if !ok {
		m.reloadOK.Set(0)
		return
	}
	m.reloadOK.Set(1)
	m.reloadTime.SetToCurrentTime()
	m.configInfo.Reset()
	m.configInfo.WithLabelValues(hash).Set(1)
}
