package test

import (
	"net/http"
	"os"
	"path/filepath"
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

// A config that is a symlink reloads when what it leads to changes: laid
// out as Kubernetes mounts a ConfigMap (keyway.yaml -> ..data/keyway.yaml,
// ..data -> a folder that an update swaps for another), a swap reloads,
// and so does a change to the file the link leads to, in its own folder.
func TestReloadWhenASymlinkedFileChanges(t *testing.T) {
	t.Parallel()
	g := newGateway(t, reloadV1)
	v1, v2 := filepath.Join(g.Dir, "..2026_v1"), filepath.Join(g.Dir, "..2026_v2")
	for _, dir := range []string{v1, v2} {
		if err := os.Mkdir(dir, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Rename(g.Config, filepath.Join(v1, "keyway.yaml")); err != nil {
		t.Fatal(err)
	}
	symlink(t, filepath.Base(v1), filepath.Join(g.Dir, "..data"))
	symlink(t, filepath.Join("..data", "keyway.yaml"), g.Config)
	g.startUntilEnd()
	if got := replyTo(t, g, "+15554440005"); got != "v1" {
		t.Fatalf("the gateway answers %q", got)
	}

	// The update: the new version in a folder of its own, then ..data
	// swapped to it at once.
	live := g.Config
	g.Config = filepath.Join(v2, "keyway.yaml")
	g.WriteConfig(reloadV2)
	symlink(t, filepath.Base(v2), filepath.Join(g.Dir, "..data_tmp"))
	if err := os.Rename(filepath.Join(g.Dir, "..data_tmp"), filepath.Join(g.Dir, "..data")); err != nil {
		t.Fatal(err)
	}
	Eventually(t, patience, "the reload logged", func() bool { return strings.Count(g.Logs(), "config reloaded") == 1 })
	if got := replyTo(t, g, "+15554440006"); got != "v2" {
		t.Fatalf("after ..data was swapped the gateway answers %q", got)
	}

	// The file the link now leads to, changed where it is.
	g.Config = live
	g.WriteConfig(strings.Replace(reloadV2, "v2", "v3", 1))
	Eventually(t, patience, "the reload logged", func() bool { return strings.Count(g.Logs(), "config reloaded") == 2 })
	if got := replyTo(t, g, "+15554440007"); got != "v3" {
		t.Fatalf("after the linked file changed the gateway answers %q", got)
	}
}

// symlink makes link point to target, or fails the test.
func symlink(t *testing.T, target, link string) {
	t.Helper()
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
}

// POST /api/v1/reload takes no body: it reloads the file keyway was started
// with. A body, as from an integrator who thinks they upload a config, is
// refused with 400 saying so, and nothing is reloaded; an empty JSON
// object, which some clients send with every POST, passes.
func TestReloadThroughTheAPIRefusesABody(t *testing.T) {
	t.Parallel()
	g := StartGateway(t, reloadV1)
	auth := map[string]string{"Authorization": "Bearer " + AdminToken}
	reloads := func() float64 {
		v, _ := metricValue(scrape(t, g), `keyway_config_reloads_total{result="ok"}`)
		return v
	}
	before := reloads()
	for _, body := range []string{reloadV2, `{"config": "automations: []"}`} {
		code, out := adminRaw(t, g.URL, http.MethodPost, "/api/v1/reload", body, auth)
		if code != http.StatusBadRequest || !strings.Contains(out, "POST /api/v1/reload takes no body: it reloads the config file keyway was started with") {
			t.Errorf("POST /api/v1/reload with the body %q: %d %s, want 400 saying it takes no body", body, code, out)
		}
	}
	if n := reloads(); n != before {
		t.Errorf("refused requests reloaded the config: %v reloads, want %v", n, before)
	}
	if code, out := adminRaw(t, g.URL, http.MethodPost, "/api/v1/reload", "{}", auth); code != http.StatusOK {
		t.Fatalf("POST /api/v1/reload with {}: %d %s, want 200", code, out)
	}
	if n := reloads(); n != before+1 {
		t.Errorf("after a reload with {}: %v reloads, want %v", n, before+1)
	}
}
