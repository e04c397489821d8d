package test

import (
	"net/http"
	"strings"
	"syscall"
	"testing"
)

const reloadV1 = `
automations:
  - id: hours
    keywords: [HOURS]
    steps: [ { type: reply, text: "v1" } ]
`

const reloadV2 = `
automations:
  - id: hours
    keywords: [HOURS]
    steps: [ { type: reply, text: "v2" } ]
`

// replyTo texts HOURS and returns the reply body.
func replyTo(t *testing.T, g *Gateway, from string) string {
	t.Helper()
	n := len(g.Twilio.Sent())
	g.Text(Inbound{From: from, Body: "HOURS"})
	return g.Twilio.WaitSent(t, n+1, patience)[n].Body
}

func TestReloadThroughTheAPIRefusesAnInvalidFile(t *testing.T) {
	t.Parallel()
	g := StartGateway(t, reloadV1)
	g.WriteConfig(strings.Replace(reloadV2, "type: reply", "type: teleport", 1))
	var out struct {
		Problems []string `json:"problems"`
		Warnings []string `json:"warnings"`
	}
	if code := g.Admin(http.MethodPost, "/api/v1/reload", nil, &out); code != http.StatusUnprocessableEntity {
		t.Fatalf("invalid reload: %d, want 422", code)
	}
	if len(out.Problems) == 0 || !strings.Contains(strings.Join(out.Problems, "\n"), `unknown step type "teleport"`) {
		t.Fatalf("problems %q", out.Problems)
	}
	// The problems are what made the file invalid; its warnings (the
	// default help reply names no brand) come apart, as validate prints
	// them and as a reload that goes through answers them.
	for _, p := range out.Problems {
		if strings.Contains(p, ": warning: ") {
			t.Errorf("a refused reload lists the warning %q among its problems", p)
		}
	}
	if !strings.Contains(strings.Join(out.Warnings, "\n"), "help") {
		t.Errorf("a refused reload's warnings %q, want the help reply's among them", out.Warnings)
	}
	if got := replyTo(t, g, "+15554440001"); got != "v1" {
		t.Fatalf("after a refused reload the gateway answers %q", got)
	}
	g.WriteConfig(reloadV2)
	if code := g.Admin(http.MethodPost, "/api/v1/reload", nil, nil); code != http.StatusOK {
		t.Fatalf("valid reload: %d", code)
	}
	if got := replyTo(t, g, "+15554440002"); got != "v2" {
		t.Fatalf("after reload the gateway answers %q", got)
	}
}

func TestReloadOnSIGHUP(t *testing.T) {
	t.Parallel()
	g := StartGateway(t, reloadV1)
	g.WriteConfig(reloadV2)
	g.Signal(syscall.SIGHUP)
	Eventually(t, patience, "the reload logged", func() bool { return strings.Contains(g.Logs(), "config reloaded") })
	if got := replyTo(t, g, "+15554440003"); got != "v2" {
		t.Fatalf("after SIGHUP the gateway answers %q", got)
	}
}

func TestReloadWhenTheFileChanges(t *testing.T) {
	t.Parallel()
	g := StartGateway(t, reloadV1)
	g.WriteConfig(reloadV2)
	Eventually(t, patience, "the reload logged", func() bool { return strings.Contains(g.Logs(), "config reloaded") })
	if got := replyTo(t, g, "+15554440004"); got != "v2" {
		t.Fatalf("after the file changed the gateway answers %q", got)
	}
}
