package test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/keyway-sms/keyway/automation/store/postgres/pgtest"
	"github.com/keyway-sms/keyway/test/fakes"
)

// A storage.path beside storage.postgres (a deployment template that always
// writes one) does not stop keyway: PostgreSQL is used, and the bbolt file
// and its folder are not created.
func TestPostgresWithAPathUsesPostgres(t *testing.T) {
	t.Parallel()
	g := &Gateway{t: t, Dir: t.TempDir(), Twilio: fakes.NewTwilio(t), postgres: pgtest.NewDatabase(t)}
	g.Config = filepath.Join(g.Dir, "keyway.yaml")
	g.WriteConfig(hoursConfig)
	raw, err := os.ReadFile(g.Config)
	if err != nil {
		t.Fatal(err)
	}
	dbFile := filepath.Join(g.Dir, "bolt", "keyway.db")
	pg := fmt.Sprintf("postgres: %q", g.postgres)
	if !strings.Contains(string(raw), pg) {
		t.Fatalf("the harness config has no %s", pg)
	}
	raw = []byte(strings.Replace(string(raw), pg, fmt.Sprintf("path: %q\n  %s", dbFile, pg), 1))
	if err := os.WriteFile(g.Config, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	g.startUntilEnd()
	g.Text(Inbound{From: "+15557950001", Body: "hours"})
	if got := g.Twilio.WaitSent(t, 1, patience); got[0].Body != "Open 7-6" {
		t.Fatalf("sent %+v", got[0])
	}
	if !strings.Contains(g.Logs(), `"storage":"postgres"`) {
		t.Errorf("keyway did not say it serves from PostgreSQL")
	}
	if _, err := os.Stat(filepath.Dir(dbFile)); !os.IsNotExist(err) {
		t.Errorf("the bbolt folder %s exists (%v): the file was opened", filepath.Dir(dbFile), err)
	}
}
