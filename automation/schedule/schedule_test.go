package schedule_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/keyway-sms/keyway/automation/broadcast"
	"github.com/keyway-sms/keyway/automation/engine"
	"github.com/keyway-sms/keyway/automation/schedule"
	"github.com/keyway-sms/keyway/automation/sim"
	"github.com/keyway-sms/keyway/config"
)

func TestPlanTick(t *testing.T) {
	weekly, err := config.ParseCron("0 10 * * MON", time.UTC)
	if err != nil {
		t.Fatal(err)
	}
	const spec = "0 10 * * MON @ UTC"
	mon := func(week int, h, m int) time.Time { return time.Date(2026, 1, 5+7*week, h, m, 0, 0, time.UTC) }
	done := func(tick time.Time) *schedule.TickState {
		return &schedule.TickState{Spec: spec, Tick: tick, Done: true}
	}
	tests := []struct {
		label  string
		state  *schedule.TickState
		now    time.Time
		action schedule.TickAction
		tick   time.Time // of the plan
		stored time.Time // the state's tick to store
		resume bool
	}{
		{"no state: count from now", nil, mon(1, 10, 30), schedule.TickBaseline, time.Time{}, mon(1, 10, 30), false},
		{"the schedule changed: count from now", &schedule.TickState{Spec: "@daily @ UTC", Tick: mon(0, 0, 0), Done: true}, mon(1, 10, 30), schedule.TickBaseline, time.Time{}, mon(1, 10, 30), false},
		{"not yet", done(mon(0, 10, 0)), mon(1, 9, 59), schedule.TickNone, time.Time{}, time.Time{}, false},
		{"on time", done(mon(0, 10, 0)), mon(1, 10, 0), schedule.TickRun, mon(1, 10, 0), mon(1, 10, 0), false},
		{"missed, younger than catch_up: runs", done(mon(0, 10, 0)), mon(1, 10, 59), schedule.TickRun, mon(1, 10, 0), mon(1, 10, 0), false},
		{"missed, exactly catch_up old: skipped", done(mon(0, 10, 0)), mon(1, 11, 0), schedule.TickSkip, mon(1, 10, 0), mon(1, 11, 0), false},
		{"missed, older than catch_up: skipped", done(mon(0, 10, 0)), mon(1, 13, 0), schedule.TickSkip, mon(1, 10, 0), mon(1, 13, 0), false},
		{"already taken: never twice", done(mon(1, 10, 0)), mon(1, 10, 30), schedule.TickNone, time.Time{}, time.Time{}, false},
		{"skipped before: never run after", done(mon(1, 13, 0)), mon(1, 13, 30), schedule.TickNone, time.Time{}, time.Time{}, false},
		{"weeks missed: only the latest, once", done(mon(0, 10, 0)), mon(5, 10, 20), schedule.TickRun, mon(5, 10, 0), mon(5, 10, 0), false},
		{"weeks missed, all old: skipped, from the first", done(mon(0, 10, 0)), mon(5, 12, 0), schedule.TickSkip, mon(1, 10, 0), mon(5, 12, 0), false},
		{"interrupted, young: goes on", &schedule.TickState{Spec: spec, Tick: mon(1, 10, 0), After: "+1555"}, mon(1, 10, 40), schedule.TickRun, mon(1, 10, 0), mon(1, 10, 0), true},
		{"interrupted, old: dropped", &schedule.TickState{Spec: spec, Tick: mon(1, 10, 0), After: "+1555"}, mon(1, 11, 40), schedule.TickSkip, mon(1, 10, 0), mon(1, 10, 0), false},
	}
	for _, tt := range tests {
		t.Run(tt.label, func(t *testing.T) {
			p := schedule.PlanTick(weekly, tt.state, spec, tt.now, time.Hour)
			if p.Action != tt.action || !p.Tick.Equal(tt.tick) || p.Resume != tt.resume {
				t.Fatalf("PlanTick = %v %v resume=%v, want %v %v resume=%v", p.Action, p.Tick, p.Resume, tt.action, tt.tick, tt.resume)
			}
			if p.Action == schedule.TickNone {
				return
			}
			if !p.State.Tick.Equal(tt.stored) || p.State.Spec != spec {
				t.Errorf("state to store: %+v, want tick %v under %q", p.State, tt.stored, spec)
			}
			if tt.resume && p.State.After != tt.state.After {
				t.Errorf("a resumed tick lost its place: %+v", p.State)
			}
			// What is stored is never planned again at the same time.
			st := p.State
			st.Done = true
			if again := schedule.PlanTick(weekly, &st, spec, tt.now, time.Hour); again.Action != schedule.TickNone {
				t.Errorf("planned again after storing %+v: %v %v", st, again.Action, again.Tick)
			}
		})
	}
}

