package config

import (
	"testing"
	"time"
)

// TestStoragePostgres checks storage.postgres: it replaces the bbolt
// path, default or not, and a path beside it only draws a warning.
func TestStoragePostgres(t *testing.T) {
	c, ps := mustParse(t, "storage:\n  postgres: \"postgres://k@db/keyway\"\n", nil)
	checkProblems(t, withoutHelpWarning(ps), nil)
	if c.Storage.Path != "" || c.Storage.Postgres != "postgres://k@db/keyway" {
		t.Errorf("storage = %+v, want postgres set and no default path", c.Storage)
	}

	// Any path beside postgres, the starter pack's default (a config
	// copied from it and given a DSN) or another: a warning, and
	// PostgreSQL is used.
	for _, path := range []string{"./k.db", "./data/keyway.db"} {
		c, ps = mustParse(t, "storage:\n  path: \""+path+"\"\n  postgres: \"postgres://k@db/keyway\"\n", nil)
		checkProblems(t, withoutHelpWarning(ps), []string{
			`k.yaml:2:9: warning: storage.path is not used while storage.postgres is set: PostgreSQL is used instead of the bbolt file`,
		})
		if c.Storage.Postgres != "postgres://k@db/keyway" {
			t.Errorf("path %s beside postgres: storage = %+v, want postgres set", path, c.Storage)
		}
	}

	c, ps = mustParse(t, "storage: {}\n", nil)
	checkProblems(t, withoutHelpWarning(ps), nil)
	if c.Storage.Path != "./data/keyway.db" {
		t.Errorf("storage.path without postgres = %q, want the default", c.Storage.Path)
	}
}

// TestStorageRetention checks storage.retention: a duration (days
// allowed), zero (keep forever) when unset.
func TestStorageRetention(t *testing.T) {
	c, ps := mustParse(t, "storage:\n  retention: 90d\n", nil)
	checkProblems(t, withoutHelpWarning(ps), nil)
	if got := c.Storage.Retention.D(); got != 90*24*time.Hour {
		t.Errorf("retention 90d = %v", got)
	}
	c, _ = mustParse(t, "storage: {}\n", nil)
	if c.Storage.Retention != 0 {
		t.Errorf("retention unset = %v, want 0 (keep forever)", c.Storage.Retention.D())
	}
	_, ps = mustParse(t, "storage:\n  retention: soon\n", nil)
	if len(ps.Errors()) == 0 {
		t.Errorf("retention: soon gave no error")
	}
}
