package test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// guardConfig has an automation that leaves its contact waiting for a
// reply, and one that answers at once.
const guardConfig = `
automations:
  - id: signup
    keywords: [JOIN]
    steps:
      - { type: reply, text: "What is your name?" }
      - { type: wait_for_reply, save_as: name }
      - { type: reply, text: "Thanks {{ vars.name }}" }
  - id: hours
    keywords: [HOURS]
    steps: [ { type: reply, text: "v1" } ]
`

const emptyConfigProblem = ":1:1: the configuration is empty"

// runKeywayIn runs the binary with args in dir and returns its exit code and
// output; it fails the test if keyway is still running after 30s (a serve
// that started instead of refusing its config).
func runKeywayIn(t *testing.T, dir string, args ...string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, args...)
	cmd.Dir = dir
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("keyway %v still ran after 30s:\n%s", args, out.String())
	}
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		return ee.ExitCode(), out.String()
	case err != nil:
		t.Fatalf("run keyway %v: %v", args, err)
	}
	return 0, out.String()
}

func TestServeAndValidateRefuseAnEmptyFile(t *testing.T) {
	t.Parallel()
	for name, body := range map[string]string{
		"zero bytes":    "",
		"whitespace":    "\n   \n\n",
		"comments only": "# keyway config, to be written\n",
		"null document": "---\n~\n",
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "keyway.yaml")
			if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
				t.Fatal(err)
			}
			code, out := runKeywayIn(t, dir, "serve", "--config", path)
			if code == 0 || !strings.Contains(out, path+emptyConfigProblem) || !strings.Contains(out, "nothing started") {
				t.Errorf("serve: exit %d, want non-zero with %q:\n%s", code, path+emptyConfigProblem, out)
			}
			if _, err := os.Stat(filepath.Join(dir, "data")); err == nil {
				t.Errorf("serve opened storage for an empty config")
			}
			code, out = runKeywayIn(t, dir, "validate", "--config", path)
			if code != 1 || !strings.Contains(out, path+emptyConfigProblem) {
				t.Errorf("validate: exit %d, want 1 with %q:\n%s", code, path+emptyConfigProblem, out)
			}
		})
	}
}

// refusedProblems returns the problems the gateway logged for refused
// reloads, in order, from its JSON log lines in logs.
func refusedProblems(t *testing.T, logs string) []string {
	t.Helper()
	var out []string
	sc := bufio.NewScanner(strings.NewReader(logs))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		var line struct {
			Level   string `json:"level"`
			Message string `json:"message"`
			Problem string `json:"problem"`
		}
		if json.Unmarshal(sc.Bytes(), &line) == nil && line.Message == "reload refused" && line.Problem != "" {
			if line.Level != "error" {
				t.Errorf("a refused reload's problem logged at %q: %s", line.Level, sc.Text())
			}
			out = append(out, line.Problem)
		}
	}
	return out
}

// waitRefused waits until the gateway logged, after the first `after` bytes
// of its log, a refused reload problem starting with each of want.
func waitRefused(t *testing.T, g *Gateway, after int, want ...string) {
	t.Helper()
	Eventually(t, 10*time.Second, fmt.Sprintf("refused reload problems %q logged", want), func() bool {
		got := refusedProblems(t, g.Logs()[after:])
		for _, w := range want {
			found := false
			for _, p := range got {
				found = found || strings.HasPrefix(p, w)
			}
			if !found {
				return false
			}
		}
		return true
	})
}

// placeOf returns FILE:LINE:COL of the first occurrence of needle in the
// gateway's config file.
func placeOf(t *testing.T, g *Gateway, needle string) string {
	t.Helper()
	data, err := os.ReadFile(g.Config)
	if err != nil {
		t.Fatal(err)
	}
	for i, line := range strings.Split(string(data), "\n") {
		if col := strings.Index(line, needle); col >= 0 {
			return fmt.Sprintf("%s:%d:%d", g.Config, i+1, col+1)
		}
	}
	t.Fatalf("%q is not in the config:\n%s", needle, data)
	return ""
}

// reloadMetrics returns the two last-reload gauges from /metrics.
func reloadMetrics(t *testing.T, g *Gateway) (ok, when float64) {
	t.Helper()
	body := scrape(t, g)
	values := map[string]float64{}
	var err error
	for _, line := range strings.Split(body, "\n") {
		name, v, found := strings.Cut(line, " ")
		if found && strings.HasPrefix(name, "keyway_config_last_reload_") {
			if values[name], err = strconv.ParseFloat(v, 64); err != nil {
				t.Fatalf("metric line %q: %v", line, err)
			}
		}
	}
	ok, okFound := values["keyway_config_last_reload_successful"]
	when, whenFound := values["keyway_config_last_reload_success_timestamp_seconds"]
	if !okFound || !whenFound {
		t.Fatalf("/metrics lacks the last-reload gauges:\n%s", body)
	}
	return ok, when
}

// joinAndWait enrolls contact in signup and waits until it stands at the
// wait_for_reply step.
func joinAndWait(t *testing.T, g *Gateway, contact string) {
	t.Helper()
	g.Text(Inbound{From: contact, Body: "JOIN"})
	if got := repliesTo(t, g, contact, 1); got[0] != "What is your name?" {
		t.Fatalf("JOIN answered %q", got)
	}
	Eventually(t, 10*time.Second, "the signup enrollment waits for a reply", func() bool {
		ens := g.Enrollments("signup", contact)
		return len(ens) == 1 && ens[0].Status == "waiting_reply"
	})
}