func TestPlanTickDST(t *testing.T) {
	ny := mustZone(t, "America/New_York")
	daily, err := config.ParseCron("0 9 * * *", ny)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		label     string
		last, now time.Time
	}{
		{"spring forward", time.Date(2026, 3, 7, 9, 0, 0, 0, ny), time.Date(2026, 3, 8, 9, 10, 0, 0, ny)},
		{"fall back", time.Date(2026, 10, 31, 9, 0, 0, 0, ny), time.Date(2026, 11, 1, 9, 10, 0, 0, ny)},
	} {
		t.Run(tt.label, func(t *testing.T) {
			st := &schedule.TickState{Spec: "s", Tick: tt.last.UTC(), Done: true}
			p := schedule.PlanTick(daily, st, "s", tt.now.UTC(), time.Hour)
			want := time.Date(tt.now.Year(), tt.now.Month(), tt.now.Day(), 9, 0, 0, 0, ny)
			if p.Action != schedule.TickRun || !p.Tick.Equal(want) {
				t.Errorf("PlanTick = %v %v, want run %v (09:00 local)", p.Action, p.Tick.In(ny), want)
			}
			early := schedule.PlanTick(daily, st, "s", want.Add(-time.Minute), time.Hour)
			if early.Action != schedule.TickNone {
				t.Errorf("a minute before 09:00 local: %v %v, want nothing", early.Action, early.Tick.In(ny))
			}
		})
	}
}

const scheduleConfig = `
groups: [ { id: news }, { id: other } ]
automations:
  - id: weekly
    schedule: { cron: "0 10 * * MON", group: news }
    steps:
      - { type: reply, text: "deal for {{ contact.phone }}" }
`

// groupSim returns a simulator whose store holds n members of group news
// (+15551000000 up), one of them opted out, one that left news, and one
// member of another group.
func groupSim(t *testing.T, set *engine.Set, n int) (*sim.Simulator, []string) {
	t.Helper()
	s := timeSim(t, set, sim.SimStart)
	var want []string
	err := s.Store.Update(context.Background(), func(tx engine.Tx) error {
		for i := range n {
			c := &engine.Contact{Phone: fmt.Sprintf("+1555100%04d", i), Groups: []string{"news"}, CreatedAt: sim.SimStart}
			switch i {
			case 7:
				c.OptedOut = true
			case 8:
				c.LeftGroups = []string{"news"}
			default:
				want = append(want, c.Phone)
			}
			if err := tx.PutContact(c); err != nil {
				return err
			}
		}
		return tx.PutContact(&engine.Contact{Phone: "+15552000000", Groups: []string{"other"}})
	})
	if err != nil {
		t.Fatal(err)
	}
	return s, want
}

func runDue(t *testing.T, s *schedule.Scheduler, sim *sim.Simulator) []*engine.Message {
	t.Helper()
	if err := s.RunDue(context.Background(), "weekly"); err != nil {
		t.Fatalf("RunDue: %v", err)
	}
	return drainOutbox(t, sim.Store)
}

func recipients(ms []*engine.Message) []string {
	var out []string
	for _, m := range ms {
		out = append(out, strings.Join(m.To, ","))
	}
	return out
}

func tickState(t *testing.T, s engine.Store, id string) schedule.TickState {
	t.Helper()
	var st schedule.TickState
	err := s.View(context.Background(), func(tx engine.Tx) error {
		raw, err := tx.Meta("schedule:" + id)
		if err != nil {
			return err
		}
		return json.Unmarshal(raw, &st)
	})
	if err != nil {
		t.Fatalf("tick state of %s: %v", id, err)
	}
	return st
}

