// Package schedule starts scheduled automations at the ticks of their
// cron schedules.
package schedule

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/robfig/cron/v3"
	"github.com/rs/zerolog"

	"github.com/keyway-sms/keyway/automation/broadcast"
	"github.com/keyway-sms/keyway/automation/engine"
	"github.com/keyway-sms/keyway/config"
)

// scheduleMetaPrefix prefixes the meta key of a schedule's TickState.
const scheduleMetaPrefix = "schedule:"

// liveCatchUp is the least lateness a tick may have and still run: a tick
// the cron fires a little late, on a busy machine, is no missed tick.
const liveCatchUp = time.Minute

// TickState is what the store keeps about a schedule, under meta
// "schedule:<automation id>".
type TickState struct {
	// Spec is the cron expression and time zone the state was taken under;
	// when the config changes them, counting starts again from then.
	Spec string `json:"spec"`
	// Tick is the last tick taken: run, skipped, or the time counting
	// started from.
	Tick time.Time `json:"tick"`
	// Done is false while Tick is enrolling the group; After is then the
	// phone of the last member it went through.
	Done  bool   `json:"done"`
	After string `json:"after,omitempty"`
	// Broadcast is the broadcast that enrolls the group for Tick.
	Broadcast string `json:"broadcast,omitempty"`
}

// TickAction is what PlanTick decided.
type TickAction int

// Tick actions.
const (
	TickNone     TickAction = iota // nothing is due
	TickBaseline                   // a new schedule (or a changed one): count ticks from now
	TickRun                        // enroll the group for Tick
	TickSkip                       // a tick missed while the gateway was down is older than catch_up: record, do not run
)

// String names the action for logs and tests.
func (a TickAction) String() string {
	switch a {
	case TickBaseline:
		return "baseline"
	case TickRun:
		return "run"
	case TickSkip:
		return "skip"
	}
	return "none"
}

// TickPlan is one decision about a schedule: its action, and the state to
// store before acting on it.
type TickPlan struct {
	Action TickAction
	// Tick is the tick to run, or the missed tick skipped (the first one,
	// when several were).
	Tick time.Time
	// Resume is true when Run goes on with a tick that an exit interrupted,
	// from State.After.
	Resume bool
	// State is what to store before acting.
	State TickState
}

// PlanTick decides what a schedule does at now, given its stored state (nil
// when none), the spec the state must match, and catch_up. The latest tick
// after the state's and at or before now runs once if it is younger than
// catch_up; older ones are skipped. A tick is never planned twice: each
// plan's State moves past it. An interrupted tick goes on if still younger
// than catch_up. A schedule without state (new, or its spec changed) starts
// counting at now, so that no tick from before it existed runs.
func PlanTick(sched cron.Schedule, st *TickState, spec string, now time.Time, catchUp time.Duration) TickPlan {
	if st == nil || st.Spec != spec || st.Tick.IsZero() {
		return TickPlan{Action: TickBaseline, State: TickState{Spec: spec, Tick: now, Done: true}}
	}
	if !st.Done {
		if now.Sub(st.Tick) < catchUp {
			return TickPlan{Action: TickRun, Tick: st.Tick, Resume: true, State: *st}
		}
		return TickPlan{Action: TickSkip, Tick: st.Tick, State: TickState{Spec: spec, Tick: st.Tick, Done: true}}
	}
	// The latest tick in (from, now], where ticks before from are too old.
	from := now.Add(-catchUp)
	if from.Before(st.Tick) {
		from = st.Tick
	}
	var latest time.Time
	for t := sched.Next(from); !t.IsZero() && !t.After(now); t = sched.Next(t) {
		if !t.After(latest) && !latest.IsZero() {
			break // a schedule that does not move on
		}
		latest = t
	}
	if !latest.IsZero() {
		return TickPlan{Action: TickRun, Tick: latest, State: TickState{Spec: spec, Tick: latest}}
	}
	if missed := sched.Next(st.Tick); !missed.IsZero() && !missed.After(now) {
		return TickPlan{Action: TickSkip, Tick: missed, State: TickState{Spec: spec, Tick: now, Done: true}}
	}
	return TickPlan{Action: TickNone}
}

