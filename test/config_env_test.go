package test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestValidateRefusesBareDollarNamesAndBadListen(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "keyway.yaml")
	const src = `server:
  listen: "8080"
admin:
  token: "${KEYWAY_TEST_UNSET_TOKEN"
automations:
  - id: price
    keywords: [PRICE]
    steps:
      - { type: reply, text: "Only $5 today, $NAME" }
`
	if err := os.WriteFile(path, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out := runKeywayIn(t, dir, "validate", "--config", path)
	if code != 1 {
		t.Fatalf("exit %d, want 1:\n%s", code, out)
	}
	for _, want := range []string{
		path + `:2:11: server.listen: "8080" is not an address to listen on: missing port in address`,
		path + `:4:10: admin.token: unterminated "${KEYWAY_TEST_UNSET_TOKEN"`,
		path + `:9:30: automation "price" step 1 field text: "$NAME" is not expanded: write ${NAME} for the environment variable, or $$NAME for the literal text`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

func TestEnvDefaultsAndLiteralDollars(t *testing.T) {
	g := StartGateway(t, `
automations:
  - id: deal
    keywords: [DEAL]
    steps:
      - { type: reply, text: "${KEYWAY_TEST_UNSET_GREETING:-Hello}! $$SAVE means $5 off, ${KEYWAY_TEST_UNSET_EMPTY:-}today" }
`)
	const to = "+15554450031"
	g.Text(Inbound{From: to, Body: "DEAL"})
	if got := repliesTo(t, g, to, 1); got[0] != "Hello! $SAVE means $5 off, today" {
		t.Fatalf("reply %q", got[0])
	}
}