func TestSchedulerRunDue(t *testing.T) {
	start := sim.SimStart
	set := timeSet(t, scheduleConfig)
	sim, members := groupSim(t, set, 250) // three batches
	s := schedule.NewScheduler(sim.Engine, zerolog.Nop(), nil)

	// Monday 09:00: the first look starts counting; nothing is sent.
	if sent := runDue(t, s, sim); len(sent) != 0 {
		t.Fatalf("first look sent %d messages", len(sent))
	}
	if st := tickState(t, sim.Store, "weekly"); !st.Tick.Equal(start) || !st.Done {
		t.Fatalf("baseline state %+v, want done at the start", st)
	}

	// 10:00: every member but the opted-out one and the one that left.
	sim.Clock.Advance(time.Hour) // the scheduler under test takes the ticks, not the simulator
	sent := runDue(t, s, sim)
	if got := strings.Join(recipients(sent), " "); got != strings.Join(members, " ") {
		t.Fatalf("tick sent to %d contacts, want %d members: got %v", len(sent), len(members), recipients(sent))
	}
	if sent[0].Body != "deal for "+members[0] {
		t.Errorf("body %q", sent[0].Body)
	}
	if sent := runDue(t, s, sim); len(sent) != 0 {
		t.Fatalf("the same tick ran twice: %d messages", len(sent))
	}
	if st := tickState(t, sim.Store, "weekly"); !st.Done || st.After != "" || !st.Tick.Equal(start.Add(time.Hour)) {
		t.Errorf("state after the tick: %+v", st)
	}
	// The tick is a broadcast, listed with its counts.
	bs, err := broadcast.NewRunner(sim.Engine, broadcast.Options{}).List(t.Context(), "", 0)
	if err != nil || len(bs) != 1 {
		t.Fatalf("broadcasts after the tick: %v, %v; want one", bs, err)
	}
	if b := bs[0]; b.ID != tickState(t, sim.Store, "weekly").Broadcast || b.Source != broadcast.SourceSchedule || b.Status != broadcast.StatusDone ||
		b.Group != "news" || b.Enrolled != len(members) || b.Total != len(members)+2 {
		t.Errorf("the tick's broadcast: %+v; want done, from the schedule, %d enrolled of %d", b, len(members), len(members)+2)
	}

	// Down over next Monday's tick, back 30 minutes late: it runs once.
	sim.Clock.Advance(7*24*time.Hour - 30*time.Minute) // the scheduler under test takes the ticks, not the simulator
	if sent := runDue(t, s, sim); len(sent) != 0 {
		t.Fatalf("ran before the tick: %d messages", len(sent))
	}
	sim.Clock.Advance(time.Hour) // the scheduler under test takes the ticks, not the simulator
	if sent := runDue(t, s, sim); len(sent) != len(members) {
		t.Fatalf("a tick missed by 30m sent %d messages, want %d", len(sent), len(members))
	}
	if sent := runDue(t, s, sim); len(sent) != 0 {
		t.Fatalf("the caught-up tick ran twice: %d messages", len(sent))
	}

	// Down over the next one, back 2 hours late: skipped, also later.
	sim.Clock.Advance(7*24*time.Hour + 90*time.Minute) // the scheduler under test takes the ticks, not the simulator
	if sent := runDue(t, s, sim); len(sent) != 0 {
		t.Fatalf("a tick missed by 2h sent %d messages", len(sent))
	}
	sim.Clock.Advance(time.Minute) // the scheduler under test takes the ticks, not the simulator
	if sent := runDue(t, s, sim); len(sent) != 0 {
		t.Fatalf("a skipped tick ran later: %d messages", len(sent))
	}
}

