package engine_test

import (
	"context"
	"errors"
	"testing"

	"github.com/keyway-sms/keyway/automation/engine"
	"github.com/keyway-sms/keyway/automation/sim"
)

// A batch applies each change by UpdateContact's rules in one commit: a
// contact that opted out itself stays out and only its change is refused,
// a contact changed twice in a batch keeps both changes, and applying the
// batch again creates nothing. Each contact written records who imported it.
func TestUpdateContactsBatch(t *testing.T) {
	s := sim.NewSimulator(compileSet(t, quizConfig), nil)
	ctx := engine.WithActor(context.Background(), "Ann")
	e := s.Engine
	if _, err := s.Say(ctx, "STOP"); err != nil { // s.From opts out itself
		t.Fatal(err)
	}
	const ann, bob = "+15550001001", "+15550001002"
	batch := []engine.ContactChange{
		{Phone: ann, Update: engine.ContactUpdate{Name: ptr("Ann")}},
		{Phone: s.From, Update: engine.ContactUpdate{Name: ptr("Stopper"), OptedOut: ptr(false)}},
		{Phone: bob, Update: engine.ContactUpdate{OptedOut: ptr(true)}},
		{Phone: ann, Update: engine.ContactUpdate{Tags: ptr([]string{"vip"})}},
	}
	out, err := e.UpdateContacts(ctx, batch)
	if err != nil {
		t.Fatal(err)
	}
	if !out[0].Created || out[0].Err != nil || !errors.Is(out[1].Err, engine.ErrOptInRefused) || !out[2].Created || out[3].Created {
		t.Fatalf("outcomes: %+v", out)
	}
	contact := func(phone string) *engine.Contact {
		t.Helper()
		var c *engine.Contact
		err := s.Store.View(ctx, func(tx engine.Tx) error {
			var err error
			c, err = tx.Contact(phone)
			return err
		})
		if err != nil {
			t.Fatalf("contact %s: %v", phone, err)
		}
		return c
	}
	if c := contact(ann); c.Name != "Ann" || len(c.Tags) != 1 || c.Imported == nil || c.Imported.By != "Ann" {
		t.Errorf("ann: %+v, want her name, tag and who imported her", c)
	}
	if c := contact(s.From); !c.OptedOut || c.Name == "Stopper" {
		t.Errorf("the contact that opted out itself: %+v, want it unchanged", c)
	}
	if c := contact(bob); !c.OptedOut || !c.OptedOutByAdmin {
		t.Errorf("bob: %+v, want opted out by an admin", c)
	}
	// An import's opt-out ends the contact's enrollments saying so.
	const cy = "+15550001003"
	if _, err := e.Start(ctx, "quiz", []string{cy}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.UpdateContacts(ctx, []engine.ContactChange{{Phone: cy, Update: engine.ContactUpdate{OptedOut: ptr(true)}}}); err != nil {
		t.Fatal(err)
	}
	err = s.Store.View(ctx, func(tx engine.Tx) error {
		ens, err := tx.Enrollments("quiz", cy, false, 1)
		if err == nil && (len(ens) != 1 || ens[0].EndReason != "opted out by a contacts import") {
			t.Errorf("cy's enrollment after the import opted it out: %+v", ens)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	again, err := e.UpdateContacts(ctx, batch)
	if err != nil {
		t.Fatal(err)
	}
	for i, o := range again {
		if o.Created {
			t.Errorf("applied again, change %d created its contact", i)
		}
	}
}
