package test

import (
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/keyway-sms/keyway/test/fakes"
)

// A send that no step, and no message of the contact, gives a number goes
// from the first configured number of its channel, in the file's order:
// here Vonage's SMS number, written above Twilio's.
func TestDefaultSenderIsTheFirstNumberInTheFile(t *testing.T) {
	t.Parallel()
	api := fakes.NewVonage(t, vonageKey, vonageSecret)
	g := newGateway(t, `automations:
  - id: promo
    steps:
      - { type: reply, text: "This week's deal" }
`)
	raw, err := os.ReadFile(g.Config)
	if err != nil {
		t.Fatal(err)
	}
	cfg := string(raw)
	if !strings.Contains(cfg, "providers:\n  twilio:\n") {
		t.Fatalf("the harness config has no twilio section first:\n%s", cfg)
	}
	cfg = strings.Replace(cfg, "providers:\n", "providers:\n"+vonageSection(api), 1)
	if err := os.WriteFile(g.Config, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	g.startUntilEnd()

	const who = "+447700900555"
	var res struct {
		Enrolled int `json:"enrolled"`
	}
	if code := g.Admin(http.MethodPost, "/api/v1/automations/promo/enrollments", map[string]any{"contacts": []string{who}}, &res); code != http.StatusAccepted || res.Enrolled != 1 {
		t.Fatalf("manual start: %d %+v", code, res)
	}
	ms := g.Settled(t, who)
	if len(ms) != 1 || ms[0].Status != "sent" || ms[0].From != vonageNumber {
		t.Fatalf("messages of %s: %+v, want the deal sent from %s", who, ms, vonageNumber)
	}
	if got := api.SentTo(strings.TrimPrefix(who, "+")); len(got) != 1 || got[0] != "This week's deal" {
		t.Errorf("Vonage sent %q to %s", got, who)
	}
	if sent := g.Twilio.Sent(); len(sent) != 0 {
		t.Errorf("Twilio sent %+v", sent)
	}
}
