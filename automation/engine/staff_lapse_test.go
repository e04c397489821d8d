package engine_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/keyway-sms/keyway/automation/engine"
)

const staffLapseConfig = `
automations:
  - id: agent
    keywords: [AGENT]
    steps:
      - { type: handoff, to: ["+15550100100"], timeout: 1h, on_timeout: gone }
      - { type: reply, text: "closed by staff", next: end }
      - { id: gone, type: reply, text: "handoff over" }
  - id: support
    catch_all: true
    steps:
      - { type: forward_to_mobile, to: ["+15550100100"] }
`

// A staff answer that comes after the handoff's timeout passed, before the
// timer loop fired it, finds the handoff timed out: the timeout's way runs
// first, then the answer goes as to any closed conversation, and the
// handoff stays closed. A #done has the note that it timed out as its
// only answer: nothing more says that no handoff is open.
func TestAStaffAnswerAfterTheHandoffTimeout(t *testing.T) {
	const staff, x = "+15550100100", "+15551230031"
	const closedNote = staff + " #XXXX: handoff closed: timed out."
	for _, tt := range []struct {
		name, text string
		want       []string
	}{
		{"#REF text", "#XXXX on my way", []string{closedNote, x + " handoff over", x + " on my way"}},
		{"plain text", "on my way", []string{closedNote, x + " handoff over", x + " on my way"}},
		{"#REF done", "#XXXX done", []string{closedNote, x + " handoff over"}},
		{"#done", "#done", []string{closedNote, x + " handoff over"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e, clock, store := refEngine(t, staffLapseConfig, "XXXX")
			sayFrom(t, e, store, 1, x, "sms", "AGENT")
			clock.Advance(time.Hour + time.Second) // the clock only: no timer fires
			if _, got := sayFrom(t, e, store, 2, staff, "sms", tt.text); strings.Join(got, "|") != strings.Join(tt.want, "|") {
				t.Errorf("sent %q, want %q", got, tt.want)
			}
			en := enrollmentOf(t, store, x, "agent")
			if en.Status != engine.EnrollmentEnded || en.Step != "gone" {
				t.Errorf("enrollment %s at %s, want ended at gone", en.Status, en.Step)
			}
			if open, err := e.Handoffs(context.Background()); err != nil || len(open) != 0 {
				t.Errorf("open handoffs %+v (%v), want none", open, err)
			}
		})
	}
}

// A handoff whose timeout passed is open no more when a plain answer is
// placed: with it answered before and another conversation forwarded and
// unanswered, the plain answer goes to the other one, as it would once the
// timer had fired, instead of asking which.
func TestAPlainAnswerDoesNotCountALapsedHandoff(t *testing.T) {
	const staff, x, y = "+15550100100", "+15551230031", "+15551230032"
	e, clock, store := refEngine(t, staffLapseConfig, "XXXX", "YYYY")
	sayFrom(t, e, store, 1, x, "sms", "AGENT")
	sayFrom(t, e, store, 2, staff, "sms", "hello, Ann here")
	clock.Advance(59 * time.Minute)
	sayFrom(t, e, store, 3, y, "sms", "a question")
	clock.Advance(2 * time.Minute) // x's handoff timed out; no timer fires
	_, got := sayFrom(t, e, store, 4, staff, "sms", "the answer")
	if want := []string{staff + " #XXXX: handoff closed: timed out.", x + " handoff over", y + " the answer"}; strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("sent %q, want %q", got, want)
	}
}

// The dashboard's answer and close find a lapsed handoff timed out too.
func TestADashboardAnswerAfterTheHandoffTimeout(t *testing.T) {
	const x = "+15551230031"
	e, clock, store := refEngine(t, staffLapseConfig, "XXXX")
	ctx := context.Background()
	sayFrom(t, e, store, 1, x, "sms", "AGENT")
	clock.Advance(time.Hour + time.Second)
	if closed, err := e.CloseHandoff(ctx, x); err != nil || closed {
		t.Fatalf("close after the timeout: closed %v (%v), want nothing open", closed, err)
	}
	if en := enrollmentOf(t, store, x, "agent"); en.Status != engine.EnrollmentEnded || en.Step != "gone" {
		t.Errorf("enrollment %s at %s, want ended at gone", en.Status, en.Step)
	}
}