func TestSchedulerPausedAndInterrupted(t *testing.T) {
	start := sim.SimStart
	set := timeSet(t, scheduleConfig)
	paused := timeSet(t, strings.Replace(scheduleConfig, "  - id: weekly\n", "  - id: weekly\n    enabled: false\n", 1))
	sim, members := groupSim(t, set, 250)
	s := schedule.NewScheduler(sim.Engine, zerolog.Nop(), nil)
	runDue(t, s, sim)

	// A paused automation's tick is taken and skipped: enabling it again
	// does not run it.
	sim.Engine.Swap(paused)
	sim.Clock.Advance(time.Hour) // the scheduler under test takes the ticks, not the simulator
	if sent := runDue(t, s, sim); len(sent) != 0 {
		t.Fatalf("a paused automation's tick sent %d messages", len(sent))
	}
	sim.Engine.Swap(set)
	if sent := runDue(t, s, sim); len(sent) != 0 {
		t.Fatalf("enabled again, the paused tick ran: %d messages", len(sent))
	}

	// A tick interrupted after the first batch goes on from there.
	tick := start.Add(7*24*time.Hour + time.Hour)
	sim.Clock.Advance(tick.Sub(sim.Clock.Now()) + 10*time.Minute) // the scheduler under test takes the ticks, not the simulator
	after := members[97]                                          // the first batch held members 0..99, 7 and 8 skipped
	err := sim.Store.Update(context.Background(), func(tx engine.Tx) error {
		raw, _ := json.Marshal(schedule.TickState{Spec: "0 10 * * MON @ UTC", Tick: tick, After: after})
		return tx.PutMeta("schedule:weekly", raw)
	})
	if err != nil {
		t.Fatal(err)
	}
	sent := runDue(t, s, sim)
	if got := strings.Join(recipients(sent), " "); got != strings.Join(members[98:], " ") {
		t.Fatalf("the resumed tick sent to %v, want the members after %s", recipients(sent), after)
	}
	if sent := runDue(t, s, sim); len(sent) != 0 {
		t.Fatalf("the resumed tick ran again: %d messages", len(sent))
	}
}

func TestSchedulerStartReloadStop(t *testing.T) {
	set := timeSet(t, scheduleConfig)
	sim, _ := groupSim(t, set, 3)
	s := schedule.NewScheduler(sim.Engine, zerolog.Nop(), nil)
	s.Reload() // before Start: nothing to do
	s.Start(context.Background())
	// Start looks at each schedule once: the baseline appears.
	eventuallyTrue(t, func() bool {
		var ok bool
		_ = sim.Store.View(context.Background(), func(tx engine.Tx) error {
			_, err := tx.Meta("schedule:weekly")
			ok = err == nil
			return nil
		})
		return ok
	})
	// A reload with a changed schedule counts from now again.
	changed := timeSet(t, strings.Replace(scheduleConfig, `"0 10 * * MON"`, `"@daily"`, 1))
	sim.Engine.Swap(changed)
	s.Reload()
	eventuallyTrue(t, func() bool { return strings.HasPrefix(tickState(t, sim.Store, "weekly").Spec, "@daily") })
	s.Stop()
	s.Stop()
	s.Reload() // after Stop: nothing to do
}

// eventuallyTrue polls cond every 5ms; it fails the test if cond does not
// hold within 20s.
func eventuallyTrue(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.After(20 * time.Second)
	poll := time.NewTicker(5 * time.Millisecond)
	defer poll.Stop()
	for !cond() {
		select {
		case <-deadline:
			if cond() {
				return
			}
			t.Fatal("condition not met within 20s")
		case <-poll.C:
		}
	}
}

// An automation the file disables but an admin enabled from the dashboard
// runs its ticks: the engine's one notion of enabled decides.
func TestSchedulerRunsWhenEnabledFromTheDashboard(t *testing.T) {
	paused := timeSet(t, strings.Replace(scheduleConfig, "  - id: weekly\n", "  - id: weekly\n    enabled: false\n", 1))
	sim, members := groupSim(t, paused, 3)
	s := schedule.NewScheduler(sim.Engine, zerolog.Nop(), nil)
	runDue(t, s, sim)
	if _, err := sim.Engine.SetPaused(context.Background(), "weekly", false); err != nil {
		t.Fatal(err)
	}
	sim.Clock.Advance(time.Hour) // the scheduler under test takes the ticks, not the simulator
	if got := strings.Join(recipients(runDue(t, s, sim)), " "); got != strings.Join(members, " ") {
		t.Fatalf("the tick of an automation enabled from the dashboard sent to %q, want every member", got)
	}
}
