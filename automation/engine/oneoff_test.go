package engine_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/keyway-sms/keyway/automation/engine"
	"github.com/keyway-sms/keyway/automation/sim"
)

// SendChannel only reads: the conversation page, polled every few
// seconds, asks it, and must not rewrite the contact (nor take a write
// transaction) each time.
func TestSendChannelWritesNothing(t *testing.T) {
	s := sim.NewSimulator(compileSet(t, quizConfig), nil)
	ctx := context.Background()
	if _, err := s.Say(ctx, "hello"); err != nil {
		t.Fatal(err)
	}
	contact := func() engine.Contact {
		t.Helper()
		var c *engine.Contact
		err := s.Store.View(ctx, func(tx engine.Tx) error {
			var err error
			c, err = tx.Contact(s.From)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		return *c
	}
	before := contact()
	s.Clock.Advance(time.Hour)
	ch, err := s.Engine.SendChannel(ctx, s.From)
	if err != nil {
		t.Fatal(err)
	}
	if ch.Channel != "sms" || ch.From != "+15005550006" || !ch.InWindow {
		t.Errorf("channel %+v, want sms from the number the contact wrote to", ch)
	}
	if after := contact(); !after.UpdatedAt.Equal(before.UpdatedAt) {
		t.Errorf("SendChannel rewrote the contact: updated %v, was %v", after.UpdatedAt, before.UpdatedAt)
	}
	if _, err := s.Engine.SendChannel(ctx, "+15550009999"); !errors.Is(err, engine.ErrNotFound) {
		t.Errorf("an unknown contact: %v, want ErrNotFound", err)
	}
}
