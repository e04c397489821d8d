package engine_test

import (
	"context"
	"testing"

	"github.com/keyway-sms/keyway/automation/engine"
	"github.com/keyway-sms/keyway/automation/sim"
	"github.com/keyway-sms/keyway/automation/store/mem"
	"github.com/keyway-sms/keyway/providers"
)

// reachAutomations start a contact without naming a channel.
const reachAutomations = `
automations:
  - id: promo
    steps:
      - { type: reply, text: "Deal", template: { content_sid: "HX0123456789abcdef0123456789abcdef" } }
  - id: wa
    channel: whatsapp
    keywords: [WA]
    steps:
      - { type: reply, text: "Deal", template: { content_sid: "HX0123456789abcdef0123456789abcdef" } }
`

// A contact that never wrote is started on the channel its import named,
// else on the automation's channel when it names one, else on SMS, or on
// WhatsApp when every number is a WhatsApp one: never on a channel no
// number sends on. A contact that wrote is started on the channel it last
// wrote on, whatever an import says.
func TestStartReachesANewContactOnAChannelWithANumber(t *testing.T) {
	const both = `
providers:
  twilio:
    account_sid: AC1
    auth_token: t
    numbers:
      - { number: "+15005550006", channel: sms }
      - { number: "+14155238886", channel: whatsapp }
`
	const whatsappOnly = `
providers:
  twilio:
    account_sid: AC1
    auth_token: t
    numbers:
      - { number: "+14155238886", channel: whatsapp }
`
	for _, tc := range []struct {
		name, numbers, automation string
		wrote                     string // the channel the contact wrote on first, if any
		imported                  string // the channel an import names, if any
		want                      string
	}{
		{"SMS and WhatsApp numbers", both, "promo", "", "", "sms"},
		{"an automation on WhatsApp", both, "wa", "", "", "whatsapp"},
		{"WhatsApp numbers only", whatsappOnly, "promo", "", "", "whatsapp"},
		{"a contact that wrote by SMS", both, "wa", "sms", "", "sms"},
		{"a contact that wrote on WhatsApp", both, "promo", "whatsapp", "", "whatsapp"},
		{"a contact imported on WhatsApp", both, "promo", "", "whatsapp", "whatsapp"},
		{"a contact that wrote by SMS, imported on WhatsApp", both, "promo", "sms", "whatsapp", "sms"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			store := mem.NewMemStore()
			e := engine.New(store, compileSet(t, tc.numbers+reachAutomations), engine.Options{Clock: engine.NewFakeClock(sim.SimStart)})
			const phone = "+15551230001"
			if tc.wrote != "" {
				to := "+15005550006"
				if tc.wrote == "whatsapp" {
					to = "+14155238886"
				}
				if _, err := e.HandleInbound(ctx, providers.Inbound{Provider: "twilio", ID: "SM1", Channel: tc.wrote, From: phone, To: to, Body: "hello"}); err != nil {
					t.Fatal(err)
				}
			}
			if _, _, err := e.UpdateContact(ctx, phone, engine.ContactUpdate{Channel: tc.imported}); err != nil {
				t.Fatal(err)
			}
			if res, err := e.Start(ctx, tc.automation, []string{phone}); err != nil || len(res.Started) != 1 {
				t.Fatalf("start: %+v, %v", res, err)
			}
			var got []*engine.Enrollment
			if err := store.View(ctx, func(tx engine.Tx) error {
				var err error
				got, err = tx.Enrollments(tc.automation, phone, false, 1)
				return err
			}); err != nil || len(got) != 1 {
				t.Fatalf("enrollments: %v, %v", got, err)
			}
			if got[0].Channel != tc.want {
				t.Errorf("started on %q, want %q", got[0].Channel, tc.want)
			}
		})
	}
}