func TestTruncatedConfigIsRefusedAndEnrollmentsGoOn(t *testing.T) {
	t.Parallel()
	g := StartGateway(t, guardConfig)
	const ann = "+15554450001"
	joinAndWait(t, g, ann)

	if err := os.WriteFile(g.Config, nil, 0o600); err != nil { // truncated, as by a deploy under way
		t.Fatal(err)
	}
	waitRefused(t, g, 0, g.Config+emptyConfigProblem)

	if got := replyTo(t, g, "+15554450002"); got != "v1" {
		t.Fatalf("after a refused empty file HOURS is answered %q", got)
	}
	ens := g.Enrollments("signup", ann) // the admin API is still on
	if len(ens) != 1 || ens[0].Status != "waiting_reply" {
		t.Fatalf("the enrollment did not survive the empty file: %+v", ens)
	}
	g.Text(Inbound{From: ann, Body: "Ann"})
	if got := repliesTo(t, g, ann, 2); got[1] != "Thanks Ann" {
		t.Fatalf("the waiting enrollment answered %q", got)
	}
	if ok, _ := reloadMetrics(t, g); ok != 0 {
		t.Errorf("keyway_config_last_reload_successful = %v after a refused reload, want 0", ok)
	}
}

func TestReloadRefusesRemovingEveryAutomationWhileEnrolled(t *testing.T) {
	t.Parallel()
	g := StartGateway(t, guardConfig)
	const bob = "+15554450011"
	joinAndWait(t, g, bob)

	g.WriteConfig("automations: []\n")
	want := placeOf(t, g, "[]") + ": the file has no automations, and applying it would end 1 active enrollment(s); " +
		"to remove every automation on purpose, set allow_empty_automations: true at top level"
	var out struct {
		Problems []string `json:"problems"`
	}
	if code := g.Admin(http.MethodPost, "/api/v1/reload", nil, &out); code != http.StatusUnprocessableEntity {
		t.Fatalf("reload with no automations and an active enrollment: %d, want 422", code)
	}
	if !slices.Contains(out.Problems, want) {
		t.Fatalf("problems %q, want %q among them", out.Problems, want)
	}
	waitRefused(t, g, 0, want)
	if got := replyTo(t, g, "+15554450012"); got != "v1" {
		t.Fatalf("after the refused reload HOURS is answered %q", got)
	}
	if ens := g.Enrollments("signup", bob); len(ens) != 1 || ens[0].Status != "waiting_reply" {
		t.Fatalf("the enrollment did not survive the refused reload: %+v", ens)
	}

	g.WriteConfig("allow_empty_automations: true\nautomations: []\n")
	var applied struct {
		Problems []string `json:"problems"`
	}
	if code := g.Admin(http.MethodPost, "/api/v1/reload", nil, &applied); code != http.StatusOK {
		t.Fatalf("reload with allow_empty_automations: %d (%q), want 200", code, applied.Problems)
	}
	ens := g.Enrollments("signup", bob)
	if len(ens) != 1 || ens[0].Status != "ended" || !strings.Contains(ens[0].EndReason, "removed") {
		t.Fatalf("the enrollment should have ended with its automation: %+v", ens)
	}
}

func TestSIGHUPLogsEveryProblemOfARefusedReload(t *testing.T) {
	t.Parallel()
	g := StartGateway(t, reloadV1)
	g.WriteConfig(`
automations:
  - id: hours
    keywords: [HOURS]
    colour: blue
    steps: [ { type: teleport } ]
  - id: price
    keywords: [PRICE]
    steps: [ { type: reply, text: "Only $PRICE today" } ]
`)
	mark := len(g.Logs())
	g.Signal(syscall.SIGHUP)
	var after int
	Eventually(t, 10*time.Second, "the SIGHUP logged", func() bool {
		i := strings.Index(g.Logs()[mark:], "SIGHUP: reloading config")
		after = mark + i
		return i >= 0
	})
	// The reload that follows the SIGHUP line is the SIGHUP's: the file
	// watch and the signal are served one at a time.
	waitRefused(t, g, after,
		placeOf(t, g, "colour")+`: unknown key "colour" in automation "hours"`,
		placeOf(t, g, "teleport")+`: automation "hours" step 1: unknown step type "teleport"`,
		placeOf(t, g, `"Only`)+`: automation "price" step 1 field text: "$PRICE" is not expanded: write ${PRICE} for the environment variable, or $$PRICE for the literal text`,
	)
	if got := replyTo(t, g, "+15554450021"); got != "v1" {
		t.Fatalf("after the refused SIGHUP reload HOURS is answered %q", got)
	}
}

func TestLastReloadMetrics(t *testing.T) {
	t.Parallel()
	g := StartGateway(t, reloadV1)
	ok, started := reloadMetrics(t, g)
	if ok != 1 || started < float64(time.Now().Add(-time.Hour).Unix()) {
		t.Fatalf("at start: successful %v, timestamp %v; want 1 and the start time", ok, started)
	}

	g.WriteConfig(strings.Replace(reloadV2, "type: reply", "type: teleport", 1))
	if code := g.Admin(http.MethodPost, "/api/v1/reload", nil, nil); code != http.StatusUnprocessableEntity {
		t.Fatalf("invalid reload: %d, want 422", code)
	}
	if ok, when := reloadMetrics(t, g); ok != 0 || when != started {
		t.Fatalf("after a refused reload: successful %v, timestamp %v; want 0 and %v", ok, when, started)
	}

	g.WriteConfig(reloadV2)
	if code := g.Admin(http.MethodPost, "/api/v1/reload", nil, nil); code != http.StatusOK {
		t.Fatalf("valid reload: %d", code)
	}
	if ok, when := reloadMetrics(t, g); ok != 1 || when <= started {
		t.Fatalf("after a good reload: successful %v, timestamp %v; want 1 and later than %v", ok, when, started)
	}
}