// Scheduler starts scheduled automations: at each tick of an automation's
// `schedule`, every member of its group is enrolled, minus opted-out
// contacts and those that unsubscribed from the group, in batches of one
// transaction each so that inbound messages keep flowing. Ticks are
// recorded in the store; at start, a tick missed while the gateway was
// down runs once if it is younger than catch_up, and is skipped (and
// logged) otherwise. Ticks of a paused automation are skipped.
//
//	schedule: { cron: "0 10 * * MON", group: newsletter, timezone: Europe/Paris, catch_up: 1h }
type Scheduler struct {
	e      *engine.Engine
	log    zerolog.Logger
	bcasts *broadcast.Runner

	mu      sync.Mutex
	cron    *cron.Cron
	ctx     context.Context
	cancel  context.CancelFunc
	entries map[string]scheduleEntry // by automation id
	busy    map[string]bool          // a goroutine is taking the automation's ticks
	again   map[string]bool          // a tick came while busy: look again
	wg      sync.WaitGroup
}

type scheduleEntry struct {
	id   cron.EntryID
	spec string
}

// NewScheduler returns a scheduler for the engine's scheduled automations,
// whose ticks bcasts enrolls as broadcasts (a runner of its own when nil);
// Start starts it.
func NewScheduler(e *engine.Engine, log zerolog.Logger, bcasts *broadcast.Runner) *Scheduler {
	if bcasts == nil {
		bcasts = broadcast.NewRunner(e, broadcast.Options{Logger: log})
	}
	return &Scheduler{e: e, log: log, bcasts: bcasts, entries: map[string]scheduleEntry{}, busy: map[string]bool{}, again: map[string]bool{}}
}

// Start adds a cron entry per scheduled automation of the running config,
// takes the ticks missed while the gateway was down, and starts the cron.
// It runs until ctx is done or Stop is called.
func (s *Scheduler) Start(ctx context.Context) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cron != nil {
		return
	}
	s.ctx, s.cancel = context.WithCancel(ctx)
	s.cron = cron.New(cron.WithLocation(time.UTC))
	s.syncLocked()
	s.cron.Start()
}

// Reload rebuilds the cron entries from the engine's running config, after
// a reload: new schedules start counting, removed ones stop, changed ones
// start counting again from now.
func (s *Scheduler) Reload() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cron == nil || s.ctx.Err() != nil {
		return
	}
	s.syncLocked()
}

// Stop stops the cron and waits for the enrolments under way to stop at
// the end of their current batch; an interrupted tick goes on at the next
// start if it is still younger than catch_up.
func (s *Scheduler) Stop() {
	s.mu.Lock()
	if s.cron == nil {
		s.mu.Unlock()
		return
	}
	s.cancel()
	stopped := s.cron.Stop()
	s.mu.Unlock()
	<-stopped.Done()
	s.wg.Wait()
}

// syncLocked makes the cron entries match the running config and looks at
// every schedule once.
func (s *Scheduler) syncLocked() {
	set := s.e.Set()
	want := map[string]string{}
	for _, a := range set.Automations() {
		if a.Config.Schedule != nil && a.ID != "" {
			want[a.ID] = scheduleSpec(set, a)
		}
	}
	for id, en := range s.entries {
		if spec, ok := want[id]; !ok || spec != en.spec {
			s.cron.Remove(en.id)
			delete(s.entries, id)
		}
	}
	for id, spec := range want {
		if _, ok := s.entries[id]; !ok {
			sched, err := ScheduleOf(set, set.Automation(id))
			if err != nil {
				s.log.Error().Err(err).Str("automation", id).Msg("schedule: not scheduled")
				continue
			}
			entry := s.cron.Schedule(sched, cron.FuncJob(func() { s.kick(id) }))
			s.entries[id] = scheduleEntry{id: entry, spec: spec}
		}
		s.kickLocked(id)
	}
}

