package gateway

import (
	"testing"

	"github.com/fsnotify/fsnotify"
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
