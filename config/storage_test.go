package config

import "testing"

// TestStoragePostgres checks storage.postgres: it replaces the default
// bbolt path, and naming both is refused where postgres is written.
func TestStoragePostgres(t *testing.T) {
	c, ps := mustParse(t, "storage:\n  postgres: \"postgres://k@db/keyway\"\n", nil)
	checkProblems(t, withoutHelpWarning(ps), nil)
	if c.Storage.Path != "" || c.Storage.Postgres != "postgres://k@db/keyway" {
		t.Errorf("storage = %+v, want postgres set and no default path", c.Storage)
	}

	_, ps = mustParse(t, "storage:\n  path: ./k.db\n  postgres: \"postgres://k@db/keyway\"\n", nil)
	checkProblems(t, withoutHelpWarning(ps), []string{
		`k.yaml:3:13: storage: path and postgres are both set; keep one: the bbolt file at path, or the PostgreSQL database postgres names`,
	})

	c, ps = mustParse(t, "storage: {}\n", nil)
	checkProblems(t, withoutHelpWarning(ps), nil)
	if c.Storage.Path != "./data/keyway.db" {
		t.Errorf("storage.path without postgres = %q, want the default", c.Storage.Path)
	}
}