// kick has automation id's ticks taken in the background.
func (s *Scheduler) kick(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.kickLocked(id)
}

func (s *Scheduler) kickLocked(id string) {
	if s.ctx == nil || s.ctx.Err() != nil {
		return
	}
	if s.busy[id] {
		s.again[id] = true
		return
	}
	s.busy[id] = true
	s.wg.Add(1)
	go s.work(s.ctx, id)
}

// work takes automation id's ticks until none is due, outside the cron's
// goroutine so that a big group never delays other schedules.
func (s *Scheduler) work(ctx context.Context, id string) {
	defer s.wg.Done()
	for {
		if err := s.RunDue(ctx, id); err != nil && ctx.Err() == nil {
			s.log.Error().Err(err).Str("automation", id).Msg("schedule")
		}
		s.mu.Lock()
		if s.again[id] && ctx.Err() == nil {
			delete(s.again, id)
			s.mu.Unlock()
			continue
		}
		delete(s.busy, id)
		delete(s.again, id)
		s.mu.Unlock()
		return
	}
}

// scheduleSpec identifies the schedule of a for its stored state: its cron
// expression and the time zone it is read in.
func scheduleSpec(set *engine.Set, a *engine.Automation) string {
	return a.Config.Schedule.Cron + " @ " + scheduleZone(set, a)
}

func scheduleZone(set *engine.Set, a *engine.Automation) string {
	if tz := a.Config.Schedule.Timezone; tz != "" {
		return tz
	}
	return set.Config.Defaults.Timezone
}

// ScheduleOf returns the cron schedule of a, in its time zone.
func ScheduleOf(set *engine.Set, a *engine.Automation) (cron.Schedule, error) {
	sc := a.Config.Schedule
	loc, err := time.LoadLocation(scheduleZone(set, a))
	if err != nil {
		return nil, fmt.Errorf("schedule: automation %q: time zone: %w", a.ID, err)
	}
	sched, err := config.ParseCron(sc.Cron, loc)
	if err != nil {
		return nil, fmt.Errorf("schedule: automation %q: cron %q: %w", a.ID, sc.Cron, err)
	}
	return sched, nil
}

// RunDue takes what is due of automation id's schedule at the engine's
// now: a new schedule starts counting; the latest tick not yet taken runs
// if it is younger than catch_up (at least a minute), or is skipped and
// logged; an interrupted tick goes on. It returns when nothing more is due
// or ctx is done. The cron entries call it; tests call it on a fake clock.
func (s *Scheduler) RunDue(ctx context.Context, id string) error {
	for ctx.Err() == nil {
		set := s.e.Set()
		a := set.Automation(id)
		if a == nil || a.Config.Schedule == nil {
			return nil
		}
		sched, err := ScheduleOf(set, a)
		if err != nil {
			return err
		}
		st, err := s.State(ctx, id)
		if err != nil {
			return err
		}
		catchUp := max(a.Config.Schedule.CatchUp.D(), liveCatchUp)
		now := s.e.Now()
		plan := PlanTick(sched, st, scheduleSpec(set, a), now, catchUp)
		switch plan.Action {
		case TickNone:
			return nil
		case TickRun:
			refusal := s.e.Refusal(ctx, a)
			if refusal != nil && !errors.Is(refusal, engine.ErrPaused) {
				return refusal
			}
			if refusal != nil {
				s.log.Info().Str("automation", id).Time("tick", plan.Tick).Bool("from_dashboard", errors.Is(refusal, engine.ErrPausedFromDashboard)).Msg("schedule: tick skipped: the automation is paused")
				plan.State.Done, plan.State.After = true, ""
				if err := s.putState(ctx, id, plan.State); err != nil {
					return err
				}
				continue
			}
			if err := s.runTick(ctx, a, plan); err != nil {
				return err
			}
			continue
		case TickSkip:
			if st != nil && !st.Done {
				s.log.Info().Str("automation", id).Time("missed", plan.Tick).Dur("catch_up", catchUp).Str("after", st.After).
					Msg("schedule: a tick interrupted by an exit is now older than catch_up; the rest of it is skipped")
			} else {
				s.log.Info().Str("automation", id).Time("missed", plan.Tick).Dur("catch_up", catchUp).
					Msg("schedule: a tick missed while the gateway was down is older than catch_up; skipped")
			}
		}
		if err := s.putState(ctx, id, plan.State); err != nil {
			return err
		}
	}
	return nil
}

