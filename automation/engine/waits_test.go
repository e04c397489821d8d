package engine_test

import (
	"context"
	"github.com/keyway-sms/keyway/automation/sim/simtest"
	"strings"
	"testing"
	"time"

	"github.com/keyway-sms/keyway/automation/engine"
	"github.com/keyway-sms/keyway/automation/sim"
	"github.com/keyway-sms/keyway/automation/steps"
	"github.com/keyway-sms/keyway/automation/store/mem"
)

// Shared with the other automation packages' tests (automation/sim/simtest).
var (
	timeSet  = simtest.Compile
	timeSim  = simtest.At
	mustZone = simtest.MustZone
)

// say has the simulator's contact write body; it fails the test on error.
func say(t *testing.T, sim *sim.Simulator, body string) sim.SimResult {
	t.Helper()
	res, err := sim.Say(context.Background(), body)
	if err != nil {
		t.Fatalf("say %q: %v", body, err)
	}
	return res
}

// advance moves the simulator's clock, firing what falls due.
func advance(t *testing.T, sim *sim.Simulator, d time.Duration) sim.SimResult {
	t.Helper()
	res, err := sim.Advance(context.Background(), d)
	if err != nil {
		t.Fatalf("advance %v: %v", d, err)
	}
	return res
}

func bodies(ms []*engine.Message) []string {
	out := []string{}
	for _, m := range ms {
		out = append(out, m.Body)
	}
	return out
}

func wantBodies(t *testing.T, what string, got []*engine.Message, want ...string) {
	t.Helper()
	if g := bodies(got); strings.Join(g, "|") != strings.Join(want, "|") {
		t.Errorf("%s: sent %q, want %q", what, g, want)
	}
}

// enrollmentOf returns the newest enrollment of contact in automation.
func enrollmentOf(t *testing.T, s engine.Store, contact, automationID string) *engine.Enrollment {
	t.Helper()
	var ens []*engine.Enrollment
	err := s.View(context.Background(), func(tx engine.Tx) error {
		var err error
		ens, err = tx.Enrollments(automationID, contact, false, 1)
		return err
	})
	if err != nil || len(ens) == 0 {
		t.Fatalf("no enrollment of %s in %q: %v", contact, automationID, err)
	}
	return ens[0]
}

// stepOf returns the compiled step i of automation id.
func stepOf[T any](t *testing.T, set *engine.Set, id string, i int) T {
	t.Helper()
	st, ok := set.Automation(id).Steps[i].Step.(T)
	if !ok {
		t.Fatalf("step %d of %q is a %T", i, id, set.Automation(id).Steps[i].Step)
	}
	return st
}

