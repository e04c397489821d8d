package test

import (
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// scrape returns the gateway's /metrics text, scraped as Prometheus would
// on the public listener: with the admin token as a bearer token.
func scrape(t *testing.T, g *Gateway) string {
	t.Helper()
	code, body := adminRaw(t, g.URL, http.MethodGet, "/metrics", "", bearer)
	if code != http.StatusOK {
		t.Fatalf("GET /metrics: %d", code)
	}
	return body
}

// metricValue finds the sample of series (name and labels exactly as
// Prometheus prints them) and returns its value; ok is false without one.
func metricValue(text, series string) (float64, bool) {
	for _, line := range strings.Split(text, "\n") {
		if v, found := strings.CutPrefix(line, series+" "); found {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			return f, err == nil
		}
	}
	return 0, false
}

func TestMetricsOperatorsExpect(t *testing.T) {
	t.Parallel()
	g := StartGateway(t, adminConfig)
	text := scrape(t, g)
	if !regexp.MustCompile(`(?m)^keyway_build_info\{commit="[^"]*",goversion="go[^"]+",version="[^"]+"\} 1$`).MatchString(text) {
		t.Errorf("no keyway_build_info with version, commit and goversion labels:\n%s", grepLines(text, "build_info"))
	}
	// Labelled counters and gauges exist at zero from the start.
	for _, series := range []string{
		`keyway_inbound_messages_total{route="keyword"}`,
		`keyway_inbound_messages_total{route="compliance"}`,
		`keyway_webhook_requests_total{status="403"}`,
		`keyway_webhook_requests_total{status="401"}`,
		`keyway_webhook_requests_total{status="415"}`,
		`keyway_outbound_attempts_total{kind="text",result="failed"}`,
		`keyway_outbound_attempts_total{kind="email",result="retry"}`,
		`keyway_config_reloads_total{result="refused"}`,
		`keyway_enrollments_active{automation="join"}`,
		`keyway_enrollments_active{automation="promo"}`,
		`keyway_outbox_queued`,
		`keyway_outbox_retrying`,
		`keyway_outbox_set_aside_total`,
		`keyway_timers_pending`,
		`keyway_handoffs_open`,
		`keyway_inbound_messages_total{route="staff"}`,
		`keyway_inbound_messages_total{route="handoff"}`,
	} {
		if v, ok := metricValue(text, series); !ok || v != 0 {
			t.Errorf("%s = %v (present %v), want 0 at start", series, v, ok)
		}
	}

	// Twilio is down: the welcome reply stays queued and is retried; the
	// enrollment waits for a reply with a timeout timer.
	g.Twilio.FailNext(1000, 503, 0)
	const from = "+15552220060"
	g.Text(Inbound{From: from, Body: "JOIN"})
	want := map[string]float64{
		`keyway_enrollments_active{automation="join"}`:               1,
		`keyway_timers_pending`:                                      1,
		`keyway_outbox_queued`:                                       1,
		`keyway_outbox_retrying`:                                     1,
		`keyway_inbound_messages_total{route="keyword"}`:             1,
		`keyway_outbound_attempts_total{kind="text",result="retry"}`: 1,
	}
	Eventually(t, patience, "the gauges show the queued retrying send, the timer and the enrollment", func() bool {
		text = scrape(t, g)
		for series, min := range want {
			if v, _ := metricValue(text, series); v < min {
				return false
			}
		}
		return true
	})
	if v, _ := metricValue(text, `keyway_enrollments_active{automation="promo"}`); v != 0 {
		t.Errorf("promo active = %v, want 0", v)
	}
	// Twilio is back: the send drains and the outbox gauges fall to 0.
	g.Twilio.FailNext(0, 0, 0)
	g.Twilio.WaitSent(t, 1, patience)
	Eventually(t, patience, "the outbox gauges back at 0", func() bool {
		text = scrape(t, g)
		q, _ := metricValue(text, `keyway_outbox_queued`)
		r, _ := metricValue(text, `keyway_outbox_retrying`)
		return q == 0 && r == 0
	})
}

func grepLines(text, word string) string {
	var out []string
	for _, l := range strings.Split(text, "\n") {
		if strings.Contains(l, word) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
