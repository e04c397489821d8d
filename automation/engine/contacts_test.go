package engine_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/keyway-sms/keyway/automation/engine"
	"github.com/keyway-sms/keyway/automation/sim"
)

func ptr[T any](v T) *T { return &v }

// An admin may opt a contact out and back in; a contact that opted out
// itself is opted back in only with force and a reason, which is kept.
func TestUpdateContactOptInRules(t *testing.T) {
	s := sim.NewSimulator(compileSet(t, quizConfig), nil)
	ctx := context.Background()
	e := s.Engine

	// Created with what the update names; merged fields.
	c, created, err := e.UpdateContact(ctx, s.From, engine.ContactUpdate{Name: ptr("Ann"), Fields: map[string]string{"a": "1", "b": "2"}, Tags: ptr([]string{"vip"})})
	if err != nil || !created || c.Name != "Ann" || c.Fields["a"] != "1" {
		t.Fatalf("create: %+v created %v err %v", c, created, err)
	}
	// A new contact is created and updated now, not in year 1.
	if now := s.Clock.Now(); !c.CreatedAt.Equal(now) || !c.UpdatedAt.Equal(now) {
		t.Errorf("created %v, updated %v; want both %v", c.CreatedAt, c.UpdatedAt, now)
	}
	s.Clock.Advance(time.Minute)
	c, created, err = e.UpdateContact(ctx, s.From, engine.ContactUpdate{Fields: map[string]string{"a": "", "c": "3"}})
	if now := s.Clock.Now(); err == nil && (!c.UpdatedAt.Equal(now) || !c.CreatedAt.Equal(now.Add(-time.Minute))) {
		t.Errorf("after an update: created %v, updated %v; want the update at %v", c.CreatedAt, c.UpdatedAt, now)
	}
	if err != nil || created || c.Name != "Ann" || !slices.Equal(c.Tags, []string{"vip"}) || c.Fields["a"] != "" || c.Fields["b"] != "2" || c.Fields["c"] != "3" {
		t.Fatalf("update: %+v created %v err %v", c, created, err)
	}

	// An admin opt-out ends the enrollments and can be lifted without force.
	if _, err := s.Say(ctx, "QUIZ"); err != nil {
		t.Fatal(err)
	}
	if c, _, err = e.UpdateContact(ctx, s.From, engine.ContactUpdate{OptedOut: ptr(true)}); err != nil || !c.OptedOut || !c.OptedOutByAdmin {
		t.Fatalf("admin opt-out: %+v %v", c, err)
	}
	if active := activeCount(t, s); active != 0 {
		t.Errorf("after the admin opt-out %d enrollments are active", active)
	}
	if c, _, err = e.UpdateContact(ctx, s.From, engine.ContactUpdate{OptedOut: ptr(false)}); err != nil || c.OptedOut || c.ForcedOptIn != nil {
		t.Fatalf("lifting the admin opt-out: %+v %v", c, err)
	}

	// STOP is the contact's own word: lifting it needs force and a reason.
	if _, err := s.Say(ctx, "STOP"); err != nil {
		t.Fatal(err)
	}
	_, _, err = e.UpdateContact(ctx, s.From, engine.ContactUpdate{OptedOut: ptr(false), Name: ptr("Changed")})
	if !errors.Is(err, engine.ErrOptInRefused) {
		t.Fatalf("opt-in after STOP without force: err %v, want ErrOptInRefused", err)
	}
	if _, _, err = e.UpdateContact(ctx, s.From, engine.ContactUpdate{OptedOut: ptr(false), Force: true}); !errors.Is(err, engine.ErrOptInRefused) {
		t.Fatalf("forced opt-in without a reason: err %v, want ErrOptInRefused", err)
	}
	c, err = s.Contact(ctx)
	if err != nil || !c.OptedOut || c.Name != "Ann" {
		t.Fatalf("a refused opt-in changed the contact: %+v %v", c, err)
	}
	// An admin opt-out on top of STOP does not make it the admin's.
	if c, _, err = e.UpdateContact(ctx, s.From, engine.ContactUpdate{OptedOut: ptr(true)}); err != nil || c.OptedOutByAdmin {
		t.Fatalf("admin opt-out of an opted-out contact: %+v %v", c, err)
	}
	c, _, err = e.UpdateContact(ctx, s.From, engine.ContactUpdate{OptedOut: ptr(false), Force: true, Reason: "paper form"})
	if err != nil || c.OptedOut || c.ForcedOptIn == nil || c.ForcedOptIn.Reason != "paper form" {
		t.Fatalf("forced opt-in: %+v %v", c, err)
	}
}

func activeCount(t *testing.T, s *sim.Simulator) int {
	t.Helper()
	var n int
	if err := s.Store.View(context.Background(), func(tx engine.Tx) error {
		ens, err := tx.ActiveEnrollments(s.From)
		n = len(ens)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return n
}

// A manual start's vars are what the run's templates see.
func TestStartVars(t *testing.T) {
	set := compileSet(t, `
automations:
  - id: promo
    steps:
      - { type: reply, text: "Hi {{ vars.name }}: {{ vars.code }}" }
`)
	s := sim.NewSimulator(set, nil)
	res, err := s.Engine.StartVars(context.Background(), "promo", []string{"+15550001111", "+15550002222"}, map[string]any{"name": "you", "code": "X1"})
	if err != nil || len(res.Started) != 2 {
		t.Fatalf("StartVars: %+v %v", res, err)
	}
	for _, phone := range res.Started {
		var msgs []*engine.Message
		if err := s.Store.View(context.Background(), func(tx engine.Tx) error {
			var err error
			msgs, err = tx.Messages(phone, 10)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		if len(msgs) != 1 || msgs[0].Body != "Hi you: X1" {
			t.Errorf("%s got %+v", phone, msgs)
		}
	}
}

// The compiler records each step's jumps for the dashboard's diagram.
func TestCompiledStepsKeepTheirBranches(t *testing.T) {
	set := compileSet(t, `
automations:
  - id: a
    keywords: [A]
    steps:
      - { type: wait_for_reply, timeout: 1h, save_as: x, on_timeout: late }
      - { type: condition, if: 'vars.x == "y"', then: yes, else: end }
      - { id: yes, type: reply, text: "yes", next: end }
      - { id: late, type: reply, text: "late" }
`)
	a := set.Automation("a")
	want := [][]engine.Branch{
		{{Field: "on_timeout", Target: "late"}},
		{{Field: "then", Target: "yes"}, {Field: "else", Target: "end"}},
		nil,
		nil,
	}
	for i, st := range a.Steps {
		if !slices.Equal(st.Branches, want[i]) {
			t.Errorf("step %d branches %+v, want %+v", i+1, st.Branches, want[i])
		}
	}
	if a.Steps[2].Next != "end" {
		t.Errorf("step 3 next %q", a.Steps[2].Next)
	}
}
