package engine_test

import (
	"context"
	"testing"
	"time"

	"github.com/keyway-sms/keyway/automation/engine"
	"github.com/keyway-sms/keyway/automation/sim/simtest"
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