// tickBatch is what one batch of a tick did: the tick's state after it,
// and how many members it started and skipped.
type tickBatch struct {
	next             TickState
	started, skipped int
}

// runTick enrolls the group's members for a tick, a batch per transaction,
// each batch recording how far the tick got, so that an interrupted tick
// goes on where it stopped and nobody is enrolled twice for one tick.
func (s *Scheduler) runTick(ctx context.Context, a *engine.Automation, plan TickPlan) error {
	group := a.Config.Schedule.Group
	st := plan.State
	if !plan.Resume {
		// A tick is a broadcast, stored with the tick in one transaction:
		// the broadcast enrolls the group in batches, goes on after a crash
		// wherever it stopped, and shows in the list of broadcasts with its
		// counts. Several processes sharing a store plan the same tick: the
		// one whose transaction stores it first runs it.
		st.After, st.Done = "", true
		b, err := engine.TransactValue(ctx, s.e, func(x engine.Enroller) (*broadcast.Broadcast, error) {
			cur, err := readTickState(x.Tx(), a.ID)
			if err != nil {
				return nil, err
			}
			if cur != nil && cur.Spec == st.Spec && !cur.Tick.Before(st.Tick) {
				return nil, errTickTaken
			}
			b, err := s.bcasts.StartIn(x, broadcast.Spec{Automation: a.ID, Group: group, Source: broadcast.SourceSchedule})
			if err != nil {
				return nil, err
			}
			next := st
			next.Broadcast = b.ID
			return b, putTickState(x.Tx(), a.ID, next)
		})
		if errors.Is(err, errTickTaken) {
			s.log.Debug().Str("automation", a.ID).Time("tick", st.Tick).Msg("schedule: tick taken by another process")
			return nil
		}
		if err != nil {
			return fmt.Errorf("schedule: automation %q: store state: %w", a.ID, err)
		}
		b, err = s.bcasts.Drive(ctx, b.ID)
		if err != nil {
			return fmt.Errorf("schedule: automation %q: tick %s: %w", a.ID, st.Tick.Format(time.RFC3339), err)
		}
		s.log.Info().Str("automation", a.ID).Time("tick", st.Tick).Str("broadcast", b.ID).Str("status", string(b.Status)).
			Int("started", b.Enrolled).Msg("schedule: tick ran")
		return nil
	}
	// A tick that an earlier keyway stored as interrupted goes on the way
	// it began: batch by batch from the member it stopped after.
	started, skipped := 0, 0
	for !st.Done {
		if ctx.Err() != nil {
			return nil // goes on at the next start, if still young enough
		}
		cur := s.e.Set().Automation(a.ID)
		paused := false
		if cur != nil {
			refusal := s.e.Refusal(ctx, cur)
			if refusal != nil && !errors.Is(refusal, engine.ErrPaused) {
				return refusal
			}
			paused = refusal != nil
		}
		if cur == nil || paused || cur.Config.Schedule == nil || cur.Config.Schedule.Group != group {
			s.log.Info().Str("automation", a.ID).Time("tick", st.Tick).Msg("schedule: tick stopped: the automation was paused, removed or changed")
			st.Done, st.After = true, ""
			return s.putState(ctx, a.ID, st)
		}
		b, err := engine.TransactValue(ctx, s.e, func(x engine.Enroller) (tickBatch, error) {
			b := tickBatch{next: st}
			// Each batch goes on from the stored state, and only if it is
			// still where this process left it: so a batch runs once even
			// when another process resumes the tick beside this one.
			stored, err := readTickState(x.Tx(), a.ID)
			if err != nil {
				return tickBatch{}, err
			}
			if stored == nil || stored.Spec != st.Spec || !stored.Tick.Equal(st.Tick) || stored.Done || stored.After != st.After {
				return tickBatch{}, errTickTaken
			}
			members, err := x.Tx().ContactsInGroup(group, st.After, engine.StartBatch)
			if err != nil {
				return tickBatch{}, err
			}
			for _, c := range members {
				b.next.After = c.Phone
				ok, err := x.Enroll(ctx, c.Phone, cur, group)
				if err != nil {
					return tickBatch{}, err
				}
				if !ok {
					b.skipped++
					continue
				}
				b.started++
			}
			if len(members) < engine.StartBatch {
				b.next.Done, b.next.After = true, ""
			}
			return b, putTickState(x.Tx(), a.ID, b.next)
		})
		if errors.Is(err, errTickTaken) {
			s.log.Debug().Str("automation", a.ID).Time("tick", st.Tick).Msg("schedule: tick taken on by another process")
			return nil
		}
		if err != nil {
			return fmt.Errorf("schedule: automation %q: tick %s: %w", a.ID, st.Tick.Format(time.RFC3339), err)
		}
		st, started, skipped = b.next, started+b.started, skipped+b.skipped
	}
	s.log.Info().Str("automation", a.ID).Time("tick", st.Tick).Int("started", started).Int("skipped", skipped).
		Bool("resumed", plan.Resume).Msg("schedule: tick ran")
	return nil
}

