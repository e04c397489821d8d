package test

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

func TestHealthReadinessAndMetrics(t *testing.T) {
	g := StartGateway(t, hoursConfig)
	if code, _ := get(t, g.URL+"/healthz"); code != http.StatusOK {
		t.Errorf("healthz: %d", code)
	}
	if code, body := get(t, g.URL+"/readyz"); code != http.StatusOK || !strings.Contains(body, "true") {
		t.Errorf("readyz: %d %s", code, body)
	}
	g.Text(Inbound{From: "+15556660001", Body: "hours"})
	g.Twilio.WaitSent(t, 1, patience)
	Eventually(t, patience, "metrics counting the message and the send", func() bool {
		body := scrape(t, g)
		return strings.Contains(body, `keyway_inbound_messages_total{route="keyword"} 1`) &&
			strings.Contains(body, `keyway_outbound_attempts_total{kind="text",result="sent"} 1`) &&
			strings.Contains(body, `keyway_webhook_requests_total{status="200"} 1`)
	})
}

// Logs hold no auth token, no full phone number and, above debug, no body.
func TestLogsKeepSecretsOut(t *testing.T) {
	g := StartGateway(t, hoursConfig)
	g.Stop()
	g.cmdArgs = []string{"--log-level", "info"}
	g.Start()
	g.Text(Inbound{From: "+15556660002", Body: "hours"})
	g.Twilio.WaitSent(t, 1, patience)
	g.Stop()
	logs := g.Logs()
	for _, secret := range []string{g.Twilio.AuthToken, AdminToken, "+15556660002", "Open 7-6"} {
		if strings.Contains(logs, secret) {
			t.Errorf("info logs contain %q:\n%s", secret, logs)
		}
	}
	if !strings.Contains(logs, "+15*******02") {
		t.Errorf("info logs lack the masked number:\n%s", logs)
	}
}
