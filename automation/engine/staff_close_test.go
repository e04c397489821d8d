package engine_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/keyway-sms/keyway/automation/engine"
)

const handoffCloseConfig = `
staff: [ { number: "+15550100100", name: "Ann" } ]
automations:
  - id: agent
    keywords: [AGENT]
    steps:
      - { type: handoff, to: ["+15550100100", "+15550100101"], timeout: 1h, on_timeout: gone }
      - { type: reply, text: "closed", next: end }
      - { id: gone, type: reply, text: "handoff over" }
  - id: slow
    keywords: [SLOW]
    expire_after: 3h
    steps:
      - { type: handoff, to: ["+15550100100"] }
`

// A handoff that closes other than by a staff member's own #done tells
// each of its staff once, from the number its forwards came from, with
// the conversation's reference and why: a timeout, a close from the
// dashboard, a #done of another of its staff, a cancel, or a reload that removed its automation. What the automation sends next
// comes after the note.
func TestAHandoffThatClosesTellsItsStaff(t *testing.T) {
	const ann, bob, x = "+15550100100", "+15550100101", "+15551230031"
	ctx := context.Background()
	both := func(note string) []string { return []string{ann + " " + note, bob + " " + note} }
	for _, tt := range []struct {
		name    string
		keyword string
		close   func(t *testing.T, e *engine.Engine, clock *engine.FakeClock, store engine.Store)
		want    []string
	}{
		{"its timeout, fired by the timer loop", "AGENT", func(t *testing.T, e *engine.Engine, clock *engine.FakeClock, _ engine.Store) {
			clock.Advance(time.Hour + time.Second)
			if _, err := e.FireDue(ctx); err != nil {
				t.Fatal(err)
			}
		}, append(both("#XXXX: handoff closed: timed out."), x+" handoff over")},
		{"the dashboard's close", "AGENT", func(t *testing.T, e *engine.Engine, _ *engine.FakeClock, _ engine.Store) {
			if closed, err := e.CloseHandoff(ctx, x); err != nil || !closed {
				t.Fatalf("close: %v, %v", closed, err)
			}
		}, append(both("#XXXX: handoff closed in the dashboard."), x+" closed")},
		{"another staff member's #done", "AGENT", func(t *testing.T, e *engine.Engine, _ *engine.FakeClock, store engine.Store) {
			if _, got := sayFrom(t, e, store, 2, bob, "sms", "#done"); strings.Join(got, "|") != strings.Join([]string{ann + " #XXXX: handoff closed by +15550100101.", x + " closed", bob + " #XXXX: handoff closed."}, "|") {
				t.Fatalf("#done sent %q", got)
			}
		}, nil},
		{"a cancel", "AGENT", func(t *testing.T, e *engine.Engine, _ *engine.FakeClock, store engine.Store) {
			if _, err := e.Cancel(ctx, enrollmentOf(t, store, x, "agent").ID, "cancelled in the dashboard"); err != nil {
				t.Fatal(err)
			}
		}, both("#XXXX: handoff closed: cancelled in the dashboard.")},
		{"expire_after, for a handoff without a timeout", "SLOW", func(t *testing.T, e *engine.Engine, clock *engine.FakeClock, _ engine.Store) {
			clock.Advance(3*time.Hour + time.Second)
			if _, err := e.FireDue(ctx); err != nil {
				t.Fatal(err)
			}
		}, []string{ann + " #XXXX: handoff closed: timed out."}},
		{"a reload that removed its automation", "AGENT", func(t *testing.T, e *engine.Engine, _ *engine.FakeClock, _ engine.Store) {
			set := compileSet(t, strings.Replace(handoffCloseConfig, "id: agent\n    keywords: [AGENT]", "id: other\n    keywords: [OTHER]", 1))
			if n, err := e.ReconcileTo(ctx, set, func() { e.Swap(set) }); err != nil || n != 1 {
				t.Fatalf("reconcile ended %d, %v; want the handoff ended", n, err)
			}
		}, both(`#XXXX: handoff closed: automation "agent" was removed from the config.`)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e, clock, store := refEngine(t, handoffCloseConfig, "XXXX")
			if _, got := sayFrom(t, e, store, 1, x, "sms", tt.keyword); len(got) == 0 {
				t.Fatalf("%s opened no handoff", tt.keyword)
			}
			tt.close(t, e, clock, store)
			if got := outboxNow(t, store, func(*engine.Message) bool { return true }); strings.Join(got, "|") != strings.Join(tt.want, "|") {
				t.Errorf("sent %q, want %q", got, tt.want)
			}
			if open, err := e.Handoffs(ctx); err != nil || len(open) != 0 {
				t.Errorf("open handoffs %+v (%v), want none", open, err)
			}
			if got := outboxNow(t, store, func(*engine.Message) bool { return true }); len(got) != 0 {
				t.Errorf("then sent %q, want nothing more", got)
			}
		})
	}
}