func TestWaitNext(t *testing.T) {
	set := timeSet(t, `
defaults: { timezone: Europe/Paris }
automations:
  - id: w
    keywords: [GO]
    steps:
      - { type: wait, duration: 90s }
      - { type: wait, duration: 3d }
      - { type: wait, until: "08:15" }
      - { type: wait, until: "23:59", timezone: UTC }
      - { type: wait, cron: "0 9 * * MON-FRI" }
      - { type: wait, cron: "*/15 * * * *", timezone: Asia/Kolkata }
      - { type: wait, cron: "@every 2s" }
      - { type: wait, cron: "CRON_TZ=America/New_York 0 9 * * *" }
`)
	paris := mustZone(t, "Europe/Paris")
	// Friday 2026-01-09 08:15:00 in Paris (07:15 UTC).
	fri := time.Date(2026, 1, 9, 8, 15, 0, 0, paris)
	utc := func(y int, mo time.Month, d, h, mi, s int) time.Time {
		return time.Date(y, mo, d, h, mi, s, 0, time.UTC)
	}
	tests := []struct {
		label string
		step  int
		now   time.Time
		want  time.Time
	}{
		{"90s", 0, fri, fri.Add(90 * time.Second)},
		{"3d", 1, fri, fri.Add(72 * time.Hour)},
		{"until now's own minute is tomorrow", 2, fri, time.Date(2026, 1, 10, 8, 15, 0, 0, paris)},
		{"until a second before is today", 2, fri.Add(-time.Second), fri},
		{"until later today", 2, time.Date(2026, 1, 9, 0, 0, 0, 0, paris), fri},
		{"until in the step's zone", 3, fri, utc(2026, 1, 9, 23, 59, 0)},
		{"until just after midnight UTC is that day", 3, utc(2026, 1, 10, 0, 0, 1), utc(2026, 1, 10, 23, 59, 0)},
		{"cron later today", 4, fri, time.Date(2026, 1, 9, 9, 0, 0, 0, paris)},
		{"cron skips the weekend", 4, time.Date(2026, 1, 9, 9, 0, 0, 0, paris), time.Date(2026, 1, 12, 9, 0, 0, 0, paris)},
		{"cron a second before", 4, time.Date(2026, 1, 9, 8, 59, 59, 0, paris), time.Date(2026, 1, 9, 9, 0, 0, 0, paris)},
		{"cron in a half-hour zone", 5, utc(2026, 1, 9, 7, 16, 0), utc(2026, 1, 9, 7, 30, 0)}, // 12:46 IST → 13:00 IST
		{"@every", 6, utc(2026, 1, 9, 7, 16, 0), utc(2026, 1, 9, 7, 16, 2)},
		{"CRON_TZ in the expression", 7, utc(2026, 1, 9, 7, 16, 0), utc(2026, 1, 9, 14, 0, 0)},
	}
	for _, tt := range tests {
		t.Run(tt.label, func(t *testing.T) {
			w := stepOf[*steps.Wait](t, set, "w", tt.step)
			got := w.Next(tt.now)
			if !got.Equal(tt.want) {
				t.Errorf("Next(%v) = %v, want %v", tt.now, got, tt.want)
			}
			if got.Location() != tt.now.Location() {
				t.Errorf("Next(%v) is in %v, want the zone of now", tt.now, got.Location())
			}
		})
	}
}

