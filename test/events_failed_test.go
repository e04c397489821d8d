package test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/keyway-sms/keyway/automation/store/postgres/pgtest"
)

// A reply the provider refuses reaches the CRM as message.failed with the
// reason in the provider's words beside the whole error and its code, on
// a bbolt file and on PostgreSQL alike.
func TestFailedSendEventCarriesTheReason(t *testing.T) {
	t.Parallel()
	for _, store := range []string{"bolt", "postgres"} {
		t.Run(store, func(t *testing.T) {
			t.Parallel()
			dsn := ""
			if store == "postgres" {
				dsn = pgtest.NewDatabase(t)
			}
			crm := newEventReceiver(t)
			g := startProcesses(t, 1, eventsConfig(crm.URL, "[message.failed]"), 0, dsn)[0]
			const from = "+15553340101"
			g.Twilio.FailNext(1, 400, 21211)
			g.Text(Inbound{From: from, Body: "JOIN"})
			Eventually(t, patience, "message.failed at the CRM", func() bool { return len(crm.received()) >= 1 })
			var body struct {
				Type string         `json:"type"`
				Data map[string]any `json:"data"`
			}
			if err := json.Unmarshal(crm.received()[0].body, &body); err != nil {
				t.Fatal(err)
			}
			const twilioSaid = "fakes: scripted failure (HTTP 400, code 21211)"
			d := body.Data
			if body.Type != "message.failed" || d["phone"] != from || d["reason"] != twilioSaid || d["error_code"] != float64(21211) {
				t.Fatalf("event %s, want message.failed for %s with reason %q and code 21211", crm.received()[0].body, from, twilioSaid)
			}
			if e, _ := d["error"].(string); !strings.HasPrefix(e, "providers: permanent send error") {
				t.Errorf("error %q: want the whole error, not the reason alone", e)
			}
		})
	}
}
