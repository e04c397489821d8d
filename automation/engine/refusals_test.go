package engine_test

import (
	"context"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/keyway-sms/keyway/automation/engine"
	"github.com/keyway-sms/keyway/automation/sim/simtest"
	"github.com/keyway-sms/keyway/automation/store/mem"
	"github.com/keyway-sms/keyway/config"
)

const refusalConfig = `
providers:
  twilio:
    numbers:
      - { number: "+15005550006", channel: whatsapp }
automations:
  - id: join
    keywords: [JOIN]
    steps:
      - { type: reply, text: "Welcome" }
      - { type: wait, duration: 1h }
      - { type: reply, text: "An hour later", on_error: sorry }
      - { type: end }
      - { id: sorry, type: end }
`

// A contact whose provider said it stopped messages that are not answers
// gets answers to its own messages, nothing a timer sends, until it sends
// an opt-in word.
func TestStopMarketingSuppressesWhatIsNotAnAnswer(t *testing.T) {
	ctx := context.Background()
	s := simtest.At(t, simtest.Compile(t, refusalConfig), time.Date(2027, 1, 4, 12, 0, 0, 0, time.UTC))
	s.Channel = config.ChannelWhatsApp
	if err := s.Engine.StopMarketing(ctx, s.From); err != nil {
		t.Fatal(err)
	}
	res, err := s.Say(ctx, "JOIN")
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Sent) != 1 || res.Sent[0].Status == engine.StatusSuppressed {
		t.Fatalf("the answer to JOIN = %+v, want it sent", res.Sent[0])
	}
	res, err = s.Advance(ctx, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	suppressed := false
	for _, ev := range res.Events {
		suppressed = suppressed || ev.What == "not sent: the contact stopped messages that do not answer its own"
	}
	if len(res.Sent) != 0 || !suppressed {
		t.Fatalf("the timer's message went out (%d sent) or was not recorded as suppressed (%v)", len(res.Sent), suppressed)
	}
	if _, err := s.Say(ctx, "START"); err != nil {
		t.Fatal(err)
	}
	c, err := s.Contact(ctx)
	if err != nil || c.NoMarketing {
		t.Fatalf("after START: %+v, %v; want NoMarketing lifted", c, err)
	}
}

// A window the provider reported closed is closed: the reply after the
// wait, with no template, takes on_error instead of being sent.
func TestCloseWindowClosesIt(t *testing.T) {
	ctx := context.Background()
	s := simtest.At(t, simtest.Compile(t, refusalConfig), time.Date(2027, 1, 4, 12, 0, 0, 0, time.UTC))
	s.Channel = config.ChannelWhatsApp
	if _, err := s.Say(ctx, "JOIN"); err != nil {
		t.Fatal(err)
	}
	if err := s.Engine.CloseWindow(ctx, s.From, config.ChannelWhatsApp); err != nil {
		t.Fatal(err)
	}
	res, err := s.Advance(ctx, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Sent) != 0 {
		t.Errorf("sent %+v outside the window", res.Sent)
	}
	c, err := s.Contact(ctx)
	if err != nil || c.InWindow(config.ChannelWhatsApp, s.Clock.Now()) {
		t.Errorf("contact %+v still in the window (%v)", c, err)
	}
}

// A refusal acted on in the transaction that records it opts out the
// contact a message was for, never the staff member who refused a forward
// (who is no customer), and a marketing opt-out of a forward stops
// nothing either.
func TestRefusedInSparesTheStaffOfAForward(t *testing.T) {
	const staff, customer = "+15550100001", "+15550100009"
	tests := []struct {
		name    string
		purpose engine.Purpose
		refusal engine.SendRefusal
		want    func(c *engine.Contact) bool
	}{
		{"opted out", engine.PurposeReply, engine.RefusalOptedOut, func(c *engine.Contact) bool { return c != nil && c.OptedOut }},
		{"a forward opted out", engine.PurposeForward, engine.RefusalOptedOut, func(c *engine.Contact) bool { return c == nil || !c.OptedOut }},
		{"stopped marketing", engine.PurposeReply, engine.RefusalMarketingOptOut, func(c *engine.Contact) bool { return c != nil && c.NoMarketing }},
		{"a forward stopped marketing", engine.PurposeForward, engine.RefusalMarketingOptOut, func(c *engine.Contact) bool { return c == nil || !c.NoMarketing }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			store := mem.NewMemStore()
			e := engine.New(store, compileSet(t, refusalConfig), engine.Options{Logger: zerolog.Nop()})
			m := &engine.Message{ID: "m1", Direction: engine.Outbound, Kind: engine.KindText, Status: engine.StatusFailed, Purpose: tt.purpose,
				Channel: config.ChannelWhatsApp, From: "+15005550006", To: []string{staff}, Contact: customer}
			var after func()
			err := store.Update(ctx, func(tx engine.Tx) error {
				if err := tx.PutMessage(m); err != nil {
					return err
				}
				var err error
				after, err = e.RefusedIn(ctx, tx, m, tt.refusal)
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			var c *engine.Contact
			_ = store.View(ctx, func(tx engine.Tx) error {
				c, _ = tx.Contact(staff)
				return nil
			})
			if !tt.want(c) {
				t.Errorf("the recipient after the refusal = %+v", c)
			}
			after()
		})
	}
}
