package engine_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/keyway-sms/keyway/automation/engine"
	"github.com/keyway-sms/keyway/providers"
)

const inboxConfig = `
automations:
  - id: agent
    keywords: [AGENT]
    steps:
      - { type: handoff, to: ["+15550100100"], timeout: 2h }
      - { type: reply, text: "Thanks for talking to us!" }
  - id: support
    catch_all: true
    steps:
      - { type: forward_to_mobile, to: ["+15550100100"] }
`

func inboxOf(t *testing.T, e *engine.Engine) []engine.InboxEntry {
	t.Helper()
	list, err := e.Inbox(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return list
}

// The inbox lists the open handoff and the forwarded conversation, newest
// activity first, both unanswered; an answer from the dashboard goes out
// as a staff answer does (and marks it answered), a staff member's
// #REF answer does the same, a conversation older than the window leaves
// the list while its handoff stays, and closing the handoff from the
// dashboard ends it as #done does.
func TestInboxAnswerAndClose(t *testing.T) {
	const staff, ann, bob = "+15550100100", "+15551230001", "+15551230002"
	e, clock, store := refEngine(t, inboxConfig, "AAAA", "BBBB")
	ctx := engine.WithActor(context.Background(), "sam")
	sayFrom(t, e, store, 1, ann, "sms", "AGENT please")
	clock.Advance(time.Minute)
	sayFrom(t, e, store, 2, bob, "sms", "where is my order?")

	list := inboxOf(t, e)
	if len(list) != 2 || list[0].Contact != bob || list[1].Contact != ann {
		t.Fatalf("inbox = %+v, want Bob then Ann", list)
	}
	if !list[0].Unanswered || !list[1].Unanswered || list[1].Handoff == nil || list[0].Handoff != nil ||
		list[0].Ref != "BBBB" || list[1].Ref != "AAAA" || list[0].Staff[0] != staff {
		t.Fatalf("inbox entries = %+v", list)
	}
	if list[0].Last == nil || list[0].Last.Body != "where is my order?" {
		t.Errorf("Bob's last message = %+v", list[0].Last)
	}

	clock.Advance(time.Minute)
	d, err := e.Answer(ctx, bob, "It ships today")
	if err != nil || d.NotSent != "" || d.Message == "" || d.Ref != "BBBB" {
		t.Fatalf("answer Bob: %+v, %v", d, err)
	}
	if got := outboxNow(t, store, sendAll); len(got) != 1 || got[0] != bob+" It ships today" {
		t.Fatalf("answer Bob queued %q", got)
	}
	if m := message(t, store, d.Message); m.Purpose != engine.PurposeStaff || m.From != "+15005550006" || m.Channel != "sms" || m.By != "sam" {
		t.Errorf("answer = %+v, want a staff answer from the number Bob wrote to", m)
	}
	list = inboxOf(t, e)
	if list[0].Contact != bob || list[0].Unanswered || !list[1].Unanswered {
		t.Fatalf("after answering Bob: %+v", list)
	}
	// A staff member's #REF answer counts as well.
	sayFrom(t, e, store, 3, staff, "sms", "#AAAA hello Ann")
	if list = inboxOf(t, e); list[0].Contact != ann || list[0].Unanswered {
		t.Fatalf("after #AAAA: %+v", list)
	}

	// A day on, Bob's forward is out of the window; Ann's handoff is
	// still open (no timer ran), so she stays.
	clock.Advance(25 * time.Hour)
	if list = inboxOf(t, e); len(list) != 1 || list[0].Contact != ann || list[0].Channel != "sms" {
		t.Fatalf("a day later: %+v", list)
	}
	d, err = e.Answer(ctx, "+15559999999", "anyone?")
	if err != nil || d.NotSent == "" {
		t.Errorf("answer to a contact never forwarded: %+v, %v", d, err)
	}
}

// Closing a handoff from the dashboard ends it as #done does: the
// automation goes on, and its staff are told; a second close finds none
// open.
func TestInboxCloseHandoff(t *testing.T) {
	const ann = "+15551230001"
	e, _, store := refEngine(t, inboxConfig, "AAAA")
	ctx := context.Background()
	sayFrom(t, e, store, 1, ann, "sms", "AGENT please")
	closed, err := e.CloseHandoff(engine.WithActor(ctx, "bob"), ann)
	if err != nil || !closed {
		t.Fatalf("close: %v, %v", closed, err)
	}
	if got := outboxNow(t, store, sendAll); len(got) != 2 || got[0] != "+15550100100 #AAAA: handoff closed in the dashboard by bob." || got[1] != ann+" Thanks for talking to us!" {
		t.Fatalf("after close: %q, want the note to its staff, then the step after the handoff", got)
	}
	if closed, err := e.CloseHandoff(ctx, ann); err != nil || closed {
		t.Fatalf("second close: %v, %v", closed, err)
	}
}

// An answer to an opted-out contact, or on WhatsApp outside the window,
// is not sent and says why; nothing is stored.
func TestInboxAnswerRefused(t *testing.T) {
	const ann, wa = "+15551230001", "+15551230003"
	e, clock, store := refEngine(t, inboxConfig, "AAAA", "WWWW")
	ctx := context.Background()
	sayFrom(t, e, store, 1, ann, "sms", "help me")
	sayFrom(t, e, store, 2, ann, "sms", "STOP")
	d, err := e.Answer(ctx, ann, "Hello?")
	if err != nil || d.Message != "" || !strings.Contains(d.NotSent, "opted out") {
		t.Fatalf("answer to an opted-out contact: %+v, %v", d, err)
	}
	if got := outboxNow(t, store, sendAll); len(got) != 0 {
		t.Fatalf("queued %q", got)
	}
	if _, err := e.HandleInbound(ctx, providers.Inbound{Provider: "test", ID: "WA1", Channel: "whatsapp", From: wa, To: "+15005550006", Body: "hi"}); err != nil {
		t.Fatal(err)
	}
	outboxNow(t, store, sendAll)
	clock.Advance(25 * time.Hour)
	d, err = e.Answer(ctx, wa, "late")
	if err != nil || !strings.Contains(d.NotSent, "24-hour window") {
		t.Fatalf("answer outside the window: %+v, %v", d, err)
	}
}

// A one-off message: text goes on SMS; refused for an opted-out contact;
// on WhatsApp outside the window only a template goes, in the form of the
// number's provider.
func TestSendOneOff(t *testing.T) {
	const ann, wa = "+15551230001", "+15551230003"
	e, clock, store := refEngine(t, inboxConfig, "AAAA", "WWWW")
	ctx := engine.WithActor(context.Background(), "sam")
	if _, err := e.Send(ctx, ann, engine.OneOff{Text: "hi"}); err == nil || !strings.Contains(err.Error(), "not found") {
		t.Fatalf("send to an unknown contact: %v", err)
	}
	if err := store.Update(ctx, func(tx engine.Tx) error {
		return tx.PutContact(&engine.Contact{Phone: ann, LastTo: map[string]string{"sms": "+15005550006"}})
	}); err != nil {
		t.Fatal(err)
	}
	d, err := e.Send(ctx, ann, engine.OneOff{Text: " Your table is ready "})
	if err != nil || d.Message == "" {
		t.Fatalf("send: %+v, %v", d, err)
	}
	if got := outboxNow(t, store, sendAll); len(got) != 1 || got[0] != ann+" Your table is ready" {
		t.Fatalf("send queued %q", got)
	}
	if m := message(t, store, d.Message); m.Purpose != engine.PurposeStaff || m.From != "+15005550006" || m.By != "sam" {
		t.Errorf("one-off = %+v", m)
	}
	sayFrom(t, e, store, 1, ann, "sms", "STOP")
	if d, err := e.Send(ctx, ann, engine.OneOff{Text: "more"}); err != nil || !strings.Contains(d.NotSent, "opted out") {
		t.Fatalf("send to an opted-out contact: %+v, %v", d, err)
	}

	if _, err := e.HandleInbound(ctx, providers.Inbound{Provider: "test", ID: "WA1", Channel: "whatsapp", From: wa, To: "+15005550006", Body: "hi"}); err != nil {
		t.Fatal(err)
	}
	outboxNow(t, store, sendAll)
	clock.Advance(25 * time.Hour)
	if d, err := e.Send(ctx, wa, engine.OneOff{Text: "late"}); err != nil || !strings.Contains(d.NotSent, "24-hour window") {
		t.Fatalf("text outside the window: %+v, %v", d, err)
	}
	d, err = e.Send(ctx, wa, engine.OneOff{Text: "late", ContentSID: "HX0123456789abcdef0123456789abcdef", ContentVariables: map[string]string{"1": "Ann"}})
	if err != nil || d.Message == "" {
		t.Fatalf("template outside the window: %+v, %v", d, err)
	}
	if m := message(t, store, d.Message); m.ContentSID == "" || m.Body != "" || m.ContentVariables["1"] != "Ann" || m.Channel != "whatsapp" {
		t.Errorf("template one-off = %+v", m)
	}
}

func message(t *testing.T, store engine.Store, id string) *engine.Message {
	t.Helper()
	var m *engine.Message
	err := store.View(context.Background(), func(tx engine.Tx) error {
		var err error
		m, err = tx.Message(id)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// The inbox reads a conversation's latest few messages first and more
// when those do not show a forward or a staff answer: a forward behind
// more automation messages than the first read takes is still
// unanswered.
func TestInboxForwardBehindManyMessages(t *testing.T) {
	const bob = "+15551230002"
	e, clock, store := refEngine(t, inboxConfig, "BBBB")
	sayFrom(t, e, store, 1, bob, "sms", "where is my order?")
	err := store.Update(context.Background(), func(tx engine.Tx) error {
		for i := range 12 {
			clock.Advance(time.Second)
			m := &engine.Message{
				ID: fmt.Sprintf("auto-%02d", i), Direction: engine.Outbound, Contact: bob, To: []string{bob}, From: "+15005550006",
				Channel: "sms", Body: fmt.Sprintf("update %d", i), Status: engine.StatusSent, CreatedAt: clock.Now(),
			}
			if err := tx.PutMessage(m); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	list := inboxOf(t, e)
	if len(list) != 1 || !list[0].Unanswered || list[0].Last == nil || list[0].Last.Body != "update 11" {
		t.Fatalf("inbox = %+v, want Bob unanswered with update 11 last", list)
	}
}

// An answer the provider reports undelivered leaves the conversation
// waiting for one, as an answer that failed at the send does.
func TestInboxUndeliveredAnswerLeavesItUnanswered(t *testing.T) {
	const bob = "+15551230002"
	e, clock, store := refEngine(t, inboxConfig, "BBBB")
	ctx := engine.WithActor(context.Background(), "sam")
	sayFrom(t, e, store, 1, bob, "sms", "where is my order?")
	outboxNow(t, store, sendAll)
	clock.Advance(time.Minute)
	d, err := e.Answer(ctx, bob, "It ships today")
	if err != nil || d.NotSent != "" {
		t.Fatalf("answer Bob: %+v, %v", d, err)
	}
	outboxNow(t, store, sendAll)
	if list := inboxOf(t, e); len(list) != 1 || list[0].Unanswered {
		t.Fatalf("after the answer went: %+v", list)
	}
	found, err := e.UpdateStatus(ctx, "twilio", providers.Status{ProviderID: "SM" + d.Message, Status: "undelivered", ErrorCode: 30003}, d.Message)
	if err != nil || !found {
		t.Fatalf("status: %v, %v", found, err)
	}
	if list := inboxOf(t, e); len(list) != 1 || !list[0].Unanswered {
		t.Errorf("after the answer was reported undelivered: %+v", list)
	}
}