// TestWaitDST checks that daily 09:00 waits stay at 09:00 on the wall clock
// across both daylight-saving changes of 2026 in New York.
func TestWaitDST(t *testing.T) {
	set := timeSet(t, `
defaults: { timezone: America/New_York }
automations:
  - id: until
    keywords: [UNTIL]
    steps:
      - { type: wait, until: "09:00" }
      - { type: reply, text: "until fired" }
  - id: cron
    keywords: [CRON]
    steps:
      - { type: wait, cron: "0 9 * * *" }
      - { type: reply, text: "cron fired" }
  - id: gap
    keywords: [GAP]
    steps:
      - { type: wait, until: "02:30" }
  - id: twice
    keywords: [TWICE]
    steps:
      - { type: wait, until: "01:30" }
`)
	ny := mustZone(t, "America/New_York")
	local := func(y int, mo time.Month, d, h, mi int) time.Time { return time.Date(y, mo, d, h, mi, 0, 0, ny) }
	tests := []struct {
		label string
		now   time.Time
		want  time.Time // 09:00 local the next day
		utc   int       // hour of want in UTC
	}{
		{"spring forward (EST to EDT)", local(2026, 3, 7, 10, 0), local(2026, 3, 8, 9, 0), 13},
		{"day after spring forward", local(2026, 3, 8, 10, 0), local(2026, 3, 9, 9, 0), 13},
		{"fall back (EDT to EST)", local(2026, 10, 31, 10, 0), local(2026, 11, 1, 9, 0), 14},
		{"day before fall back", local(2026, 10, 30, 10, 0), local(2026, 10, 31, 9, 0), 13},
	}
	for _, tt := range tests {
		for _, id := range []string{"until", "cron"} {
			t.Run(tt.label+"/"+id, func(t *testing.T) {
				w := stepOf[*steps.Wait](t, set, id, 0)
				for _, now := range []time.Time{tt.now, tt.now.UTC()} {
					got := w.Next(now)
					if !got.Equal(tt.want) || got.In(ny).Hour() != 9 || got.UTC().Hour() != tt.utc {
						t.Errorf("Next(%v) = %v (%v local), want %v: 09:00 local, %02d:00 UTC", now, got, got.In(ny), tt.want, tt.utc)
					}
				}
			})
		}
	}

	t.Run("a time that does not exist is as far past the change", func(t *testing.T) {
		w := stepOf[*steps.Wait](t, set, "gap", 0)
		got := w.Next(local(2026, 3, 7, 12, 0))
		if want := local(2026, 3, 8, 3, 30); !got.Equal(want) {
			t.Errorf("until 02:30 on 2026-03-08 = %v, want %v", got.In(ny), want)
		}
	})
	t.Run("a time that happens twice is the first", func(t *testing.T) {
		w := stepOf[*steps.Wait](t, set, "twice", 0)
		got := w.Next(local(2026, 10, 31, 12, 0))
		if want := time.Date(2026, 11, 1, 5, 30, 0, 0, time.UTC); !got.Equal(want) {
			t.Errorf("until 01:30 on 2026-11-01 = %v, want %v (01:30 EDT)", got.In(ny), want)
		}
	})

	// Through the engine: enrolled the day before each change, the
	// enrollment waits until 09:00 local and fires then, not an hour off.
	for _, change := range []struct {
		label string
		start time.Time
	}{
		{"spring forward", local(2026, 3, 7, 12, 0)},
		{"fall back", local(2026, 10, 31, 12, 0)},
	} {
		t.Run("engine/"+change.label, func(t *testing.T) {
			for _, kw := range []string{"UNTIL", "CRON"} {
				sim := timeSim(t, set, change.start)
				say(t, sim, kw)
				en := enrollmentOf(t, sim.Store, sim.From, strings.ToLower(kw))
				if en.WaitUntil == nil || en.WaitUntil.In(ny).Hour() != 9 || en.WaitUntil.In(ny).Minute() != 0 {
					t.Fatalf("%s: waits until %v, want 09:00 local", kw, en.WaitUntil)
				}
				until := en.WaitUntil.Sub(sim.Clock.Now())
				if res := advance(t, sim, until-time.Minute); len(res.Sent) != 0 {
					t.Fatalf("%s: fired a minute early: %q", kw, bodies(res.Sent))
				}
				wantBodies(t, kw+" at 09:00", advance(t, sim, time.Minute).Sent, strings.ToLower(kw)+" fired")
				if !sim.Clock.Now().In(ny).Equal(local(change.start.Year(), change.start.Month(), change.start.Day()+1, 9, 0)) {
					t.Errorf("%s: fired at %v, want 09:00 the next day", kw, sim.Clock.Now().In(ny))
				}
			}
		})
	}
}

// TestWaitKeepsWaitingThroughMessages checks that a message during a wait
// is routed in the usual order (compliance, keywords, reply, catch-all)
// and does not end the wait.
func TestWaitKeepsWaitingThroughMessages(t *testing.T) {
	set := timeSet(t, `
automations:
  - id: drip
    keywords: [DRIP]
    steps:
      - { type: wait, duration: 1h }
      - { type: reply, text: "after the wait" }
`)
	sim := timeSim(t, set, sim.SimStart)
	say(t, sim, "DRIP")
	before := *enrollmentOf(t, sim.Store, sim.From, "drip")
	res := say(t, sim, "are you there?")
	if res.Via != engine.ViaStored || len(res.Sent) != 0 {
		t.Fatalf("a message during a wait: route %s, sent %q; want stored, nothing", res.Via, bodies(res.Sent))
	}
	after := enrollmentOf(t, sim.Store, sim.From, "drip")
	if after.Status != engine.EnrollmentWaiting || after.Epoch != before.Epoch || !after.WaitUntil.Equal(*before.WaitUntil) {
		t.Fatalf("the wait moved: before %+v, after %+v", before, after)
	}
	if res := say(t, sim, "DRIP"); res.Via != engine.ViaKeyword || len(res.Sent) != 0 {
		t.Fatalf("its own keyword again: route %s, sent %q", res.Via, bodies(res.Sent))
	}
	wantBodies(t, "after an hour", advance(t, sim, time.Hour).Sent, "after the wait")
}

