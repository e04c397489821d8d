package broadcast_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/keyway-sms/keyway/automation/broadcast"
	"github.com/keyway-sms/keyway/automation/engine"
	"github.com/keyway-sms/keyway/automation/sim/simtest"
)

const promoConfig = `
groups: [{ id: news }]
automations:
  - id: promo
    steps:
      - { type: reply, text: "Deal {{ vars.code }}" }
  - id: drip
    steps:
      - { type: reply, text: "Day one" }
      - { type: wait, duration: 24h }
      - { type: reply, text: "Day two" }
`

var start = time.Date(2030, 3, 4, 15, 0, 0, 0, time.UTC)

// members stores n members of group news, +1555000000 onwards.
func members(t *testing.T, s engine.Store, n int) []string {
	t.Helper()
	var phones []string
	for i := range n {
		phones = append(phones, fmt.Sprintf("+1555%07d", i))
	}
	err := s.Update(t.Context(), func(tx engine.Tx) error {
		for _, p := range phones {
			if err := tx.PutContact(&engine.Contact{Phone: p, Channel: "sms", Groups: []string{"news"}, CreatedAt: start, UpdatedAt: start}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return phones
}

func changeContact(t *testing.T, s engine.Store, phone string, fn func(c *engine.Contact)) {
	t.Helper()
	err := s.Update(t.Context(), func(tx engine.Tx) error {
		c, err := tx.Contact(phone)
		if err != nil {
			return err
		}
		fn(c)
		return tx.PutContact(c)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// enrollments returns, per contact, how many enrollments of automation it
// has, and how many name broadcast id.
func enrollments(t *testing.T, s engine.Store, automation, id string) (per map[string]int, tagged int) {
	t.Helper()
	per = map[string]int{}
	err := s.View(t.Context(), func(tx engine.Tx) error {
		es, err := tx.Enrollments(automation, "", false, 0)
		if err != nil {
			return err
		}
		for _, en := range es {
			per[en.Contact]++
			if en.Broadcast == id {
				tagged++
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return per, tagged
}

func TestStartNowEnrollsAGroupInBatches(t *testing.T) {
	sim := simtest.At(t, simtest.Compile(t, promoConfig), start)
	phones := members(t, sim.Store, 2*broadcast.Batch+50)
	changeContact(t, sim.Store, phones[3], func(c *engine.Contact) { c.OptedOut = true })
	changeContact(t, sim.Store, phones[4], func(c *engine.Contact) { c.LeftGroups = []string{"news"} })
	var dones []string
	r := broadcast.NewRunner(sim.Engine, broadcast.Options{Owner: "p1", Logger: zerolog.Nop(),
		InDone: func(x engine.Enroller, b *broadcast.Broadcast) error {
			return x.Tx().PutMeta("done:"+b.ID, []byte(fmt.Sprint(b.Enrolled)))
		},
		OnDone: func(b *broadcast.Broadcast) { dones = append(dones, b.ID) },
	})
	// One contact is in the automation already.
	if _, err := r.StartNow(t.Context(), broadcast.Spec{Automation: "drip", Contacts: []string{phones[5]}}); err != nil {
		t.Fatal(err)
	}
	simtest.DrainOutbox(t, sim.Store)

	b, err := r.StartNow(t.Context(), broadcast.Spec{Automation: "drip", Group: "news", Vars: map[string]any{"code": "X"}})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int{engine.SkipOptedOut: 1, engine.SkipLeftGroup: 1, engine.SkipAlreadyEnrolled: 1}
	if b.Status != broadcast.StatusDone || b.Total != len(phones) || b.Enrolled != len(phones)-3 || fmt.Sprint(b.Skipped) != fmt.Sprint(want) {
		t.Fatalf("broadcast = %s total %d enrolled %d skipped %v; want done, %d, %d, %v", b.Status, b.Total, b.Enrolled, b.Skipped, len(phones), len(phones)-3, want)
	}
	per, tagged := enrollments(t, sim.Store, "drip", b.ID)
	if tagged != len(phones)-3 || len(per) != len(phones)-2 {
		t.Errorf("enrollments: %d name the broadcast (want %d), %d contacts enrolled (want %d)", tagged, len(phones)-3, len(per), len(phones)-2)
	}
	sent := simtest.DrainOutbox(t, sim.Store)
	if len(sent) != len(phones)-3 {
		t.Fatalf("%d messages queued, want %d", len(sent), len(phones)-3)
	}
	for _, m := range sent {
		if m.Broadcast != b.ID || m.Body != "Day one" {
			t.Fatalf("message %s: broadcast %q body %q; want %s, Day one", m.ID, m.Broadcast, m.Body, b.ID)
		}
	}
	got, err := r.Get(t.Context(), b.ID)
	if err != nil || got.Source != broadcast.SourceAPI || got.Cursor == "" {
		t.Errorf("Get = %+v, %v", got, err)
	}
	// The hooks ran: in the last batch's commit, and after it.
	var mark []byte
	err = sim.Store.View(t.Context(), func(tx engine.Tx) error {
		var err error
		mark, err = tx.Meta("done:" + b.ID)
		return err
	})
	if err != nil || string(mark) != fmt.Sprint(len(phones)-3) || len(dones) != 2 || dones[1] != b.ID {
		t.Errorf("InDone stored %q (%v), OnDone saw %v; want the enrolled count and both broadcasts", mark, err, dones)
	}
}

// crashing is a store that, once armed, lets `left` more updates commit
// and then fails every other, running its function first and rolling it
// back: a process that dies at a commit.
type crashing struct {
	engine.Store
	left  atomic.Int64
	armed atomic.Bool
}

var errCrash = errors.New("crash")

func (c *crashing) Update(ctx context.Context, fn func(engine.Tx) error) error {
	if !c.armed.Load() || c.left.Add(-1) >= 0 {
		return c.Store.Update(ctx, fn)
	}
	return c.Store.Update(ctx, func(tx engine.Tx) error {
		if err := fn(tx); err != nil {
			return err
		}
		return errCrash
	})
}

func TestABroadcastInterruptedAtAnyCommitResumesOnce(t *testing.T) {
	set := simtest.Compile(t, promoConfig)
	// The first commit stores the broadcast with its group's total (a
	// crash before it fails the start itself), then one per batch, three
	// in all. With contacts that left the group at the batches' edges,
	// each is counted once as skipped.
	for _, leaving := range []bool{false, true} {
		for _, survive := range []int{1, 2, 3} {
			t.Run(fmt.Sprintf("leavers %v, after %d commits", leaving, survive), func(t *testing.T) {
				sim := simtest.At(t, set, start)
				enrolled := members(t, sim.Store, 2*broadcast.Batch+7)
				var left []string
				skipped := 0
				if leaving {
					left, enrolled = leavers(t, sim.Store, enrolled)
					skipped = len(left) + 1 // and one that left and opted out
				}
				st := &crashing{Store: sim.Store}
				e1 := engine.New(st, set, engine.Options{Clock: sim.Clock})
				r1 := broadcast.NewRunner(e1, broadcast.Options{Owner: "p1", Logger: zerolog.Nop()})
				st.left.Store(int64(survive))
				st.armed.Store(true)
				b, err := r1.StartNow(t.Context(), broadcast.Spec{Automation: "promo", Group: "news"})
				if !errors.Is(err, errCrash) {
					t.Fatalf("StartNow = %+v, %v; want the crash after %d commits", b, err, survive)
				}
				// Another process takes over once p1's lease has expired.
				sim.Clock.Advance(broadcast.DefaultLease + time.Second)
				r2 := broadcast.NewRunner(sim.Engine, broadcast.Options{Owner: "p2", Logger: zerolog.Nop()})
				bs, err := r2.List(t.Context(), "", 0)
				if err != nil || len(bs) != 1 {
					t.Fatalf("List = %v, %v; want the one broadcast", bs, err)
				}
				last := runUntilDone(t, r2, bs[0].ID)
				per, tagged := enrollments(t, sim.Store, "promo", last.ID)
				if len(per) != len(enrolled) || tagged != len(enrolled) || last.Enrolled != len(enrolled) || last.Total != len(enrolled)+skipped {
					t.Fatalf("%d contacts enrolled, %d enrollments of the broadcast, counters enrolled %d total %d; want %d each, total %d",
						len(per), tagged, last.Enrolled, last.Total, len(enrolled), len(enrolled)+skipped)
				}
				if leaving {
					want := map[string]int{engine.SkipLeftGroup: len(left), engine.SkipOptedOut: 1}
					if fmt.Sprint(last.Skipped) != fmt.Sprint(want) {
						t.Fatalf("skipped %v, want %v", last.Skipped, want)
					}
				}
				for p, n := range per {
					if n != 1 || slices.Contains(left, p) {
						t.Fatalf("contact %s enrolled %d times (left the group: %v)", p, n, slices.Contains(left, p))
					}
				}
				if sent := simtest.DrainOutbox(t, sim.Store); len(sent) != len(enrolled) {
					t.Errorf("%d messages queued, want one each: %d", len(sent), len(enrolled))
				}
			})
		}
	}
}

func TestScheduledBroadcastWaitsForItsTime(t *testing.T) {
	sim := simtest.At(t, simtest.Compile(t, promoConfig), start)
	phones := members(t, sim.Store, 3)
	r := broadcast.NewRunner(sim.Engine, broadcast.Options{Owner: "p1", Logger: zerolog.Nop()})
	b, err := r.Start(t.Context(), broadcast.Spec{Automation: "promo", Contacts: phones[:2], Invalid: 1, At: start.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if b.Status != broadcast.StatusScheduled || b.Total != 3 || b.Skipped[engine.SkipInvalid] != 1 {
		t.Fatalf("started: %s total %d skipped %v; want scheduled, 3, one invalid", b.Status, b.Total, b.Skipped)
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	done := make(chan struct{})
	go func() { defer close(done); r.Run(ctx) }()
	r.Wake()
	// Not before its time: a second start, due now, finishes first.
	now, err := r.StartNow(t.Context(), broadcast.Spec{Automation: "drip", Contacts: phones[2:]})
	if err != nil || now.Status != broadcast.StatusDone {
		t.Fatalf("a broadcast for now: %+v, %v", now, err)
	}
	if got, _ := r.Get(t.Context(), b.ID); got.Status != broadcast.StatusScheduled || got.Enrolled != 0 {
		t.Fatalf("before its time: %s, %d enrolled", got.Status, got.Enrolled)
	}
	sim.Clock.Advance(time.Hour)
	got := waitDone(t, r, b.ID)
	cancel()
	<-done
	if got.Enrolled != 2 || got.Total != 3 {
		t.Fatalf("after its time: %s, enrolled %d total %d; want done, 2, 3", got.Status, got.Enrolled, got.Total)
	}
}

func TestCancelWithAndWithoutEnd(t *testing.T) {
	sim := simtest.At(t, simtest.Compile(t, promoConfig), start)
	phones := members(t, sim.Store, 4)
	r := broadcast.NewRunner(sim.Engine, broadcast.Options{Owner: "p1", Logger: zerolog.Nop()})
	active := func(id string) int {
		n := 0
		err := sim.Store.View(t.Context(), func(tx engine.Tx) error {
			es, err := tx.Enrollments("drip", "", true, 0)
			for _, en := range es {
				if en.Broadcast == id {
					n++
				}
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	keep, err := r.StartNow(t.Context(), broadcast.Spec{Automation: "drip", Contacts: phones[:2]})
	if err != nil {
		t.Fatal(err)
	}
	end, err := r.StartNow(t.Context(), broadcast.Spec{Automation: "drip", Contacts: phones[2:]})
	if err != nil {
		t.Fatal(err)
	}
	later, err := r.Start(t.Context(), broadcast.Spec{Automation: "promo", Group: "news", At: start.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := r.Cancel(t.Context(), later.ID, false); err != nil || got.Status != broadcast.StatusCanceled {
		t.Fatalf("cancel a scheduled broadcast: %+v, %v", got, err)
	}
	if got, err := r.Cancel(t.Context(), keep.ID, false); err != nil || got.Status != broadcast.StatusDone || active(keep.ID) != 2 {
		t.Fatalf("cancel without end: %+v, %v; %d active; want done (finished already) and 2 active", got, err, active(keep.ID))
	}
	if got, err := r.Cancel(t.Context(), end.ID, true); err != nil || !got.EndStarted || active(end.ID) != 0 || active(keep.ID) != 2 {
		t.Fatalf("cancel with end: %+v, %v; %d active (want 0), the other's %d (want 2)", got, err, active(end.ID), active(keep.ID))
	}
	if _, err := r.Cancel(t.Context(), "nope", false); !errors.Is(err, engine.ErrNotFound) {
		t.Errorf("cancel an unknown broadcast: %v, want ErrNotFound", err)
	}
	// The canceled scheduled one never runs.
	sim.Clock.Advance(2 * time.Hour)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	r.Run(ctx)
	if per, _ := enrollments(t, sim.Store, "promo", later.ID); len(per) != 0 {
		t.Errorf("a canceled broadcast enrolled %d contacts", len(per))
	}
}

func TestStartRefusesWhatTheConfigLacks(t *testing.T) {
	sim := simtest.At(t, simtest.Compile(t, promoConfig), start)
	r := broadcast.NewRunner(sim.Engine, broadcast.Options{Owner: "p1", Logger: zerolog.Nop()})
	if _, err := r.Start(t.Context(), broadcast.Spec{Automation: "nope", Group: "news"}); !errors.Is(err, broadcast.ErrUnknownAutomation) {
		t.Errorf("unknown automation: %v", err)
	}
	if _, err := r.Start(t.Context(), broadcast.Spec{Automation: "promo", Group: "nope"}); !errors.Is(err, broadcast.ErrUnknownGroup) {
		t.Errorf("unknown group: %v", err)
	}
	if _, err := r.Start(t.Context(), broadcast.Spec{Automation: "promo"}); err == nil {
		t.Errorf("no group, tag nor contacts: no error")
	}
}

// A pause from the dashboard refuses a start, as the file's enabled: false
// does, and holds a broadcast that was started before it.
func TestADashboardPauseRefusesAndHolds(t *testing.T) {
	sim := simtest.At(t, simtest.Compile(t, promoConfig), start)
	phones := members(t, sim.Store, 3)
	r := broadcast.NewRunner(sim.Engine, broadcast.Options{Owner: "p1", Logger: zerolog.Nop()})
	held, err := r.Start(t.Context(), broadcast.Spec{Automation: "drip", Group: "news", At: start.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sim.Engine.SetPaused(t.Context(), "drip", true); err != nil {
		t.Fatal(err)
	}
	if b, err := r.StartNow(t.Context(), broadcast.Spec{Automation: "drip", Contacts: phones}); !errors.Is(err, engine.ErrPaused) {
		t.Errorf("a manual start of an automation paused from the dashboard: %+v, %v; want ErrPaused", b, err)
	}
	sim.Clock.Advance(time.Hour)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	done := make(chan struct{})
	go func() { defer close(done); r.Run(ctx) }()
	// A broadcast due after the held one is enrolled all the same.
	other, err := r.Start(t.Context(), broadcast.Spec{Automation: "promo", Group: "news"})
	if err != nil {
		t.Fatal(err)
	}
	got := waitDone(t, r, other.ID)
	cancel()
	<-done
	if got.Enrolled != 3 {
		t.Errorf("the broadcast after the held one: %s, %d enrolled; want done, 3", got.Status, got.Enrolled)
	}
	if per, _ := enrollments(t, sim.Store, "drip", held.ID); len(per) != 0 {
		t.Errorf("the paused automation's broadcast enrolled %d contacts", len(per))
	}
	if b, _ := r.Get(t.Context(), held.ID); !b.Open() {
		t.Errorf("the held broadcast: %s, want it still open", b.Status)
	}
}

// An automation the file disables is refused a broadcast until an admin
// enables it from the dashboard; then its broadcast enrolls.
func TestADashboardEnableLetsABroadcastGo(t *testing.T) {
	off := strings.Replace(promoConfig, "  - id: promo\n", "  - id: promo\n    enabled: false\n", 1)
	sim := simtest.At(t, simtest.Compile(t, off), start)
	phones := members(t, sim.Store, 3)
	r := broadcast.NewRunner(sim.Engine, broadcast.Options{Owner: "p1", Logger: zerolog.Nop()})
	spec := broadcast.Spec{Automation: "promo", Contacts: phones, Vars: map[string]any{"code": "X"}}
	if b, err := r.StartNow(t.Context(), spec); !errors.Is(err, engine.ErrPaused) || errors.Is(err, engine.ErrPausedFromDashboard) {
		t.Fatalf("a broadcast of an automation the file disables: %+v, %v; want the file's ErrPaused", b, err)
	}
	if _, err := sim.Engine.SetPaused(t.Context(), "promo", false); err != nil {
		t.Fatal(err)
	}
	b, err := r.StartNow(t.Context(), spec)
	if err != nil || b.Status != broadcast.StatusDone || b.Enrolled != 3 {
		t.Fatalf("the broadcast once enabled from the dashboard: %+v, %v; want done, 3 enrolled", b, err)
	}
}

// A cancel with end that dies after its own commit, or after one batch of
// endings, is finished by the same process started again, at once (its
// lease is its own): every enrollment the broadcast started ends, once.
func TestACancelWithEndInterruptedIsResumed(t *testing.T) {
	set := simtest.Compile(t, promoConfig)
	for _, survive := range []int{1, 2} {
		t.Run(fmt.Sprintf("after %d commits", survive), func(t *testing.T) {
			sim := simtest.At(t, set, start)
			phones := members(t, sim.Store, 2*broadcast.Batch+7)
			r0 := broadcast.NewRunner(sim.Engine, broadcast.Options{Owner: "p1", Logger: zerolog.Nop()})
			b, err := r0.StartNow(t.Context(), broadcast.Spec{Automation: "drip", Group: "news"})
			if err != nil || b.Enrolled != len(phones) {
				t.Fatalf("start: %+v, %v", b, err)
			}
			st := &crashing{Store: sim.Store}
			e1 := engine.New(st, set, engine.Options{Clock: sim.Clock})
			r1 := broadcast.NewRunner(e1, broadcast.Options{Owner: "p1", Logger: zerolog.Nop()})
			st.left.Store(int64(survive))
			st.armed.Store(true)
			if got, err := r1.Cancel(t.Context(), b.ID, true); !errors.Is(err, errCrash) {
				t.Fatalf("Cancel = %+v, %v; want the crash after %d commits", got, err, survive)
			}
			if got, _ := r0.Get(t.Context(), b.ID); !got.Ending || got.Status != broadcast.StatusDone || got.Ended != (survive-1)*broadcast.Batch {
				t.Fatalf("after the crash: %+v; want it ending, %d ended", got, (survive-1)*broadcast.Batch)
			}

			r2 := broadcast.NewRunner(sim.Engine, broadcast.Options{Owner: "p1", Logger: zerolog.Nop()})
			ctx, cancel := context.WithCancel(t.Context())
			done := make(chan struct{})
			go func() { defer close(done); r2.Run(ctx) }()
			var got *broadcast.Broadcast
			for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); <-time.After(10 * time.Millisecond) {
				r2.Wake()
				if got, _ = r2.Get(t.Context(), b.ID); !got.Ending {
					break
				}
			}
			cancel()
			<-done
			if got.Ending || got.Ended != len(phones) || !got.EndStarted {
				t.Fatalf("after the restart: ending %v, %d ended; want all %d ended", got.Ending, got.Ended, len(phones))
			}
			err = sim.Store.View(t.Context(), func(tx engine.Tx) error {
				es, err := tx.Enrollments("drip", "", false, 0)
				for _, en := range es {
					if en.Active() || en.EndReason != "the broadcast was canceled" {
						return fmt.Errorf("enrollment %s of %s: %s %q, want it ended by the cancel", en.ID, en.Contact, en.Status, en.EndReason)
					}
				}
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
		})
	}
}

// A cancel with end that runs out of its time answers with the broadcast
// still ending, and Run ends the rest.
func TestCancelWithEndOutOfTimeGoesOnInTheBackground(t *testing.T) {
	sim := simtest.At(t, simtest.Compile(t, promoConfig), start)
	phones := members(t, sim.Store, 2*broadcast.Batch+7)
	r := broadcast.NewRunner(sim.Engine, broadcast.Options{Owner: "p1", Logger: zerolog.Nop(), EndWithin: time.Nanosecond})
	b, err := r.StartNow(t.Context(), broadcast.Spec{Automation: "drip", Group: "news"})
	if err != nil || b.Enrolled != len(phones) {
		t.Fatalf("start: %+v, %v", b, err)
	}
	got, err := r.Cancel(t.Context(), b.ID, true)
	if err != nil || !got.EndStarted || !got.Ending || got.Ended == len(phones) {
		t.Fatalf("Cancel out of time = %+v, %v; want it answered while still ending", got, err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { defer close(done); r.Run(ctx) }()
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); <-time.After(10 * time.Millisecond) {
		if got, _ = r.Get(t.Context(), b.ID); !got.Ending {
			break
		}
	}
	cancel()
	<-done
	if got.Ending || got.Ended != len(phones) {
		t.Fatalf("after Run: ending %v, %d ended; want all %d", got.Ending, got.Ended, len(phones))
	}
}

// runUntilDone runs r until broadcast id is done, and returns it.
func runUntilDone(t *testing.T, r *broadcast.Runner, id string) *broadcast.Broadcast {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { defer close(done); r.Run(ctx) }()
	defer func() { cancel(); <-done }()
	return waitDone(t, r, id)
}

// waitDone wakes r, which runs, until broadcast id is done, and returns it.
func waitDone(t *testing.T, r *broadcast.Runner, id string) *broadcast.Broadcast {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); <-time.After(10 * time.Millisecond) {
		r.Wake()
		b, err := r.Get(t.Context(), id)
		if err != nil {
			t.Fatal(err)
		}
		if b.Status == broadcast.StatusDone {
			return b
		}
	}
	t.Fatalf("broadcast %s not done", id)
	return nil
}

// A scheduled group broadcast reads as the group is now, not as it was
// when stored: members who join before it starts are in its total, as
// Get, List and Open show it; its first batch counts the group again for
// good, so a running broadcast's total is the group as it started.
func TestScheduledBroadcastCountsTheGroupAsItIsNow(t *testing.T) {
	set := simtest.Compile(t, promoConfig)
	sim := simtest.At(t, set, start)
	phones := members(t, sim.Store, broadcast.Batch+7)
	st := &crashing{Store: sim.Store}
	e1 := engine.New(st, set, engine.Options{Clock: sim.Clock})
	r := broadcast.NewRunner(e1, broadcast.Options{Owner: "p1", Logger: zerolog.Nop()})
	b, err := r.Start(t.Context(), broadcast.Spec{Automation: "promo", Group: "news", At: start.Add(time.Hour)})
	if err != nil || b.Status != broadcast.StatusScheduled || b.Total != len(phones) {
		t.Fatalf("Start = %+v, %v; want scheduled for %d", b, err, len(phones))
	}
	err = sim.Store.Update(t.Context(), func(tx engine.Tx) error {
		for i := range 3 {
			p := fmt.Sprintf("+1666%07d", i)
			if err := tx.PutContact(&engine.Contact{Phone: p, Channel: "sms", Groups: []string{"news"}, CreatedAt: start, UpdatedAt: start}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := len(phones) + 3
	got, err := r.Get(t.Context(), b.ID)
	if err != nil || got.Total != want {
		t.Fatalf("Get: total %d (%v), want %d", got.Total, err, want)
	}
	listed, err := r.List(t.Context(), "", 0)
	if err != nil || len(listed) != 1 || listed[0].Total != want {
		t.Fatalf("List = %+v, %v; want the one broadcast for %d", listed, err, want)
	}
	open, err := r.Open(t.Context(), 0)
	if err != nil || len(open) != 1 || open[0].Total != want {
		t.Fatalf("Open = %+v, %v; want the one broadcast for %d", open, err, want)
	}

	// Two more join; then it starts, and its process dies after its first
	// batch: the claim and that batch commit, nothing after.
	err = sim.Store.Update(t.Context(), func(tx engine.Tx) error {
		for i := range 2 {
			p := fmt.Sprintf("+1777%07d", i)
			if err := tx.PutContact(&engine.Contact{Phone: p, Channel: "sms", Groups: []string{"news"}, CreatedAt: start, UpdatedAt: start}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want += 2
	sim.Clock.Advance(time.Hour)
	st.left.Store(2)
	st.armed.Store(true)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { defer close(done); r.Run(ctx) }()
	defer func() { cancel(); <-done }()
	for deadline := time.Now().Add(30 * time.Second); ; <-time.After(10 * time.Millisecond) {
		r.Wake()
		if got, err = r.Get(t.Context(), b.ID); err != nil {
			t.Fatal(err)
		}
		if got.Enrolled > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the first batch did not commit: %+v", got)
		}
	}
	if got.Status != broadcast.StatusRunning || got.Enrolled != broadcast.Batch || got.Total != want {
		t.Fatalf("after its first batch: %s, enrolled %d, total %d; want running, %d, %d", got.Status, got.Enrolled, got.Total, broadcast.Batch, want)
	}
}