// State reads the stored TickState of automation id, or nil.
func (s *Scheduler) State(ctx context.Context, id string) (*TickState, error) {
	var st *TickState
	err := s.e.Store().View(ctx, func(tx engine.Tx) error {
		st = nil
		raw, err := tx.Meta(scheduleMetaPrefix + id)
		if errors.Is(err, engine.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		var v TickState
		if err := json.Unmarshal(raw, &v); err != nil {
			// An unreadable state is as good as none: count from now.
			s.log.Warn().Err(err).Str("automation", id).Msg("schedule: unreadable stored state; counting ticks from now")
			return nil
		}
		st = &v
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("schedule: automation %q: read state: %w", id, err)
	}
	return st, nil
}

// errTickTaken stops a tick that another process sharing the store has
// started, moved on or finished.
var errTickTaken = errors.New("the tick was taken by another process")

// readTickState reads the stored TickState of automation id in tx, or nil
// when there is none or it cannot be read.
func readTickState(tx engine.MetaStore, id string) (*TickState, error) {
	raw, err := tx.Meta(scheduleMetaPrefix + id)
	if errors.Is(err, engine.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var v TickState
	if json.Unmarshal(raw, &v) != nil {
		return nil, nil
	}
	return &v, nil
}

func (s *Scheduler) putState(ctx context.Context, id string, st TickState) error {
	err := s.e.Transact(ctx, func(x engine.Enroller) error { return putTickState(x.Tx(), id, st) })
	if err != nil {
		return fmt.Errorf("schedule: automation %q: store state: %w", id, err)
	}
	return nil
}

func putTickState(tx engine.MetaStore, id string, st TickState) error {
	raw, err := json.Marshal(st)
	if err != nil {
		return fmt.Errorf("encode tick state: %w", err)
	}
	return tx.PutMeta(scheduleMetaPrefix+id, raw)
}