// TestWaitForReplyTakesTheNextMessage checks that the keyword that started
// an enrollment does not answer its first question, and that the next
// message does.
func TestWaitForReplyTakesTheNextMessage(t *testing.T) {
	set := timeSet(t, `
automations:
  - id: join
    keywords: [JOIN]
    steps:
      - { type: reply, text: "Name?" }
      - { type: wait_for_reply, save_as: name, timeout: 1h }
      - { type: reply, text: "Hi {{ vars.name }}" }
`)
	sim := timeSim(t, set, sim.SimStart)
	res := say(t, sim, "JOIN")
	wantBodies(t, "JOIN", res.Sent, "Name?")
	en := enrollmentOf(t, sim.Store, sim.From, "join")
	if en.Status != engine.EnrollmentWaitingReply || en.Vars["name"] != nil {
		t.Fatalf("after JOIN: status %s, vars %v; want waiting_reply and no name", en.Status, en.Vars)
	}
	res = say(t, sim, "Zoe")
	if res.Via != engine.ViaReply {
		t.Errorf("the answer's route = %s, want reply", res.Via)
	}
	wantBodies(t, "answer", res.Sent, "Hi Zoe")
	if res := advance(t, sim, 2*time.Hour); len(res.Sent) != 0 {
		t.Errorf("the answered question's timeout fired: %q", bodies(res.Sent))
	}
}

// TestTimerStepSeesItsOwnEnrollment checks that a step resumed by a timer
// and ending the contact's enrollments (unsubscribe) ends the very
// enrollment it runs in: nothing after it runs, and the reason stays.
func TestTimerStepSeesItsOwnEnrollment(t *testing.T) {
	set := timeSet(t, `
automations:
  - id: drip
    keywords: [DRIP]
    steps:
      - { type: wait, duration: 1h }
      - { type: unsubscribe }
      - { type: reply, text: "never sent" }
`)
	sim := timeSim(t, set, sim.SimStart)
	say(t, sim, "DRIP")
	advance(t, sim, time.Hour)
	en := enrollmentOf(t, sim.Store, sim.From, "drip")
	if en.Active() || en.EndReason != "unsubscribed by automation drip" {
		t.Errorf("enrollment %s, end reason %q; want ended by the unsubscribe", en.Status, en.EndReason)
	}
	var msgs []*engine.Message
	_ = sim.Store.View(context.Background(), func(tx engine.Tx) error {
		var err error
		msgs, err = tx.Messages(sim.From, 100)
		return err
	})
	for _, m := range msgs {
		if m.Body == "never sent" {
			t.Errorf("the step after unsubscribe ran: %+v", m)
		}
	}
}

