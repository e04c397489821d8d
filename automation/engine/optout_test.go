package engine_test

import (
	"context"
	"slices"
	"testing"

	"github.com/keyway-sms/keyway/automation/engine"
	"github.com/keyway-sms/keyway/automation/sim"
)

// An opt-out word from a contact that has already opted out is recorded and
// answered with nothing; it still ends an enrollment begun since. The
// multi-word defaults opt out too.
func TestOptOutIsConfirmedOnce(t *testing.T) {
	const optOutReply = "You are unsubscribed. Reply START to resubscribe."
	sim := sim.NewSimulator(compileSet(t, quizConfig), nil)
	ctx := context.Background()
	steps := []struct {
		say      string
		sent     []string // sent, not suppressed
		enrolled bool     // the contact has an active quiz enrollment after
	}{
		{"stop all", []string{optOutReply}, false},
		{"STOP", nil, false},
		{"Opt out!", nil, false},
		{"QUIZ", nil, true},
		{"stop", nil, false},
		{"START", []string{"You are resubscribed."}, false},
		{"OPT  OUT", []string{optOutReply}, false},
	}
	for _, st := range steps {
		res, err := sim.Say(ctx, st.say)
		if err != nil {
			t.Fatal(err)
		}
		var sent []string
		for _, m := range res.Sent {
			if m.Status != engine.StatusSuppressed {
				sent = append(sent, m.Body)
			}
		}
		if !slices.Equal(sent, st.sent) {
			t.Errorf("%q: sent %q, want %q", st.say, sent, st.sent)
		}
		var active bool
		if err := sim.Store.View(ctx, func(tx engine.Tx) error {
			ens, err := tx.ActiveEnrollments(sim.From)
			active = len(ens) > 0
			return err
		}); err != nil {
			t.Fatal(err)
		}
		if active != st.enrolled {
			t.Errorf("%q: active enrollment %v, want %v", st.say, active, st.enrolled)
		}
	}
	c, err := sim.Contact(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !c.OptedOut {
		t.Error("contact is not opted out at the end")
	}
}
