package gateway

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/fsnotify/fsnotify"

	"github.com/keyway-sms/keyway/config"
)

func TestMayChangeLooksOnlyAtTheConfigOrNewNames(t *testing.T) {
	const target, resolved = "/etc/keyway/keyway.yaml", "/etc/keyway/..2026_12_07/keyway.yaml"
	for _, c := range []struct {
		name string
		ev   fsnotify.Event
		want bool
	}{
		{"the config written", fsnotify.Event{Name: target, Op: fsnotify.Write}, true},
		{"the file it links to written", fsnotify.Event{Name: resolved, Op: fsnotify.Write}, true},
		{"the data file beside it written", fsnotify.Event{Name: "/etc/keyway/keyway.db", Op: fsnotify.Write}, false},
		{"a link swapped in", fsnotify.Event{Name: "/etc/keyway/..data", Op: fsnotify.Create}, true},
		{"a file renamed", fsnotify.Event{Name: "/etc/keyway/..data_tmp", Op: fsnotify.Rename}, true},
		{"the config's mode changed", fsnotify.Event{Name: target, Op: fsnotify.Chmod}, false},
		{"a file removed", fsnotify.Event{Name: "/etc/keyway/old.yaml", Op: fsnotify.Remove}, false},
	} {
		if got := mayChange(c.ev, target, resolved); got != c.want {
			t.Errorf("%s (%v): mayChange = %v, want %v", c.name, c.ev, got, c.want)
		}
	}
}

// A reload names the start-only settings it changed, and only those, so the
// admin knows which edit waits for a restart; a file that changes none
// names none.
func TestRestartSettingsNamesWhatChanged(t *testing.T) {
	const base = `server: { listen: "127.0.0.1:8080" }
providers:
  twilio:
    numbers: [{ number: "+15005550006" }]
automations:
  - { id: a, keywords: [A], steps: [{ type: reply, text: "%s" }] }
`
	parse := func(src string) *config.Config {
		t.Helper()
		cfg, problems := config.Parse("k.yaml", []byte(src), func(string) (string, bool) { return "", false })
		if errs := problems.Errors(); len(errs) > 0 {
			t.Fatalf("parse: %v", errs)
		}
		return cfg
	}
	running := parse(fmt.Sprintf(base, "hi"))
	for _, c := range []struct {
		name, src string
		want      []string
	}{
		{"only an automation", fmt.Sprintf(base, "hello"), nil},
		{"the listen address", strings.Replace(fmt.Sprintf(base, "hi"), "8080", "9090", 1), []string{"server.listen"}},
		{"a number and the storage path", strings.Replace(fmt.Sprintf(base, "hi"), "+15005550006", "+15005550007", 1) + "storage: { path: /tmp/other.db }\n", []string{"storage.path", "providers"}},
		{"email", fmt.Sprintf(base, "hi") + "email: { smtp: { host: smtp.example.com, from: a@example.com } }\n", []string{"email"}},
	} {
		if got := restartSettings(running, parse(c.src)); !slices.Equal(got, c.want) {
			t.Errorf("%s: restartSettings = %q, want %q", c.name, got, c.want)
		}
	}
}