// TestReconcileEndsOrphans checks that enrollments whose automation or
// current step left the config end with the reason, and that nothing of
// theirs fires after.
func TestReconcileEndsOrphans(t *testing.T) {
	before := timeSet(t, `
automations:
  - id: a
    keywords: [A]
    steps:
      - { type: reply, text: "a1" }
      - { id: w, type: wait, duration: 1h }
      - { type: reply, text: "a2" }
  - id: b
    keywords: [B]
    steps:
      - { type: wait_for_reply }
      - { type: reply, text: "b2" }
  - id: c
    keywords: [C]
    steps:
      - { type: reply, text: "c1" }
      - { type: wait, duration: 1h }
      - { type: reply, text: "c2" }
  - id: d
    keywords: [D]
    enabled: false
    steps:
      - { type: wait, duration: 1h }
  - id: keep
    keywords: [K]
    steps:
      - { id: w, type: wait, duration: 1h }
      - { type: reply, text: "kept" }
`)
	sim := timeSim(t, before, sim.SimStart)
	for _, kw := range []string{"A", "B", "C", "K"} {
		say(t, sim, kw)
	}
	// d's enrollment is made while it is enabled, then d is paused and its
	// timer held.
	dOn := timeSet(t, `
automations:
  - id: d
    keywords: [D]
    steps:
      - { type: wait, duration: 10m }
`)
	sim.Engine.Swap(dOn)
	say(t, sim, "D")
	sim.Engine.Swap(before)
	if res := advance(t, sim, 10*time.Minute); len(res.Sent) != 0 {
		t.Fatalf("sent %q while only a paused automation's timer was due", bodies(res.Sent))
	}
	if en := enrollmentOf(t, sim.Store, sim.From, "d"); en.Status != engine.EnrollmentWaiting {
		t.Fatalf("d: %s, want waiting (held)", en.Status)
	}
	after := timeSet(t, `
automations:
  - id: a
    keywords: [A]
    steps:
      - { type: reply, text: "a1" }
      - { type: reply, text: "a2" }
  - id: c
    keywords: [C]
    steps:
      - { type: reply, text: "c1" }
      - { type: reply, text: "the second step is no longer a wait" }
  - id: keep
    keywords: [K]
    steps:
      - { type: reply, text: "a new first step" }
      - { id: w, type: wait, duration: 1h }
      - { type: reply, text: "kept" }
`)
	sim.Engine.Swap(after)
	n, err := sim.Engine.Reconcile(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if n != 4 {
		t.Errorf("Reconcile ended %d enrollments, want 4 (a, b, c, d)", n)
	}
	want := map[string]string{
		"a":    `step w was removed from automation "a"`,
		"b":    `automation "b" was removed from the config`,
		"c":    `step #2 of automation "c" changed type from wait to reply`,
		"d":    `automation "d" was removed from the config`,
		"keep": "",
	}
	for id, reason := range want {
		en := enrollmentOf(t, sim.Store, sim.From, id)
		switch {
		case reason == "" && !en.Active():
			t.Errorf("%s: ended (%q), want it still waiting", id, en.EndReason)
		case reason != "" && (en.Active() || en.EndReason != reason):
			t.Errorf("%s: status %s, reason %q; want ended with %q", id, en.Status, en.EndReason, reason)
		}
	}
	// Nothing of the ended ones fires; the kept one does; the held timer of
	// the removed automation is gone.
	wantBodies(t, "after the waits", advance(t, sim, 2*time.Hour).Sent, "kept")
	err = sim.Store.Update(context.Background(), func(tx engine.Tx) error {
		n, err := tx.ReleaseTimers("d")
		if n != 0 {
			t.Errorf("%d held timers of the removed automation d are left", n)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if n, err := sim.Engine.Reconcile(context.Background()); err != nil || n != 0 {
		t.Errorf("Reconcile again ended %d (%v), want 0", n, err)
	}
}

// The timer loop is woken by a commit that set a timer due within
// TimerSoon (an HTTP step's call out, a short wait), not by one due later
// (its own look each TimerSoon finds that) nor by a reply queued.
func TestTimerLoopWokenOnlyForTimersDueSoon(t *testing.T) {
	const src = `
automations:
  - id: soon
    keywords: [SOON]
    steps:
      - { type: wait, duration: 500ms }
      - { type: reply, text: "Now" }
  - id: later
    keywords: [LATER]
    steps:
      - { type: wait, duration: 2h }
      - { type: reply, text: "Later" }
  - id: hello
    keywords: [HELLO]
    steps:
      - { type: reply, text: "Hi" }
`
	timers, queues := 0, 0
	store := mem.NewMemStore()
	e := engine.New(store, compileSet(t, src), engine.Options{Clock: engine.NewFakeClock(sim.SimStart),
		OnTimer: func() { timers++ }, OnQueue: func() { queues++ }})
	const contact = "+15551230004"
	sayFrom(t, e, store, 1, contact, "sms", "HELLO")
	if timers != 0 || queues != 1 {
		t.Fatalf("after a reply: %d timer wakes, %d outbox wakes; want 0 and 1", timers, queues)
	}
	sayFrom(t, e, store, 2, contact, "sms", "LATER")
	if timers != 0 {
		t.Fatalf("%d timer wakes after a wait of 2h, want none", timers)
	}
	sayFrom(t, e, store, 3, contact, "sms", "SOON")
	if timers != 1 {
		t.Fatalf("%d timer wakes after a wait of 500ms, want one", timers)
	}
}
