package test

import (
	"testing"

	"github.com/keyway-sms/keyway/automation/store/postgres/pgtest"
	"github.com/keyway-sms/keyway/test/fakes"
)

// storage.retention prunes stored messages, inbound and outbound, once
// they are older than it, on the bbolt file and on PostgreSQL; the
// contact stays.
func TestRetentionPrunesOldMessages(t *testing.T) {
	t.Parallel()
	for _, store := range []string{"bolt", "postgres"} {
		t.Run(store, func(t *testing.T) {
			g := &Gateway{t: t, Dir: t.TempDir(), Twilio: fakes.NewTwilio(t), retention: "3s"}
			if store == "postgres" {
				g.postgres = pgtest.NewDatabase(t)
			}
			g.Config = g.Dir + "/keyway.yaml"
			g.WriteConfig(echoConfig)
			g.startUntilEnd()
			const contact = "+15553100001"
			g.Text(Inbound{From: contact, Body: "keep me a while"})
			repliesTo(t, g, contact, 1)
			if ms := g.Settled(t, contact); len(ms) != 2 {
				t.Fatalf("stored messages after one exchange: %d, want 2", len(ms))
			}
			Eventually(t, patience, "the exchange older than storage.retention was pruned", func() bool {
				return len(g.Messages(contact)) == 0
			})
			if c := g.Contact(contact); c.Contact.Phone != contact {
				t.Errorf("the contact went with its messages: %+v", c.Contact)
			}
		})
	}
}
