package engine_test

import (
	"context"
	"testing"

	"github.com/keyway-sms/keyway/automation/engine"
	"github.com/keyway-sms/keyway/providers"
)

const actorConfig = `
automations:
  - id: news
    keywords: [NEWS]
    steps:
      - { type: reply, text: "Hi" }
      - { type: wait, duration: 1h }
      - { type: reply, text: "Bye" }
  - id: agent
    keywords: [AGENT]
    steps:
      - { type: handoff, to: ["+15550100100"], timeout: 2h }
  - id: once
    steps:
      - { type: reply, text: "One and done" }
  - id: short
    steps:
      - { type: reply, text: "Short" }
      - { type: end }
      - { type: reply, text: "never" }
`

// What a person does through the engine under WithActor records their
// name: the enrollments they start and end, and the answers they send;
// what the automations and the contacts do records nobody.
func TestActorIsRecorded(t *testing.T) {
	const ann, bea, staff = "+15551230001", "+15551230002", "+15550100100"
	e, _, store := refEngine(t, actorConfig, "AAAA")
	ctx := context.Background()
	enrollment := func(contact string) *engine.Enrollment {
		t.Helper()
		var en *engine.Enrollment
		err := store.View(ctx, func(tx engine.Tx) error {
			list, err := tx.Enrollments("news", contact, false, 1)
			if err == nil && len(list) == 1 {
				en = list[0]
			}
			return err
		})
		if err != nil || en == nil {
			t.Fatalf("enrollment of %s: %v, %v", contact, en, err)
		}
		return en
	}

	if _, err := e.Start(engine.WithActor(ctx, "Ann Admin"), "news", []string{ann}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Start(ctx, "news", []string{bea}); err != nil {
		t.Fatal(err)
	}
	if got := enrollment(ann).StartedBy; got != "Ann Admin" {
		t.Errorf("started under an actor: StartedBy = %q, want Ann Admin", got)
	}
	if got := enrollment(bea).StartedBy; got != "" {
		t.Errorf("started with no actor: StartedBy = %q, want empty", got)
	}
	outboxNow(t, store, sendAll)
	msgs := func(contact string) []*engine.Message {
		t.Helper()
		var out []*engine.Message
		if err := store.View(ctx, func(tx engine.Tx) error {
			var err error
			out, err = tx.Messages(contact, 10)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		return out
	}
	for _, m := range msgs(ann) {
		if m.By != "" {
			t.Errorf("the automation's reply %q records By = %q, want nobody", m.Body, m.By)
		}
	}

	en := enrollment(ann)
	if _, err := e.Cancel(engine.WithActor(ctx, "Bob"), en.ID, "cancelled in the dashboard"); err != nil {
		t.Fatal(err)
	}
	if got := enrollment(ann); got.EndedBy != "Bob" || got.StartedBy != "Ann Admin" {
		t.Errorf("cancelled under an actor: StartedBy, EndedBy = %q, %q; want Ann Admin, Bob", got.StartedBy, got.EndedBy)
	}
	if _, err := e.Cancel(ctx, enrollment(bea).ID, "cancelled"); err != nil {
		t.Fatal(err)
	}
	if got := enrollment(bea).EndedBy; got != "" {
		t.Errorf("cancelled with no actor: EndedBy = %q, want empty", got)
	}

	// A staff answer in a handoff, made under an actor, records it;
	// the contact's own message records nobody.
	if _, err := e.HandleInbound(ctx, providers.Inbound{Provider: "test", ID: "SM1", Channel: "sms", From: ann, To: "+15005550006", Body: "AGENT"}); err != nil {
		t.Fatal(err)
	}
	outboxNow(t, store, sendAll)
	if _, err := e.HandleInbound(engine.WithActor(ctx, "Cleo"), providers.Inbound{Provider: "test", ID: "SM2", Channel: "sms", From: staff, To: "+15005550006", Body: "#AAAA On it"}); err != nil {
		t.Fatal(err)
	}
	var answer *engine.Message
	for _, m := range msgs(ann) {
		if m.Body == "On it" {
			answer = m
		} else if m.By != "" {
			t.Errorf("message %q records By = %q, want nobody", m.Body, m.By)
		}
	}
	if answer == nil || answer.By != "Cleo" {
		t.Fatalf("the staff answer: %+v, want one with By Cleo", answer)
	}
}

// An enrollment a person started that runs its course ends by itself:
// nobody ended it, so it names nobody as EndedBy, whether it ran out of
// steps or reached an end step.
func TestActorDoesNotEndWhatRunsItsCourse(t *testing.T) {
	const ann = "+15551230001"
	e, _, store := refEngine(t, actorConfig, "AAAA")
	ctx := engine.WithActor(context.Background(), "Ann Admin")
	for _, id := range []string{"once", "short"} {
		if _, err := e.Start(ctx, id, []string{ann}); err != nil {
			t.Fatal(err)
		}
		var en *engine.Enrollment
		if err := store.View(ctx, func(tx engine.Tx) error {
			list, err := tx.Enrollments(id, ann, false, 1)
			if len(list) == 1 {
				en = list[0]
			}
			return err
		}); err != nil || en == nil {
			t.Fatalf("enrollment in %s: %v, %v", id, en, err)
		}
		if en.Status != engine.EnrollmentEnded || en.EndReason != engine.ReasonCompleted || en.StartedBy != "Ann Admin" || en.EndedBy != "" {
			t.Errorf("%s ran its course: status %s, reason %q, StartedBy %q, EndedBy %q; want ended, completed, Ann Admin and nobody",
				id, en.Status, en.EndReason, en.StartedBy, en.EndedBy)
		}
	}
}
