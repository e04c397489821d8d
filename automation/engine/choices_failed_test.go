package engine_test

import (
	"context"
	"testing"

	"github.com/keyway-sms/keyway/automation/engine"
	"github.com/keyway-sms/keyway/automation/sim"
	"github.com/keyway-sms/keyway/providers"
)

// Choices in a message that failed for good, for a reason that says
// nothing of the contact (an unreachable handset, an invalid number), were
// never seen either: whether the send failed or a status reported it
// later, the contact's record forgets them, so that a number typed later
// picks nothing. A failure of another message leaves them.
func TestUndeliveredChoicesAreForgotten(t *testing.T) {
	ctx := context.Background()
	fail := func(t *testing.T, s *sim.Simulator, m *engine.Message, how string) {
		t.Helper()
		if how == "status" {
			st := providers.Status{ProviderID: "SM" + m.ID, Status: "undelivered", ErrorCode: 30003, ErrorMessage: "Unreachable destination handset"}
			if _, err := s.Engine.UpdateStatus(ctx, "simulator", st, m.ID); err != nil {
				t.Fatal(err)
			}
			return
		}
		err := s.Store.Update(ctx, func(tx engine.Tx) error {
			m, err := tx.Message(m.ID)
			if err != nil {
				return err
			}
			m.Status, m.ErrorCode, m.Error = engine.StatusFailed, 21211, "Invalid 'To' Phone Number"
			if err := tx.PutMessage(m); err != nil {
				return err
			}
			_, err = s.Engine.UndeliveredIn(ctx, tx, m)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, how := range []string{"send", "status"} {
		t.Run(how, func(t *testing.T) {
			s := refusalSim(t)
			other := sayTo(t, s, "ONCE")
			sent := sayTo(t, s, "MENU")
			if len(other) != 1 || len(sent) != 1 || offerOf(t, s) == nil || offerOf(t, s).Message != sent[0].ID {
				t.Fatalf("sent %+v then %+v, offer %+v; want the menu's choices offered", other, sent, offerOf(t, s))
			}
			fail(t, s, other[0], how)
			if o := offerOf(t, s); o == nil || o.Message != sent[0].ID {
				t.Fatalf("after another message failed: offer %+v, want the menu's", o)
			}
			fail(t, s, sent[0], how)
			if o := offerOf(t, s); o != nil {
				t.Fatalf("after the menu failed: offer %+v, want none", o)
			}
			if res, err := s.Say(ctx, "2"); err != nil || res.In.Button != "" {
				t.Fatalf("a 2 after the failed menu read as %q (%v), want no choice", res.In.Button, err)
			}
		})
	}
}

// A forward whose quick answers failed to reach its staff member leaves
// their record without them: a number they type is an answer, not a pick.
func TestUndeliveredQuickAnswersAreForgotten(t *testing.T) {
	ctx := context.Background()
	s := sim.NewSimulator(compileSet(t, quickAnswersConfig), nil)
	res, err := s.Say(ctx, "help me")
	if err != nil || len(res.Sent) != 1 {
		t.Fatalf("forward: %+v (%v)", res.Sent, err)
	}
	st := providers.Status{ProviderID: "SMfwd", Status: "failed", ErrorCode: 30006, ErrorMessage: "Landline or unreachable carrier"}
	if _, err := s.Engine.UpdateStatus(ctx, "simulator", st, res.Sent[0].ID); err != nil {
		t.Fatal(err)
	}
	var staff *engine.Contact
	err = s.Store.View(ctx, func(tx engine.Tx) error {
		staff, err = tx.Contact("+15550100100")
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if staff.Offer != nil {
		t.Fatalf("the staff member's record still offers %+v after the forward failed", staff.Offer)
	}
}
