package steps_test

import (
	"context"
	"testing"
	"time"

	"github.com/keyway-sms/keyway/automation/engine"
	"github.com/keyway-sms/keyway/automation/sim"
	"github.com/keyway-sms/keyway/config"
)

// TestUnsubscribeAllEndsOtherEnrollments checks that unsubscribe with
// scope all ends the contact's enrollments in other automations, paused
// ones included, and clears their timers.
func TestUnsubscribeAllEndsOtherEnrollments(t *testing.T) {
	src := `automations:
  - id: bye
    keywords: [BYE]
    steps:
      - { type: unsubscribe }
  - id: drip
    keywords: [DRIP]
    steps:
      - { type: reply, text: "day 1" }
      - { type: reply, text: "day 2" }
`
	cfg, problems := config.Parse("fixture.yaml", []byte(src), func(string) (string, bool) { return "", false })
	if err := problems.Err(); err != nil {
		t.Fatal(err)
	}
	set, problems := engine.Compile(cfg)
	if err := problems.Err(); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	start := sim.SimStart
	sim := sim.NewSimulator(set, nil)
	if _, err := sim.Say(ctx, "hello"); err != nil { // creates the contact
		t.Fatal(err)
	}
	// The contact stands at drip's second step, waiting a day.
	due := start.Add(24 * time.Hour)
	paused := &engine.Enrollment{
		ID: "drip-1", Automation: "drip", Contact: sim.From, Channel: config.ChannelSMS,
		Status: engine.EnrollmentWaiting, Step: "#2", StepType: "reply", Epoch: 1,
		WaitUntil: &due, StartedAt: start, UpdatedAt: start,
	}
	err := sim.Store.Update(ctx, func(tx engine.Tx) error {
		if err := tx.PutEnrollment(paused); err != nil {
			return err
		}
		return tx.PutTimer(engine.Timer{Due: due, Enrollment: paused.ID, Automation: "drip", Epoch: 1, Kind: engine.TimerWait})
	})
	if err != nil {
		t.Fatal(err)
	}

	if _, err := sim.Say(ctx, "BYE"); err != nil {
		t.Fatal(err)
	}
	res, err := sim.Advance(ctx, 48*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Sent) != 0 {
		t.Errorf("sent %d messages after unsubscribe, want none: %+v", len(res.Sent), res.Sent[0])
	}
	err = sim.Store.View(ctx, func(tx engine.Tx) error {
		active, err := tx.ActiveEnrollments(sim.From)
		if err != nil {
			return err
		}
		if len(active) != 0 {
			t.Errorf("%d enrollments still active, want none: %+v", len(active), active[0])
		}
		en, err := tx.Enrollment("drip-1")
		if err != nil {
			return err
		}
		if en.Status != engine.EnrollmentEnded || en.EndReason != "unsubscribed by automation bye" {
			t.Errorf("drip enrollment %s (%q), want ended by the unsubscribe", en.Status, en.EndReason)
		}
		c, err := tx.Contact(sim.From)
		if err != nil {
			return err
		}
		if !c.OptedOut || c.OptedOutAt == nil {
			t.Errorf("contact opted_out %v at %v, want opted out", c.OptedOut, c.OptedOutAt)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
