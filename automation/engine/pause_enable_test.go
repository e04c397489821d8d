package engine_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/keyway-sms/keyway/automation/engine"
	"github.com/keyway-sms/keyway/automation/sim"
)

// An admin may enable from the dashboard an automation the file disables:
// it then runs as if the file enabled it (its keyword enrolls, a manual
// start goes, the enrollments it held go on and their timers fire) until a
// reload that changes it; the same file again keeps the override. Pausing
// it again from the dashboard, or the reload, puts it back as the file
// says: its keyword reaches the catch_all and its timers are held.
func TestEnableFromTheDashboard(t *testing.T) {
	ctx := context.Background()
	on := timeSet(t, dripConfig+askConfig)
	disable := func(src string) string {
		return strings.Replace(src, "overwrite_if_exists: true", "overwrite_if_exists: true\n    enabled: false", 1)
	}
	off := timeSet(t, disable(dripConfig)+askConfig)
	s := timeSim(t, on, sim.SimStart)
	wantBodies(t, "DRIP", say(t, s, "DRIP").Sent, "one")

	// The file disables drip: its wait holds, its keyword reaches support.
	s.Engine.Swap(off)
	if res := advance(t, s, 2*time.Hour); len(res.Sent) != 0 {
		t.Fatalf("the disabled automation's timer fired: %q", bodies(res.Sent))
	}
	wantBodies(t, "DRIP while disabled", say(t, s, "DRIP").Sent, "support")
	if _, err := s.Engine.Start(ctx, "drip", []string{"+15550000077"}); !errors.Is(err, engine.ErrPaused) || errors.Is(err, engine.ErrPausedFromDashboard) {
		t.Fatalf("start while the file disables drip: %v, want ErrPaused (the file's)", err)
	}

	// Enabled from the dashboard: the held timer is released at once and
	// fires, the keyword enrolls, a manual start goes.
	p, err := s.Engine.SetPaused(engine.WithActor(ctx, "Ann Admin"), "drip", false)
	if err != nil || !p.Enabled || p.Paused || p.By != "Ann Admin" {
		t.Fatalf("SetPaused(drip, false) = %+v, %v; want an enable by Ann Admin", p, err)
	}
	if got, err := s.Engine.PauseOf(ctx, "drip"); err != nil || got == nil || !got.Enabled || got.By != "Ann Admin" {
		t.Fatalf("PauseOf = %+v, %v", got, err)
	}
	wantBodies(t, "the held wait, once enabled", advance(t, s, 0).Sent, "two")
	wantBodies(t, "DRIP once enabled", say(t, s, "DRIP").Sent, "one")
	if res, err := s.Engine.Start(ctx, "drip", []string{"+15550000077"}); err != nil || len(res.Started) != 1 {
		t.Fatalf("start once enabled: %+v, %v", res, err)
	}

	// The same file again keeps it enabled (a reload's reconcile too).
	s.Engine.Swap(off)
	if dropped, err := s.Engine.DropStalePauses(ctx, off, nil); err != nil || len(dropped) != 0 {
		t.Fatalf("DropStalePauses on the same file: %v, %v", dropped, err)
	}
	if _, err := s.Engine.Reconcile(ctx); err != nil {
		t.Fatal(err)
	}
	got := bodies(advance(t, s, time.Hour).Sent)
	slices.Sort(got)
	if strings.Join(got, "|") != "one|two|two" {
		t.Fatalf("after a reload of the same file: sent %q, want the manual start's one, and two for both waits", got)
	}

	// Pausing it again from the dashboard lifts the override: the file
	// rules, and its wait holds.
	wantBodies(t, "DRIP before pausing again", say(t, s, "DRIP").Sent, "one")
	if p, err := s.Engine.SetPaused(ctx, "drip", true); err != nil || p.Paused || p.Enabled {
		t.Fatalf("SetPaused(drip, true) on a file-disabled automation = %+v, %v; want the override lifted", p, err)
	}
	if got, _ := s.Engine.PauseOf(ctx, "drip"); got != nil {
		t.Fatalf("an override stands after pausing again: %+v", got)
	}
	if res := advance(t, s, 2*time.Hour); len(res.Sent) != 0 {
		t.Fatalf("the wait fired once the file ruled again: %q", bodies(res.Sent))
	}
	wantBodies(t, "DRIP once paused again", say(t, s, "DRIP").Sent, "support")

	// Enabled again, then a reload that changes drip (still disabled)
	// ends the override for good, even back to the enabled version.
	if _, err := s.Engine.SetPaused(ctx, "drip", false); err != nil {
		t.Fatal(err)
	}
	wantBodies(t, "the held wait, enabled again", advance(t, s, 0).Sent, "two")
	changed := timeSet(t, disable(strings.Replace(dripConfig, `text: "two"`, `text: "deux"`, 1))+askConfig)
	s.Engine.Swap(changed)
	if dropped, err := s.Engine.DropStalePauses(ctx, changed, nil); err != nil || strings.Join(dropped, ",") != "drip" {
		t.Fatalf("DropStalePauses after a change: %v, %v; want drip", dropped, err)
	}
	wantBodies(t, "DRIP after a reload that changed drip", say(t, s, "DRIP").Sent, "support")
	s.Engine.Swap(off)
	if got, _ := s.Engine.PauseOf(ctx, "drip"); got != nil {
		t.Errorf("the override came back with the old version: %+v", got)
	}
	wantBodies(t, "DRIP back to the old version", say(t, s, "DRIP").Sent, "support")
}

// A pause from the dashboard holds the enrollments under way still, as
// the file's enabled: false does: a wait that falls due while paused does
// not fire, and fires at once when the pause is lifted, by Resume or by a
// reload that changes the automation.
func TestPauseFromTheDashboardHoldsWaits(t *testing.T) {
	ctx := context.Background()
	on := timeSet(t, dripConfig+askConfig)
	s := timeSim(t, on, sim.SimStart)
	wantBodies(t, "DRIP", say(t, s, "DRIP").Sent, "one")

	if _, err := s.Engine.SetPaused(ctx, "drip", true); err != nil {
		t.Fatal(err)
	}
	if res := advance(t, s, 2*time.Hour); len(res.Sent) != 0 {
		t.Fatalf("the paused automation's wait fired: %q", bodies(res.Sent))
	}
	if p, err := s.Engine.SetPaused(ctx, "drip", false); err != nil || p.Paused || p.Enabled {
		t.Fatalf("SetPaused(drip, false) = %+v, %v; want the pause lifted", p, err)
	}
	wantBodies(t, "the held wait, once resumed", advance(t, s, 0).Sent, "two")

	// Paused again with a new wait under way; a reload that changes drip
	// ends the pause, and its reconcile releases the wait.
	wantBodies(t, "DRIP again", say(t, s, "DRIP").Sent, "one")
	if _, err := s.Engine.SetPaused(ctx, "drip", true); err != nil {
		t.Fatal(err)
	}
	if res := advance(t, s, 2*time.Hour); len(res.Sent) != 0 {
		t.Fatalf("the paused automation's wait fired: %q", bodies(res.Sent))
	}
	changed := timeSet(t, strings.Replace(dripConfig, `text: "two"`, `text: "deux"`, 1)+askConfig)
	if _, err := s.Engine.ReconcileTo(ctx, changed, func() { s.Engine.Swap(changed) }); err != nil {
		t.Fatal(err)
	}
	wantBodies(t, "the held wait, after a reload that changed drip", advance(t, s, 0).Sent, "deux")
}
