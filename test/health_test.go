package test

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
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
	t.Parallel()
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
			strings.Contains(body, `keyway_webhook_requests_total{status="200"} 1`) &&
			regexp.MustCompile(`(?m)^keyway_store_commit_seconds_count [1-9]`).MatchString(body)
	})
}

// Logs hold no auth token, no full phone number and, above debug, no body.
func TestLogsKeepSecretsOut(t *testing.T) {
	t.Parallel()
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

// TestKeywayHealthCommand runs "keyway health", the probe the Docker
// image's HEALTHCHECK runs: 0 while keyway is ready, on the address its
// config listens on or on --url, and 1 once it stops or for an answer that
// is not 200.
func TestKeywayHealthCommand(t *testing.T) {
	t.Parallel()
	g := StartGateway(t, hoursConfig)
	// The running config listens on port 0; the probe reads the port it
	// got from a copy of that config.
	src, err := os.ReadFile(g.Config)
	if err != nil {
		t.Fatal(err)
	}
	addr := strings.TrimPrefix(g.URL, "http://")
	cfg := filepath.Join(t.TempDir(), "keyway.yaml")
	if err := os.WriteFile(cfg, []byte(strings.Replace(string(src), `listen: "127.0.0.1:0"`, fmt.Sprintf("listen: %q", addr), 1)), 0o600); err != nil {
		t.Fatal(err)
	}

	if code, out := Keyway(t, "", "health", "--config", cfg); code != 0 || !strings.Contains(out, "ready") || !strings.Contains(out, addr+"/readyz") {
		t.Errorf("health on a ready keyway: exit %d\n%s", code, out)
	}
	if code, out := Keyway(t, "", "health", "--url", g.URL+"/healthz"); code != 0 {
		t.Errorf("health --url /healthz: exit %d\n%s", code, out)
	}
	if code, out := Keyway(t, "", "health", "--url", g.URL+"/no-such-route"); code != 1 || !strings.Contains(out, "404") {
		t.Errorf("health on a 404: exit %d, want 1 naming the status\n%s", code, out)
	}
	if code, out := Keyway(t, "", "health", "--url", "::not a url"); code != 2 {
		t.Errorf("health with a bad --url: exit %d, want 2\n%s", code, out)
	}
	g.Stop()
	if code, out := Keyway(t, "", "health", "--config", cfg, "--timeout", "2s"); code != 1 || !strings.Contains(out, "not ready") {
		t.Errorf("health on a stopped keyway: exit %d, want 1\n%s", code, out)
	}
}
